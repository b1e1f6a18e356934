"""SQLite backend: the embedded default, for one host.

Why the standard library's ``sqlite3`` on threads of our own rather than aiosqlite: the writer needs
*group commit*.  One thread owns the only writing connection; every :meth:`append` queued while a
commit is in flight joins the next transaction, each in its own savepoint (one failing append never
fails its neighbours), so one fsync covers many receipts.  aiosqlite gives a thread per connection but
no way to batch callers.  Reads use their own threads and connections; WAL lets them run while the
writer commits.  Nothing blocks the event loop.

Settings: WAL, ``synchronous=FULL`` (a returned append survives power loss, not only a crash), a busy
timeout for the rare second process, foreign keys on.  Writes use ``BEGIN IMMEDIATE`` so a
read-then-write transaction never has to be retried; the transactions themselves are in :mod:`.sqlite_writes`.

Sequencer: an exclusive ``flock`` on ``<database>.sequencer``, which the kernel releases when the holder
dies.  Several processes on one host may share the database; exactly one of them sequences.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from ...core.witnessing import Witnessed
from . import rows
from . import sqlite_writes as writes
from .base import (
    MAX_BATCH,
    MAX_READ,
    AccountProof,
    Appended,
    Checkpoint,
    Cosignature,
    Entry,
    Floor,
    FloorUpdate,
    ForkEvidence,
    Manifest,
    NewEntry,
    NewManifest,
    Origin,
    PeerState,
    SequencerBusy,
    Validators,
    check_count,
    check_growth,
    to_ms,
)

T = TypeVar("T")
MAX_GROUP = 512  # appends per group commit
BUSY_TIMEOUT_MS = 10_000
READERS = 4  # reading threads, one connection each: SQLite releases the GIL while it reads


class SQLiteStorage:
    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []  # one per thread, closed by close() once the threads are gone
        self._writer = ThreadPoolExecutor(1, "notrain-sqlite-writer")
        self._reader = ThreadPoolExecutor(READERS, "notrain-sqlite-reader")
        self._queued: list[tuple[writes.Append, asyncio.Future]] = []
        self._committer: asyncio.Task | None = None

    @classmethod
    async def open(cls, path: str) -> SQLiteStorage:
        storage = cls(path)
        try:
            await storage._write(writes.migrate)
        except BaseException:
            await storage.close()
            raise
        return storage

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use (every thread has its own)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            self._local.conn = conn
            self._connections.append(conn)
        return conn

    async def _run(self, pool: ThreadPoolExecutor, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(pool, lambda: fn(self._connection(), *args))

    async def _write(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._run(self._writer, fn, *args)

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._run(self._reader, fn, *args)

    async def _fetch(self, sql: str, *params: Any) -> list[tuple]:
        return await self._read(lambda conn: conn.execute(sql, params).fetchall())

    async def close(self) -> None:
        if self._committer is not None and not self._committer.done():
            await self._committer
        await asyncio.to_thread(self._shutdown)

    def _shutdown(self) -> None:
        """Let running jobs finish, then close every thread's connection (the last one checkpoints the WAL)."""
        self._writer.shutdown(wait=True)
        self._reader.shutdown(wait=True)
        for conn in self._connections:
            conn.close()

    # ingest
    async def append(
        self, entry: NewEntry, manifest: NewManifest | None = None, floor: FloorUpdate | None = None, body: bytes | None = None
    ) -> Appended:
        done = asyncio.get_running_loop().create_future()
        self._queued.append(((entry, manifest, floor, body), done))
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._commit_queued())
        return await done

    async def _commit_queued(self) -> None:
        while self._queued:
            group, self._queued = self._queued[:MAX_GROUP], self._queued[MAX_GROUP:]
            try:
                results = await self._write(writes.append_group, [args for args, _ in group])
            except asyncio.CancelledError:  # shutting down: no caller may wait forever (a retry finds what committed)
                for _, done in group + self._queued:
                    done.cancel()
                self._queued = []
                raise
            except Exception as exc:  # the transaction itself failed: every append in it did
                results = [exc] * len(group)
            for (_, done), result in zip(group, results):
                if done.done():  # the caller was cancelled; the append stands (a retry finds it)
                    continue
                if isinstance(result, Exception):
                    done.set_exception(result)
                else:
                    done.set_result(result)

    async def floor(self, publisher: str) -> Floor | None:
        found = await self._fetch(f"SELECT {rows.FLOOR} FROM floors WHERE publisher = ?", publisher)
        return rows.floor(found[0]) if found else None

    async def pins(self, origin: str) -> frozenset[str]:
        return frozenset(r[0] for r in await self._fetch("SELECT keyid FROM pins WHERE origin = ?", origin))

    async def set_pins(self, origin: str, keyids: frozenset[str]) -> None:
        def replace(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM pins WHERE origin = ?", (origin,))
            conn.executemany("INSERT INTO pins (origin, keyid) VALUES (?, ?)", [(origin, k) for k in sorted(keyids)])

        await self._write(writes.transaction(replace))

    async def pinned_keys(self, origin: str) -> dict[str, str]:
        return dict(await self._fetch("SELECT keyid, jwk FROM pins WHERE origin = ? AND jwk IS NOT NULL", origin))

    async def set_pinned_keys(self, origin: str, jwks: Mapping[str, str]) -> None:
        def replace(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM pins WHERE origin = ?", (origin,))
            conn.executemany("INSERT INTO pins (origin, keyid, jwk) VALUES (?, ?, ?)", [(origin, k, jwks[k]) for k in sorted(jwks)])

        await self._write(writes.transaction(replace))

    async def add_origin(self, origin: str, added_by: str, next_crawl_at: datetime) -> bool:
        sql = "INSERT INTO origins (origin, added_by, added_at, next_crawl_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING"
        params = (origin, added_by, to_ms(datetime.now(next_crawl_at.tzinfo)), to_ms(next_crawl_at))
        return await self._write(writes.transaction(lambda conn: conn.execute(sql, params).rowcount == 1))

    async def origin(self, origin: str) -> Origin | None:
        found = await self._origins(f"SELECT {rows.ORIGIN} FROM origins WHERE origin = ?", origin)
        return found[0] if found else None

    async def due_origins(self, now: datetime, limit: int) -> list[Origin]:
        sql = f"SELECT {rows.ORIGIN} FROM origins WHERE next_crawl_at <= ? ORDER BY next_crawl_at LIMIT ?"
        return await self._origins(sql, to_ms(now), check_count(limit))

    async def _origins(self, sql: str, *params: Any) -> list[Origin]:
        def read(conn: sqlite3.Connection) -> list[Origin]:
            found = conn.execute(sql, params).fetchall()
            marks = ",".join("?" * len(found))
            validators: dict[str, dict[str, Validators]] = {r[0]: {} for r in found}
            for o, document, etag, modified in conn.execute(
                f"SELECT origin, document, etag, last_modified FROM validators WHERE origin IN ({marks})", [r[0] for r in found]
            ):
                validators[o][document] = Validators(etag, modified)
            return [rows.origin(r, validators[r[0]]) for r in found]

        return await self._read(read)

    async def record_crawl(
        self, origin: str, *, status: int | None, failures: int, next_crawl_at: datetime, validators: Mapping[str, Validators]
    ) -> None:
        def record(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE origins SET last_status = ?, failures = ?, next_crawl_at = ? WHERE origin = ?",
                (status, failures, to_ms(next_crawl_at), origin),
            )
            conn.execute("DELETE FROM validators WHERE origin = ?", (origin,))
            conn.executemany(
                "INSERT INTO validators (origin, document, etag, last_modified) VALUES (?, ?, ?, ?)",
                [(origin, doc, v.etag, v.last_modified) for doc, v in validators.items()],
            )

        await self._write(writes.transaction(record))

    async def put_account_proof(self, proof: AccountProof) -> None:
        sql = (
            "INSERT INTO account_proofs (publisher, account_url, status, checked_at, next_check_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (publisher, account_url) DO UPDATE SET status = excluded.status,"
            " checked_at = excluded.checked_at, next_check_at = excluded.next_check_at"
        )
        params = (proof.publisher, proof.account_url, proof.status, to_ms(proof.checked_at), to_ms(proof.next_check_at))
        await self._write(writes.transaction(lambda conn: conn.execute(sql, params)))

    async def account_proofs(self, publisher: str) -> list[AccountProof]:
        sql = f"SELECT {rows.ACCOUNT_PROOF} FROM account_proofs WHERE publisher = ? ORDER BY account_url LIMIT {MAX_READ}"
        return [rows.account_proof(r) for r in await self._fetch(sql, publisher)]

    async def due_account_proofs(self, now: datetime, limit: int) -> list[AccountProof]:
        sql = f"SELECT {rows.ACCOUNT_PROOF} FROM account_proofs WHERE next_check_at <= ? ORDER BY next_check_at LIMIT ?"
        return [rows.account_proof(r) for r in await self._fetch(sql, to_ms(now), check_count(limit))]

    # the log
    @asynccontextmanager
    async def sequencer(self) -> AsyncIterator[SQLiteSequencer]:
        fd = os.open(self.path + ".sequencer", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise SequencerBusy(f"another process sequences {self.path}") from None
            yield SQLiteSequencer(self)
        finally:
            os.close(fd)  # releases the lock

    async def checkpoint(self) -> Checkpoint | None:
        found = await self._fetch("SELECT size, root, note FROM checkpoint")
        return Checkpoint(*found[0]) if found else None

    async def tile(self, level: int, index: int, width: int) -> bytes | None:
        found = await self._fetch("SELECT data FROM tiles WHERE level = ? AND idx = ? AND width = ?", level, index, width)
        return found[0][0] if found else None

    async def entry_bundle(self, index: int, width: int) -> bytes | None:
        found = await self._fetch("SELECT data FROM entry_bundles WHERE idx = ? AND width = ?", index, width)
        return found[0][0] if found else None

    async def entry(self, entry_id: int) -> Entry | None:
        found = await self._fetch(f"SELECT {rows.ENTRY} FROM entries WHERE id = ?", entry_id)
        return rows.entry(found[0]) if found else None

    async def entry_by_key(self, key: bytes) -> Entry | None:
        found = await self._fetch(f"SELECT {rows.ENTRY} FROM entries WHERE idempotency_key = ?", key)
        return rows.entry(found[0]) if found else None

    async def entries(self, start: int, stop: int) -> list[Entry]:
        check_count(stop - start)
        sql = f"SELECT {rows.ENTRY} FROM entries WHERE log_index >= ? AND log_index < ? ORDER BY log_index"
        return [rows.entry(r) for r in await self._fetch(sql, start, stop)]

    async def recent_entries(self, limit: int) -> list[Entry]:
        sql = f"SELECT {rows.ENTRY} FROM entries WHERE log_index IS NOT NULL ORDER BY log_index DESC LIMIT ?"
        return [rows.entry(r) for r in await self._fetch(sql, check_count(limit))]

    async def pending_count(self) -> int:
        return (await self._fetch("SELECT count(*) FROM entries WHERE log_index IS NULL"))[0][0]

    async def body(self, sha256: bytes) -> bytes | None:
        found = await self._fetch("SELECT body FROM bodies WHERE sha256 = ?", sha256)
        return found[0][0] if found else None

    # publishers
    async def latest_manifest(self, publisher: str) -> Manifest | None:
        found = await self._fetch(f"SELECT {rows.MANIFEST} JOIN floors f ON f.manifest_id = m.id WHERE f.publisher = ?", publisher)
        return rows.manifest(found[0]) if found else None

    async def latest_manifests(self, after: str, limit: int) -> list[Manifest]:
        sql = f"SELECT {rows.MANIFEST} JOIN floors f ON f.manifest_id = m.id WHERE f.publisher > ? ORDER BY f.publisher LIMIT ?"
        return [rows.manifest(r) for r in await self._fetch(sql, after, check_count(limit))]

    async def manifest_history(self, publisher: str, limit: int, *, before: int | None = None) -> list[Manifest]:
        sql = f"SELECT {rows.MANIFEST} WHERE m.publisher = ? AND m.id < ? ORDER BY m.id DESC LIMIT ?"
        upper = 2**63 - 1 if before is None else before
        return [rows.manifest(r) for r in await self._fetch(sql, publisher, upper, check_count(limit))]

    async def search_publishers(self, prefix: str, limit: int) -> list[str]:
        # A range scan on the index, cut where the prefix stops matching: exact, and no LIKE escaping.
        sql = "SELECT DISTINCT publisher FROM manifests WHERE publisher >= ? ORDER BY publisher LIMIT ?"
        found = [r[0] for r in await self._fetch(sql, prefix, check_count(limit))]
        return [p for p in found if p.startswith(prefix)]

    async def equivocations(self, limit: int) -> list[Manifest]:
        sql = f"SELECT {rows.MANIFEST} WHERE m.equivocation ORDER BY m.publisher, m.sequence, m.id LIMIT ?"
        return [rows.manifest(r) for r in await self._fetch(sql, check_count(limit))]

    # federation
    async def peers(self) -> list[PeerState]:
        return [rows.peer(r) for r in await self._fetch(f"SELECT {rows.PEER} FROM peers ORDER BY origin LIMIT {MAX_READ}")]

    async def peer(self, origin: str) -> PeerState | None:
        found = await self._fetch(f"SELECT {rows.PEER} FROM peers WHERE origin = ?", origin)
        return rows.peer(found[0]) if found else None

    async def save_peer(self, state: PeerState) -> None:
        sql, params = rows.save_peer_sql(["?"] * 9), rows.peer_values(state)
        await self._write(writes.transaction(lambda conn: conn.execute(sql, params)))

    async def add_evidence(self, evidence: ForkEvidence) -> bool:
        def add(conn: sqlite3.Connection) -> bool:
            insert = f"INSERT INTO peer_evidence (origin, digest, {rows.EVIDENCE.partition(', ')[2]}) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
            created = conn.execute(insert, rows.evidence_values(evidence)).rowcount == 1
            conn.execute(rows.fork_peer_sql(["?"] * 3), (evidence.origin, evidence.reason, to_ms(evidence.found_at)))
            return created

        return await self._write(writes.transaction(add))

    async def evidence(self, limit: int) -> list[ForkEvidence]:
        sql = f"SELECT {rows.EVIDENCE} FROM peer_evidence ORDER BY id DESC LIMIT ?"
        return [rows.evidence(r) for r in await self._fetch(sql, check_count(limit))]

    async def reset_peer(self, origin: str) -> None:
        await self._write(writes.transaction(lambda conn: conn.execute("DELETE FROM peers WHERE origin = ?", (origin,))))


    # witnessing
    async def witnessed(self, origin: str) -> Witnessed | None:
        found = await self._fetch("SELECT size, root, note FROM witnessed_logs WHERE origin = ?", origin)
        return Witnessed(*found[0]) if found else None

    async def swap_witnessed(self, origin: str, expected: Witnessed | None, new: Witnessed) -> bool:
        now = to_ms(datetime.now(UTC))
        if expected is None:
            sql = "INSERT INTO witnessed_logs (origin, size, root, note, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
            params: tuple = (origin, new.size, new.root, new.note, now)
        else:
            sql = "UPDATE witnessed_logs SET size = ?, root = ?, note = ?, updated_at = ? WHERE origin = ? AND size = ? AND root = ?"
            params = (new.size, new.root, new.note, now, origin, expected.size, expected.root)
        return await self._write(writes.transaction(lambda conn: conn.execute(sql, params).rowcount == 1))

    async def cosignatures(self) -> list[Cosignature]:
        found = await self._fetch(f"SELECT {rows.COSIGNATURE} FROM log_cosignatures ORDER BY witness LIMIT {MAX_READ}")
        return [rows.cosignature(r) for r in found]

    async def save_cosignature(self, cosignature: Cosignature) -> None:
        sql = f"INSERT INTO log_cosignatures ({rows.COSIGNATURE}) VALUES (?, ?, ?, ?, ?) {rows.NEWER_COSIGNATURE}"
        params = rows.cosignature_values(cosignature)
        await self._write(writes.transaction(lambda conn: conn.execute(sql, params)))


class SQLiteSequencer:
    def __init__(self, storage: SQLiteStorage) -> None:
        self._storage = storage

    async def pending(self, limit: int) -> list[Entry]:
        sql = f"SELECT {rows.ENTRY} FROM entries WHERE log_index IS NULL ORDER BY id LIMIT ?"
        return [rows.entry(r) for r in await self._storage._fetch(sql, check_count(limit, MAX_BATCH))]

    async def integrate(
        self,
        expected: Checkpoint | None,
        entry_ids: Sequence[int],
        tiles: Mapping[tuple[int, int, int], bytes],
        bundles: Mapping[tuple[int, int], bytes],
        checkpoint: Checkpoint,
    ) -> None:
        check_growth(expected, entry_ids, checkpoint)
        await self._storage._write(writes.transaction(writes.integrate), expected, entry_ids, tiles, bundles, checkpoint)
