"""Snapshots built by a real aggregator from its own log (spec/snapshot.md), logged and served.

A real application on 127.0.0.1 with SQLite, real Ed25519 keys, a loopback site serving an origin's key
sets.  What the aggregator serves is checked as a client would: the parts against the descriptor (core's
``load``), the descriptor's log entry by an inclusion proof in a later signed checkpoint, and the whole
snapshot rebuilt byte for byte from the log's tiles, bundles and bodies alone, fetched over HTTP.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import aiohttp
import pytest
from aggregator_helpers import aggregator_config, did_manifest, integrated, submit
from aiohttp.test_utils import TestServer
from conftest import make_key

from notrain.aggregator.app import create_app
from notrain.aggregator.state import SERVICE
from notrain.core import dsse
from notrain.core.checkpoint import open_checkpoint
from notrain.core.ijson import dumps
from notrain.core.keyset import make_keyset, make_rotation
from notrain.core.logentry import parse_entry
from notrain.core.manifest import MANIFEST_TYPE
from notrain.core.merkle import leaf_hash, verify_inclusion
from notrain.core.note import NoteVerifier
from notrain.core.snapshot import PART_NAMES, load
from notrain.core.snapshotlog import build_from_log
from notrain.core.tiles import ENTRIES, decode_bundle, tiles_for
from notrain.fetch.snapshots import Trust, pull

KEYS = "/.well-known/notrain-keys.json"
LOG = "aggregator.test/log"


@asynccontextmanager
async def aggregator(tmp_path, storage_url: str = ""):
    """The application (to build on demand: the timer is an hour), a client session for it and its URL."""
    config = aggregator_config(tmp_path, storage_url, snapshots={"interval": 3600, "public_url": "http://snapshots.test"})
    app = create_app(config)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession(base_url=str(server.make_url(""))) as session:
            yield app, session, str(server.make_url(""))
    finally:
        await server.close()


async def get(session, path: str, **params):
    async with session.get(path, params=params) as response:
        return response.status, await response.read(), response.headers


async def fetch_snapshot(session) -> tuple[dict, bytes, dict[str, bytes]]:
    """/v1/snapshot, then the descriptor and every part by the URLs it gives."""
    status, body, _ = await get(session, "/v1/snapshot")
    assert status == 200, body
    info = json.loads(body)
    status, descriptor, headers = await get(session, info["descriptor"])
    assert status == 200 and "immutable" in headers["Cache-Control"]
    parts = {}
    for name in PART_NAMES:
        status, parts[name], _ = await get(session, info["parts"][name]["url"])
        assert status == 200
    return info, descriptor, parts


async def rebuild_from_tiles(session, size: int, root: bytes) -> tuple[bytes, dict[str, bytes]]:
    """The snapshot of the log at ``size``, from tiles, bundles and bodies fetched over HTTP alone."""
    tiles = {}
    for tile in tiles_for(size):
        status, tiles[tile], _ = await get(session, f"/log/{tile.path}")
        assert status == 200, tile.path
    bodies = {}
    for tile in (tile for tile in tiles if tile.level == ENTRIES):
        for data in decode_bundle(tiles[tile], tile.width):
            entry = parse_entry(data)
            if entry.body is None:
                status, bodies[entry.sha256], _ = await get(session, f"/log/body/{entry.sha256.hex()}")
    built = await asyncio.to_thread(build_from_log, LOG, size, root, tiles.__getitem__, bodies.__getitem__)
    return built.descriptor, built.parts


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_a_snapshot_is_built_from_the_log_logged_served_and_rebuilt_byte_for_byte(tmp_path, request, backend):
    artist, other = make_key("snapshot artist"), make_key("snapshot other")
    work = hashlib.sha256(b"an illustration").hexdigest()
    storage_url = "" if backend == "sqlite" else await request.getfixturevalue("postgres_cluster").new_database()
    async with aggregator(tmp_path, storage_url) as (app, session, url):
        builder = app[SERVICE].snapshots
        assert (await get(session, "/v1/snapshot"))[0] == 404 and (await get(session, "/snapshot/latest"))[0] == 404
        big = [{"sha256": hashlib.sha256(str(i).encode()).hexdigest()} for i in range(1200)]  # a detached body (> 64 KiB)
        entries = []
        for envelope in (did_manifest(artist, works=[{"sha256": work}], names=[{"name": "Ada Example"}]), did_manifest(other, works=big)):
            status, body = await submit(session, envelope)
            assert status == 202, body
            entries.append(body["entry"])
        await integrated(session, entries[-1])
        stored = await builder.build_once()
        assert stored is not None

        info, descriptor, parts = await fetch_snapshot(session)
        assert info["id"] == stored.id == hashlib.sha256(descriptor).hexdigest() and info["size"] == 2
        status, latest, headers = await get(session, "/snapshot/latest")
        assert latest == descriptor and "immutable" not in headers["Cache-Control"]
        snapshot = load(descriptor, parts, log=LOG, full=True)
        assert [r["publisher"] for r in snapshot.confirm_work(bytes.fromhex(work))] == [artist.public.did_key]
        assert {r["name"] for r in snapshot.records() if r["kind"] == "name"} == {"Ada Example"}

        # Anyone rebuilds the same bytes from the log alone (the large manifest's body fetched beside it).
        assert await rebuild_from_tiles(session, info["size"], base64.b64decode(info["root"])) == (descriptor, parts)

        # The descriptor is logged, and its entry is included in a later signed checkpoint.
        proof = await integrated(session, info["entry"])
        status, body, _ = await get(session, "/v1/snapshot")
        index = json.loads(body)["log_index"]
        assert index == proof["log_index"] == 2
        vkey = json.loads((await get(session, "/v1/log"))[1])["vkey"]
        checkpoint = open_checkpoint(proof["checkpoint"].encode(), LOG, NoteVerifier.from_vkey(vkey)).checkpoint
        bundle = (await get(session, f"/log/tile/entries/000.p/{checkpoint.size}"))[1]
        leaf = decode_bundle(bundle, checkpoint.size)[index]
        verify_inclusion(index, checkpoint.size, leaf_hash(leaf), [base64.b64decode(h) for h in proof["inclusion_proof"]], checkpoint.root)
        assert parse_entry(decode_bundle(bundle, checkpoint.size)[1]).body is None  # the rebuild read a detached body
        entry = parse_entry(leaf)
        assert (entry.kind, entry.body) == ("snapshot", descriptor)
        assert entry.source.url == f"http://snapshots.test/snapshot/{stored.id}/descriptor"

        # Its own entry is no growth worth a snapshot; a new manifest is.
        assert await builder.build_once() is None
        status, body = await submit(session, did_manifest(artist, sequence=2, works=[]))
        await integrated(session, body["entry"])
        second = await builder.build_once()
        assert second is not None and second.id != stored.id and second.size == 4
        assert not load(*(await fetch_snapshot(session))[1:]).confirm_work(bytes.fromhex(work))
        assert (await get(session, f"/snapshot/{stored.id}/statements"))[1] == parts["statements"]  # the old one stays

        for path in (f"/snapshot/{stored.id}/entry", f"/snapshot/{'0' * 64}/works", f"/snapshot/{stored.id.upper()}/works", "/snapshot/x/works"):
            status, body, _ = await get(session, path)
            assert status == 404 and json.loads(body)["error"]["code"] == "E_NOT_FOUND", path


def signed(origin: str, sequence: int, keys, **members) -> bytes:
    doc = {"notrain": 1, "publisher": origin, "sequence": sequence, "issued": "2026-11-01T00:00:00Z",
           "expires": "2027-11-01T00:00:00Z", "default": {"train-ai": "n"}, **members}
    return dsse.sign(json.dumps(doc).encode(), MANIFEST_TYPE, keys).to_bytes()


async def test_after_a_theft_and_a_rotation_the_snapshot_holds_the_publishers_own_manifest(tmp_path, site):
    old, new = make_key("snapshot publisher old"), make_key("snapshot publisher new")
    site.serve(KEYS, dumps(make_keyset(site.origin, [old.public]).to_json()))
    async with aggregator(tmp_path) as (app, session, url):
        assert (await submit(session, signed(site.origin, 3, [old])))[0] == 202
        status, thief = await submit(session, signed(site.origin, 2**53 - 1, [old], default={"train-ai": "y"}))
        assert status == 202, thief
        rotation = make_rotation(site.origin, old, new.public, datetime(2026, 11, 2, tzinfo=UTC))
        site.serve(KEYS, dumps(make_keyset(site.origin, [new.public], (rotation,)).to_json()))
        own = signed(site.origin, 1, [new], default={"train-ai": "n", "search": "y"})
        status, body = await submit(session, own)
        assert status == 202, body
        await integrated(session, body["entry"])
        assert await app[SERVICE].snapshots.build_once() is not None
        info, descriptor, parts = await fetch_snapshot(session)
        snapshot = load(descriptor, parts, log=LOG, full=True)
        record = snapshot.rules(site.origin)[0]
        assert (record["sequence"], record["default"], record["digest"]) == (1, {"search": "y", "train-ai": "n"},
                                                                            hashlib.sha256(dsse.parse(own).payload).hexdigest())
        assert await rebuild_from_tiles(session, info["size"], base64.b64decode(info["root"])) == (descriptor, parts)


async def test_the_timer_builds_after_the_log_grows(tmp_path):
    config = aggregator_config(tmp_path, snapshots={"interval": 0.05})
    server = TestServer(create_app(config), host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession(base_url=str(server.make_url(""))) as session:
            status, body = await submit(session, did_manifest(make_key("timer artist")))
            await integrated(session, body["entry"])
            for _ in range(600):
                status, data, _ = await get(session, "/v1/snapshot")
                if status == 200:
                    break
                await asyncio.sleep(0.05)
            info = json.loads(data)
            assert status == 200 and info["size"] >= 1
            assert (await get(session, "/snapshot/latest"))[1] == (await get(session, info["descriptor"]))[1]
    finally:
        await server.close()


async def test_the_snapshot_client_pulls_it_checked_then_the_next_one_by_delta(tmp_path):
    """fetch/snapshots.py (the other side of these routes) against the real aggregator."""
    async with aggregator(tmp_path) as (app, session, url):
        builder, vkey = app[SERVICE].snapshots, json.loads((await get(session, "/v1/log"))[1])["vkey"]
        held = []
        for name in ("pulled artist", "later artist"):
            status, body = await submit(session, did_manifest(make_key(name), names=[{"name": name.title()}]))
            await integrated(session, body["entry"])
            stored = await builder.build_once()
            await integrated(session, stored.entry_id)  # a client takes a snapshot once its entry is in a checkpoint
            pulled = await pull(url, tmp_path / "held", Trust(vkey))
            assert pulled.evidenced.id == stored.id
            held.append((stored.id, pulled.delta))
        assert [delta for _, delta in held] == [False, True]  # the second came by delta from the first
        status, delta, _ = await get(session, f"/snapshot/{held[1][0]}/delta/{held[0][0]}")
        assert status == 200 and delta.startswith(b"notrain-snapshot-delta/v1\nfrom " + held[0][0].encode())
        assert (await get(session, f"/snapshot/{held[0][0]}/delta/{held[1][0]}"))[0] == 404  # only to the latest
