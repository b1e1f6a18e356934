"""Federation with two real applications: over more than one tile, and with origin publishers.

Over more than one tile: a peer log of 300 entries (a full entry bundle and level-0 tile, their
root in the level-1 tile, a partial bundle after them) copied by a second aggregator, both real applications
on 127.0.0.1 in this process; the copier's storage SQLite, then PostgreSQL."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import aiohttp
import pytest
from aggregator_helpers import aggregator_config, did_manifest, integrated, origin_manifest, running, submit
from conftest import make_key
from prometheus_client.parser import text_string_to_metric_families
from test_aggregator_web import get_page

from notrain.aggregator.config import PeerConfig
from notrain.core.ijson import dumps
from notrain.core.keyset import make_keyset
from notrain.core.logentry import Source, parse_entry
from notrain.core.note import NoteSigner
from notrain.core.tiles import ENTRIES, TileId, decode_bundle, tile_width
from notrain.keyfile import save_private_key

ENTRIES_IN_PEER = 300


async def log_entries(session: aiohttp.ClientSession) -> list[bytes]:
    """Every entry of the log at its current checkpoint (read again if a partial bundle is pruned meanwhile)."""
    while True:
        async with session.get("/log/checkpoint") as response:
            size = int((await response.read()).split(b"\n")[1])
        found = []
        for index in range((size + 255) // 256):
            tile = TileId(ENTRIES, index, tile_width(0, index, size))
            async with session.get("/log/" + tile.path) as response:
                if response.status != 200:
                    break
                found += decode_bundle(await response.read(), tile.width)
        if len(found) == size:
            return found


def copier_of(tmp_path, peer: aiohttp.ClientSession, storage_url: str = ""):
    """An aggregator configured with the peer ``peer.test/log`` (its key: make_key("peer log")) and nothing else."""
    vkey = NoteSigner("peer.test/log", make_key("peer log")).verifier.to_vkey()
    config = aggregator_config(tmp_path / "copier", storage_url, log={"origin": "copier.test/log"}, federation={"interval": 0.05})
    return replace(config, peers=(PeerConfig(url=str(peer._base_url), vkey=vkey),))


async def copied_all(copier: aiohttp.ClientSession, size: int) -> dict:
    """Poll the copier until it has handled ``size`` entries of its peer and sequenced what it logged."""
    deadline = asyncio.get_running_loop().time() + 60
    while True:
        async with copier.get("/v1/peers") as response:
            [state] = (await response.json())["peers"]
        async with copier.get("/healthz") as response:
            pending = (await response.json())["pending"]
        if state["copied"] == size and pending == 0:
            return state
        assert asyncio.get_running_loop().time() < deadline, f"not copied: {state}"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_a_peer_log_larger_than_a_tile_is_copied_whole_and_cited_entry_by_entry(tmp_path, request, backend):
    key = make_key("peer log")
    save_private_key(tmp_path / "peer.jwk", key)
    peer_config = aggregator_config(tmp_path / "peer", log={"origin": "peer.test/log", "key_file": str(tmp_path / "peer.jwk")})
    envelopes = [did_manifest(make_key(f"artist {i}")) for i in range(ENTRIES_IN_PEER)]
    async with running(peer_config) as peer:
        for status, _ in await asyncio.gather(*(submit(peer, envelope) for envelope in envelopes)):
            assert status == 202
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while len(await log_entries(peer)) < ENTRIES_IN_PEER:
            assert loop.time() < deadline, "the peer did not integrate its entries"
            await asyncio.sleep(0.05)
        in_peer = {parse_entry(leaf).body: index for index, leaf in enumerate(await log_entries(peer))}

        storage_url = "" if backend == "sqlite" else await request.getfixturevalue("postgres_cluster").new_database()
        async with running(copier_of(tmp_path, peer, storage_url)) as copier:
            state = await copied_all(copier, ENTRIES_IN_PEER)
            assert state["status"] == "ok" and state["size"] == ENTRIES_IN_PEER and state["skipped"] == 0
            copied = [parse_entry(leaf) for leaf in await log_entries(copier)]
            assert sorted(entry.body for entry in copied) == sorted(envelopes)
            assert all(entry.source == Source("peer", origin="peer.test/log", index=in_peer[entry.body]) for entry in copied)
            assert (await federation_metrics(copier))[("notrain_federation_entries_total", "copied")] == ENTRIES_IN_PEER  # over several rounds
            page = await get_page(copier, "/peers")  # the page's own rules (tags, headers, no outside links)
            assert "peer.test/log" in page.text and "None: every checkpoint" in page.text


async def test_an_origin_manifest_is_verified_with_the_key_set_its_origin_serves_not_the_peers(tmp_path, sites):
    """The peer logged two origins' manifests with their key sets; by the time this aggregator copies them,
    the second origin serves a key set without the key that signed: that manifest is skipped, whatever the
    peer logged.  The first is logged with the key set this aggregator read itself (source: its URL)."""
    key = make_key("peer log")
    save_private_key(tmp_path / "peer.jwk", key)
    peer_config = aggregator_config(tmp_path / "peer", log={"origin": "peer.test/log", "key_file": str(tmp_path / "peer.jwk")})
    kept, rotated = await sites(), await sites()
    kept_envelope = origin_manifest(kept, make_key("kept site"))
    rotated_envelope = origin_manifest(rotated, make_key("rotated site"))
    async with running(peer_config) as peer:
        for envelope in (kept_envelope, rotated_envelope):
            status, body = await submit(peer, envelope)
            assert status == 202, body
            await integrated(peer, body["entry"])
        peer_log = [parse_entry(leaf) for leaf in await log_entries(peer)]
        assert [e.kind for e in peer_log] == ["keyset", "manifest", "keyset", "manifest"]
        rotated.serve("/.well-known/notrain-keys.json", dumps(make_keyset(rotated.origin, [make_key("someone else").public]).to_json()))
        async with running(copier_of(tmp_path, peer)) as copier:
            state = await copied_all(copier, len(peer_log))
            assert state["skipped"] == 1 and state["status"] == "ok"
            logged = [parse_entry(leaf) for leaf in await log_entries(copier)]
            assert [(e.kind, e.source) for e in logged] == [
                ("keyset", Source("url", url=kept.origin + "/.well-known/notrain-keys.json")),
                ("manifest", Source("peer", origin="peer.test/log", index=1)),
            ]
            assert logged[1].body == kept_envelope and logged[0].body == peer_log[0].body
            metrics = await federation_metrics(copier)
            assert metrics[("notrain_federation_entries_total", "skipped")] == 1
            assert metrics[("notrain_federation_entries_total", "copied")] == len(peer_log) - 1  # both key sets and the kept manifest
            assert metrics[("notrain_federation_rounds_total", "ok")] >= 1 and ("notrain_federation_rounds_total", "error") not in metrics
            assert metrics[("notrain_federation_peer_status", "ok")] == 1
            assert metrics[("notrain_federation_peer_status", "error")] == metrics[("notrain_federation_peer_status", "forked")] == 0


async def federation_metrics(aggregator: aiohttp.ClientSession) -> dict[tuple[str, str], float]:
    """The federation samples of ``/metrics`` for the peer ``peer.test/log``: (sample name, outcome or status) -> value."""
    async with aggregator.get("/metrics") as response:
        assert response.status == 200
        text = await response.text()
    return {(sample.name, sample.labels.get("outcome") or sample.labels["status"]): sample.value
            for family in text_string_to_metric_families(text) if family.name.startswith("notrain_federation_")
            for sample in family.samples if sample.labels.get("peer") == "peer.test/log" and not sample.name.endswith("_created")}
