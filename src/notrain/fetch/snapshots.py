"""Snapshot clients: pull a snapshot from an aggregator and re-check one on disk (reading one as a
crawler's source is :mod:`.snapshot_source`).

A snapshot is only worth citing if it is the one the log committed to (spec/snapshot.md, "Descriptor").
So a pull checks, before trusting a byte of it: the log's signed checkpoint (the configured log key and,
when asked, k of n witness cosignatures), the log entry of kind ``snapshot`` whose body is exactly the
descriptor, that entry's inclusion proof against the checkpoint, and that the descriptor's own (size,
root) is a prefix of the checkpoint's tree (a consistency proof).  Then each part is streamed to disk
with its size and SHA-256 checked against the descriptor, and core's loader checks the parts' layout
and rebuilds the filters.  The directory written holds everything needed to do all of that again
offline (:func:`verify`): ``descriptor``, the four parts, ``checkpoint`` and ``proof.json``; it
replaces the previous one by renames, so a reader never sees half a snapshot.

A snapshot's age is that of its log entry (``observed``): the log committed to that time, and the
checkpoint that includes it is at least as new.  A pull or a verify with ``max_age`` refuses an older
one (``E_EXPIRED``), as a crawler refuses an expired manifest.

Routes read (the aggregator's): ``/v1/snapshot`` (its id and log index), ``/snapshot/<id>/descriptor``,
``/snapshot/<id>/<part>``, optionally ``/snapshot/<id>/delta/<previous id>`` (a delta, spec/snapshot.md
"Deltas", used when a previous snapshot is on disk), ``/log/checkpoint``, ``/log/tile/entries/...``,
``/v1/proof/inclusion`` and ``/v1/proof/consistency``.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp

from ..core import b64, ijson
from ..core.checkpoint import SignedCheckpoint
from ..core.errors import NotrainError
from ..core.logentry import LogEntry, parse_entry
from ..core.logerrors import LogEntryError, ProofError
from ..core.merkle import leaf_hash, root, verify_consistency, verify_inclusion
from ..core.note import NoteVerifier, open_note
from ..core.snapshot import MAX_DESCRIPTOR_BYTES, Snapshot, load, parse_descriptor, parts_from_statements
from ..core.snapshotdelta import apply as apply_delta
from ..core.snapshoterrors import SnapshotError
from ..core.tiles import ENTRIES, MAX_BUNDLE_BYTES, TILE_WIDTH, TileId, decode_bundle, tile_width
from ..core.witnessing import WitnessPolicy
from .sources import SourceError

SCHEME_PREFIX = "snapshot:"  # NOTRAIN_SOURCES spelling: snapshot:DIR[#VKEY]
CHECKPOINT_FILE, PROOF_FILE, LOG_KEY_FILE = "checkpoint", "proof.json", "log.vkey"
MAX_CHECKPOINT_BYTES = 16 * 1024
MAX_JSON_BYTES = 64 * 1024
MAX_PROOF_FILE_BYTES = 4 * MAX_BUNDLE_BYTES  # an entry (at most a bundle's worth), base64, and two proofs
CHUNK = 256 * 1024


@dataclass(frozen=True)
class Trust:
    """What a snapshot must prove: the log's verifier key, the witnesses whose cosignatures count
    (at least ``min_witnesses`` of them, distinct: core's :class:`~notrain.core.witnessing.WitnessPolicy`),
    and the oldest acceptable snapshot."""

    log_key: str
    witnesses: tuple[str, ...] = ()
    min_witnesses: int = 0
    max_age: timedelta | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "_policy", WitnessPolicy.from_vkeys(self.witnesses, self.min_witnesses))  # checked once, here

    @property
    def log(self) -> NoteVerifier:
        return NoteVerifier.from_vkey(self.log_key)

    def open(self, note: bytes) -> SignedCheckpoint:
        """The checkpoint, signed by the log and cosigned by enough of the witnesses."""
        log = self.log
        return self._policy.open(note, log.name, log)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Proof:
    """Where the descriptor is in the log: its entry (exact bytes), index, inclusion proof at the
    checkpoint's size, and the consistency proof from the descriptor's tree to the checkpoint's."""

    index: int
    size: int
    entry: bytes
    inclusion: tuple[bytes, ...]
    consistency: tuple[bytes, ...]

    def to_json(self) -> dict:
        return {"index": self.index, "size": self.size, "entry": b64.std_encode(self.entry),
                "inclusion": [b64.std_encode(h) for h in self.inclusion], "consistency": [b64.std_encode(h) for h in self.consistency]}

    @classmethod
    def from_json(cls, data: bytes) -> Proof:
        doc = ijson.loads(data, max_size=MAX_PROOF_FILE_BYTES, max_depth=4, what="proof")
        shape = {"index": int, "size": int, "entry": str, "inclusion": list, "consistency": list}
        if not isinstance(doc, dict) or set(doc) != set(shape) or not all(type(doc[k]) is t for k, t in shape.items()) \
                or not all(isinstance(h, str) for h in doc["inclusion"] + doc["consistency"]):
            raise ProofError("proof.json holds index, size, entry, inclusion and consistency", where=PROOF_FILE)
        return cls(doc["index"], doc["size"], b64.std_decode(doc["entry"], where="entry"),
                   tuple(b64.std_decode(h, where="inclusion") for h in doc["inclusion"]),
                   tuple(b64.std_decode(h, where="consistency") for h in doc["consistency"]))


@dataclass(frozen=True)
class Evidenced:
    """A snapshot whose place in the log verified: what a compliance report cites."""

    snapshot: Snapshot
    checkpoint: SignedCheckpoint
    proof: Proof
    entry: LogEntry

    @property
    def id(self) -> str:
        return self.snapshot.id

    def describe(self) -> dict:
        descriptor = self.snapshot.descriptor
        return {
            "id": self.id, "log": descriptor.log, "size": descriptor.size, "root": b64.std_encode(descriptor.root),
            "observed": self.entry.observed.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "checkpoint": self.checkpoint.data.decode("utf-8"),
            "witnesses": sorted({v.name for v in self.checkpoint.cosignatures}),
            "inclusion": {"index": self.proof.index, "size": self.proof.size, "proof": [b64.std_encode(h) for h in self.proof.inclusion]},
            "consistency": [b64.std_encode(h) for h in self.proof.consistency],
        }


def check_place(descriptor_bytes: bytes, checkpoint: bytes, proof: Proof, trust: Trust, now: datetime) -> tuple[SignedCheckpoint, LogEntry]:
    """That the descriptor is the body of a ``snapshot`` entry included in a checkpoint the log (and
    enough witnesses) signed, that its tree is a prefix of the checkpoint's, and that it is young enough."""
    signed = trust.open(checkpoint)
    tree, descriptor = signed.checkpoint, parse_descriptor(descriptor_bytes)
    if descriptor.log != tree.origin:
        raise SnapshotError(f"a snapshot of {descriptor.log}, not of {tree.origin}", where="log")
    entry = parse_entry(proof.entry)
    if entry.kind != "snapshot":
        raise LogEntryError(f"the entry at {proof.index} is a {entry.kind}, not a snapshot", where="kind")
    entry.check_body(descriptor_bytes)
    if proof.size != tree.size:
        raise ProofError("the inclusion proof is not at the checkpoint's size", where="size")
    verify_inclusion(proof.index, tree.size, leaf_hash(proof.entry), proof.inclusion, tree.root)
    if descriptor.size == 0:
        if descriptor.root != root([]):
            raise ProofError("an empty tree has the empty root", where="root")
    else:
        verify_consistency(descriptor.size, tree.size, descriptor.root, tree.root, proof.consistency)
    if trust.max_age is not None and now - entry.observed > trust.max_age:
        raise NotrainError(f"the snapshot was logged at {entry.observed:%Y-%m-%dT%H:%M:%SZ}, older than {trust.max_age}",
                           code="E_EXPIRED", where="observed")
    return signed, entry


def verify(directory: str | os.PathLike, trust: Trust, *, now: datetime | None = None) -> Evidenced:
    """Re-check a snapshot directory offline: its place in the log, then every part (filters rebuilt)."""
    path = Path(directory)
    descriptor = read_file(path / "descriptor", MAX_DESCRIPTOR_BYTES)
    proof = Proof.from_json(read_file(path / PROOF_FILE, MAX_PROOF_FILE_BYTES))
    signed, entry = check_place(descriptor, read_file(path / CHECKPOINT_FILE, MAX_CHECKPOINT_BYTES), proof, trust, now or datetime.now(UTC))
    parts = {name: read_file(path / name, octets, code="E_SNAPSHOT_DIGEST") for name, octets, _ in parse_descriptor(descriptor).parts}
    snapshot = load(descriptor, parts, log=signed.checkpoint.origin, full=True)
    return Evidenced(snapshot, signed, proof, entry)


def read_file(path: Path, limit: int, *, code: str = "E_SNAPSHOT") -> bytes:
    """A file of the directory, never more than ``limit`` octets read (a part: the size its descriptor gives)."""
    try:
        with open(path, "rb") as file:
            data = file.read(min(limit, os.fstat(file.fileno()).st_size) + 1)  # read(n) allocates n octets first
    except FileNotFoundError:
        raise SnapshotError(f"{path.name} is missing", code=code, where=str(path)) from None
    except OSError as error:
        raise NotrainError(f"cannot read {path}: {error.strerror}", code="E_IO", where=str(path)) from None
    if len(data) > limit:
        raise SnapshotError(f"{path.name} is over {limit} octets", code=code, where=str(path))
    return data


# -- pulling ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pulled:
    evidenced: Evidenced
    path: Path
    delta: bool  # whether `statements` came from a delta against the previous snapshot


async def pull(url: str, out: str | os.PathLike, trust: Trust, *, now: datetime | None = None, timeout: float = 300.0) -> Pulled:
    """Fetch the aggregator's latest snapshot into ``out``, checked as the module docstring says."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SourceError("an aggregator is an http(s) URL", where=url[:100])
    out, now = Path(out), now or datetime.now(UTC)
    out.parent.mkdir(parents=True, exist_ok=True)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        reader = _Reader(url.rstrip("/"), session)
        latest = ijson.loads(await reader.get("/v1/snapshot", MAX_JSON_BYTES), max_size=MAX_JSON_BYTES, max_depth=4, what="snapshot")
        snapshot_id, index = (latest.get("id"), latest.get("log_index")) if isinstance(latest, dict) else (None, None)
        if not isinstance(snapshot_id, str) or len(snapshot_id) != 64 or any(c not in "0123456789abcdef" for c in snapshot_id):
            raise SourceError("/v1/snapshot names no snapshot id", where="/v1/snapshot")
        if not isinstance(index, int) or index < 0:
            raise SourceError("the latest snapshot is not in the log yet", where="/v1/snapshot")
        checkpoint = await reader.get("/log/checkpoint", MAX_CHECKPOINT_BYTES)
        size = trust.open(checkpoint).checkpoint.size
        descriptor = _descriptor(await reader.get(f"/snapshot/{snapshot_id}/descriptor", MAX_DESCRIPTOR_BYTES + 4096), trust)
        if hashlib.sha256(descriptor).hexdigest() != snapshot_id:
            raise SnapshotError("the descriptor served is not the snapshot named", where="descriptor")
        proof = await reader.proof(index, size, parse_descriptor(descriptor).size)
        check_place(descriptor, checkpoint, proof, trust, now)  # before a byte of a part is fetched
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
        try:
            delta = await _statements_by_delta(reader, out, staging, descriptor, trust, now)
            for name, octets, digest in parse_descriptor(descriptor).parts:
                if not (staging / name).exists():
                    await reader.part(f"/snapshot/{snapshot_id}/{name}", staging / name, octets, digest)
            evidenced = await asyncio.to_thread(_finish, staging, out, descriptor, checkpoint, proof, trust, now)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return Pulled(evidenced, out, delta)


def _descriptor(served: bytes, trust: Trust) -> bytes:
    """The descriptor's octets: served bare, or as a note signed by the log (spec: "a valid signed-note text")."""
    try:
        parse_descriptor(served)
        return served
    except SnapshotError:
        return open_note(served, [trust.log]).text.encode("ascii")


async def _statements_by_delta(reader: _Reader, held: Path, staging: Path, descriptor: bytes, trust: Trust, now: datetime) -> bool:
    """With a previous snapshot on disk and a delta on offer, write every part rebuilt from the new
    ``statements`` (each checked against the descriptor); False (fetch parts whole) otherwise."""
    try:
        previous = await asyncio.to_thread(verify, held, trust, now=now) if (held / "descriptor").exists() else None
    except NotrainError:
        previous = None
    new_id = hashlib.sha256(descriptor).hexdigest()
    if previous is None or previous.id == new_id:
        return False
    try:
        delta = await reader.get(f"/snapshot/{new_id}/delta/{previous.id}", parse_descriptor(descriptor).parts[2][1] + 4096, missing_ok=True)
        if delta is None:
            return False
        old = previous.snapshot
        statements = await asyncio.to_thread(apply_delta, read_file(held / "descriptor", MAX_DESCRIPTOR_BYTES), old.parts["statements"], delta, descriptor)
        parts = await asyncio.to_thread(parts_from_statements, statements, size=parse_descriptor(descriptor).size)
    except NotrainError:
        return False  # a wrong delta is refused: the parts are fetched whole
    def write() -> None:  # the parts that match the descriptor; any other is fetched whole
        for name, octets, digest in parse_descriptor(descriptor).parts:
            if len(parts[name]) == octets and hashlib.sha256(parts[name]).digest() == digest:
                (staging / name).write_bytes(parts[name])

    await asyncio.to_thread(write)
    return True


def _finish(staging: Path, out: Path, descriptor: bytes, checkpoint: bytes, proof: Proof, trust: Trust, now: datetime) -> Evidenced:
    """Write the evidence beside the parts, check the whole directory as ``verify`` will, then put it in place."""
    (staging / "descriptor").write_bytes(descriptor)
    (staging / CHECKPOINT_FILE).write_bytes(checkpoint)
    (staging / PROOF_FILE).write_bytes(ijson.dumps(proof.to_json()))
    (staging / LOG_KEY_FILE).write_text(trust.log_key + "\n", encoding="ascii")
    evidenced = verify(staging, trust, now=now)
    _replace(staging, out)
    return evidenced


def _replace(staging: Path, out: Path) -> None:
    """``staging`` becomes ``out``: two renames, the old directory removed only after the new one is in place."""
    for name in os.listdir(staging):
        with open(staging / name, "rb") as file:
            os.fsync(file.fileno())
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
        os.rename(out, old / "snapshot")
    os.rename(staging, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


class _Missing(Exception):
    """A 404 where one is allowed (an optional route)."""


class _Reader:
    """One pull's HTTP side: bounded reads of the aggregator's routes."""

    def __init__(self, url: str, session: aiohttp.ClientSession) -> None:
        self.url, self.session = url, session

    async def get(self, path: str, max_bytes: int, *, missing_ok: bool = False, **params: str) -> bytes | None:
        """The body (at most ``max_bytes``); None for a 404 when ``missing_ok``."""
        body = bytearray()
        try:
            async for chunk in self._stream(path, max_bytes, params, missing_ok=missing_ok):
                body += chunk
        except _Missing:
            return None
        return bytes(body)

    async def part(self, path: str, target: Path, octets: int, digest: bytes) -> None:
        """Stream a part to ``target``: never more than its size, refused unless its SHA-256 is the descriptor's."""
        hasher, written = hashlib.sha256(), 0
        file = await asyncio.to_thread(open, target, "wb")  # disk writes off the event loop
        try:
            async for chunk in self._stream(path, octets, {}, code="E_SNAPSHOT_DIGEST"):
                hasher.update(chunk)
                await asyncio.to_thread(file.write, chunk)
                written += len(chunk)
        finally:
            await asyncio.to_thread(file.close)
        if written != octets or hasher.digest() != digest:
            raise SnapshotError(f"part {target.name} is not the one the descriptor names", code="E_SNAPSHOT_DIGEST", where=path)

    async def proof(self, index: int, size: int, descriptor_size: int) -> Proof:
        if not 0 <= index < size:
            raise SourceError("the snapshot's entry is not in the log's checkpoint", where="/v1/snapshot")
        tile = TileId(ENTRIES, index // TILE_WIDTH, tile_width(0, index // TILE_WIDTH, size))
        entry = decode_bundle(await self.get("/log/" + tile.path, MAX_BUNDLE_BYTES), tile.width)[index % TILE_WIDTH]
        inclusion = await self._hashes("/v1/proof/inclusion", index=str(index), size=str(size))
        consistency = ()
        if 0 < descriptor_size < size:
            consistency = await self._hashes("/v1/proof/consistency", **{"from": str(descriptor_size), "size": str(size)})
        return Proof(index, size, entry, inclusion, consistency)

    async def _hashes(self, path: str, **params: str) -> tuple[bytes, ...]:
        doc = ijson.loads(await self.get(path, MAX_JSON_BYTES, **params), max_size=MAX_JSON_BYTES, max_depth=4, what="proof")
        hashes = doc.get("proof") if isinstance(doc, dict) else None
        if not isinstance(hashes, list) or not all(isinstance(h, str) for h in hashes):
            raise ProofError(f"{path}: no proof", where=path)
        return tuple(b64.std_decode(h, where=path) for h in hashes)

    async def _stream(self, path: str, max_bytes: int, params: dict, *, missing_ok: bool = False, code: str = "E_SOURCE"):
        url, received = self.url + path, 0
        try:
            async with self.session.get(url, params=params, allow_redirects=False) as response:
                if missing_ok and response.status == 404:
                    raise _Missing
                if response.status != 200:
                    raise SourceError(f"{url}: HTTP {response.status}", where=path)
                async for chunk in response.content.iter_chunked(CHUNK):
                    received += len(chunk)
                    if received > max_bytes:
                        raise SnapshotError(f"{url}: more than {max_bytes} octets", code=code, where=path)
                    yield chunk
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            raise SourceError(f"{url}: {type(error).__name__}: {error}"[:300], where=path) from None
