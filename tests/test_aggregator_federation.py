"""Federation with three real `notrain serve` processes on 127.0.0.1, each peering with the others, and one
loopback server impersonating a fourth peer that serves garbage (spec/log.md, "Federation").

One scenario, in order: manifests submitted to different aggregators reach all three, each copy citing the
peer log and index it came from; one aggregator goes down, misses a submission, comes back and catches up;
one is restarted with a different history under the same log key: both others catch the fork, keep and
serve both checkpoints as evidence, and copy nothing of its new history; all along the impostor's
garbage is refused with typed errors, and the others keep syncing and sequencing.  No sleeps: every wait
polls with a generous deadline.
"""

from __future__ import annotations

import asyncio
import json
import shutil

import aiohttp
import pytest
from aggregator_helpers import ENVELOPE_TYPE, did_manifest
from conftest import make_key
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from serve_process import ServeProcess, toml
from test_aggregator_openapi import DOCUMENT
from test_aggregator_parts import form, part_document, reference, sha
from test_aggregator_web import read_page

from notrain.core import b64
from notrain.core.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from notrain.core.logentry import Source, parse_entry
from notrain.core.merkle import verify_consistency
from notrain.core.note import NoteSigner, NoteVerifier
from notrain.core.tiles import ENTRIES, TileId, decode_bundle, integrate, parse_tile_path, tile_width
from notrain.keyfile import save_private_key

DEADLINE = 60.0
NAMES = ("a", "b", "c")


def origin(name: str) -> str:
    return f"{name}.test/log"


async def until(what: str, probe, deadline: float = DEADLINE):
    """Poll ``probe()`` until it returns something true; fail after ``deadline`` seconds."""
    end = asyncio.get_running_loop().time() + deadline
    while True:
        found = await probe()
        if found:
            return found
        if asyncio.get_running_loop().time() > end:
            raise AssertionError(f"not within {deadline} s: {what}")
        await asyncio.sleep(0.05)


class Impostor:
    """A loopback HTTP server in this process that answers as the peer log ``g.test/log`` does not: a real
    three-entry tree under the configured key, served with one thing wrong at a time (``mode``)."""

    def __init__(self) -> None:
        self.signer = NoteSigner(origin("g"), make_key("impostor log"))
        self.tree = integrate(0, [b"impostor %d" % i for i in range(3)], {}.__getitem__)
        self.mode = "tiles"
        self.runner: aiohttp.web.AppRunner | None = None

    def checkpoint(self) -> bytes:
        note = sign_checkpoint(Checkpoint(origin("g"), self.tree.size, self.tree.root), self.signer)
        if self.mode == "signature":  # the configured key's name and id, a signature of other bytes
            head, _, line = note.rpartition(b"\xe2\x80\x94 ")
            name, _, signature = line.rstrip(b"\n").partition(b" ")
            raw = bytearray(b64.std_decode(signature.decode(), where="signature"))
            raw[-1] ^= 1
            return head + b"\xe2\x80\x94 " + name + b" " + b64.std_encode(bytes(raw)).encode() + b"\n"
        if self.mode == "oversize":
            return note + b"x" * (64 * 1024)
        return note

    async def handle(self, request: aiohttp.web.Request) -> aiohttp.web.Response:
        if request.path == "/log/checkpoint":
            return aiohttp.web.Response(body=self.checkpoint())
        tile = parse_tile_path(request.path.removeprefix("/log/"))
        data = self.tree.tiles[tile]
        if (self.mode, tile.level) in (("tiles", 0), ("bundle", ENTRIES)):
            data = data[:-1] + bytes([data[-1] ^ 1])  # one bit of the leaf hashes, or of an entry
        if self.mode == "tile oversize" and tile.level == 0:
            data += bytes(32)
        return aiohttp.web.Response(body=data)

    async def start(self) -> str:
        app = aiohttp.web.Application()
        app.router.add_get("/{path:.*}", self.handle)
        self.runner = aiohttp.web.AppRunner(app)
        await self.runner.setup()
        site = aiohttp.web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"


class Aggregators:
    """The three processes, their log keys and a client session."""

    def __init__(self, tmp_path, session: aiohttp.ClientSession, impostor_url: str, impostor_vkey: str) -> None:
        self.session = session
        self.vkeys, self.processes = {}, {}
        for name in NAMES:
            key = make_key(f"log {name}")
            save_private_key(tmp_path / f"{name}.jwk", key)
            self.vkeys[name] = NoteSigner(origin(name), key).verifier.to_vkey()
        for name in NAMES:
            self.processes[name] = ServeProcess(
                tmp_path / name, key_file=tmp_path / f"{name}.jwk", log={"origin": origin(name)},
                federation={"interval": 0.1},
            )
        for name, process in self.processes.items():
            peers = [{"url": self.processes[other].url, "vkey": self.vkeys[other]} for other in NAMES if other != name]
            if name == "a":
                peers.append({"url": impostor_url, "vkey": impostor_vkey})
            process.config_path.write_text(process.config_path.read_text() + toml({"peers": peers}))

    async def get(self, name: str, path: str, **params) -> tuple[int, bytes]:
        async with self.session.get(self.processes[name].url + path, params=params) as response:
            return response.status, await response.read()

    async def json(self, name: str, path: str, **params):
        status, body = await self.get(name, path, **params)
        assert status == 200, (name, path, status, body[:300])
        return json.loads(body)

    async def submit(self, name: str, envelope: bytes) -> None:
        url = self.processes[name].url + "/v1/manifests"
        async with self.session.post(url, data=envelope, headers={"Content-Type": ENVELOPE_TYPE}) as response:
            assert response.status == 202, await response.text()

    async def holds(self, name: str, envelope: bytes, publisher: str) -> bool:
        status, body = await self.get(name, "/v1/publisher/envelope", id=publisher)
        return status == 200 and body == envelope

    async def peer(self, name: str, peer: str) -> dict:
        return next(p for p in (await self.json(name, "/v1/peers"))["peers"] if p["origin"] == origin(peer))

    async def entries(self, name: str) -> list[bytes]:
        """Every entry of the aggregator's log, read from its tiles."""
        note = (await self.get(name, "/log/checkpoint"))[1]
        size = int(note.split(b"\n")[1])
        found = []
        for index in range((size + 255) // 256):
            tile = TileId(ENTRIES, index, tile_width(0, index, size))
            found += decode_bundle((await self.get(name, "/log/" + tile.path))[1], tile.width)
        return found


def manifest(name: str) -> tuple[bytes, str]:
    key = make_key(f"artist {name}")
    return did_manifest(key, names=[{"name": f"Artist {name}"}]), key.public.did_key


async def test_three_aggregators_converge_catch_up_catch_a_fork_and_refuse_garbage(tmp_path):
    impostor = Impostor()
    impostor_url = await impostor.start()
    async with aiohttp.ClientSession() as session:
        nodes = Aggregators(tmp_path, session, impostor_url, impostor.signer.verifier.to_vkey())
        try:
            await asyncio.gather(*(p.start() for p in nodes.processes.values()))
            await _converge_and_cite(nodes)
            await _garbage_is_refused(nodes, impostor)
            await _down_and_back(nodes)
            await _fork_is_caught(nodes, tmp_path)
            # nothing else was disturbed: a and c still sync with each other, and a still sequences its own log
            envelope, publisher = manifest("after")
            await nodes.submit("a", envelope)
            await until("c copies a's manifest after the fork", lambda: nodes.holds("c", envelope, publisher))
            assert (await nodes.peer("a", "c"))["status"] == "ok"
        finally:
            for process in nodes.processes.values():
                process.stop()
            await impostor.runner.cleanup()


async def _converge_and_cite(nodes: Aggregators) -> None:
    submitted = {name: manifest(name) for name in NAMES}
    for name, (envelope, _) in submitted.items():
        await nodes.submit(name, envelope)
    artist = make_key("artist with a part")  # its part is logged before it, and copied before it too
    part = part_document(artist.public.did_key, [sha("sketch")])
    with_part = did_manifest(artist, parts=[reference(part)])
    async with nodes.session.post(nodes.processes["c"].url + "/v1/manifests", data=form(with_part, [part])) as response:
        assert response.status == 202, await response.text()
    expected = sorted([envelope for envelope, _ in submitted.values()] + [part, with_part])
    for name in NAMES:  # each body logged once, whichever peers offered it

        async def converged(name=name):
            logged = sorted(e.body for e in map(parse_entry, await nodes.entries(name)) if e.kind in ("manifest", "part"))
            return logged == expected

        await until(f"{name}'s log holds the four manifests and the part", converged)
    # b's copy of a's manifest cites the entry of a's log that holds the same bytes
    envelope_a = submitted["a"][0]
    in_a = [(i, e.source) for i, e in enumerate(map(parse_entry, await nodes.entries("a"))) if e.body == envelope_a]
    cited = [e.source for e in map(parse_entry, await nodes.entries("b")) if e.body == envelope_a]
    assert len(in_a) == 1 and in_a[0][1] == Source("submission")
    assert cited == [Source("peer", origin=origin("a"), index=in_a[0][0])]


async def _garbage_is_refused(nodes: Aggregators, impostor: Impostor) -> None:
    refusals = [
        ("tiles", "E_TILE: the tiles of size 3 do not hash"),  # first contact: nothing stored
        ("bundle", "E_TILE: tile/0/000.p/3 does not hold the hashes"),  # its checkpoint stored, no entry copied
        ("tile oversize", "E_SIZE: "),
        ("signature", "E_NOTE_SIGNATURE: "),
        ("oversize", "E_SIZE: /log/checkpoint: more than 16384 octets"),
    ]
    for mode, error in refusals:
        impostor.mode = mode

        async def refused(error=error):
            state = await nodes.peer("a", "g")
            return state["status"] == "error" and state["error"].startswith(error) and state

        state = await until(f"a refuses the impostor's {mode}", refused)
        assert state["copied"] == 0 and (state["checkpoint"] is None) == (mode == "tiles")
    assert (await nodes.peer("a", "b"))["status"] == "ok" and (await nodes.peer("a", "c"))["status"] == "ok"


async def _down_and_back(nodes: Aggregators) -> None:
    nodes.processes["c"].stop()
    envelope, publisher = manifest("while c was down")
    await nodes.submit("a", envelope)
    await until("b copies it", lambda: nodes.holds("b", envelope, publisher))

    async def c_down():
        state = await nodes.peer("a", "c")
        return state["status"] == "error" and state["error"].startswith("E_SOURCE:")

    await until("a finds c unreachable", c_down)
    await nodes.processes["c"].start()
    await until("c catches up", lambda: nodes.holds("c", envelope, publisher))
    await until("a reads c again", lambda: _status(nodes, "a", "c", "ok"))


async def _fork_is_caught(nodes: Aggregators, tmp_path) -> None:
    """b restarts with an empty data directory under the same log key: its new log copies the others'
    entries in another order and takes new submissions, so its tree is not an extension of the old one."""
    nodes.processes["b"].stop()
    shutil.move(tmp_path / "b" / "data", tmp_path / "b-old-data")
    await nodes.processes["b"].start()
    forked = [manifest(f"only in b's second history {i}") for i in range(3)]
    for envelope, _ in forked:
        await nodes.submit("b", envelope)
    for name in ("a", "c"):
        await until(f"{name} catches b's fork", lambda name=name: _status(nodes, name, "b", "forked"))
        [fork] = (await nodes.json(name, "/v1/evidence"))["forks"]
        verifier = NoteVerifier.from_vkey(nodes.vkeys["b"])
        old = open_checkpoint(fork["old"].encode(), origin("b"), verifier).checkpoint
        new = open_checkpoint(fork["new"].encode(), origin("b"), verifier).checkpoint
        assert fork["origin"] == origin("b") and old.size <= new.size and old != new
        if old.size < new.size:  # the proof built from b's own tiles does not join the two trees
            with pytest.raises(Exception, match="E_PROOF"):
                verify_consistency(old.size, new.size, old.root, new.root, [b64.std_decode(h, where="proof") for h in fork["proof"]])
        for path in ("/v1/peers", "/v1/evidence"):  # non-empty answers, against the OpenAPI document
            status, body = await nodes.get(name, path)
            request = MockRequest("http://127.0.0.1", "get", path)
            OpenAPI.from_dict(DOCUMENT).validate_response(request, MockResponse(body, status, content_type="application/json"))
        async with nodes.session.get(nodes.processes[name].url + "/peers") as response:
            page = await read_page(response, 200)  # the page's own rules (tags, headers, no outside links)
        assert "forked" in page.text and fork["new"].split("\n")[2] in page.text and fork["old"].split("\n")[2] in page.text
    # its new entries are refused: after further rounds of a (seen by its state of c moving on), none is copied
    before = (await nodes.peer("a", "c"))["checked_at"]
    await until("a runs another round", lambda: _moved(nodes, before))
    for envelope, publisher in forked:
        assert not await nodes.holds("a", envelope, publisher) and not await nodes.holds("c", envelope, publisher)
    assert (await nodes.peer("a", "b"))["status"] == "forked"


async def _status(nodes: Aggregators, name: str, peer: str, status: str) -> bool:
    return (await nodes.peer(name, peer))["status"] == status


async def _moved(nodes: Aggregators, before: str) -> bool:
    return (await nodes.peer("a", "c"))["checked_at"] != before
