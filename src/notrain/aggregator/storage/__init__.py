"""The aggregator's only persistent state, behind one small async interface (:class:`Storage`).

Open it from a URL with :func:`open_storage`:

* ``sqlite:///relative/path.sqlite`` or ``sqlite:////absolute/path.sqlite`` (the embedded default; one host);
* ``postgresql://user@host:port/db`` (several aggregator processes sharing one database).

Both backends are written natively (no ORM, no shared SQL layer), pass the same contract test suite
(``tests/test_aggregator_storage.py``) and migrate their schema on open, refusing a database whose schema
is newer than the code.  The guarantees every backend gives are written in :mod:`.base`.
"""

from __future__ import annotations

from .base import (
    MAX_BATCH,
    MAX_READ,
    TILE_WIDTH,
    AccountProof,
    Appended,
    Checkpoint,
    CheckpointConflict,
    Cosignature,
    Entry,
    Floor,
    FloorUpdate,
    ForkEvidence,
    Manifest,
    NewEntry,
    NewManifest,
    NotPending,
    Origin,
    PeerState,
    ReadTooLarge,
    SchemaTooNew,
    Sequencer,
    SequencerBusy,
    Storage,
    StorageError,
    TileConflict,
    Validators,
)


async def open_storage(url: str) -> Storage:
    """Open (and migrate) the storage at ``url``."""
    if url.startswith("sqlite:///"):
        from .sqlite import SQLiteStorage

        path = url.removeprefix("sqlite:///")
        if not path or path == ":memory:":
            raise ValueError("SQLite storage needs a file (WAL and the sequencer lock live beside it)")
        return await SQLiteStorage.open(path)
    if url.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresStorage  # asyncpg is needed only here

        return await PostgresStorage.open(url)
    raise ValueError("storage URL must start with sqlite:/// or postgresql://")


__all__ = [
    "MAX_BATCH",
    "MAX_READ",
    "TILE_WIDTH",
    "AccountProof",
    "Appended",
    "Checkpoint",
    "CheckpointConflict",
    "Cosignature",
    "Entry",
    "Floor",
    "FloorUpdate",
    "ForkEvidence",
    "Manifest",
    "NewEntry",
    "NewManifest",
    "NotPending",
    "Origin",
    "PeerState",
    "ReadTooLarge",
    "SchemaTooNew",
    "Sequencer",
    "SequencerBusy",
    "Storage",
    "StorageError",
    "TileConflict",
    "Validators",
    "open_storage",
]
