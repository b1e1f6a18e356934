"""An aggregator logs filtering receipts (issue 10 §5): a real ``notrain filter`` run signs one, a real
``notrain serve`` process logs it, and the client code proves it is in the log."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys

import aiohttp
import pytest
from aiohttp import web
from aggregator_helpers import aggregator_config, running
from click.testing import CliRunner
from conftest import make_key
from serve_process import ServeProcess
from test_filter_batch import make_bundle
from test_filter_cli import write

from notrain.cli import main
from notrain.core import b64
from notrain.core.errors import NotrainError
from notrain.core.filterreceipt import RECEIPT_TYPE
from notrain.core.logentry import parse_entry
from notrain.core.note import NoteSigner
from notrain.core.receipt import open_receipt
from notrain.core.tiles import ENTRIES, TILE_WIDTH, TileId, decode_bundle, tile_width
from notrain.fetch import receipts
from notrain.fetch.snapshots import Trust
from notrain.keyfile import save_private_key

BUILDER = make_key("receipt builder")


def filtered_receipt(tmp_path) -> bytes:
    """A real filter run over a real bundle, signing its receipt with the builder's key."""
    make_bundle(tmp_path / "bundle.json")
    save_private_key(tmp_path / "builder.jwk", BUILDER)
    source = write(tmp_path / "in.parquet")
    result = CliRunner().invoke(main, ["filter", str(source), "--bundle", str(tmp_path / "bundle.json"), "--out", str(tmp_path / "out.parquet"),
                                       "--caption-col", "caption", "--receipt-key", str(tmp_path / "builder.jwk")])
    assert result.exit_code == 0, result.output
    return (tmp_path / "out.parquet.receipt.json").read_bytes()


async def _post(session: aiohttp.ClientSession, url: str, body: bytes) -> tuple[int, dict]:
    async with session.post(url + "/v1/receipts", data=body, headers={"Content-Type": RECEIPT_TYPE}) as response:
        return response.status, await response.json()


async def test_a_filter_receipt_is_logged_and_proved_included(tmp_path):
    envelope = filtered_receipt(tmp_path)
    serve = await ServeProcess(tmp_path / "serve").start()
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(serve.url + "/v1/log") as response:
                trust = Trust((await response.json())["vkey"])
            answer = await receipts.submit(serve.url, envelope, trust)  # the log's promise checked for this entry
            assert answer["created"] and answer["builder"] == BUILDER.public.did_key
            assert answer["sha256"] == hashlib.sha256(envelope).hexdigest()
            again = await receipts.submit(serve.url, envelope, trust)
            assert (again["entry"], again["created"], again["receipt"]) == (answer["entry"], False, answer["receipt"])

            deadline = asyncio.get_running_loop().time() + 60
            while (found := await receipts.included(serve.url, envelope, trust)) is None:
                assert asyncio.get_running_loop().time() < deadline, "not integrated in 60 s"
                await asyncio.sleep(0.1)
            assert found.log == "aggregator.test/log" and found.index < found.size
            # the entry in the log's own tiles is the receipt, exactly
            tile = TileId(ENTRIES, found.index // TILE_WIDTH, tile_width(0, found.index // TILE_WIDTH, found.size))
            async with session.get(f"{serve.url}/log/{tile.path}") as response:
                entry = parse_entry(decode_bundle(await response.read(), tile.width)[found.index % TILE_WIDTH])
            assert (entry.kind, entry.source.text, entry.body) == ("filtering-receipt", "submission", envelope)

            signed = json.loads(envelope)
            signed["signatures"][0]["sig"] = b64.std_encode(bytes(64))
            status, refused = await _post(session, serve.url, json.dumps(signed).encode())
            assert status == 422 and refused["error"]["code"] == "E_SIGNATURE_INVALID"
            for digest, expected in (("0" * 64, 404), ("ABC", 400)):
                async with session.get(f"{serve.url}/v1/receipts/{digest}") as response:
                    assert response.status == expected

        checked = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "notrain.cli", "receipt", "verify", str(tmp_path / "out.parquet.receipt.json"), "--input",
            str(tmp_path / "in.parquet"), "--output", str(tmp_path / "out.parquet"), "--aggregator", serve.url, "--log-key", trust.log_key,
            "--json", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(checked.communicate(), 120)
        assert checked.returncode == 0, err.decode()
        assert json.loads(out)["logged"]["index"] == found.index
    finally:
        assert serve.stop() == 0, serve.stderr()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_each_backend_dedupes_and_finds_receipts_and_a_wrong_promise_is_refused(tmp_path, request, backend):
    envelope = filtered_receipt(tmp_path)
    storage_url = "" if backend == "sqlite" else await request.getfixturevalue("postgres_cluster").new_database()
    async with running(aggregator_config(tmp_path / "data", storage_url)) as session:
        url = str(session._base_url).rstrip("/")
        async with session.get("/v1/log") as response:
            trust = Trust((await response.json())["vkey"])
        answer = await receipts.submit(url, envelope, trust)
        assert (await receipts.submit(url, envelope, trust))["entry"] == answer["entry"]
        deadline = asyncio.get_running_loop().time() + 60
        while (found := await receipts.included(url, envelope, trust)) is None:
            assert asyncio.get_running_loop().time() < deadline, "not integrated in 60 s"
            await asyncio.sleep(0.05)
        async with session.get(f"/v1/entries/{answer['entry']}") as response:
            assert (await response.json())["log_index"] == found.index
        with pytest.raises(NotrainError) as caught:
            await receipts.submit(url, envelope, Trust(NoteSigner("aggregator.test/log", make_key("not the log")).verifier.to_vkey()))
        assert caught.value.code == "E_NOTE_UNKNOWN_KEY"
        promise = open_receipt(answer["receipt"].encode(), trust.log.name, trust.log)
        promise.check_entry(receipts.entry_of(envelope, promise.time))
        with pytest.raises(NotrainError) as caught:
            promise.check_entry(receipts.entry_of(envelope + b"\n", promise.time))
        assert caught.value.code == "E_RECEIPT"


async def test_receipt_submissions_are_rate_limited_like_manifests(tmp_path):
    envelope = filtered_receipt(tmp_path)
    async with running(aggregator_config(tmp_path / "data", submissions={"per_minute": 1})) as session:
        statuses = []
        for _ in range(2):
            async with session.post("/v1/receipts", data=envelope, headers={"Content-Type": RECEIPT_TYPE}) as response:
                statuses.append((response.status, response.headers.get("Retry-After") is not None))
        assert statuses == [(202, False), (429, True)]


async def test_an_answer_arriving_in_pieces_is_read_whole(tmp_path):
    """The client reads an aggregator's answer to its end (up to its limit), not only what the first
    segment brought: a loopback server sends it in two writes, the second after a pause."""
    async def pending(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(b'{"status": ')
        await asyncio.sleep(0.2)
        await response.write(b'"pending"}')
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/v1/receipts/{sha256}", pending)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        assert await receipts.included(url, b"{}", Trust(NoteSigner("any.test/log", make_key("a log")).verifier.to_vkey())) is None
    finally:
        await runner.cleanup()
