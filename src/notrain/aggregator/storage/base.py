"""The storage contract: the values stored, the two protocols, and the guarantees every backend gives.

Guarantees (the rest of the aggregator may rely on these, and on nothing else):

* **Durable on return.** Every write method returns only after its transaction has committed; on SQLite
  with ``synchronous=FULL``, on PostgreSQL with the server's own durability.  A receipt handed out after
  :meth:`Storage.append` returned promises nothing the database cannot keep.
* **Atomic appends.** ``append`` stores the entry, its manifest record, its detached body and the
  publisher's new rollback floor in one transaction.  The same idempotency key always yields the same
  entry (``created`` False the second time, nothing else written), so a retried submission gets the
  same receipt.  An append whose caller was
  cancelled may or may not have committed; retrying it with the same key is always safe.
* **Equivocation is kept, never resolved.** A manifest bound by its publisher's floor (below) with the
  floor's ``sequence`` and another payload is stored, and flagged with the manifest that set the floor,
  which keeps counting.  Equal sequences across a key rotation are no equivocation (a new floor starts).
* **Floors follow the spec.** A floor is core's :class:`~notrain.core.verify.Floor` (sequence, digest, the
  key ids trusted when it was set).  ``append`` replaces the publisher's floor by the one its manifest sets
  unless the stored floor binds that manifest and refuses its sequence (:func:`floor_outcome`: core's
  ``binding`` and ``check_sequence``, spec/envelope.md step 10), deciding and writing in its transaction,
  serialised per publisher: concurrent appends leave the floor that one order of them would.  So a floor
  may fall, when a manifest signed only by keys reached since (a rotation) starts a new one.  The
  manifest that set the floor is the publisher's latest.
* **Detached bodies are kept beside their entries.** A body that an entry commits to by digest
  (spec/log.md, "Log entries") is stored by ``append`` with the entry and read back by its SHA-256.
* **One sequencer.** At most one :class:`Sequencer` exists per database at a time, across processes;
  opening a second raises :class:`SequencerBusy` at once (no waiting, no home-made election).
* **Integration is one transaction.** :meth:`Sequencer.integrate` assigns the next log indices, stores the
  tiles and entry bundles and replaces the checkpoint, compare-and-swapped on the old (size, root), all
  or nothing: a crash never leaves a checkpoint pointing at a missing tile or an unassigned index.
  Tiles are immutable: storing the same bytes again is a no-op, different bytes are a :class:`TileConflict`.
  Partial tiles and bundles stay until the full one of the same coordinates is stored, then go (C2SP
  tlog-tiles clients fall back to the full tile), so at most one tile per level ever has partials.
* **Peers are remembered forever; a fork is final.** :meth:`Storage.save_peer` keeps the last checkpoint
  verified of each peer log (spec/log.md, "Federation"); :meth:`Storage.add_evidence` stores two
  checkpoints of a peer that are not consistent and marks the peer ``forked`` in one transaction, and no
  later ``save_peer`` changes that status: only :meth:`Storage.reset_peer` (an operator's act) does.
* **A witness never rolls back.** :meth:`Storage.swap_witnessed` replaces the latest checkpoint cosigned for a
  log only if the stored one is still the one the caller checked against (compare-and-swap on size and root),
  so of two concurrent add-checkpoint requests one wins and the other is checked again (tlog-witness).
  :meth:`Storage.save_cosignature` keeps each witness's newest cosignature of this log, never an older one.
* **Bounded reads.** Every read returns at most :data:`MAX_READ` rows (the sequencer's pending read at
  most :data:`MAX_BATCH`); asking for more is a :class:`ReadTooLarge` (the API validates first, so this
  is a programming error, not a user's).

Tiles, entry bundles and the signed note are opaque bytes here: computing them is pure code in
``notrain.core``; storage only keeps what it is given, keyed by C2SP tile coordinates.  Times are
timezone-aware UTC datetimes, stored as integer milliseconds since the epoch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Protocol

from ...core.errors import PolicyError
from ...core.verify import Floor, binding, check_sequence
from ...core.witnessing import Witnessed

MAX_READ = 1000  # rows per read: entries by range, histories, searches, due lists
TILE_WIDTH = 256  # hashes per full tile, entries per full bundle (tlog-tiles height 8)
MAX_BATCH = 65_536  # pending entries per integration (the config's log.batch_max is at most this)


class StorageError(Exception):
    """A storage fault inside the service, never a verdict on a document (those carry spec codes)."""


class SchemaTooNew(StorageError):
    """The database was migrated by a newer notrain; refusing to run rather than misread it."""


class SequencerBusy(StorageError):
    """Another process or connection holds the sequencer."""


class CheckpointConflict(StorageError):
    """The stored checkpoint is not the one the sequencer expected: someone else integrated."""


class TileConflict(StorageError):
    """A tile or entry bundle already stored with different bytes: the log would fork."""


class NotPending(StorageError):
    """``integrate`` was given an entry id that is unknown or already has a log index."""


class ReadTooLarge(StorageError, ValueError):
    """A read asked for more than :data:`MAX_READ` rows, or for a negative range."""


def check_growth(expected: Checkpoint | None, entry_ids: Sequence[int], checkpoint: Checkpoint) -> int:
    """The old size, after checking that ``checkpoint`` is exactly ``entry_ids`` larger (a sequencer's bug otherwise)."""
    old_size = expected.size if expected else 0
    if checkpoint.size != old_size + len(entry_ids):
        raise ValueError(f"checkpoint size {checkpoint.size} is not {old_size} + {len(entry_ids)} entries")
    return old_size


def check_count(count: int, most: int = MAX_READ) -> int:
    if not 0 <= count <= most:
        raise ReadTooLarge(f"at most {most} rows per read, not {count}")
    return count


def to_ms(when: datetime) -> int:
    if when.tzinfo is None:
        raise ValueError("storage times must be timezone-aware")
    return round(when.timestamp() * 1000)


def from_ms(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


@dataclass(frozen=True)
class NewEntry:
    """A log entry accepted but not yet sequenced: ``leaf`` is the entry's exact bytes."""

    leaf: bytes
    leaf_hash: bytes
    kind: str
    publisher: str | None
    received_at: datetime
    deadline: datetime  # the integration time promised in the receipt
    idempotency_key: bytes | None = None  # e.g. sha256 of the submitted envelope; None: never deduplicated


@dataclass(frozen=True, kw_only=True)
class Entry(NewEntry):
    id: int
    log_index: int | None  # None while pending


@dataclass(frozen=True)
class NewManifest:
    """A verified publisher manifest, kept as the exact envelope bytes received."""

    publisher: str
    sequence: int
    payload_sha256: bytes
    envelope: bytes


@dataclass(frozen=True, kw_only=True)
class Manifest(NewManifest):
    id: int
    entry_id: int
    received_at: datetime
    log_index: int | None  # None until its entry is integrated
    equivocation: bool  # it and another payload of one sequence were signed under one floor (see the guarantees)


@dataclass(frozen=True)
class Appended:
    entry: Entry
    manifest: Manifest | None
    created: bool  # False: the idempotency key was known, nothing was written
    latest: bool = False  # the manifest set its publisher's floor in this append: it is now the latest


@dataclass(frozen=True)
class Checkpoint:
    size: int
    root: bytes
    note: bytes  # the signed note, exactly as served


@dataclass(frozen=True)
class FloorUpdate:
    """The floor an accepted signed manifest of ``publisher`` sets, and the key ids that signed it (which
    decide whether the stored floor binds it).  Bare manifests are never stored, so never set one here."""

    publisher: str
    floor: Floor
    signed_by: frozenset[str]

    def __post_init__(self) -> None:
        if not self.signed_by:
            raise ValueError("the aggregator keeps floors of signed manifests only")


def check_floor_of(manifest: NewManifest | None, update: FloorUpdate | None) -> None:
    """A floor appended with a manifest must be that manifest's: it becomes the publisher's latest."""
    sets = None if manifest is None else (manifest.publisher, manifest.sequence, manifest.payload_sha256.hex())
    if update is not None and sets is not None and sets != (update.publisher, update.floor.sequence, update.floor.digest):
        raise ValueError("the floor is not the one the manifest sets")


class FloorOutcome(Enum):
    REPLACE = "replace"  # the floor moves to the new manifest, which becomes the publisher's latest
    EQUIVOCATION = "equivocation"  # bound, same sequence, other digest: both flagged, the first counts
    KEEP = "keep"  # bound and lower: a concurrent append of a newer manifest committed first


def floor_outcome(stored: Floor | None, update: FloorUpdate) -> FloorOutcome:
    """What an accepted manifest does to the ``stored`` floor, by core's rule (spec/envelope.md, step 10):
    every accepted manifest replaces the floor unless the floor binds it (a key of the floor signed it)."""
    bound = binding(stored, update.signed_by)
    if bound is not None and bound.sequence == update.floor.sequence and bound.digest != update.floor.digest:
        return FloorOutcome.EQUIVOCATION
    try:
        check_sequence(update.floor, bound)
    except PolicyError:
        return FloorOutcome.KEEP
    return FloorOutcome.REPLACE


@dataclass(frozen=True)
class Validators:
    """HTTP validators of one crawled document, for conditional GETs."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class Origin:
    origin: str
    added_by: str  # "config", "api", "submission", ...
    added_at: datetime
    next_crawl_at: datetime
    last_status: int | None = None
    failures: int = 0
    validators: Mapping[str, Validators] = field(default_factory=dict)  # document name -> validators


@dataclass(frozen=True)
class AccountProof:
    publisher: str
    account_url: str
    status: str
    checked_at: datetime
    next_check_at: datetime


PEER_STATUSES = ("new", "ok", "error", "forked")


@dataclass(frozen=True)
class PeerState:
    """What this aggregator knows of one peer log, by the peer's origin."""

    origin: str
    url: str
    checkpoint: bytes | None = None  # the last checkpoint verified (signature, consistency), verbatim
    size: int = 0  # its tree size
    copied: int = 0  # the peer's entries [0, copied) have been verified and re-logged or skipped
    status: str = "new"  # one of PEER_STATUSES
    error: str | None = None  # the last refusal, "E_CODE: message"
    skipped: int = 0  # entries not re-logged because they did not verify here
    checked_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.status not in PEER_STATUSES or not 0 <= self.copied <= self.size:
            raise ValueError(f"not a peer state: {self.status}, copied {self.copied} of {self.size}")


@dataclass(frozen=True)
class ForkEvidence:
    """Two checkpoints signed by one peer log that cannot both be true, and the proof that failed."""

    origin: str
    old: bytes  # the checkpoint stored earlier, verbatim
    new: bytes  # the one found inconsistent with it, verbatim
    proof: tuple[bytes, ...]  # the consistency proof built from the peer's tiles (empty for equal sizes)
    reason: str
    found_at: datetime

    @property
    def digest(self) -> bytes:
        """One fork is stored once: the same two notes are the same evidence."""
        return hashlib.sha256(len(self.old).to_bytes(4, "big") + self.old + self.new).digest()


@dataclass(frozen=True)
class Cosignature:
    """A witness's cosignature line on this log's checkpoint of ``size`` and ``root`` (spec/log.md, "Witnesses")."""

    witness: str  # the witness's cosigner vkey
    size: int
    root: bytes
    line: bytes  # the signature line, ending in a newline
    received_at: datetime


class Sequencer(Protocol):
    """The one writer of the log, alive while ``async with storage.sequencer()`` holds its lock."""

    async def pending(self, limit: int) -> list[Entry]:
        """Pending entries, oldest first."""

    async def integrate(
        self,
        expected: Checkpoint | None,
        entry_ids: Sequence[int],
        tiles: Mapping[tuple[int, int, int], bytes],
        bundles: Mapping[tuple[int, int], bytes],
        checkpoint: Checkpoint,
    ) -> None:
        """Give ``entry_ids`` the indices ``expected.size, expected.size + 1, ...`` (0 for no checkpoint), store
        ``tiles`` ((level, index, width) -> bytes) and ``bundles`` ((index, width) -> bytes), and replace
        ``expected`` by ``checkpoint``, whose size must be the new size: all in one transaction."""


class Storage(Protocol):
    """The aggregator's only persistent state; see the module docstring for the guarantees."""

    async def close(self) -> None: ...

    # ingest
    async def append(
        self, entry: NewEntry, manifest: NewManifest | None = None, floor: FloorUpdate | None = None, body: bytes | None = None
    ) -> Appended:
        """``body``: the detached body ``entry`` commits to by digest, if its own bytes do not hold it."""

    async def floor(self, publisher: str) -> Floor | None: ...
    async def pins(self, origin: str) -> frozenset[str]: ...
    async def set_pins(self, origin: str, keyids: frozenset[str]) -> None: ...
    async def pinned_keys(self, origin: str) -> dict[str, str]:
        """Key id -> public JWK (JSON text) of the pins stored with their key (:meth:`set_pinned_keys`)."""

    async def set_pinned_keys(self, origin: str, jwks: Mapping[str, str]) -> None:
        """Replace the origin's pins by these keys, kept with their JWKs: a pinned key that leaves the key
        set must still verify the rotation handing over from it."""

    async def add_origin(self, origin: str, added_by: str, next_crawl_at: datetime) -> bool:
        """True if new; a known origin keeps its schedule."""

    async def origin(self, origin: str) -> Origin | None: ...
    async def due_origins(self, now: datetime, limit: int) -> list[Origin]: ...
    async def record_crawl(
        self, origin: str, *, status: int | None, failures: int, next_crawl_at: datetime, validators: Mapping[str, Validators]
    ) -> None: ...
    async def put_account_proof(self, proof: AccountProof) -> None: ...
    async def account_proofs(self, publisher: str) -> list[AccountProof]: ...
    async def due_account_proofs(self, now: datetime, limit: int) -> list[AccountProof]: ...

    # the log
    def sequencer(self) -> AbstractAsyncContextManager[Sequencer]: ...
    async def checkpoint(self) -> Checkpoint | None: ...
    async def tile(self, level: int, index: int, width: int) -> bytes | None: ...
    async def entry_bundle(self, index: int, width: int) -> bytes | None: ...
    async def entry(self, entry_id: int) -> Entry | None: ...
    async def entry_by_key(self, key: bytes) -> Entry | None:
        """The entry appended with this idempotency key (ingest's is the SHA-256 of the observed body)."""

    async def entries(self, start: int, stop: int) -> list[Entry]:
        """Sequenced entries with ``start <= log_index < stop``."""

    async def recent_entries(self, limit: int) -> list[Entry]:
        """The last sequenced entries, newest first."""

    async def pending_count(self) -> int: ...
    async def body(self, sha256: bytes) -> bytes | None:
        """The detached body with this SHA-256, stored by :meth:`append`."""

    # publishers
    async def latest_manifest(self, publisher: str) -> Manifest | None:
        """The manifest that set the publisher's floor (the newest accepted, by the spec's rule: after a key
        rotation it may have a lower sequence than older ones; equivocating twins never replace it),
        integrated or not."""

    async def latest_manifests(self, after: str, limit: int) -> list[Manifest]:
        """Each publisher's latest manifest (as :meth:`latest_manifest`), publishers after ``after`` in byte
        order: pages through every publisher (the query index is built from them at startup)."""

    async def manifest_history(self, publisher: str, limit: int, *, before: int | None = None) -> list[Manifest]:
        """Last received first (sequences restart after a key rotation, so they do not order a history);
        ``before`` pages on: only manifests with a lower :attr:`Manifest.id`."""

    async def search_publishers(self, prefix: str, limit: int) -> list[str]: ...
    async def equivocations(self, limit: int) -> list[Manifest]:
        """Flagged manifests, grouped by (publisher, sequence)."""

    # federation
    async def peers(self) -> list[PeerState]:
        """Every peer ever saved, by origin (at most :data:`MAX_READ`)."""

    async def peer(self, origin: str) -> PeerState | None: ...
    async def save_peer(self, state: PeerState) -> None:
        """Insert or replace the peer's state, except that a ``forked`` status stays forked."""

    async def add_evidence(self, evidence: ForkEvidence) -> bool:
        """Store the evidence (False if these two notes are stored already) and mark its peer ``forked`` with
        the reason as its error, in one transaction; a peer not saved yet is saved with neither checkpoint."""

    async def evidence(self, limit: int) -> list[ForkEvidence]:
        """Stored forks, newest first."""

    async def reset_peer(self, origin: str) -> None:
        """Forget the peer's state (not its evidence): it is pulled as new.  An operator's decision."""

    # witnessing
    async def witnessed(self, origin: str) -> Witnessed | None:
        """The latest checkpoint this aggregator cosigned as a witness of the log ``origin``."""

    async def swap_witnessed(self, origin: str, expected: Witnessed | None, new: Witnessed) -> bool:
        """Store ``new`` if the stored state is still ``expected`` (same size and root; None: none stored);
        False, and nothing written, otherwise."""

    async def cosignatures(self) -> list[Cosignature]:
        """The newest cosignature of each witness of this log."""

    async def save_cosignature(self, cosignature: Cosignature) -> None:
        """Keep it as its witness's newest, unless one on a larger tree is stored."""
