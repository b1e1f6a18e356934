"""The SQLite backend's write transactions, each run on its writer thread (see :mod:`.sqlite`).

Every function takes the writer's connection first.  ``BEGIN IMMEDIATE`` takes the write lock at the
start, so a transaction that reads before it writes (the checkpoint compare-and-swap, the idempotency
look-up) can never be overtaken by another process between the two.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from . import migrations, rows
from .base import (
    TILE_WIDTH,
    Appended,
    Checkpoint,
    CheckpointConflict,
    FloorOutcome,
    FloorUpdate,
    NewEntry,
    NewManifest,
    NotPending,
    SchemaTooNew,
    TileConflict,
    check_floor_of,
    floor_outcome,
    to_ms,
)

T = TypeVar("T")


def transaction(fn: Callable[..., T]) -> Callable[..., T]:
    """``fn`` inside BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""

    def run(conn: sqlite3.Connection, *args: Any) -> T:
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(conn, *args)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result

    return run


def migrate(conn: sqlite3.Connection) -> None:
    steps = migrations.load("sqlite")
    conn.execute("BEGIN IMMEDIATE")  # a second process migrating at once waits here, then sees our version
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)")
        current = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]
        if current > len(steps):
            raise SchemaTooNew(f"database schema {current} is newer than this notrain's {len(steps)}")
        for version, script in steps[current:]:
            for statement in _statements(script):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version VALUES (?, ?)", (version, round(time.time() * 1000)))
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _statements(script: str) -> list[str]:
    """Split a script into statements (``executescript`` would commit mid-migration)."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current)
            current = ""
    if current.strip():
        raise ValueError("migration ends in an incomplete statement")
    return statements


Append = tuple[NewEntry, NewManifest | None, FloorUpdate | None, bytes | None]


def append_group(conn: sqlite3.Connection, group: list[Append]) -> list:
    results: list = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        for args in group:
            conn.execute("SAVEPOINT one")
            try:
                results.append(_append_one(conn, *args))
            except Exception as exc:
                conn.execute("ROLLBACK TO one")
                results.append(exc)
            conn.execute("RELEASE one")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return results


def _append_one(
    conn: sqlite3.Connection, entry: NewEntry, manifest: NewManifest | None, floor: FloorUpdate | None, body: bytes | None
) -> Appended:
    check_floor_of(manifest, floor)
    if entry.idempotency_key is not None:
        known = conn.execute(f"SELECT {rows.ENTRY} FROM entries WHERE idempotency_key = ?", (entry.idempotency_key,)).fetchone()
        if known is not None:
            found = conn.execute(f"SELECT {rows.MANIFEST} WHERE m.entry_id = ?", (known[0],)).fetchone()
            return Appended(rows.entry(known), rows.manifest(found) if found else None, created=False)
    entry_id = conn.execute(
        "INSERT INTO entries (idempotency_key, leaf, leaf_hash, kind, publisher, received_at, deadline)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            entry.idempotency_key,
            entry.leaf,
            entry.leaf_hash,
            entry.kind,
            entry.publisher,
            to_ms(entry.received_at),
            to_ms(entry.deadline),
        ),
    ).lastrowid
    stored = rows.entry(conn.execute(f"SELECT {rows.ENTRY} FROM entries WHERE id = ?", (entry_id,)).fetchone())
    if body is not None:
        conn.execute("INSERT INTO bodies (sha256, body) VALUES (?, ?) ON CONFLICT DO NOTHING", (hashlib.sha256(body).digest(), body))
    manifest_id = None
    if manifest is not None:
        m = manifest
        conn.execute(
            "INSERT INTO manifests (publisher, sequence, payload_sha256, envelope, entry_id) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (m.publisher, m.sequence, m.payload_sha256, m.envelope, entry_id),
        )
        manifest_id = conn.execute(
            "SELECT id FROM manifests WHERE publisher = ? AND sequence = ? AND payload_sha256 = ?", (m.publisher, m.sequence, m.payload_sha256)
        ).fetchone()[0]
    outcome = None if floor is None else _update_floor(conn, floor, manifest_id)
    record = None if manifest_id is None else rows.manifest(conn.execute(f"SELECT {rows.MANIFEST} WHERE m.id = ?", (manifest_id,)).fetchone())
    return Appended(stored, record, created=True, latest=record is not None and outcome is FloorOutcome.REPLACE)


def _update_floor(conn: sqlite3.Connection, update: FloorUpdate, manifest_id: int | None) -> FloorOutcome:
    """Apply the spec's rule (:func:`.base.floor_outcome`) inside the writer's transaction, which serialises it."""
    found = conn.execute(f"SELECT {rows.FLOOR}, manifest_id FROM floors WHERE publisher = ?", (update.publisher,)).fetchone()
    outcome = floor_outcome(rows.floor(found) if found else None, update)
    if outcome is FloorOutcome.EQUIVOCATION:
        twins = [(i,) for i in (manifest_id, found[3]) if i is not None]
        conn.executemany("UPDATE manifests SET equivocation = 1 WHERE id = ?", twins)
    elif outcome is FloorOutcome.REPLACE:
        conn.execute(
            f"INSERT INTO floors (publisher, {rows.FLOOR}, manifest_id) VALUES (?, ?, ?, ?, ?) ON CONFLICT (publisher) DO UPDATE"
            " SET sequence = excluded.sequence, payload_sha256 = excluded.payload_sha256, keyids = excluded.keyids,"
            " manifest_id = excluded.manifest_id",
            (update.publisher, *rows.floor_values(update.floor), manifest_id),
        )
    return outcome


def integrate(
    conn: sqlite3.Connection,
    expected: Checkpoint | None,
    entry_ids: Sequence[int],
    tiles: Mapping[tuple[int, int, int], bytes],
    bundles: Mapping[tuple[int, int], bytes],
    checkpoint: Checkpoint,
) -> None:
    stored = conn.execute("SELECT size, root FROM checkpoint").fetchone()
    if stored != (None if expected is None else (expected.size, expected.root)):
        raise CheckpointConflict(f"stored checkpoint is {stored and stored[0]}, expected {expected and expected.size}")
    old_size = expected.size if expected else 0
    assigned = (
        conn.executemany(
            "UPDATE entries SET log_index = ? WHERE id = ? AND log_index IS NULL",
            [(old_size + i, entry_id) for i, entry_id in enumerate(entry_ids)],
        ).rowcount
        if entry_ids
        else 0
    )
    if assigned != len(entry_ids):
        raise NotPending(f"{len(entry_ids) - assigned} of the entries are unknown or already sequenced")
    _store_immutable(conn, "tiles", ("level", "idx", "width"), tiles)
    _store_immutable(conn, "entry_bundles", ("idx", "width"), bundles)
    conn.execute(
        "INSERT INTO checkpoint (singleton, size, root, note) VALUES (1, ?, ?, ?) ON CONFLICT (singleton) DO UPDATE"
        " SET size = excluded.size, root = excluded.root, note = excluded.note",
        (checkpoint.size, checkpoint.root, checkpoint.note),
    )


def _store_immutable(conn: sqlite3.Connection, table: str, key: tuple[str, ...], items: Mapping[tuple, bytes]) -> None:
    """Insert new rows; a row already there must hold the same bytes (a retried write is fine, a fork is not).
    A full tile replaces the partial ones of its coordinates."""
    columns, marks = ", ".join(key), ", ".join("?" * (len(key) + 1))
    inserted = conn.executemany(
        f"INSERT INTO {table} ({columns}, data) VALUES ({marks}) ON CONFLICT DO NOTHING",
        [(*k, data) for k, data in items.items()],
    ).rowcount
    if inserted != len(items):
        where = " AND ".join(f"{c} = ?" for c in key)
        for k, data in items.items():
            if conn.execute(f"SELECT data FROM {table} WHERE {where}", k).fetchone()[0] != data:
                raise TileConflict(f"{table} {k} is already stored with other bytes")
    if full := [k[:-1] for k in items if k[-1] == TILE_WIDTH]:
        where = " AND ".join(f"{c} = ?" for c in key[:-1])
        conn.executemany(f"DELETE FROM {table} WHERE {where} AND width < {TILE_WIDTH}", full)
