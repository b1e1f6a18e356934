"""WebDataset tar shards read sample by sample, within limits, and written back without some samples.

img2dataset (and every WebDataset writer) stores a sample as consecutive tar
members sharing a *key*: the member path up to the first dot of its base name
(``000000012.jpg``, ``000000012.json``, ``000000012.txt``).  This reader groups
members the same way, one sample in memory at a time, and refuses what a
dataset tar never needs and a hostile one could use (``E_FILTER_INPUT``):

* links, devices, FIFOs and sparse members; absolute paths, ``..`` parts,
  backslashes and NUL bytes in names (a later ``tar x`` would write outside
  its directory); directories are not samples and are left out of the rewrite;
* a member declared larger than :attr:`ShardLimits.member_bytes` (checked from
  its header, before any of it is read), a sample larger than
  :attr:`ShardLimits.sample_bytes` or with more than :attr:`ShardLimits.sample_members`
  members, a shard of more than :attr:`ShardLimits.members` members or
  :attr:`ShardLimits.total_bytes` of member data;
* a key whose members are not consecutive (a WebDataset reader would see
  two samples; removing "the" sample must remove every member);
* a truncated or corrupt archive.

Why stdlib :mod:`tarfile` in its seekable mode rather than a stream: its
pax and GNU long-name headers are read with one ``read(size)`` of the size the
header declares, and only a file object of ours sees that call
(:class:`_Bounded` refuses any read over the member limit), which a
``r|`` stream would hide behind its own buffering.  ``TarFile.members`` is
emptied as we go, so memory stays flat over a million members.
"""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .batch import FilterError

IMAGE_TYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "gif": "image/gif",
               "tif": "image/tiff", "tiff": "image/tiff", "avif": "image/avif", "bmp": "image/bmp"}
MAX_NAME_CHARS = 1024


@dataclass(frozen=True)
class ShardLimits:
    """What one shard may hold (a tar, or a directory of img2dataset's files format)."""

    members: int = 1_000_000
    member_bytes: int = 64 * 2**20  # the image readers' own limit (imaging, XMP, C2PA)
    sample_members: int = 64
    sample_bytes: int = 128 * 2**20
    total_bytes: int = 256 * 2**30


DEFAULT_LIMITS = ShardLimits()


@dataclass
class Sample:
    """One key's members in order, (name, bytes); from a tar, each member's header too, to write it back as read."""

    key: str
    members: list[tuple[str, bytes]] = field(default_factory=list)
    headers: list[tarfile.TarInfo] = field(default_factory=list)

    def part(self, extension: str) -> bytes | None:
        return next((data for name, data in self.members if _extension(name) == extension), None)

    def images(self) -> list[tuple[str, bytes]]:
        """(MIME type, bytes) of every member whose extension names an image format."""
        return [(IMAGE_TYPES[ext], data) for name, data in self.members if (ext := _extension(name)) in IMAGE_TYPES]


def read_samples(path: Path, limits: ShardLimits = DEFAULT_LIMITS) -> Iterator[Sample]:
    """The samples of the tar at ``path`` in order; raises FilterError (E_FILTER_INPUT) on what the module refuses."""
    where = str(path)
    members = total = 0
    seen: set[str] = set()
    current: Sample | None = None
    size = 0
    try:
        with open(path, "rb") as raw, tarfile.open(fileobj=_Bounded(raw, limits.member_bytes, where), mode="r:") as tar:
            while (info := tar.next()) is not None:
                tar.members.clear()
                members += 1
                if members > limits.members:
                    raise refuse(f"more than {limits.members} members", where)
                _check_member(info, limits, where)
                if info.isdir():
                    continue
                total += info.size
                if total > limits.total_bytes:
                    raise refuse(f"more than {limits.total_bytes} bytes of member data", where)
                key = sample_key(info.name)
                if current is None or key != current.key:
                    if key in seen:
                        raise refuse(f"the members of key {key[:80]!r} are not consecutive", where)
                    if current is not None:
                        yield current
                    seen.add(key)
                    current, size = Sample(key), 0
                size += info.size
                if len(current.members) >= limits.sample_members or size > limits.sample_bytes:
                    raise refuse(f"sample {key[:80]!r} has more than {limits.sample_members} members or {limits.sample_bytes} bytes", where)
                data = tar.extractfile(info).read()  # type: ignore[union-attr]  (a regular member always has a file)
                if len(data) != info.size:
                    raise refuse(f"member {info.name[:80]!r} is truncated", where)
                current.members.append((info.name, data))
                current.headers.append(info)
    except tarfile.TarError as error:
        raise refuse(f"not a readable tar ({error})", where) from None
    except OSError as error:
        raise FilterError(f"cannot read {path}: {error.strerror or error}", code="E_FILTER_INPUT", where=where) from None
    if current is not None:
        yield current


class TarWriter:
    """The kept samples, member for member (headers as read), into a new tar."""

    def __init__(self, path: Path) -> None:
        self._tar = tarfile.open(path, mode="w", format=tarfile.PAX_FORMAT)  # noqa: SIM115 (closed by close())

    def write(self, sample: Sample) -> None:
        for info, (_, data) in zip(sample.headers, sample.members):
            self._tar.addfile(info, io.BytesIO(data))

    def close(self) -> None:
        self._tar.close()


def _check_member(info: tarfile.TarInfo, limits: ShardLimits, where: str) -> None:
    name = info.name
    if not (info.isreg() or info.isdir()) or info.issparse():
        raise refuse(f"member {name[:80]!r} is a link, device or special file", where)
    parts = name.split("/")
    if (not name or len(name) > MAX_NAME_CHARS or name.startswith("/") or "\\" in name or "\0" in name or ".." in parts):
        raise refuse(f"member name {name[:80]!r} is empty, too long, absolute or escapes its directory", where)
    if info.size > limits.member_bytes:
        raise refuse(f"member {name[:80]!r} declares {info.size} bytes (limit {limits.member_bytes})", where)


def sample_key(name: str) -> str:
    """WebDataset's key: the path up to the first dot of the base name (the whole path if there is none)."""
    head, _, base = name.rpartition("/")
    stem = base.split(".", 1)[0]
    return f"{head}/{stem}" if head else stem


def _extension(name: str) -> str:
    base = name.rpartition("/")[2]
    return base.split(".", 1)[1].lower() if "." in base else ""


def refuse(message: str, where: str) -> FilterError:
    return FilterError(message, code="E_FILTER_INPUT", where=where)


class _Bounded(io.RawIOBase):
    """A file that refuses any single read over ``limit`` bytes (plus a header block): tarfile reads
    a pax or GNU long-name header whole, with the size its header declares."""

    def __init__(self, raw, limit: int, where: str) -> None:
        self._raw, self._limit, self._where = raw, limit + tarfile.BLOCKSIZE, where

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0 or size > self._limit:
            raise refuse(f"a tar header or member asks for more than {self._limit} bytes", self._where)
        return self._raw.read(size)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()
