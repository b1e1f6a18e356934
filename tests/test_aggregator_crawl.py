"""Issue 8's "done when": a real Scrapy crawl of the example site whose ONLY source is a live aggregator.

The artist's envelope reaches the crawler through the aggregator alone (submitted as
``examples/site/serve.py --aggregator`` does); the crawl verifies its signature itself, proves it is in
the log's signed checkpoint, and honours the artist's work (the board's re-encoded repost, matched by
PDQ) and name.  The aggregator runs in this process on a real port; the crawl is ``scrapy crawl``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys

import pytest
from aggregator_helpers import aggregator_config, did_manifest, integrated, submit
from aiohttp import ClientSession, web
from conftest import make_key
from services import free_port
from test_example_crawl import EXAMPLES, load_serve

from notrain.aggregator.app import create_app
from notrain.core.note import NoteSigner
from notrain.fetch.aggregator import AggregatorSource
from notrain.scrapy.options import SettingsError
from notrain.scrapy.sources import _source


@pytest.fixture
async def example(tmp_path):
    (tmp_path / "site").mkdir()
    site = await load_serve().Example(free_port(), free_port(), tmp_path / "site").start()
    yield site
    await site.stop()


@pytest.fixture
async def aggregator(tmp_path):
    runner = web.AppRunner(create_app(aggregator_config(tmp_path / "aggregator")), access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def crawl(example, tmp_path, source: str) -> tuple[str, dict, dict]:
    out = tmp_path / "out"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "scrapy", "crawl", "gallery", "-a", f"site={example.gallery}", "-a", f"board={example.board}",
        "-s", f"NOTRAIN_SOURCES={source}", "-s", f"IMAGES_STORE={out / 'images'}",
        "-s", f"NOTRAIN_REPORT_PATH={out / 'report.json'}", "-s", "LOG_LEVEL=INFO", "-O", str(out / "items.jsonl"),
        cwd=EXAMPLES / "crawler", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), 90)
    assert process.returncode == 0, err.decode()
    items = [json.loads(line) for line in (out / "items.jsonl").read_text().splitlines()]
    return err.decode(), {item["image_urls"][0].rsplit("/", 1)[1]: item for item in items}, json.loads((out / "report.json").read_text())


def assert_the_artist_is_honoured(example, by_image: dict, crawl_log: str) -> None:
    """What a crawl that learned the did:key artist's manifest does with the example board."""
    # The artist's work, reposted re-encoded on the board: recognised by PDQ, downloaded once, never stored.
    assert by_image["8841.jpg"]["images"] == []
    assert by_image["8841.jpg"]["notrain"]["media_not_stored"][0]["mechanisms"] == ["notrain"]
    # The artist's name in a caption: the item is dropped (and its image never fetched).
    assert "spiral.png" not in by_image and example.hits[example.gallery, "/images/sketches/spiral.png"] == 0
    assert "item_dropped_reasons_count/OptedOutItem': 1" in crawl_log


async def test_a_crawl_with_the_aggregator_as_its_only_source_honours_the_artist(example, aggregator, tmp_path):
    example.bundle.unlink()  # no other way for the crawl to learn the artist's manifest
    answer = await example.submit_to(aggregator)
    async with ClientSession(base_url=aggregator) as session:
        done = await integrated(session, answer["entry"])
        async with session.get("/v1/log") as response:
            vkey = (await response.json())["vkey"]

    log, by_image, report = await crawl(example, tmp_path, f"aggregator+{aggregator}#{vkey}")

    assert_the_artist_is_honoured(example, by_image, log)
    # The report cites what was honoured: the aggregator's signed checkpoint and the manifest's place in it.
    (source,) = report["sources"]
    assert source["kind"] == "aggregator" and source["url"] == aggregator and source["rejected"] == []
    assert source["checkpoint"].startswith("aggregator.test/log\n") and source["size"] >= done["log_index"] + 1
    (manifest,) = source["manifests"]
    assert manifest["publisher"] == answer["publisher"] and manifest["digest"] == answer["payload_sha256"]
    assert manifest["log_index"] == done["log_index"]


async def test_a_crawl_stops_when_the_aggregator_checkpoint_is_not_signed_by_the_given_key(example, aggregator, tmp_path):
    answer = await example.submit_to(aggregator)
    async with ClientSession(base_url=aggregator) as session:
        await integrated(session, answer["entry"])
    other = NoteSigner("aggregator.test/log", make_key("not the log")).verifier.to_vkey()  # same name, another key
    out = tmp_path / "out"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "scrapy", "crawl", "gallery", "-a", f"site={example.gallery}", "-a", f"board={example.board}",
        "-s", f"NOTRAIN_SOURCES=aggregator+{aggregator}#{other}", "-s", f"NOTRAIN_REPORT_PATH={out / 'report.json'}",
        cwd=EXAMPLES / "crawler", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), 90)
    assert process.returncode != 0 or not (out / "report.json").exists()
    assert "the checkpoint does not verify" in err.decode() and example.hits[example.gallery, "/"] == 0


@pytest.fixture
async def proxy():
    """A man in the middle in front of an aggregator: ``tamper[path](body) -> body`` alters answers."""
    runners = []

    async def start(upstream: str, tamper: dict) -> str:
        async def forward(request: web.Request) -> web.Response:
            async with ClientSession() as session, session.get(upstream + request.path_qs) as response:
                body = await response.read()
                change = tamper.get(request.path)
                return web.Response(status=response.status, body=change(body) if change else body)

        app = web.Application()
        app.router.add_get("/{tail:.*}", forward)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runners.append(runner)
        return f"http://127.0.0.1:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


async def log_key(aggregator: str) -> str:
    async with ClientSession() as session, session.get(aggregator + "/v1/log") as response:
        return (await response.json())["vkey"]


async def submit_artists(aggregator: str, count: int) -> list[dict]:
    answers = []
    async with ClientSession(base_url=aggregator) as session:
        for n in range(count):
            status, body = await submit(session, did_manifest(make_key(f"artist {n}"), names=[{"name": f"Artist Number {n}"}]))
            assert status == 202
            answers.append(body)
        await integrated(session, answers[-1]["entry"])
    return answers


async def test_the_source_pages_through_every_publisher_and_proves_each_in_the_log(aggregator):
    answers = await submit_artists(aggregator, 130)  # more than one page of /v1/publishers
    source = AggregatorSource(aggregator, log_key=await log_key(aggregator))
    catalog = await source.load()
    source._catalog = catalog
    assert source.rejected == [] and len(catalog) == 130
    assert catalog.text_statements("by Artist Number 129")[0].evidence.publisher == answers[129]["publisher"]
    described = source.describe()
    assert sorted(m["log_index"] for m in described["manifests"]) == list(range(130))
    assert described["log"] == "aggregator.test/log" and described["size"] == 130


async def test_an_altered_envelope_is_rejected_and_the_others_still_load(aggregator, proxy):
    await submit_artists(aggregator, 3)
    victim = make_key("artist 1").public.did_key

    def altered(body: bytes) -> bytes:  # the aggregator swaps in another artist's manifest for this one
        doc = json.loads(body)
        return did_manifest(make_key("artist 2"), names=[{"name": "Someone Else"}]) if victim in doc_payload(doc) else body

    source = AggregatorSource(await proxy(aggregator, {"/v1/publisher/envelope": altered}))
    catalog = await source.load()
    assert len(catalog) == 2 and victim not in catalog
    assert [(r.publisher, r.error.split(":")[0]) for r in source.rejected] == [(victim, "E_UNKNOWN_KEY")]


async def test_with_the_log_key_an_envelope_not_proven_in_the_log_is_rejected(aggregator, proxy):
    await submit_artists(aggregator, 3)

    def moved(body: bytes) -> bytes:  # the aggregator points at another entry of its log
        doc = json.loads(body)
        doc["latest"]["log_index"] = (doc["latest"]["log_index"] + 1) % 3
        return json.dumps(doc).encode()

    source = AggregatorSource(await proxy(aggregator, {"/v1/publisher": moved}), log_key=await log_key(aggregator))
    catalog = await source.load()
    assert len(catalog) == 0 and {r.error.split(":")[0] for r in source.rejected} == {"E_LOG_ENTRY"}
    # Without the log key the same aggregator's envelopes are still verified, but nothing is proven.
    plain = AggregatorSource(await proxy(aggregator, {"/v1/publisher": moved}))
    assert len(await plain.load()) == 3


def doc_payload(doc: dict) -> str:
    return base64.b64decode(doc["payload"]).decode()



def test_notrain_sources_spells_an_aggregator_as_a_string_or_a_dict():
    vkey = NoteSigner("aggregator.test/log", make_key("log")).verifier.to_vkey()
    plain = _source("aggregator+https://aggregator.example/", None)
    assert isinstance(plain, AggregatorSource) and (plain.url, plain.log_key) == ("https://aggregator.example", None)
    keyed = _source(f"aggregator+http://127.0.0.1:8470#{vkey}", None)
    assert (keyed.url, keyed.log_key) == ("http://127.0.0.1:8470", vkey)
    assert _source({"aggregator": "https://a.example", "log_key": vkey}, None).log_key == vkey
    for wrong in ("aggregator+ftp://a.example", f"aggregator+https://a.example#{vkey[:-4]}", {"aggregator": "https://a.example", "key": vkey}):
        with pytest.raises(SettingsError, match="NOTRAIN_SOURCES"):
            _source(wrong, None)
