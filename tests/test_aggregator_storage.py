"""The storage contract (notrain.aggregator.storage.base), one suite run on both real backends:
a SQLite file in a temporary directory and a throwaway PostgreSQL cluster (tests/postgres.py)."""

from __future__ import annotations

import asyncio
import hashlib
import signal
import sqlite3
import sys
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from notrain.aggregator.storage import (
    MAX_READ,
    TILE_WIDTH,
    AccountProof,
    Checkpoint,
    CheckpointConflict,
    Floor,
    FloorUpdate,
    NewEntry,
    NewManifest,
    NotPending,
    ReadTooLarge,
    SchemaTooNew,
    SequencerBusy,
    TileConflict,
    Validators,
    migrations,
    open_storage,
)
from notrain.aggregator.storage.migrations import latest
from notrain.core.tiles import ENTRIES, TileId, tiles_for, verify_tiles
from notrain.core.tiles import integrate as integrate_tiles

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
DID = "did:key:z6MkexampleArtist"


@pytest.fixture(params=["sqlite", "postgres"])
async def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/aggregator.sqlite"
    return await request.getfixturevalue("postgres_cluster").new_database()


@pytest.fixture
async def storage(url):
    opened = await open_storage(url)
    yield opened
    await opened.close()


def new_entry(n: int, *, key: bytes | None = None, publisher: str | None = DID) -> NewEntry:
    leaf = b"entry %d" % n
    return NewEntry(
        leaf=leaf,
        leaf_hash=hashlib.sha256(b"\x00" + leaf).digest(),
        kind="manifest",
        publisher=publisher,
        received_at=T0 + timedelta(seconds=n),
        deadline=T0 + timedelta(seconds=n + 60),
        idempotency_key=key,
    )


def new_manifest(sequence: int, payload: bytes, publisher: str = DID) -> NewManifest:
    return NewManifest(
        publisher=publisher,
        sequence=sequence,
        payload_sha256=hashlib.sha256(payload).digest(),
        envelope=b'{"payload": "%s"}' % payload,
    )


def floor_update(sequence: int, payload: bytes, *, keys: set[str], signed_by: set[str] | None = None) -> FloorUpdate:
    """The floor a manifest signed by ``signed_by`` (default: all of ``keys``) sets, ``keys`` trusted for it."""
    digest = hashlib.sha256(payload).hexdigest()
    return FloorUpdate(DID, Floor(sequence, digest, frozenset(keys)), frozenset(keys if signed_by is None else signed_by))


async def accept(storage, n: int, sequence: int, payload: bytes, keys=frozenset({"kid-a"})):
    """Append a manifest as ingest does: with the floor it sets."""
    return await storage.append(new_entry(n), new_manifest(sequence, payload), floor_update(sequence, payload, keys=set(keys)))


def checkpoint(size: int) -> Checkpoint:
    root = hashlib.sha256(b"root %d" % size).digest()
    return Checkpoint(size, root, b"example.org/log\n%d\n%s\n" % (size, root.hex().encode()))


async def integrate(storage, count: int, *, tiles=None) -> Checkpoint:
    """Sequence the ``count`` oldest pending entries, with one made-up hash tile and bundle per batch."""
    async with storage.sequencer() as seq:
        expected = await storage.checkpoint()
        ids = [e.id for e in await seq.pending(count)]
        new = checkpoint((expected.size if expected else 0) + len(ids))
        await seq.integrate(
            expected, ids, tiles or {(0, 0, new.size): b"tile %d" % new.size}, {(0, new.size): b"bundle %d" % new.size}, new
        )
        return new


async def schema_versions(url: str) -> list[int]:
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            return [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY version")]
    conn = await asyncpg.connect(url)
    try:
        return [r[0] for r in await conn.fetch("SELECT version FROM schema_version ORDER BY version")]
    finally:
        await conn.close()


async def execute(url: str, sql: str, *, script: bool = False) -> None:
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.executescript(sql) if script else conn.execute(sql)
        return
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


# --- schema and migrations


async def test_migrates_an_empty_database_and_reopens_idempotently(url):
    first = await open_storage(url)
    await first.append(new_entry(1), floor=floor_update(3, b"\x01", keys={"kid"}))
    await first.close()
    assert await schema_versions(url) == list(range(1, latest(url.split(":")[0].removesuffix("ql")) + 1))
    second = await open_storage(url)
    try:
        assert await second.pending_count() == 1
        assert (await second.floor(DID)).sequence == 3
    finally:
        await second.close()
    assert len(await schema_versions(url)) == len(set(await schema_versions(url)))  # nothing applied twice


async def test_refuses_a_schema_newer_than_the_code(url):
    await (await open_storage(url)).close()
    await execute(
        url,
        "INSERT INTO schema_version (version, applied_at) VALUES (999, 0)"
        if url.startswith("sqlite")
        else "INSERT INTO schema_version (version) VALUES (999)",
    )
    with pytest.raises(SchemaTooNew):
        await open_storage(url)


async def test_urls_are_checked():
    with pytest.raises(ValueError):
        await open_storage("mysql://localhost/db")
    with pytest.raises(ValueError):
        await open_storage("sqlite:///:memory:")
    with pytest.raises(sqlite3.OperationalError):  # the real cause, not a broken thread pool
        await open_storage("sqlite:////nonexistent/directory/aggregator.sqlite")


# --- appends


async def test_same_idempotency_key_gives_the_same_entry_and_writes_nothing(storage):
    first = await storage.append(new_entry(1, key=b"envelope-sha"), new_manifest(1, b"a"))
    again = await storage.append(new_entry(2, key=b"envelope-sha"), new_manifest(2, b"b"))
    assert first.created and not again.created
    assert again.entry == first.entry and again.manifest == first.manifest
    assert await storage.pending_count() == 1
    assert [m.sequence for m in await storage.manifest_history(DID, 10)] == [1]


async def test_concurrent_appends_are_all_durable_and_one_bad_append_fails_alone(storage):
    bad = new_entry(0)
    bad = NewEntry(**{**bad.__dict__, "received_at": datetime(2026, 12, 1)})  # naive: refused
    results = await asyncio.gather(
        *(storage.append(new_entry(n)) for n in range(1, 101)),
        storage.append(bad),
        *(storage.append(new_entry(n, key=b"same")) for n in range(200, 210)),
        return_exceptions=True,
    )
    assert isinstance(results[100], ValueError)
    good = results[:100]
    assert len({r.entry.id for r in good}) == 100 and all(r.created for r in good)
    same = results[101:]
    assert len({r.entry.id for r in same}) == 1 and sum(r.created for r in same) == 1
    assert await storage.pending_count() == 101


async def test_equivocation_keeps_both_payloads_and_flags_them(storage):
    await accept(storage, 1, 1, b"first")
    honest = await accept(storage, 2, 2, b"second")
    twin = await accept(storage, 3, 2, b"second, other bytes")
    repeat = await accept(storage, 4, 2, b"second")  # same payload observed again
    assert not honest.manifest.equivocation and twin.manifest.equivocation
    assert repeat.manifest.id == honest.manifest.id and repeat.manifest.equivocation
    flagged = await storage.equivocations(10)
    assert [(m.sequence, m.payload_sha256) for m in flagged] == [
        (2, hashlib.sha256(b"second").digest()),
        (2, hashlib.sha256(b"second, other bytes").digest()),
    ]
    latest_one = await storage.latest_manifest(DID)
    assert latest_one.id == honest.manifest.id and latest_one.envelope == b'{"payload": "second"}'
    history = await storage.manifest_history(DID, 10)
    assert [m.id for m in history] == [twin.manifest.id, honest.manifest.id, history[2].id] and history[2].sequence == 1
    assert await storage.manifest_history(DID, 1, before=honest.manifest.id) == history[2:]  # the next page


async def test_floors_follow_the_spec_rule_per_key_set_and_survive_reopening(url):
    """spec/envelope.md step 10: a floor binds manifests signed by a key trusted when it was set."""
    storage = await open_storage(url)
    n = iter(range(1, 100))

    async def accept(update: FloorUpdate) -> Floor:  # a floor alone, no manifest
        await storage.append(new_entry(next(n)), floor=update)
        return await storage.floor(DID)

    five = floor_update(5, b"\x05", keys={"kid-a"})
    assert await accept(five) == five.floor
    assert await accept(floor_update(4, b"\x04", keys={"kid-a"})) == five.floor  # bound, lower: kept
    assert await accept(floor_update(5, b"\x55", keys={"kid-a"})) == five.floor  # bound, equal, other digest
    same = floor_update(5, b"\x05", keys={"kid-a", "kid-b"}, signed_by={"kid-b"})  # not bound: {kid-a} trusted then
    assert await accept(same) == same.floor
    thief = floor_update(2**53 - 1, b"\xff", keys={"kid-a", "kid-b"}, signed_by={"kid-a"})
    assert await accept(thief) == thief.floor
    overlap = floor_update(1, b"\x01", keys={"kid-a", "kid-c"})  # signed by the old key too: still bound
    assert await accept(overlap) == thief.floor
    rotated = floor_update(1, b"\x01", keys={"kid-c"})  # the new key alone starts a new floor, lower
    assert await accept(rotated) == rotated.floor
    last = floor_update(2**53 - 2, b"\xfe", keys={"kid-a"})
    assert await accept(last) == last.floor  # the floor's keys decide: kid-a was not trusted for the new floor
    await storage.close()
    storage = await open_storage(url)
    try:
        assert await storage.floor(DID) == last.floor
        assert await storage.floor("did:key:nobody") is None
    finally:
        await storage.close()


def test_a_floor_update_is_for_a_signed_manifest():
    with pytest.raises(ValueError):
        floor_update(1, b"\x01", keys=set(), signed_by=set())


async def test_concurrent_floor_updates_end_where_some_order_of_them_would(storage):
    await asyncio.gather(*(accept(storage, s, s, b"%d" % s) for s in range(40, 0, -1)))
    assert await storage.floor(DID) == floor_update(40, b"40", keys={"kid-a"}).floor  # any order of one key's ends at the highest
    assert (await storage.latest_manifest(DID)).sequence == 40


async def test_the_latest_manifest_is_the_one_that_set_the_floor(storage):
    """After a rotation the newest accepted manifest may have a lower sequence than a thief's."""
    await accept(storage, 1, 1, b"first", {"old"})
    await accept(storage, 2, 2**53 - 1, b"thief", {"old"})
    await accept(storage, 3, 1, b"after the rotation", {"new"})
    assert (await storage.latest_manifest(DID)).envelope == new_manifest(1, b"after the rotation").envelope
    assert [m.envelope for m in await storage.latest_manifests("", 10)] == [new_manifest(1, b"after the rotation").envelope]
    assert [m.sequence for m in await storage.manifest_history(DID, 10)] == [1, 2**53 - 1, 1]  # as received
    await accept(storage, 4, 1, b"a twin", {"new"})  # equivocation: stored and flagged, the first one counts
    assert (await storage.latest_manifest(DID)).envelope == new_manifest(1, b"after the rotation").envelope
    flagged = [m.envelope for m in await storage.equivocations(10)]  # not the old key's sequence 1: another floor
    assert flagged == [new_manifest(1, b"after the rotation").envelope, new_manifest(1, b"a twin").envelope]
    with pytest.raises(ValueError):  # a floor appended with a manifest is that manifest's
        await storage.append(new_entry(5), new_manifest(2, b"two"), floor_update(2, b"other", keys={"new"}))
    assert await storage.pending_count() == 4


async def test_an_append_that_fails_writes_no_entry_body_or_floor(storage):
    await storage.append(new_entry(1), floor=floor_update(1, b"\x01", keys={"kid-a"}))
    broken = FloorUpdate(DID, Floor(2, "not hex", frozenset({"kid-a"})), frozenset({"kid-a"}))  # fails as the floor is written
    with pytest.raises(ValueError):
        await storage.append(new_entry(2, key=b"k2"), None, broken, b"detached body")
    assert await storage.pending_count() == 1
    assert await storage.body(hashlib.sha256(b"detached body").digest()) is None
    assert (await storage.floor(DID)).sequence == 1


async def test_detached_bodies_are_stored_with_their_entry_and_read_by_digest(storage):
    body = bytes(range(256)) * 4096  # 1 MiB, every octet value
    digest = hashlib.sha256(body).digest()
    first = await storage.append(new_entry(1, key=digest), body=body)
    again = await storage.append(new_entry(2, key=digest), body=b"not written: the key is known")
    assert first.created and not again.created
    assert await storage.body(digest) == body
    assert await storage.body(hashlib.sha256(b"not written: the key is known").digest()) is None
    assert await storage.body(b"\x00" * 32) is None
    await storage.append(new_entry(3), body=body)  # the same body observed again: stored once, unchanged
    assert await storage.body(digest) == body


async def test_floors_of_schema_2_are_migrated_with_their_key_ids(url):
    """A database written before floors were kept per key set (key ids space-joined in ``keyid``, and an
    ``issued`` column) opens with its floors intact."""
    sqlite = url.startswith("sqlite")
    dialect = "sqlite" if sqlite else "postgres"
    digest = f"X'{'07' * 32}'" if sqlite else f"'\\x{'07' * 32}'::bytea"
    versions = "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL DEFAULT 0);" if sqlite else (
        "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now());"
    )
    script = "".join(sql for _, sql in migrations.load(dialect)[:2]) + versions + (
        "INSERT INTO schema_version (version) VALUES (1), (2);"
        f"INSERT INTO floors (publisher, sequence, payload_sha256, issued, keyid) VALUES ('{DID}', 7, {digest},"
        " '2026-11-07T00:00:00Z', 'kid-a kid-b');"
        f"INSERT INTO entries (leaf, leaf_hash, kind, publisher, received_at, deadline) VALUES ({digest}, {digest}, 'manifest', '{DID}', 0, 0);"
        f"INSERT INTO manifests (publisher, sequence, payload_sha256, envelope, entry_id) VALUES ('{DID}', 8, {digest}, {digest}, 1);"
        f"INSERT INTO manifests (publisher, sequence, payload_sha256, envelope, entry_id) VALUES ('{DID}', 7, {digest}, {digest}, 1);"
    )
    await execute(url, script, script=True)
    storage = await open_storage(url)
    try:
        assert await storage.floor(DID) == Floor(7, "07" * 32, frozenset({"kid-a", "kid-b"}))
        assert (await storage.latest_manifest(DID)).sequence == 7  # the floor's manifest, found by its digest
        assert await schema_versions(url) == list(range(1, latest(dialect) + 1))
    finally:
        await storage.close()


async def test_pins_origins_and_account_proofs_round_trip(storage):
    origin = "https://art.example"
    await storage.set_pins(origin, frozenset({"k1", "k2"}))
    await storage.set_pins(origin, frozenset({"k2", "k3"}))
    assert await storage.pins(origin) == {"k2", "k3"} and await storage.pins("https://other.example") == frozenset()
    assert await storage.pinned_keys(origin) == {}  # pinned by key id alone
    await storage.set_pinned_keys(origin, {"k4": '{"kty":"OKP"}', "k5": '{"x":"5"}'})
    assert await storage.pins(origin) == {"k4", "k5"}
    assert await storage.pinned_keys(origin) == {"k4": '{"kty":"OKP"}', "k5": '{"x":"5"}'}
    await storage.set_pins(origin, frozenset({"k2"}))
    assert await storage.pinned_keys(origin) == {} and await storage.pins(origin) == {"k2"}

    assert await storage.add_origin(origin, "config", T0)
    assert not await storage.add_origin(origin, "api", T0 + timedelta(days=9))  # a known origin keeps its schedule
    await storage.add_origin("https://later.example", "api", T0 + timedelta(hours=2))
    assert [o.origin for o in await storage.due_origins(T0 + timedelta(hours=1), 10)] == [origin]
    docs = {"manifest": Validators('"v1"', "Tue, 01 Dec 2026 10:00:00 GMT"), "keys": Validators(None, None)}
    await storage.record_crawl(origin, status=200, failures=0, next_crawl_at=T0 + timedelta(hours=3), validators=docs)
    crawled = await storage.origin(origin)
    assert (crawled.added_by, crawled.last_status, crawled.next_crawl_at, dict(crawled.validators)) == (
        "config",
        200,
        T0 + timedelta(hours=3),
        docs,
    )
    await storage.record_crawl(origin, status=503, failures=1, next_crawl_at=T0, validators={})
    assert (await storage.origin(origin)).validators == {}

    proof = AccountProof(DID, "https://bsky.app/profile/artist", "proven", T0, T0 + timedelta(days=1))
    await storage.put_account_proof(proof)
    await storage.put_account_proof(
        AccountProof(DID, proof.account_url, "missing", T0 + timedelta(days=1), T0 + timedelta(days=2))
    )
    assert [p.status for p in await storage.account_proofs(DID)] == ["missing"]
    assert await storage.due_account_proofs(T0 + timedelta(days=1), 10) == []
    assert len(await storage.due_account_proofs(T0 + timedelta(days=2), 10)) == 1


async def test_publishers_are_searched_by_exact_prefix(storage):
    for n, publisher in enumerate(
        ["https://a.example", "https://a_b.example", "https://ab.example", "did:key:z6Mk1", "https://é.example"]
    ):
        await storage.append(new_entry(n, publisher=publisher), new_manifest(1, b"x", publisher))
    assert await storage.search_publishers("https://a", 10) == ["https://a.example", "https://a_b.example", "https://ab.example"]
    assert await storage.search_publishers("https://a_", 10) == ["https://a_b.example"]  # _ is no wildcard
    assert await storage.search_publishers("https://é", 10) == ["https://é.example"]
    assert await storage.search_publishers("%", 10) == []
    assert len(await storage.search_publishers("", 2)) == 2


# --- the log


async def test_integration_assigns_indices_tiles_and_checkpoint(storage):
    for n in range(10):
        await (accept(storage, n, n, b"p%d" % n) if n == 3 else storage.append(new_entry(n)))
    assert await storage.checkpoint() is None
    first = await integrate(storage, 4)
    second = await integrate(storage, 100)
    assert await storage.checkpoint() == second and second.size == 10
    assert [e.log_index for e in await storage.entries(0, 10)] == list(range(10))
    assert [e.leaf for e in await storage.entries(2, 5)] == [b"entry 2", b"entry 3", b"entry 4"]
    assert [e.log_index for e in await storage.recent_entries(3)] == [9, 8, 7]
    assert await storage.tile(0, 0, 4) == b"tile 4" and await storage.tile(0, 0, 10) == b"tile 10"
    assert await storage.entry_bundle(0, first.size) == b"bundle 4" and await storage.tile(0, 0, 5) is None
    assert (await storage.latest_manifest(DID)).log_index == 3
    assert await storage.pending_count() == 0


async def test_a_full_tile_replaces_its_partial_tiles(storage):
    for n in range(TILE_WIDTH + 2):
        await storage.append(new_entry(n))
    await integrate(storage, 3, tiles={(0, 0, 3): b"p3", (1, 0, 1): b"upper p1"})
    await integrate(storage, 200, tiles={(0, 0, 203): b"p203"})
    await integrate(storage, 100, tiles={(0, 0, TILE_WIDTH): b"full", (0, 1, 2): b"next p2", (1, 0, 2): b"upper p2"})
    assert [await storage.tile(0, 0, w) for w in (3, 203, TILE_WIDTH)] == [None, None, b"full"]
    assert await storage.tile(0, 1, 2) == b"next p2" and await storage.tile(1, 0, 1) == b"upper p1"  # other coordinates stay
    assert await storage.entry_bundle(0, 3) == b"bundle 3"  # no full bundle yet


async def stored_tiles(storage, ids: list[TileId]) -> dict[TileId, bytes]:
    found = {}
    for t in ids:
        read = storage.entry_bundle(t.index, t.width) if t.level == ENTRIES else storage.tile(t.level, t.index, t.width)
        if (data := await read) is not None:
            found[t] = data
    return found


async def test_a_log_built_with_core_tiles_verifies_from_the_stored_tiles_alone(storage):
    leaves = []
    for batch in (1, 2, 250, 10, 300, 1):  # partial tiles, then across the first and second full tiles
        appended = await asyncio.gather(*(storage.append(new_entry(len(leaves) + i)) for i in range(batch)))
        async with storage.sequencer() as seq:
            expected = await storage.checkpoint()
            size = expected.size if expected else 0
            pending = await seq.pending(batch)
            assert sorted(e.id for e in pending) == sorted(a.entry.id for a in appended)
            leaves += [e.leaf for e in pending]  # oldest first: on PostgreSQL not always the order gather returns
            edge = await stored_tiles(storage, tiles_for(size))
            grown = integrate_tiles(size, [e.leaf for e in pending], edge.__getitem__)
            tiles = {(t.level, t.index, t.width): data for t, data in grown.tiles.items() if t.level != ENTRIES}
            bundles = {(t.index, t.width): data for t, data in grown.tiles.items() if t.level == ENTRIES}
            await seq.integrate(expected, [e.id for e in pending], tiles, bundles, Checkpoint(grown.size, grown.root, b"note"))
    final = await storage.checkpoint()
    seen = []
    everything = await stored_tiles(storage, tiles_for(final.size))
    verify_tiles(final.size, final.root, everything.__getitem__, lambda index, entry: seen.append(entry))
    assert seen == leaves == [e.leaf for e in await storage.entries(0, final.size)]
    assert await storage.tile(0, 0, 3) is None and await storage.entry_bundle(1, 6) is None  # partials of full tiles are gone


async def test_checkpoint_swap_is_compare_and_swap(storage):
    for n in range(3):
        await storage.append(new_entry(n))
    current = await integrate(storage, 1)
    await storage.append(new_entry(9))
    async with storage.sequencer() as seq:
        ids = [e.id for e in await seq.pending(10)]
        stale = Checkpoint(0, b"", b"")
        for wrong in (None, stale, Checkpoint(current.size, b"\x00" * 32, current.note)):
            with pytest.raises(CheckpointConflict):
                size = wrong.size if wrong else 0
                await seq.integrate(wrong, ids, {(0, 0, 99): b"t"}, {}, checkpoint(size + len(ids)))
        with pytest.raises(ValueError):  # the new size must be the old size plus the entries
            await seq.integrate(current, ids, {}, {}, checkpoint(current.size + 1))
    assert await storage.checkpoint() == current and await storage.tile(0, 0, 99) is None
    assert await storage.pending_count() == 3  # nothing of the refused swaps stayed


async def test_entries_are_sequenced_once_and_tiles_never_change(storage):
    for n in range(4):
        await storage.append(new_entry(n))
    first = await integrate(storage, 2)
    done = [e.id for e in await storage.entries(0, 2)]
    async with storage.sequencer() as seq:
        with pytest.raises(NotPending):
            await seq.integrate(first, done, {}, {}, checkpoint(4))
        ids = [e.id for e in await seq.pending(10)]
        with pytest.raises(TileConflict):
            await seq.integrate(first, ids, {(0, 0, 2): b"other bytes"}, {}, checkpoint(4))
        await seq.integrate(first, ids, {(0, 0, 2): b"tile 2", (0, 0, 4): b"tile 4"}, {}, checkpoint(4))  # same bytes: fine
    assert (await storage.checkpoint()).size == 4 and await storage.tile(0, 0, 2) == b"tile 2"


async def test_one_sequencer_at_a_time(url, storage):
    other = await open_storage(url)  # a second process would look the same: its own connections
    try:
        async with storage.sequencer():
            with pytest.raises(SequencerBusy):
                async with other.sequencer():
                    pass
        async with other.sequencer():  # released on exit
            pass
    finally:
        await other.close()


async def test_reads_are_bounded(storage):
    for call in (
        lambda: storage.entries(0, MAX_READ + 1),
        lambda: storage.entries(5, 4),
        lambda: storage.recent_entries(MAX_READ + 1),
        lambda: storage.manifest_history(DID, MAX_READ + 1),
        lambda: storage.search_publishers("", -1),
        lambda: storage.equivocations(10**9),
        lambda: storage.due_origins(T0, MAX_READ + 1),
    ):
        with pytest.raises(ReadTooLarge):
            await call()
    assert await storage.entries(0, MAX_READ) == []


# --- other processes: contention and crashes

CHILD = r"""
import asyncio, sys, time
from notrain.aggregator.storage import Checkpoint, open_storage

url, mode = sys.argv[1], sys.argv[2]

def hang(*_):
    print("READY", flush=True)
    time.sleep(600)

async def main():
    storage = await open_storage(url)
    async with storage.sequencer() as seq:
        if mode == "hold":
            hang()
        # crash: stop for good in the middle of the integration transaction, after the tiles are written.
        # SQLite traces a statement before running it; asyncpg calls its loggers soon after a query, while
        # the next one (still inside the transaction) is awaited.
        if url.startswith("sqlite"):
            trace = lambda sql: sql.startswith("INSERT INTO checkpoint") and hang()
            await storage._write(lambda conn: conn.set_trace_callback(trace))
        else:
            seq._conn.add_query_logger(lambda record: record.query.startswith("INSERT INTO tiles") and hang())
        expected = await storage.checkpoint()
        ids = [e.id for e in await seq.pending(100)]
        size = expected.size + len(ids)
        await seq.integrate(expected, ids, {(0, 0, size): b"crashed"}, {(0, size): b"crashed"}, Checkpoint(size, b"r", b"n"))
    print("NOT KILLED", flush=True)

asyncio.run(main())
"""


async def start_child(url: str, mode: str) -> asyncio.subprocess.Process:
    child = await asyncio.create_subprocess_exec(sys.executable, "-c", CHILD, url, mode, stdout=asyncio.subprocess.PIPE)
    line = await asyncio.wait_for(child.stdout.readline(), 60)
    assert line == b"READY\n"
    return child


async def kill(child: asyncio.subprocess.Process) -> None:
    child.send_signal(signal.SIGKILL)
    assert await child.wait() == -signal.SIGKILL


async def test_sequencer_held_by_another_process_is_released_when_it_dies(storage, url):
    child = await start_child(url, "hold")
    try:
        with pytest.raises(SequencerBusy):
            async with storage.sequencer():
                pass
    finally:
        await kill(child)
    for _ in range(100):  # the server notices the dropped connection at once; allow it a few tries
        try:
            async with storage.sequencer():
                return
        except SequencerBusy:
            await asyncio.sleep(0.1)
    pytest.fail("the dead process's sequencer lock was never released")


async def test_a_crash_mid_integration_leaves_the_last_checkpoint_consistent(url):
    storage = await open_storage(url)
    for n in range(10):
        await storage.append(new_entry(n))
    first = await integrate(storage, 4)
    await storage.close()

    await kill(await start_child(url, "crash"))

    storage = await open_storage(url)
    try:
        assert await storage.checkpoint() == first
        assert await storage.pending_count() == 6 and len(await storage.entries(0, 10)) == 4
        assert await storage.tile(0, 0, 10) is None and await storage.entry_bundle(0, 10) is None
        assert (await integrate(storage, 100)).size == 10  # the next sequencer takes over where it stopped
        assert await storage.tile(0, 0, 10) == b"tile 10"
    finally:
        await storage.close()
