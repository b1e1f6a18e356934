"""Federation over more than one tile: a peer log of 300 entries (a full entry bundle and level-0 tile, their
root in the level-1 tile, a partial bundle after them) copied by a second aggregator, both real applications
on 127.0.0.1 in this process; the copier's storage SQLite, then PostgreSQL."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import aiohttp
import pytest
from aggregator_helpers import aggregator_config, did_manifest, running, submit
from conftest import make_key

from notrain.aggregator.config import PeerConfig
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

        vkey = NoteSigner("peer.test/log", key).verifier.to_vkey()
        storage_url = "" if backend == "sqlite" else await request.getfixturevalue("postgres_cluster").new_database()
        copier_config = aggregator_config(tmp_path / "copier", storage_url, log={"origin": "copier.test/log"}, federation={"interval": 0.05})
        copier_config = replace(copier_config, peers=(PeerConfig(url=str(peer._base_url), vkey=vkey),))
        async with running(copier_config) as copier:
            deadline = loop.time() + 60
            while True:
                async with copier.get("/v1/peers") as response:
                    [state] = (await response.json())["peers"]
                if state["copied"] == ENTRIES_IN_PEER and len(await log_entries(copier)) == ENTRIES_IN_PEER:
                    break
                assert loop.time() < deadline, f"not copied: {state}"
                await asyncio.sleep(0.05)
            assert state["status"] == "ok" and state["size"] == ENTRIES_IN_PEER and state["skipped"] == 0
            copied = [parse_entry(leaf) for leaf in await log_entries(copier)]
            assert sorted(entry.body for entry in copied) == sorted(envelopes)
            assert all(entry.source == Source("peer", origin="peer.test/log", index=in_peer[entry.body]) for entry in copied)
