"""img2dataset's ``files`` output format read sample by sample: a directory ``NAME/`` of ``KEY.jpg``,
``KEY.json`` and ``KEY.txt`` files beside its ``NAME.parquet`` index.

The same limits and refusals as a tar's (:mod:`.tars`), checked from the directory listing before any
file is read: symbolic links and anything but regular files (a link could make the check read, and
the removal delete, a file outside the shard), subdirectories, too many files, a file, a sample or the
whole shard over its size.  Samples are yielded in key order, one in memory at a time.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

from .tars import DEFAULT_LIMITS, Sample, ShardLimits, refuse, sample_key


def read_directory(directory: Path, limits: ShardLimits = DEFAULT_LIMITS) -> Iterator[Sample]:
    """The samples of ``directory`` in key order; raises FilterError (E_FILTER_INPUT) on what the module refuses."""
    where = str(directory)
    by_key: dict[str, list[tuple[str, int]]] = {}
    total = 0
    with os.scandir(directory) as entries:
        for count, entry in enumerate(entries, 1):
            if count > limits.members:
                raise refuse(f"more than {limits.members} files", where)
            info = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(info.st_mode):
                raise refuse(f"{entry.name[:80]!r} is a link, directory or special file", where)
            if info.st_size > limits.member_bytes:
                raise refuse(f"{entry.name[:80]!r} has {info.st_size} bytes (limit {limits.member_bytes})", where)
            total += info.st_size
            if total > limits.total_bytes:
                raise refuse(f"more than {limits.total_bytes} bytes of files", where)
            by_key.setdefault(sample_key(entry.name), []).append((entry.name, info.st_size))
    for key in sorted(by_key):
        files = sorted(by_key[key])
        if len(files) > limits.sample_members or sum(size for _, size in files) > limits.sample_bytes:
            raise refuse(f"sample {key[:80]!r} has more than {limits.sample_members} files or {limits.sample_bytes} bytes", where)
        yield Sample(key, [(name, _read(directory / name, limits.member_bytes, where)) for name, _ in files])


def _read(path: Path, limit: int, where: str) -> bytes:
    """A file's bytes, opened without following a link (one swapped in since the listing is refused)."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as error:
        raise refuse(f"cannot read {path.name[:80]!r}: {error.strerror}", where) from None
    with os.fdopen(descriptor, "rb") as file:
        data = file.read(limit + 1)
    if len(data) > limit:
        raise refuse(f"{path.name[:80]!r} grew over {limit} bytes", where)
    return data
