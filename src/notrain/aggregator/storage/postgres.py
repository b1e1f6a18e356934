"""PostgreSQL backend, for scale: several aggregator processes share one database.

asyncpg with a pool for reads and ingest writes (each write is one transaction; the server's own group
commit batches their fsyncs).  The sequencer is a session advisory lock (``pg_try_advisory_lock``)
taken on a dedicated connection outside the pool and held for as long as the sequencer lives: the
integration transactions run on that same connection, so if the holder dies its connection drops, the
server releases the lock and rolls back whatever was half done, and another process can take over.
The floor rule (and with it equivocation flagging) is serialised per publisher by a transaction-scoped
advisory lock on the publisher, taken before the entry is inserted: it cannot miss a race, and one
publisher's entry ids come in the order its floor moved.  Migrations run under their own advisory lock.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg

from ...core.witnessing import Witnessed
from . import migrations, rows
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
    FloorOutcome,
    FloorUpdate,
    ForkEvidence,
    Manifest,
    NewEntry,
    NewManifest,
    NotPending,
    Origin,
    PeerState,
    SchemaTooNew,
    SequencerBusy,
    TileConflict,
    Validators,
    check_count,
    check_floor_of,
    check_growth,
    floor_outcome,
    to_ms,
)

LOCKS = int.from_bytes(b"notr")  # advisory lock class of notrain: (LOCKS, SEQUENCER), (LOCKS, MIGRATIONS)
SEQUENCER, MIGRATIONS = 1, 2
PUBLISHER_LOCKS = LOCKS + 1  # (PUBLISHER_LOCKS, hashtext(publisher))


class PostgresStorage:
    def __init__(self, dsn: str, pool: asyncpg.Pool) -> None:
        self._dsn = dsn
        self._pool = pool

    @classmethod
    async def open(cls, dsn: str, *, pool_size: int = 10) -> PostgresStorage:
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=pool_size)
        try:
            async with pool.acquire() as conn, conn.transaction():
                await _migrate(conn)
        except BaseException:
            await pool.close()
            raise
        return cls(dsn, pool)

    async def close(self) -> None:
        await self._pool.close()

    async def _fetch(self, sql: str, *params: Any) -> list[asyncpg.Record]:
        return await self._pool.fetch(sql, *params)

    # ingest
    async def append(
        self, entry: NewEntry, manifest: NewManifest | None = None, floor: FloorUpdate | None = None, body: bytes | None = None
    ) -> Appended:
        check_floor_of(manifest, floor)
        async with self._pool.acquire() as conn, conn.transaction():
            if floor is not None:  # before the insert, so one publisher's entry ids follow the order its floor moved in
                await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", PUBLISHER_LOCKS, floor.publisher)
            inserted = await conn.fetchrow(
                "INSERT INTO entries (idempotency_key, leaf, leaf_hash, kind, publisher, received_at, deadline)"
                f" VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (idempotency_key) DO NOTHING RETURNING {rows.ENTRY}",
                entry.idempotency_key,
                entry.leaf,
                entry.leaf_hash,
                entry.kind,
                entry.publisher,
                to_ms(entry.received_at),
                to_ms(entry.deadline),
            )
            if inserted is None:  # the key is known: the first append's entry and manifest, nothing written
                known = await conn.fetchrow(f"SELECT {rows.ENTRY} FROM entries WHERE idempotency_key = $1", entry.idempotency_key)
                found = await conn.fetchrow(f"SELECT {rows.MANIFEST} WHERE m.entry_id = $1", known[0])
                return Appended(rows.entry(known), rows.manifest(found) if found else None, created=False)
            if body is not None:
                await conn.execute(
                    "INSERT INTO bodies (sha256, body) VALUES ($1, $2) ON CONFLICT DO NOTHING", hashlib.sha256(body).digest(), body
                )
            manifest_id = None if manifest is None else await _add_manifest(conn, manifest, inserted[0])
            outcome = None if floor is None else await _update_floor(conn, floor, manifest_id)
            record = None if manifest_id is None else await conn.fetchrow(f"SELECT {rows.MANIFEST} WHERE m.id = $1", manifest_id)
            latest = record is not None and outcome is FloorOutcome.REPLACE
            return Appended(rows.entry(inserted), record and rows.manifest(record), created=True, latest=latest)

    async def floor(self, publisher: str) -> Floor | None:
        found = await self._fetch(f"SELECT {rows.FLOOR} FROM floors WHERE publisher = $1", publisher)
        return rows.floor(found[0]) if found else None

    async def pins(self, origin: str) -> frozenset[str]:
        return frozenset(r[0] for r in await self._fetch("SELECT keyid FROM pins WHERE origin = $1", origin))

    async def set_pins(self, origin: str, keyids: frozenset[str]) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("DELETE FROM pins WHERE origin = $1", origin)
            await conn.execute("INSERT INTO pins (origin, keyid) SELECT $1, unnest($2::text[])", origin, sorted(keyids))

    async def pinned_keys(self, origin: str) -> dict[str, str]:
        return {r[0]: r[1] for r in await self._fetch("SELECT keyid, jwk FROM pins WHERE origin = $1 AND jwk IS NOT NULL", origin)}

    async def set_pinned_keys(self, origin: str, jwks: Mapping[str, str]) -> None:
        kids = sorted(jwks)
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("DELETE FROM pins WHERE origin = $1", origin)
            await conn.execute(
                "INSERT INTO pins (origin, keyid, jwk) SELECT $1, unnest($2::text[]), unnest($3::text[])", origin, kids, [jwks[k] for k in kids]
            )

    async def add_origin(self, origin: str, added_by: str, next_crawl_at: datetime) -> bool:
        status = await self._pool.execute(
            "INSERT INTO origins (origin, added_by, added_at, next_crawl_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            origin,
            added_by,
            to_ms(datetime.now(UTC)),
            to_ms(next_crawl_at),
        )
        return status == "INSERT 0 1"

    async def origin(self, origin: str) -> Origin | None:
        found = await self._origins(f"SELECT {rows.ORIGIN} FROM origins WHERE origin = $1", origin)
        return found[0] if found else None

    async def due_origins(self, now: datetime, limit: int) -> list[Origin]:
        sql = f"SELECT {rows.ORIGIN} FROM origins WHERE next_crawl_at <= $1 ORDER BY next_crawl_at LIMIT $2"
        return await self._origins(sql, to_ms(now), check_count(limit))

    async def _origins(self, sql: str, *params: Any) -> list[Origin]:
        async with self._pool.acquire() as conn, conn.transaction(readonly=True, isolation="repeatable_read"):
            found = await conn.fetch(sql, *params)
            validators: dict[str, dict[str, Validators]] = {r[0]: {} for r in found}
            for o, document, etag, modified in await conn.fetch(
                "SELECT origin, document, etag, last_modified FROM validators WHERE origin = ANY($1::text[])", list(validators)
            ):
                validators[o][document] = Validators(etag, modified)
        return [rows.origin(r, validators[r[0]]) for r in found]

    async def record_crawl(
        self, origin: str, *, status: int | None, failures: int, next_crawl_at: datetime, validators: Mapping[str, Validators]
    ) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "UPDATE origins SET last_status = $1, failures = $2, next_crawl_at = $3 WHERE origin = $4",
                status,
                failures,
                to_ms(next_crawl_at),
                origin,
            )
            await conn.execute("DELETE FROM validators WHERE origin = $1", origin)
            await conn.executemany(
                "INSERT INTO validators (origin, document, etag, last_modified) VALUES ($1, $2, $3, $4)",
                [(origin, doc, v.etag, v.last_modified) for doc, v in validators.items()],
            )

    async def put_account_proof(self, proof: AccountProof) -> None:
        await self._pool.execute(
            "INSERT INTO account_proofs (publisher, account_url, status, checked_at, next_check_at) VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT (publisher, account_url) DO UPDATE SET status = excluded.status,"
            " checked_at = excluded.checked_at, next_check_at = excluded.next_check_at",
            proof.publisher,
            proof.account_url,
            proof.status,
            to_ms(proof.checked_at),
            to_ms(proof.next_check_at),
        )

    async def account_proofs(self, publisher: str) -> list[AccountProof]:
        sql = f"SELECT {rows.ACCOUNT_PROOF} FROM account_proofs WHERE publisher = $1 ORDER BY account_url LIMIT {MAX_READ}"
        return [rows.account_proof(r) for r in await self._fetch(sql, publisher)]

    async def due_account_proofs(self, now: datetime, limit: int) -> list[AccountProof]:
        sql = f"SELECT {rows.ACCOUNT_PROOF} FROM account_proofs WHERE next_check_at <= $1 ORDER BY next_check_at LIMIT $2"
        return [rows.account_proof(r) for r in await self._fetch(sql, to_ms(now), check_count(limit))]

    # the log
    @asynccontextmanager
    async def sequencer(self) -> AsyncIterator[PostgresSequencer]:
        conn = await asyncpg.connect(self._dsn)  # not from the pool: the lock lives as long as this session
        try:
            if not await conn.fetchval("SELECT pg_try_advisory_lock($1, $2)", LOCKS, SEQUENCER):
                raise SequencerBusy("another process holds the sequencer lock")
            yield PostgresSequencer(self, conn)
        finally:
            await conn.close()  # ends the session, which releases the lock

    async def checkpoint(self) -> Checkpoint | None:
        found = await self._fetch("SELECT size, root, note FROM checkpoint")
        return Checkpoint(found[0][0], bytes(found[0][1]), bytes(found[0][2])) if found else None

    async def tile(self, level: int, index: int, width: int) -> bytes | None:
        return await self._pool.fetchval(
            "SELECT data FROM tiles WHERE level = $1 AND idx = $2 AND width = $3", level, index, width
        )

    async def entry_bundle(self, index: int, width: int) -> bytes | None:
        return await self._pool.fetchval("SELECT data FROM entry_bundles WHERE idx = $1 AND width = $2", index, width)

    async def entry(self, entry_id: int) -> Entry | None:
        found = await self._fetch(f"SELECT {rows.ENTRY} FROM entries WHERE id = $1", entry_id)
        return rows.entry(found[0]) if found else None

    async def entry_by_key(self, key: bytes) -> Entry | None:
        found = await self._fetch(f"SELECT {rows.ENTRY} FROM entries WHERE idempotency_key = $1", key)
        return rows.entry(found[0]) if found else None

    async def entries(self, start: int, stop: int) -> list[Entry]:
        check_count(stop - start)
        sql = f"SELECT {rows.ENTRY} FROM entries WHERE log_index >= $1 AND log_index < $2 ORDER BY log_index"
        return [rows.entry(r) for r in await self._fetch(sql, start, stop)]

    async def recent_entries(self, limit: int) -> list[Entry]:
        sql = f"SELECT {rows.ENTRY} FROM entries WHERE log_index IS NOT NULL ORDER BY log_index DESC LIMIT $1"
        return [rows.entry(r) for r in await self._fetch(sql, check_count(limit))]

    async def pending_count(self) -> int:
        return await self._pool.fetchval("SELECT count(*) FROM entries WHERE log_index IS NULL")

    async def body(self, sha256: bytes) -> bytes | None:
        return await self._pool.fetchval("SELECT body FROM bodies WHERE sha256 = $1", sha256)

    # publishers
    async def latest_manifest(self, publisher: str) -> Manifest | None:
        found = await self._fetch(f"SELECT {rows.MANIFEST} JOIN floors f ON f.manifest_id = m.id WHERE f.publisher = $1", publisher)
        return rows.manifest(found[0]) if found else None

    async def latest_manifests(self, after: str, limit: int) -> list[Manifest]:
        sql = f"SELECT {rows.MANIFEST} JOIN floors f ON f.manifest_id = m.id WHERE f.publisher > $1 ORDER BY f.publisher LIMIT $2"
        return [rows.manifest(r) for r in await self._fetch(sql, after, check_count(limit))]

    async def manifest_history(self, publisher: str, limit: int, *, before: int | None = None) -> list[Manifest]:
        sql = f"SELECT {rows.MANIFEST} WHERE m.publisher = $1 AND m.id < $2 ORDER BY m.id DESC LIMIT $3"
        upper = 2**63 - 1 if before is None else before
        return [rows.manifest(r) for r in await self._fetch(sql, publisher, upper, check_count(limit))]

    async def search_publishers(self, prefix: str, limit: int) -> list[str]:
        # The column is COLLATE "C" (byte order), so this is a range scan of the index, cut where the prefix stops.
        sql = "SELECT DISTINCT publisher FROM manifests WHERE publisher >= $1 ORDER BY publisher LIMIT $2"
        return [r[0] for r in await self._fetch(sql, prefix, check_count(limit)) if r[0].startswith(prefix)]

    async def equivocations(self, limit: int) -> list[Manifest]:
        sql = f"SELECT {rows.MANIFEST} WHERE m.equivocation ORDER BY m.publisher, m.sequence, m.id LIMIT $1"
        return [rows.manifest(r) for r in await self._fetch(sql, check_count(limit))]

    # federation
    async def peers(self) -> list[PeerState]:
        return [rows.peer(r) for r in await self._fetch(f"SELECT {rows.PEER} FROM peers ORDER BY origin LIMIT {MAX_READ}")]

    async def peer(self, origin: str) -> PeerState | None:
        found = await self._fetch(f"SELECT {rows.PEER} FROM peers WHERE origin = $1", origin)
        return rows.peer(found[0]) if found else None

    async def save_peer(self, state: PeerState) -> None:
        await self._pool.execute(rows.save_peer_sql([f"${i}" for i in range(1, 10)]), *rows.peer_values(state))

    async def add_evidence(self, evidence: ForkEvidence) -> bool:
        insert = (f"INSERT INTO peer_evidence (origin, digest, {rows.EVIDENCE.partition(', ')[2]}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
                  " ON CONFLICT DO NOTHING RETURNING id")
        async with self._pool.acquire() as conn, conn.transaction():
            created = await conn.fetchval(insert, *rows.evidence_values(evidence)) is not None
            await conn.execute(rows.fork_peer_sql(["$1", "$2", "$3"]), evidence.origin, evidence.reason, to_ms(evidence.found_at))
        return created

    async def evidence(self, limit: int) -> list[ForkEvidence]:
        sql = f"SELECT {rows.EVIDENCE} FROM peer_evidence ORDER BY id DESC LIMIT $1"
        return [rows.evidence(r) for r in await self._fetch(sql, check_count(limit))]

    async def reset_peer(self, origin: str) -> None:
        await self._pool.execute("DELETE FROM peers WHERE origin = $1", origin)


    # witnessing
    async def witnessed(self, origin: str) -> Witnessed | None:
        found = await self._fetch("SELECT size, root, note FROM witnessed_logs WHERE origin = $1", origin)
        return Witnessed(found[0][0], bytes(found[0][1]), bytes(found[0][2])) if found else None

    async def swap_witnessed(self, origin: str, expected: Witnessed | None, new: Witnessed) -> bool:
        """One statement each way: an insert that loses to a concurrent one, or an update conditioned on the old state."""
        now = to_ms(datetime.now(UTC))
        if expected is None:
            status = await self._pool.execute(
                "INSERT INTO witnessed_logs (origin, size, root, note, updated_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                origin, new.size, new.root, new.note, now,
            )
        else:
            status = await self._pool.execute(
                "UPDATE witnessed_logs SET size = $1, root = $2, note = $3, updated_at = $4 WHERE origin = $5 AND size = $6 AND root = $7",
                new.size, new.root, new.note, now, origin, expected.size, expected.root,
            )
        return status.split()[-1] == "1"

    async def cosignatures(self) -> list[Cosignature]:
        found = await self._fetch(f"SELECT {rows.COSIGNATURE} FROM log_cosignatures ORDER BY witness LIMIT {MAX_READ}")
        return [rows.cosignature(r) for r in found]

    async def save_cosignature(self, cosignature: Cosignature) -> None:
        sql = f"INSERT INTO log_cosignatures ({rows.COSIGNATURE}) VALUES ($1, $2, $3, $4, $5) {rows.NEWER_COSIGNATURE}"
        await self._pool.execute(sql, *rows.cosignature_values(cosignature))


class PostgresSequencer:
    def __init__(self, storage: PostgresStorage, conn: asyncpg.Connection) -> None:
        self._storage = storage
        self._conn = conn

    async def pending(self, limit: int) -> list[Entry]:
        sql = f"SELECT {rows.ENTRY} FROM entries WHERE log_index IS NULL ORDER BY id LIMIT $1"
        return [rows.entry(r) for r in await self._conn.fetch(sql, check_count(limit, MAX_BATCH))]

    async def integrate(
        self,
        expected: Checkpoint | None,
        entry_ids: Sequence[int],
        tiles: Mapping[tuple[int, int, int], bytes],
        bundles: Mapping[tuple[int, int], bytes],
        checkpoint: Checkpoint,
    ) -> None:
        old_size = check_growth(expected, entry_ids, checkpoint)
        conn = self._conn
        async with conn.transaction():
            stored = await conn.fetchrow("SELECT size, root FROM checkpoint FOR UPDATE")
            if (stored and (stored[0], bytes(stored[1]))) != (expected and (expected.size, expected.root)):
                raise CheckpointConflict(f"stored checkpoint is {stored and stored[0]}, expected {expected and expected.size}")
            status = await conn.execute(
                "UPDATE entries AS e SET log_index = v.idx FROM unnest($1::bigint[], $2::bigint[]) AS v(id, idx)"
                " WHERE e.id = v.id AND e.log_index IS NULL",
                list(entry_ids),
                list(range(old_size, checkpoint.size)),
            )
            if int(status.split()[-1]) != len(entry_ids):
                raise NotPending(f"{len(entry_ids) - int(status.split()[-1])} of the entries are unknown or already sequenced")
            await _store_immutable(conn, "tiles", ("level", "idx", "width"), ("int", "bigint", "int"), tiles)
            await _store_immutable(conn, "entry_bundles", ("idx", "width"), ("bigint", "int"), bundles)
            await conn.execute(
                "INSERT INTO checkpoint (singleton, size, root, note) VALUES (1, $1, $2, $3) ON CONFLICT (singleton)"
                " DO UPDATE SET size = excluded.size, root = excluded.root, note = excluded.note",
                checkpoint.size,
                checkpoint.root,
                checkpoint.note,
            )


async def _migrate(conn: asyncpg.Connection) -> None:
    steps = migrations.load("postgres")
    await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", LOCKS, MIGRATIONS)  # one migrator at a time
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
    )
    current = await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_version")
    if current > len(steps):
        raise SchemaTooNew(f"database schema {current} is newer than this notrain's {len(steps)}")
    for version, script in steps[current:]:
        await conn.execute(script)
        await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", version)


async def _add_manifest(conn: asyncpg.Connection, m: NewManifest, entry_id: int) -> int:
    """Store ``m`` (once per payload) and return its id."""
    await conn.execute(
        "INSERT INTO manifests (publisher, sequence, payload_sha256, envelope, entry_id) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT DO NOTHING",
        m.publisher,
        m.sequence,
        m.payload_sha256,
        m.envelope,
        entry_id,
    )
    return await conn.fetchval(
        "SELECT id FROM manifests WHERE publisher = $1 AND sequence = $2 AND payload_sha256 = $3", m.publisher, m.sequence, m.payload_sha256
    )


async def _update_floor(conn: asyncpg.Connection, update: FloorUpdate, manifest_id: int | None) -> FloorOutcome:
    """Apply the spec's rule (:func:`.base.floor_outcome`); the caller holds the publisher's transaction lock,
    so concurrent appends of one publisher decide one after the other."""
    found = await conn.fetchrow(f"SELECT {rows.FLOOR}, manifest_id FROM floors WHERE publisher = $1", update.publisher)
    outcome = floor_outcome(rows.floor(found) if found else None, update)
    if outcome is FloorOutcome.EQUIVOCATION:
        twins = [i for i in (manifest_id, found[3]) if i is not None]
        await conn.execute("UPDATE manifests SET equivocation = true WHERE id = ANY($1::bigint[])", twins)
    elif outcome is FloorOutcome.REPLACE:
        await conn.execute(
            f"INSERT INTO floors (publisher, {rows.FLOOR}, manifest_id) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (publisher)"
            " DO UPDATE SET sequence = excluded.sequence, payload_sha256 = excluded.payload_sha256, keyids = excluded.keyids,"
            " manifest_id = excluded.manifest_id",
            update.publisher,
            *rows.floor_values(update.floor),
            manifest_id,
        )
    return outcome


async def _store_immutable(
    conn: asyncpg.Connection, table: str, key: tuple[str, ...], types: tuple[str, ...], items: Mapping[tuple, bytes]
) -> None:
    """Insert new rows; a row already there must hold the same bytes (a retried write is fine, a fork is not).
    A full tile replaces the partial ones of its coordinates."""
    columns = list(zip(*items)) if items else [[] for _ in key]
    arrays = ", ".join(f"${i + 1}::{t}[]" for i, t in enumerate((*types, "bytea")))
    status = await conn.execute(
        f"INSERT INTO {table} ({', '.join(key)}, data) SELECT * FROM unnest({arrays}) ON CONFLICT DO NOTHING",
        *map(list, columns),
        list(items.values()),
    )
    if int(status.split()[-1]) != len(items):
        where = " AND ".join(f"{c} = ${i + 1}" for i, c in enumerate(key))
        for k, data in items.items():
            if await conn.fetchval(f"SELECT data FROM {table} WHERE {where}", *k) != data:
                raise TileConflict(f"{table} {k} is already stored with other bytes")
    if full := [k[:-1] for k in items if k[-1] == TILE_WIDTH]:
        where = " AND ".join(f"{c} = ${i + 1}" for i, c in enumerate(key[:-1]))
        await conn.executemany(f"DELETE FROM {table} WHERE {where} AND width < {TILE_WIDTH}", full)
