"""Snapshots: everything an offline checker needs, built deterministically from a log prefix
(spec/snapshot.md).

A snapshot is four parts and a descriptor binding them to a checkpoint of the log they were built
from: ``works`` and ``origins`` (binary fuse filters, :mod:`.snapshotfilter`), ``statements`` (every
statement exactly, :mod:`.snapshotparts`) and ``pdq`` (PDQ rows).  The filters and the PDQ rows are
functions of ``statements``, and ``statements`` a function of the manifests current at the
checkpoint, so anyone holding the log can rebuild every byte and compare digests; :func:`load`
checks the descriptor, the digests, the parts' layout and that the filters hold every key of the
statements (``full=True`` rebuilds the filters and compares bytes).

A filter hit is a "maybe" (about 1 in 65,536 of the keys not in the set also hit): a checker
confirms it against ``statements`` before acting on it, or treats it conservatively as a hit.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from . import b64, ijson
from .errors import NotrainError, PolicyError
from .merkle import HASH_SIZE, MAX_TREE_SIZE
from .snapshotfilter import FuseFilter, build as build_filter, origin_key, work_keys
from .snapshoterrors import SnapshotError
from .verify import Floor, binding, check_sequence
from .snapshotparts import PDQ_MAGIC, PDQ_ROW, Logged, parse_pdq, parse_statements, record_at, statement_records

__all__ = ["Built", "CurrentManifests", "Descriptor", "Logged", "PART_NAMES", "Snapshot", "build", "load", "parse_descriptor", "parts_from_statements"]

MAGIC = "notrain-snapshot/v1"
PART_NAMES = ("works", "origins", "statements", "pdq")
MAX_DESCRIPTOR_BYTES = 4096
MAX_PART_BYTES = 2**33  # 8 GiB: a filter of 2^31 keys is about 4.9 GiB
_ORIGIN = re.compile(r"\A[\x21-\x2a\x2c-\x7e]{1,256}\Z")  # printable ASCII but '+', as a note key name
_DECIMAL = re.compile(r"\A(?:0|[1-9][0-9]{0,18})\Z")
_HEX64 = re.compile(r"\A[0-9a-f]{64}\Z")


@dataclass(frozen=True)
class Descriptor:
    """What a snapshot is: the log checkpoint it was built at and (octets, SHA-256) of each part."""

    log: str
    size: int
    root: bytes
    parts: tuple[tuple[str, int, bytes], ...]  # (name, octets, sha256) in PART_NAMES order

    def encode(self) -> bytes:
        lines = [MAGIC, f"log {self.log}", f"size {self.size}", f"root {b64.std_encode(self.root)}"]
        lines += [f"part {name} {octets} {digest.hex()}" for name, octets, digest in self.parts]
        return "".join(line + "\n" for line in lines).encode("ascii")


def parse_descriptor(data: bytes) -> Descriptor:
    """A descriptor's bytes, checked line by line (spec/snapshot.md, "Descriptor"); ``E_SNAPSHOT`` otherwise."""
    if len(data) > MAX_DESCRIPTOR_BYTES:
        raise SnapshotError(f"descriptor over {MAX_DESCRIPTOR_BYTES} octets", where="descriptor")
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise SnapshotError("descriptor is not ASCII", where="descriptor") from None
    lines = text.split("\n")
    if len(lines) != 9 or lines[-1] != "" or lines[0] != MAGIC:
        raise SnapshotError(f"a descriptor is '{MAGIC}' and seven lines, each ending in a line feed", where="descriptor")
    fields = [line.split(" ") for line in lines[1:8]]
    if [f[0] for f in fields] != ["log", "size", "root", "part", "part", "part", "part"] or [len(f) for f in fields] != [2, 2, 2, 4, 4, 4, 4]:
        raise SnapshotError("descriptor lines are log, size, root and four parts, single-spaced", where="descriptor")
    log, size, root = fields[0][1], fields[1][1], fields[2][1]
    if not _ORIGIN.match(log):
        raise SnapshotError("bad log origin", where="log")
    if not _DECIMAL.match(size) or int(size) > MAX_TREE_SIZE:
        raise SnapshotError("bad tree size", where="size")
    try:
        root_hash = b64.std_decode(root, where="root")
    except NotrainError:
        root_hash = b""
    if len(root_hash) != HASH_SIZE:
        raise SnapshotError("root is not canonical base64 of 32 octets", where="root")
    parts = []
    for name, (_, part, octets, digest) in zip(PART_NAMES, fields[3:]):
        if part != name:
            raise SnapshotError(f"expected part {name!r}", where=f"part {name}")
        if not _DECIMAL.match(octets) or int(octets) > MAX_PART_BYTES or not _HEX64.match(digest):
            raise SnapshotError("bad part size or digest", where=f"part {name}")
        parts.append((name, int(octets), bytes.fromhex(digest)))
    return Descriptor(log, int(size), root_hash, tuple(parts))


@dataclass(frozen=True)
class Built:
    """A built snapshot: the descriptor's bytes and each part's bytes."""

    descriptor: bytes
    parts: dict[str, bytes]


class _Keys:
    """What the filters and the PDQ part must hold, collected from statement records."""

    def __init__(self) -> None:
        self.works, self.origins, self.pdq, self.work_offsets = bytearray(), bytearray(), bytearray(), bytearray()
        self.blocks: dict[str, int] = {}  # publisher -> offset of its publisher record

    def add(self, record: dict, offset: int) -> None:
        kind = record["kind"]
        if kind == "publisher":
            self.blocks[record["publisher"]] = offset
        if kind == "work":
            if "sha256" in record:
                self.works += bytes.fromhex(record["sha256"])[:8]
                self.work_offsets += offset.to_bytes(8, "little")
            if "pdq" in record:
                self.pdq += bytes.fromhex(record["pdq"]) + bytes([record["threshold"]])
        elif not record["publisher"].startswith("did:") and (kind == "path" or (kind == "publisher" and record["default"])):
            self.origins += origin_key(record["publisher"]).to_bytes(8, "little")

    def work_keys(self) -> np.ndarray:
        return np.frombuffer(bytes(self.works), dtype="<u8").astype(np.uint64)

    def origin_keys(self) -> np.ndarray:
        return np.frombuffer(bytes(self.origins), dtype="<u8").astype(np.uint64)

    def pdq_part(self) -> bytes:
        rows = np.unique(np.frombuffer(bytes(self.pdq), dtype=f"V{PDQ_ROW}"))  # void rows sort as octets
        return PDQ_MAGIC + rows.tobytes()


class CurrentManifests:
    """Each publisher's current manifest, by the rollback floor rule (spec/envelope.md, step 10) applied
    to its manifests in log order: a manifest replaces the current one unless the current one's floor
    binds it (one of the keys trusted when the floor was set signed it) and refuses its sequence (lower,
    or equal with another digest).  So after a key theft and a rotation, the publisher's manifest signed
    by its new key alone replaces the thief's, whatever their sequences."""

    def __init__(self) -> None:
        self.current: dict[str, Logged] = {}

    def offer(self, entry: Logged) -> bool:
        """Offer the next manifest in log order; True if it is now its publisher's current one."""
        held = self.current.get(entry.manifest.publisher)
        if held is not None:
            floor = binding(Floor(held.manifest.sequence, held.manifest.digest, held.trusted), entry.signed_by)
            try:
                check_sequence(entry.manifest, floor)
            except PolicyError:
                return False
        self.current[entry.manifest.publisher] = entry
        return True


def _current(entries: Iterable[Logged]) -> dict[str, Logged]:
    current = CurrentManifests()
    for entry in sorted(entries, key=lambda entry: entry.index):
        current.offer(entry)
    return current.current


def build(entries: Iterable[Logged], *, log: str, size: int, root: bytes) -> Built:
    """The snapshot of verified manifests logged in the first ``size`` entries of ``log`` (whose root
    at that size is ``root``).  Deterministic: ``entries`` are taken in log order, whatever their order here."""
    lines, keys, offset = [], _Keys(), 0
    for publisher, entry in sorted(_current(entries).items()):
        if not 0 <= entry.index < size:
            raise ValueError(f"log index {entry.index} of {publisher} is not below the tree size {size}")
        for record in statement_records(entry):
            lines.append(ijson.dumps(record) + b"\n")
            keys.add(record, offset)
            offset += len(lines[-1])
    parts = _parts(b"".join(lines), keys)
    descriptor = Descriptor(log, size, root, tuple((name, len(parts[name]), hashlib.sha256(parts[name]).digest()) for name in PART_NAMES))
    parse_descriptor(descriptor.encode())  # a log origin or size that no reader would accept fails here
    return Built(descriptor.encode(), parts)


def _parts(statements: bytes, keys: _Keys) -> dict[str, bytes]:
    return {"works": build_filter(keys.work_keys()), "origins": build_filter(keys.origin_keys()),
            "statements": statements, "pdq": keys.pdq_part()}


def parts_from_statements(statements: bytes, *, size: int) -> dict[str, bytes]:
    """Every part, rebuilt from a ``statements`` part (checked; ``size`` is the tree size): what a
    client does after applying a delta, or an auditor to compare a published snapshot."""
    keys = _Keys()
    for offset, record in parse_statements(statements, tree_size=size):
        keys.add(record, offset)
    return _parts(statements, keys)


class Snapshot:
    """A loaded, checked snapshot.  The filters and PDQ rows are views of the parts' bytes."""

    def __init__(self, descriptor: Descriptor, descriptor_bytes: bytes, parts: dict[str, bytes],
                 works: FuseFilter, origins: FuseFilter, pdq: np.ndarray, keys: _Keys) -> None:
        self.descriptor, self.parts = descriptor, parts
        self.id = hashlib.sha256(descriptor_bytes).hexdigest()  # what a compliance report cites
        self.works, self.origins, self.pdq = works, origins, pdq
        work_keys_ = keys.work_keys()
        order = np.argsort(work_keys_, kind="stable")
        self._work_keys = work_keys_[order]  # sorted, with the offsets of their lines: exact confirmation
        self._work_offsets = np.frombuffer(bytes(keys.work_offsets), dtype="<u8").astype(np.int64)[order]
        self._blocks = keys.blocks

    def works_may_match(self, digests: bytes | np.ndarray) -> np.ndarray:
        """Per SHA-256 (concatenated, or an (n, 32) array): False if no manifest lists it."""
        return self.works.contains(work_keys(digests))

    def origins_may_match(self, origins: list[str]) -> np.ndarray:
        """Per canonical origin: False if its manifest has no rules in this snapshot."""
        return self.origins.contains(np.array([origin_key(origin) for origin in origins], dtype=np.uint64))

    def records(self) -> Iterator[dict]:
        """Every statement record (checked again), in part order."""
        return (record for _, record in parse_statements(self.parts["statements"], tree_size=self.descriptor.size))

    def confirm_work(self, sha256: bytes) -> list[dict]:
        """The work records for a file's SHA-256: how a filter hit is confirmed (a binary search,
        then the few lines whose first 8 octets match are read)."""
        key = np.uint64(int.from_bytes(sha256[:8], "little"))
        low, high = np.searchsorted(self._work_keys, key, "left"), np.searchsorted(self._work_keys, key, "right")
        records = [record_at(self.parts["statements"], int(offset)) for offset in np.sort(self._work_offsets[low:high])]
        return [record for record in records if record["sha256"] == sha256.hex()]

    def rules(self, origin: str) -> list[dict]:
        """The publisher and path records of an origin: how an ``origins`` hit is confirmed."""
        offset, statements, found = self._blocks.get(origin), self.parts["statements"], []
        while offset is not None and offset < len(statements):
            record = record_at(statements, offset)
            if record["kind"] not in ("publisher", "path") or (found and record["kind"] == "publisher"):
                break
            found.append(record)
            offset = statements.index(b"\n", offset) + 1
        return found


def load(descriptor_bytes: bytes, parts: dict[str, bytes], *, log: str | None = None, full: bool = False) -> Snapshot:
    """Check a snapshot and open it (spec/snapshot.md, "Checking a snapshot").  ``log``: the log
    origin the caller expects.  ``full``: also rebuild the filters and compare their bytes.
    Memory: the parts as given, plus 16 octets a work (its key and line), 8 an origin and 33 a PDQ row."""
    descriptor = parse_descriptor(descriptor_bytes)
    if log is not None and descriptor.log != log:
        raise SnapshotError(f"a snapshot of {descriptor.log}, not of {log}", where="log")
    for name, octets, digest in descriptor.parts:
        data = parts.get(name)
        if data is None or len(data) != octets or hashlib.sha256(data).digest() != digest:
            raise SnapshotError(f"part {name} is not the one the descriptor names", code="E_SNAPSHOT_DIGEST", where=f"part {name}")
    works, origins = FuseFilter(parts["works"], where="works"), FuseFilter(parts["origins"], where="origins")
    pdq = parse_pdq(parts["pdq"])
    keys = _Keys()
    for offset, record in parse_statements(parts["statements"], tree_size=descriptor.size):
        keys.add(record, offset)
    for name, found, loaded in (("works", keys.work_keys(), works), ("origins", keys.origin_keys(), origins)):
        if loaded.key_count != np.unique(found).size or not loaded.contains(found).all():
            raise SnapshotError(f"the {name} filter does not hold exactly the keys of the statements", where=name)
        if full and build_filter(found) != bytes(parts[name]):
            raise SnapshotError(f"the {name} filter is not the one its keys build", where=name)
    if keys.pdq_part() != bytes(parts["pdq"]):
        raise SnapshotError("the pdq rows are not those of the statements", where="pdq")
    return Snapshot(descriptor, descriptor_bytes, parts, works, origins, pdq, keys)
