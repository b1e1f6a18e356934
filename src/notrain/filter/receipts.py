"""Filtering receipts for ``notrain filter`` runs: hashing the files and signing what the report says.

The receipt's rules are core's (:mod:`notrain.core.filterreceipt`); this module does the I/O around
them.  Each input and kept file is hashed once more after the run (streamed, 1 MiB at a time), so the
digests are of the files as they are on disk when the receipt is signed; ``notrain receipt verify``
hashes them the same way.  Input files are named as the filter names them (a file by its name, a
directory's shards by theirs), kept files likewise, so a receipt does not depend on where the
directories are.

``notrain filter-shards`` rewrites its shards in place, so its receipt's input is hashed before the run
and its output after: the files of every shard (:func:`shard_files`) under the same names.
"""

from __future__ import annotations

import hashlib
import os
from datetime import datetime
from pathlib import Path

from .. import __version__
from ..core.filterreceipt import MAX_FILES, FileDigest, check_files, files_json, sign_receipt
from ..core.keys import PrivateKey
from ..core.manifest import format_timestamp
from .batch import BatchFilter, Columns, FilterError
from .run import shards_of
from .shards import shards_in

CHUNK = 1 << 20


def receipt_path(out: Path) -> Path:
    """Where ``notrain filter --receipt-key`` writes the receipt: beside the output, file or directory."""
    return out.with_name(f"{out.name}.receipt.json")


def hash_file(path: Path) -> FileDigest:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return FileDigest(path.name, size, digest.digest())


def receipt_of(report: dict, core: BatchFilter, columns: Columns, key: PrivateKey, now: datetime) -> bytes:
    """The signed receipt of a ``notrain filter`` run from its report (which names every input and kept file)."""
    files = report["files"]
    return signed_receipt(report, core, columns, key, now, [hash_file(Path(f["input"])) for f in files],
                          [hash_file(Path(f["output"])) for f in files])


def shard_files(directory: Path) -> list[Path]:
    """The files a ``filter-shards`` receipt names: each shard's tar or parquet, its index and its stats.
    A shard in img2dataset's files format is a directory of samples, which a receipt's one-segment names
    cannot list; it is refused, as is a dataset of more files than a receipt holds, before anything runs."""
    paths: list[Path] = []
    for shard in shards_in(directory):
        if shard.data.is_dir():
            raise FilterError(f"a receipt cannot list the files-format shard {shard.data.name}/ (tar and parquet shards only)",
                              code="E_FILTER_INPUT", where=str(shard.data))
        paths += [path for path in dict.fromkeys((shard.data, shard.index, shard.stats)) if path.is_file()]
    if len(paths) > MAX_FILES:
        raise FilterError(f"{len(paths)} shard files; a receipt lists at most {MAX_FILES}", code="E_FILTER_INPUT", where=str(directory))
    return paths


def signed_receipt(report: dict, core: BatchFilter, columns: Columns, key: PrivateKey, now: datetime,
                   inputs: list[FileDigest], outputs: list[FileDigest]) -> bytes:
    """The signed receipt of a run from its report (source, options, counts) and its files' digests."""
    source = report["source"]
    if source["kind"] == "snapshot":
        cited = {"snapshot": {name: source[name] for name in ("id", "log", "size", "root")}}
    else:
        cited = {"bundle": {"sha256": source["sha256"]}}
    doc = {
        "notrain-filtering-receipt": 1,
        "builder": key.public.did_key,
        "time": format_timestamp(now),
        "tool": f"notrain {__version__}",
        "purpose": core.purpose,
        "unknown": core.unknown_as.value,
        "names": core.names,
        "columns": {name: value for name, value in vars(columns).items() if value is not None},
        "source": cited,
        "input": files_json(inputs),
        "output": files_json(outputs),
        "counts": {"rows": report["rows"], "kept": report["kept"], "refused": report["rejected"], "stripped": report["stripped"],
                   "by_reason": report["by_reason"]},
    }
    return sign_receipt(doc, key)


def write_receipt(path: Path, envelope: bytes) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(envelope)
    os.replace(partial, path)


def check_input(listed: list[FileDigest], input_path: Path) -> None:
    """That the file, or the directory's files the run read, are exactly the receipt's inputs."""
    check_files(listed, [hash_file(path) for path in _read_by(listed, input_path)], "input")


def _read_by(listed: list[FileDigest], input_path: Path) -> list[Path]:
    """The files a run read from ``input_path``: ``notrain filter``'s dataset files, or the files of
    ``filter-shards``'s shards when the receipt lists one the filter would not read (a tar)."""
    read = shards_of(input_path)
    if input_path.is_dir() and not {f.name for f in listed} <= {path.name for path in read}:
        return shard_files(input_path)
    return read


def check_output(listed: list[FileDigest], output_path: Path) -> None:
    """That the kept file, or each kept file the receipt names in the directory, is the one it names
    (a directory also holds refused rows, reports and markers, which the receipt does not cover)."""
    if output_path.is_dir():
        found = [hash_file(output_path / f.name) for f in listed if (output_path / f.name).is_file()]
    else:
        found = [hash_file(output_path)]
    check_files(listed, found, "output")
