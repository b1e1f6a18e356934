"""The aggregator's origin crawler against real local sites (tests/sites.py) and real SQLite storage.

The schedule is driven by an injected clock, so "crawled again after the interval" is checked by moving
the clock, never by waiting.  End to end, the background task of a real aggregator crawls an origin from
its configuration and one registered with ``POST /v1/origins``.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from aggregator_helpers import aggregator_config, running
from conftest import make_key
from sites import LocalCA, Site

from notrain.aggregator.ingest.crawler import RETRY_AFTER_FAILURE, Crawler, OriginError
from notrain.aggregator.ingest.submissions import Submissions
from notrain.aggregator.storage import open_storage
from notrain.core import dsse
from notrain.core.ijson import dumps
from notrain.core.keyset import make_keyset, make_rotation
from notrain.core.logentry import parse_entry
from notrain.core.manifest import MANIFEST_TYPE
from notrain.core.note import NoteSigner
from notrain.fetch.addresses import AddressPolicy
from notrain.fetch.http import HttpClient

INTERVAL = 3600
START = datetime(2026, 12, 1, tzinfo=UTC)
MANIFEST, KEYS = "/.well-known/notrain.json", "/.well-known/notrain-keys.json"


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def envelope(origin: str, key, sequence: int = 1, **members) -> bytes:
    doc = {"notrain": 1, "publisher": origin, "sequence": sequence, "issued": "2026-11-01T00:00:00Z",
           "expires": "2027-11-01T00:00:00Z", "default": {"train-ai": "n"}, **members}
    return dsse.sign(json.dumps(doc).encode(), MANIFEST_TYPE, [key]).to_bytes()


@pytest.fixture
async def storage(tmp_path):
    opened = await open_storage(f"sqlite:///{tmp_path / 'aggregator.sqlite'}")
    yield opened
    await opened.close()


@pytest.fixture
async def make_crawler(storage):
    clients = []

    def make(*, allow_loopback: bool = True, ssl=None) -> Crawler:
        addresses = AddressPolicy(allow_loopback=allow_loopback)
        client = HttpClient(timeout=5.0, addresses=addresses, ssl=ssl)
        clients.append(client)
        submissions = Submissions(storage, NoteSigner("aggregator.test/log", make_key("log")), max_merge_delay=60,
                                  fetch_keyset=None)  # crawls fetch their own key sets
        return Crawler(storage, client, submissions, interval=INTERVAL, addresses=addresses, clock=Clock())

    yield make
    for client in clients:
        await client.close()


async def logged(storage) -> list[tuple[str, str]]:
    """(kind, source) of every entry appended so far, oldest first (all are pending: no sequencer runs here)."""
    async with storage.sequencer() as sequencer:
        entries = await sequencer.pending(1000)
    return [(e.kind, parse_entry(e.leaf).source.text) for e in entries]


def serve_origin(site, key, sequence: int = 1, *, etag: str = '"v1"', keys=None, rotations=()) -> bytes:
    signed = envelope(site.origin, key, sequence)
    site.serve(MANIFEST, signed, ETag=etag)
    site.serve(KEYS, dumps(make_keyset(site.origin, keys or [key.public], tuple(rotations)).to_json()))
    return signed


async def test_an_origin_is_crawled_on_schedule_and_an_unchanged_one_logs_nothing(site, storage, make_crawler):
    crawler, key = make_crawler(), make_key("site")
    signed = serve_origin(site, key)
    assert await crawler.add(site.origin, "api") == START  # new: crawled at once
    [crawled] = await crawler.crawl_due()
    assert (crawled.outcome, crawled.status) == ("accepted", 200)
    assert (await storage.latest_manifest(site.origin)).envelope == signed
    assert await logged(storage) == [("keyset", f"url {site.origin}{KEYS}"), ("manifest", f"url {site.origin}{MANIFEST}")]
    stored = await storage.origin(site.origin)
    assert (stored.next_crawl_at, stored.failures, stored.validators["manifest"].etag) == (START + timedelta(seconds=INTERVAL), 0, '"v1"')

    crawler.clock.now = START + timedelta(seconds=INTERVAL - 1)
    assert await crawler.crawl_due() == []  # not due yet
    crawler.clock.now = START + timedelta(seconds=INTERVAL)
    [crawled] = await crawler.crawl_due()
    assert (crawled.outcome, crawled.status) == ("unchanged", 304)  # If-None-Match answered 304
    assert site.hits[MANIFEST] == 2 and site.hits[KEYS] == 1  # a 304 fetches no key set
    assert len(await logged(storage)) == 2  # nothing new logged
    assert (await storage.origin(site.origin)).next_crawl_at == START + timedelta(seconds=2 * INTERVAL)

    # Served again without validators: the same bytes are verified again and still log nothing.
    site.serve(MANIFEST, signed)
    crawler.clock.now += timedelta(seconds=INTERVAL)
    [crawled] = await crawler.crawl_due()
    assert crawled.outcome == "accepted" and not crawled.accepted.created and len(await logged(storage)) == 2


async def test_a_key_rotation_is_logged_and_the_pins_follow_it(site, storage, make_crawler):
    crawler, old, new = make_crawler(), make_key("old"), make_key("new")
    serve_origin(site, old)
    await crawler.add(site.origin, "api")
    await crawler.crawl_due()
    assert set(await storage.pinned_keys(site.origin)) == {old.public.kid}

    # The origin rotates and drops the old key: only the pinned old key's own material verifies the rotation.
    rotation = make_rotation(site.origin, old, new.public, START)
    serve_origin(site, new, 2, etag='"v2"', keys=[new.public], rotations=[rotation])
    crawler.clock.now += timedelta(seconds=INTERVAL)
    [crawled] = await crawler.crawl_due()
    assert crawled.outcome == "accepted", crawled.error
    assert [kind for kind, _ in await logged(storage)] == ["keyset", "manifest", "keyset", "rotation", "manifest"]
    async with storage.sequencer() as sequencer:
        rotation_entry = next(e for e in await sequencer.pending(10) if e.kind == "rotation")
    assert dsse.parse(parse_entry(rotation_entry.leaf).body) == rotation.envelope
    assert set(await storage.pinned_keys(site.origin)) == {new.public.kid}
    assert (await storage.latest_manifest(site.origin)).sequence == 2

    # A key set not connected to the pins by a signed rotation is refused: nothing stored, pins stay.
    thief = make_key("thief")
    serve_origin(site, thief, 3, etag='"v3"')
    crawler.clock.now += timedelta(seconds=INTERVAL)
    [crawled] = await crawler.crawl_due()
    assert crawled.outcome == "failed" and crawled.error.startswith("E_KEY_UNTRUSTED")
    assert set(await storage.pinned_keys(site.origin)) == {new.public.kid}
    assert (await storage.latest_manifest(site.origin)).sequence == 2 and len(await logged(storage)) == 5


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_pins_outlive_a_restart_and_still_follow_a_rotation(backend, request, tmp_path, site):
    """Both backends: the pinned key, gone from the key set after a restart, still verifies the rotation from it."""
    url = (f"sqlite:///{tmp_path / 'restart.sqlite'}" if backend == "sqlite"
           else await request.getfixturevalue("postgres_cluster").new_database())
    old, new = make_key("old"), make_key("new")
    signer = NoteSigner("aggregator.test/log", make_key("log"))
    for step in range(2):
        storage = await open_storage(url)
        client = HttpClient(timeout=5.0, addresses=AddressPolicy(allow_loopback=True))
        try:
            submissions = Submissions(storage, signer, max_merge_delay=60, fetch_keyset=None)
            crawler = Crawler(storage, client, submissions, interval=INTERVAL, addresses=client.addresses, clock=Clock())
            if step == 0:
                serve_origin(site, old)
                await crawler.add(site.origin, "api")
            else:  # after the restart: the origin rotated and dropped the old key
                serve_origin(site, new, 2, etag='"v2"', keys=[new.public], rotations=[make_rotation(site.origin, old, new.public, START)])
                crawler.clock.now += timedelta(seconds=INTERVAL)
            [crawled] = await crawler.crawl_due()
            assert crawled.outcome == "accepted", crawled.error
            assert set(await storage.pinned_keys(site.origin)) == {(old, new)[step].public.kid}
        finally:
            await client.close()
            await storage.close()


async def test_a_rollback_is_refused_and_an_equivocation_flagged(site, storage, make_crawler):
    crawler, key = make_crawler(), make_key("site")
    serve_origin(site, key, 2)
    await crawler.add(site.origin, "api")
    await crawler.crawl_due()
    serve_origin(site, key, 1, etag='"old"')
    crawler.clock.now += timedelta(seconds=INTERVAL)
    [crawled] = await crawler.crawl_due()
    assert crawled.outcome == "failed" and crawled.error.startswith("E_ROLLBACK")
    assert (await storage.origin(site.origin)).failures == 1
    assert (await storage.latest_manifest(site.origin)).sequence == 2

    twin = envelope(site.origin, key, 2, default={"train-ai": "y"})  # the same sequence, other bytes
    site.serve(MANIFEST, twin)
    crawler.clock.now += RETRY_AFTER_FAILURE
    [crawled] = await crawler.crawl_due()
    assert crawled.outcome == "accepted" and crawled.accepted.equivocation
    assert [m.sequence for m in await storage.equivocations(10)] == [2, 2]
    assert (await storage.latest_manifest(site.origin)).envelope != twin  # the first one received still counts


async def test_a_failing_origin_backs_off_and_changes_nothing(site, storage, make_crawler):
    crawler, key = make_crawler(), make_key("site")
    signed = serve_origin(site, key)
    await crawler.add(site.origin, "api")
    await crawler.crawl_due()
    entries = len(await logged(storage))

    site.serve(MANIFEST, "down", status=500)
    delays = []
    for _ in range(8):
        crawler.clock.now = (await storage.origin(site.origin)).next_crawl_at
        [crawled] = await crawler.crawl_due()
        assert (crawled.outcome, crawled.status, crawled.error) == ("failed", 500, "HTTP 500")
        delays.append((await storage.origin(site.origin)).next_crawl_at - crawler.clock.now)
    # Sooner than the interval, doubling, never beyond the interval.
    assert delays == [RETRY_AFTER_FAILURE * 2**n for n in range(6)] + [timedelta(seconds=INTERVAL)] * 2
    assert (await storage.origin(site.origin)).failures == 8
    # Fail closed: a failure stores, logs and moves nothing; the last verified manifest and pins stay.
    assert (await storage.latest_manifest(site.origin)).envelope == signed
    assert set(await storage.pinned_keys(site.origin)) == {key.public.kid}
    assert len(await logged(storage)) == entries
    assert (await storage.origin(site.origin)).validators == {}  # the next request is unconditional

    site.serve(MANIFEST, "gone", status=404)  # no manifest: recorded, not a failure
    crawler.clock.now = (await storage.origin(site.origin)).next_crawl_at
    [crawled] = await crawler.crawl_due()
    assert (crawled.outcome, crawled.status) == ("absent", 404)
    stored = await storage.origin(site.origin)
    assert (stored.failures, stored.next_crawl_at - crawler.clock.now) == (0, timedelta(seconds=INTERVAL))


async def test_a_key_set_that_cannot_be_fetched_or_a_bare_manifest_over_http_is_a_failure(sites, storage, make_crawler):
    crawler = make_crawler()
    signed_site, bare_site = await sites(), await sites()
    signed_site.serve(MANIFEST, envelope(signed_site.origin, make_key("site")))  # no key set served
    bare_site.serve(MANIFEST, json.dumps({"notrain": 1, "publisher": bare_site.origin, "sequence": 1, "issued": "2026-11-01T00:00:00Z",
                                          "expires": "2027-11-01T00:00:00Z", "default": {"train-ai": "n"}}))
    for site in (signed_site, bare_site):
        await crawler.add(site.origin, "api")
    outcomes = {c.origin: (c.outcome, (c.error or "").split(":")[0]) for c in await crawler.crawl_due()}
    assert outcomes == {signed_site.origin: ("failed", "E_KEYSET"), bare_site.origin: ("failed", "E_UNSIGNED")}
    assert await logged(storage) == []


async def test_a_bare_manifest_over_https_is_checked_never_stored_and_refused_once_the_origin_signs(tmp_path, storage, make_crawler):
    site = await Site(tls=LocalCA(tmp_path)).start()
    try:
        crawler, key = make_crawler(ssl=site.tls.client_context()), make_key("site")
        bare = {"notrain": 1, "publisher": site.origin, "sequence": 5, "issued": "2026-11-01T00:00:00Z",
                "expires": "2027-11-01T00:00:00Z", "default": {"train-ai": "n"}}
        site.serve(MANIFEST, json.dumps(bare))
        await crawler.add(site.origin, "api")
        [crawled] = await crawler.crawl_due()
        assert (crawled.outcome, crawled.error) == ("bare", None)
        assert await storage.latest_manifest(site.origin) is None and await logged(storage) == []

        serve_origin(site, key)  # the origin starts signing
        crawler.clock.now += timedelta(seconds=INTERVAL)
        assert (await crawler.crawl_due())[0].outcome == "accepted"
        site.serve(MANIFEST, json.dumps({**bare, "sequence": 9}))  # a hijacked server goes back to bare
        crawler.clock.now += timedelta(seconds=INTERVAL)
        [crawled] = await crawler.crawl_due()
        assert crawled.outcome == "failed" and crawled.error.startswith("E_UNSIGNED")
        assert (await storage.latest_manifest(site.origin)).sequence == 1
    finally:
        await site.stop()


async def test_an_origin_resolving_to_loopback_is_refused_without_allow_loopback(site, storage, make_crawler):
    crawler = make_crawler(allow_loopback=False)
    for origin in (f"http://localhost:{site.port}", site.origin):  # a name resolving to loopback, an IP literal
        with pytest.raises(OriginError) as refused:
            await crawler.add(origin, "api")
        assert refused.value.code == "E_ORIGIN_REFUSED" and "loopback" in refused.value.message
    with pytest.raises(OriginError) as refused:
        await crawler.add(site.origin + "/path", "api")
    assert refused.value.code == "E_REQUEST"
    assert await storage.origin(site.origin) is None

    # An origin that got in anyway (the configuration is not resolved at startup) is refused at every fetch.
    serve_origin(site, make_key("site"))
    await crawler.add(site.origin, "config", check_address=False)
    [crawled] = await crawler.crawl_due()
    assert crawled.outcome == "failed" and "refused address" in crawled.error and "loopback" in crawled.error
    assert site.hits[MANIFEST] == 0 and await logged(storage) == []


async def test_the_running_aggregator_crawls_configured_and_registered_origins(sites, tmp_path):
    configured, registered = await sites(), await sites()
    for site, name in ((configured, "configured"), (registered, "registered")):
        serve_origin(site, make_key(name))
    config = aggregator_config(tmp_path, crawl={"origins": [configured.origin]})
    async with running(config) as api:
        async with api.post("/v1/origins", json={"origin": registered.origin}) as response:
            body = await response.json()
            assert response.status == 202, body
            assert body["origin"] == registered.origin and body["interval"] == config.crawl.interval
        for site in (configured, registered):
            await crawled(api, site.origin)
        async with api.post("/v1/origins", data=b'{"origin": 1}', headers={"Content-Type": "application/json"}) as response:
            assert response.status == 400 and (await response.json())["error"]["code"] == "E_REQUEST"

        async def in_two_pieces():  # a body that arrives in two segments is read whole
            document = json.dumps({"origin": registered.origin}).encode()
            yield document[:5]
            await asyncio.sleep(0.2)
            yield document[5:]

        async with api.post("/v1/origins", data=in_two_pieces(), headers={"Content-Type": "application/json"}) as response:
            assert response.status == 202, await response.text()


async def test_the_api_refuses_an_origin_on_loopback_unless_allowed(site, tmp_path):
    config = aggregator_config(tmp_path, crawl={"allow_loopback": False})
    async with running(config) as api, api.post("/v1/origins", json={"origin": site.origin}) as response:
        body = await response.json()
        assert response.status == 422 and body["error"]["code"] == "E_ORIGIN_REFUSED", body


async def crawled(api, publisher: str, timeout: float = 30.0) -> dict:
    """Poll the API until the publisher's crawled manifest is stored."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        async with api.get("/v1/publisher", params={"id": publisher}) as response:
            if response.status == 200:
                return await response.json()
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{publisher} not crawled within {timeout} s")
        await asyncio.sleep(0.05)
