"""How fast can the SQLite storage take entries in and integrate them into the log?

Run:  .venv/bin/python bench/storage_bench.py        (about 30 s, a temporary directory, no network)

One batch = 1,024 entries of 1 KiB (a typical signed manifest envelope is 1-3 KB), each with a 32-byte
leaf hash and an idempotency key, then integrated: indices assigned, 4 full hash tiles (8 KiB each),
one partial level-1 tile and 4 entry bundles of 256 entries stored, the checkpoint swapped.
  subject:  ``SQLiteStorage``: 1,024 concurrent ``append`` calls (each durable before it returns, so
            group-committed), then one ``Sequencer.integrate`` of them.
  baseline: raw ``sqlite3`` on the same settings (WAL, synchronous=FULL): the same entry, tile and
            bundle bytes inserted with ``executemany`` in one transaction, one commit.  That is the
            least any SQLite design could spend writing these bytes durably.
  goal:     >= 1,000 integrated entries/s (issue 8; Tessera does ~2,900/s on 12 cores).  The ratio to
            the baseline says how much the contract (durable receipts, idempotency, CAS, one thread
            for the event loop) costs on top.
For context it also times 100 appends awaited one after another (one commit, one fsync, each), the batch
appended as ingest does it (each entry with its manifest record and the floor it sets, decided by the
spec's rule inside the transaction), and with ``--postgres URL`` the same batches on the PostgreSQL
backend (the server on this machine, its settings).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import sqlite3
import sys
import tempfile
from datetime import UTC, datetime, timedelta

import _harness as h

from notrain.aggregator.storage import Checkpoint, Floor, FloorUpdate, NewEntry, NewManifest, open_storage

BATCH = 1024  # four full tiles: each batch writes whole tiles and bundles, as a steady log mostly does
LEAF_BYTES = 1024
NOW = datetime(2026, 12, 2, tzinfo=UTC)


def entries(start: int, count: int) -> list[NewEntry]:
    made = []
    for n in range(start, start + count):
        leaf = n.to_bytes(8, "big") * (LEAF_BYTES // 8)
        digest = hashlib.sha256(b"\x00" + leaf).digest()
        made.append(NewEntry(leaf, digest, "manifest", f"https://site{n % 97}.example", NOW, NOW + timedelta(seconds=60), digest))
    return made


def tiles_for(old_size: int, new: list[NewEntry]) -> tuple[dict, dict]:
    """Opaque bytes of the sizes real tiles and bundles would have (computing them is core's job, not timed)."""
    first, level1 = old_size // 256, (old_size + len(new)) // 256  # whole tiles only (BATCH is a multiple of 256)
    tiles = {(0, first + i, 256): b"\x11" * 32 * 256 for i in range(len(new) // 256)}
    tiles[(1, 0, level1)] = b"\x22" * 32 * level1
    bundles = {
        (first + i, 256): b"".join(len(e.leaf).to_bytes(2, "big") + e.leaf for e in new[i * 256 : (i + 1) * 256])
        for i in range(len(new) // 256)
    }
    return tiles, bundles


def as_ingest(entry: NewEntry) -> tuple[NewManifest, FloorUpdate]:
    """The manifest record and floor ingest appends with an entry: one signing key per publisher, rising sequences."""
    sequence, digest = int.from_bytes(entry.leaf[:8], "big"), entry.idempotency_key
    keys = frozenset({f"kid-{entry.publisher}"})
    return NewManifest(entry.publisher, sequence, digest, entry.leaf), FloorUpdate(entry.publisher, Floor(sequence, digest.hex(), keys), keys)


class Subject:
    def __init__(self, loop: asyncio.AbstractEventLoop, url: str) -> None:
        self.loop = loop
        self.storage = loop.run_until_complete(open_storage(url))
        self.next = 0

    def batch(self) -> int:
        return self.loop.run_until_complete(self._append_and_integrate())

    def batch_as_ingest(self) -> int:
        return self.loop.run_until_complete(self._append_and_integrate(with_floors=True))

    async def _append_and_integrate(self, *, with_floors: bool = False) -> int:
        new = entries(self.next, BATCH)
        self.next += BATCH
        await asyncio.gather(*(self.storage.append(e, *(as_ingest(e) if with_floors else ())) for e in new))
        async with self.storage.sequencer() as seq:
            expected = await self.storage.checkpoint()
            pending = await seq.pending(BATCH)
            old = expected.size if expected else 0
            tiles, bundles = tiles_for(old, new)
            await seq.integrate(expected, [e.id for e in pending], tiles, bundles, Checkpoint(old + BATCH, b"\x33" * 32, b"note"))
        return BATCH

    def one_by_one(self) -> int:
        async def run() -> int:
            for e in entries(10**9 + self.next, 100):
                await self.storage.append(e)
            self.next += 100
            return 100

        return self.loop.run_until_complete(run())


class Baseline:
    def __init__(self, directory: str) -> None:
        self.conn = sqlite3.connect(f"{directory}/baseline.sqlite", isolation_level=None)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = FULL")
        self.conn.execute("CREATE TABLE entries (idx INTEGER PRIMARY KEY, leaf BLOB, leaf_hash BLOB)")
        self.conn.execute(
            "CREATE TABLE tiles (level INTEGER, idx INTEGER, width INTEGER, data BLOB, PRIMARY KEY (level, idx, width))"
        )
        self.conn.execute("CREATE TABLE bundles (idx INTEGER, width INTEGER, data BLOB, PRIMARY KEY (idx, width))")
        self.size = 0

    def batch(self) -> int:
        new = entries(self.size, BATCH)
        tiles, bundles = tiles_for(self.size, new)
        self.conn.execute("BEGIN")
        self.conn.executemany(
            "INSERT INTO entries VALUES (?, ?, ?)", [(self.size + i, e.leaf, e.leaf_hash) for i, e in enumerate(new)]
        )
        self.conn.executemany("INSERT OR REPLACE INTO tiles VALUES (?, ?, ?, ?)", [(*k, v) for k, v in tiles.items()])
        self.conn.executemany("INSERT OR REPLACE INTO bundles VALUES (?, ?, ?)", [(*k, v) for k, v in bundles.items()])
        self.conn.execute("COMMIT")
        self.size += BATCH
        return BATCH


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--postgres", metavar="URL", help="also time the PostgreSQL backend on this (empty) database, for context"
    )
    args = parser.parse_args()
    print(f"storage_bench: {h.machine()}, SQLite {sqlite3.sqlite_version}, {BATCH} entries of {LEAF_BYTES} bytes per batch\n")
    with tempfile.TemporaryDirectory() as directory:
        loop = asyncio.new_event_loop()
        subject, baseline = Subject(loop, f"sqlite:///{directory}/subject.sqlite"), Baseline(directory)
        cases = {
            "baseline: raw sqlite3, one transaction": baseline.batch,
            "subject: append x1024 (concurrent) + integrate": subject.batch,
            "context: append x100, one at a time": subject.one_by_one,
            "context: append x1024 as ingest (manifest + floor) + integrate": subject.batch_as_ingest,
        }
        if args.postgres:
            postgres = Subject(loop, args.postgres)
            cases["context: PostgreSQL, append x1024 + integrate"] = postgres.batch
        res = h.interleave(cases, rounds=9)
        loop.run_until_complete(subject.storage.close())
        if args.postgres:
            loop.run_until_complete(postgres.storage.close())
        loop.close()
        size = os.path.getsize(f"{directory}/subject.sqlite")
    rows = [[name, f"{1e9 / h.median(v):,.0f}", f"{h.median(v) / 1e3:.0f}", h.spread(v)] for name, v in res.items()]
    print(h.table(["case (9 interleaved rounds)", "entries/s", "µs/entry", "noise"], rows))
    base, subj = res["baseline: raw sqlite3, one transaction"], res["subject: append x1024 (concurrent) + integrate"]
    ratio = h.paired_ratio(base, subj)  # ns per entry: baseline / subject = subject rate / baseline rate
    rate = 1e9 / h.median(subj)
    print(f"\nsubject runs at {ratio:.2f}x the raw sqlite3 rate; database file {size / 1e6:.1f} MB for {subject.next:,} entries")
    ingest = h.paired_ratio(subj, res["context: append x1024 as ingest (manifest + floor) + integrate"])
    print(f"appending as ingest (manifest record and floor rule in the transaction) runs at {ingest:.2f}x the bare append rate")
    print(f"\nGOAL >= 1,000 integrated entries/s on SQLite: {rate:,.0f}/s -> {h.verdict(rate >= 1000)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
