"""Manifests with parts at the aggregator: crawled, submitted, logged as `part` entries, indexed, snapshotted.

Real parts throughout: a real application on 127.0.0.1 (SQLite and PostgreSQL), a loopback origin serving a
signed manifest whose catalogue is split into parts (one small enough to sit inline in its log entry, one
detached), real Ed25519 keys.  A part that does not match its reference refuses the whole manifest and
leaves nothing in the log; a work listed only in a part is answered with evidence citing the manifest and
the part's own log entry, and the snapshot built from the log (and rebuilt from its tiles alone) holds it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from datetime import UTC, datetime

import aiohttp
import pytest
from aggregator_helpers import did_manifest, integrated, origin_manifest, submit
from conftest import make_key
from test_aggregator_crawl import log_key, proxy  # noqa: F401 - proxy is a fixture
from test_aggregator_snapshots import aggregator, fetch_snapshot, rebuild_from_tiles

from notrain.aggregator.ingest.crawler import Crawler
from notrain.aggregator.ingest.parts import PartsError, load_parts
from notrain.aggregator.ingest.submissions import Submissions
from notrain.aggregator.query import Query
from notrain.aggregator.state import SERVICE
from notrain.aggregator.storage import open_storage
from notrain.core import ContentHash, dsse
from notrain.core.ijson import dumps
from notrain.core.logentry import Source, parse_entry
from notrain.core.manifest import MAX_PART_BYTES
from notrain.core.note import NoteSigner
from notrain.core.snapshot import load
from notrain.core.verify import trusted_keys, verify_manifest
from notrain.fetch.addresses import AddressPolicy
from notrain.fetch.aggregator import AggregatorSource
from notrain.fetch.http import HttpClient
from notrain.fetch.manifests import MAX_CATALOGUE_BYTES, fetch_parts

MANIFEST = "/.well-known/notrain.json"
LOG = "aggregator.test/log"


def sha(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def part_document(publisher: str, works: list[str], sequence: int = 1) -> bytes:
    return dumps({"notrain-part": 1, "publisher": publisher, "sequence": sequence, "works": [{"sha256": w} for w in works]})


def reference(data: bytes, url: str | None = None) -> dict:
    return {"sha256": sha(data), "size": len(data), **({"url": url} if url else {})}


def catalogue(site, key) -> tuple[bytes, list[bytes]]:
    """An origin's manifest with two parts it serves: one small (inline in its entry), one over 64 KiB (detached)."""
    small = part_document(site.origin, [sha("only in part 0")])
    large = part_document(site.origin, [sha(f"board upload {i}") for i in range(1200)])
    site.serve("/.well-known/parts/0.json", small)
    site.serve("/.well-known/parts/1.json", large)
    envelope = origin_manifest(site, key, works=[{"sha256": sha("in the index")}],
                               parts=[reference(small, "parts/0.json"), reference(large, "parts/1.json")])
    site.serve(MANIFEST, envelope)
    return envelope, [small, large]


async def check_sha256(session, digest: str) -> dict:
    async with session.get("/v1/check", params={"sha256": digest, "purpose": "train-ai"}) as response:
        assert response.status == 200
        return (await response.json())["decision"]["train-ai"]


async def answered(session, digest: str, timeout: float = 30.0) -> dict:
    """Poll until the work is disallowed (the crawler runs on its own schedule)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while (answer := await check_sha256(session, digest))["state"] != "disallowed":
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{digest} not answered in {timeout} s: {answer}")
        await asyncio.sleep(0.05)
    return answer


async def logged(storage) -> list[tuple[str, str, bytes | None]]:
    """(kind, source, body) of every sequenced entry, in log order."""
    size = (await storage.checkpoint()).size
    entries = [parse_entry(entry.leaf) for entry in await storage.entries(0, size)]
    return [(entry.kind, entry.source.text, entry.body) for entry in entries]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_a_crawled_manifest_with_parts_is_logged_answered_and_snapshotted_whole(tmp_path, request, site, backend):
    key = make_key("parts site")
    envelope, parts = catalogue(site, key)
    storage_url = "" if backend == "sqlite" else await request.getfixturevalue("postgres_cluster").new_database()
    async with aggregator(tmp_path, storage_url) as (app, session, _):
        service = app[SERVICE]
        await service.crawler.add(site.origin, "test")

        # A work listed only in part 0 is answered, citing the manifest and the part's own entry.
        (cited,) = (await answered(session, sha("only in part 0")))["because"]
        assert cited["publisher"] == site.origin and cited["payload_sha256"] == sha(dsse.parse(envelope).payload)
        assert cited["rule"] == "/parts/0/works/0" and cited["part"]["index"] == 0 and cited["part"]["sha256"] == sha(parts[0])
        assert (await check_sha256(session, sha("board upload 1199")))["because"][0]["part"]["index"] == 1
        assert (await check_sha256(session, sha("in the index")))["because"][0].get("part") is None
        part_done = await integrated(session, cited["part"]["entry"])
        manifest_done = await integrated(session, cited["entry"])
        again = (await check_sha256(session, sha("only in part 0")))["because"][0]
        assert again["part"]["log_index"] == part_done["log_index"] < again["log_index"] == manifest_done["log_index"]

        # The log: the key set, each part (from the URL it was read at, the large one detached), then the manifest.
        entries = await logged(service.storage)
        assert [kind for kind, _, _ in entries] == ["keyset", "part", "part", "manifest"]
        assert entries[1][1:] == (f"url {site.origin}/.well-known/parts/0.json", parts[0])
        assert entries[2][1:] == (f"url {site.origin}/.well-known/parts/1.json", None)
        assert site.hits["/.well-known/parts/0.json"] == site.hits["/.well-known/parts/1.json"] == 1
        async with session.get("/publisher", params={"id": site.origin}) as response:  # the page counts every work
            assert "<dt>Works</dt><dd>1202</dd>" in await response.text()

        # Crawled again (no ETag, so the manifest is read whole): its parts come from the log, nothing is fetched twice.
        crawled = await service.crawler.crawl(await service.storage.origin(site.origin))
        assert crawled.outcome == "accepted" and not crawled.accepted.created
        assert site.hits["/.well-known/parts/0.json"] == site.hits["/.well-known/parts/1.json"] == 1
        assert [entry.id for entry in crawled.accepted.parts] == [cited["part"]["entry"], cited["part"]["entry"] + 1]

        # The snapshot holds the part's works, and anyone rebuilds it from the log's tiles alone.
        stored = await service.snapshots.build_once()
        info, descriptor, snapshot_parts = await fetch_snapshot(session)
        assert info["id"] == stored.id
        snapshot = load(descriptor, snapshot_parts, log=LOG, full=True)
        for work in ("only in part 0", "board upload 0", "in the index"):
            assert [r["publisher"] for r in snapshot.confirm_work(bytes.fromhex(sha(work)))] == [site.origin]
        assert await rebuild_from_tiles(session, info["size"], base64.b64decode(info["root"])) == (descriptor, snapshot_parts)

    # Restarted on the same data: the query index reads the parts back from their entries.
    async with aggregator(tmp_path, storage_url) as (app, session, _):
        restarted = (await check_sha256(session, sha("board upload 7")))["because"][0]
        assert restarted["part"] == {"index": 1, "sha256": sha(parts[1]), "entry": again["part"]["entry"] + 1,
                                     "log_index": again["part"]["log_index"] + 1}


@pytest.fixture
async def crawler(tmp_path):
    """A crawler over real SQLite storage and the SSRF-guarded client (loopback allowed for the test site)."""
    storage = await open_storage(f"sqlite:///{tmp_path / 'aggregator.sqlite'}")
    addresses = AddressPolicy(allow_loopback=True)
    client = HttpClient(timeout=5.0, addresses=addresses)
    submissions = Submissions(storage, NoteSigner(LOG, make_key("log")), max_merge_delay=60, fetch_keyset=None)
    yield Crawler(storage, client, submissions, interval=3600, addresses=addresses, clock=lambda: datetime.now(UTC))
    await client.close()
    await storage.close()


async def pending(storage) -> list[tuple[str, str]]:
    async with storage.sequencer() as sequencer:
        return [(entry.kind, parse_entry(entry.leaf).source.text) for entry in await sequencer.pending(1000)]


async def test_a_part_that_does_not_match_its_reference_refuses_the_manifest_and_logs_nothing(crawler, site):
    envelope, parts = catalogue(site, make_key("parts site"))
    site.serve("/.well-known/parts/1.json", parts[1][:-2] + b" }")  # its size, not its SHA-256
    await crawler.add(site.origin, "test", check_address=False)
    (crawled,) = await crawler.crawl_due()
    assert crawled.outcome == "failed" and crawled.error == "E_PART_DIGEST: part bytes do not match the size and sha256 in the signed manifest (at /parts/1)"
    assert await pending(crawler.storage) == []  # not the key set, not the part that matched, not the manifest
    assert await crawler.storage.floor(site.origin) is None and await crawler.storage.pins(site.origin) == frozenset()

    site.serve("/.well-known/parts/0.json", status=503)  # one that cannot be fetched: a failure too, nothing logged
    site.serve("/.well-known/parts/1.json", parts[1])
    crawled = await crawler.crawl(await crawler.storage.origin(site.origin))
    assert crawled.outcome == "failed" and crawled.error == "part 0: HTTP 503" and await pending(crawler.storage) == []

    site.serve("/.well-known/parts/0.json", parts[0])
    crawled = await crawler.crawl(await crawler.storage.origin(site.origin))
    assert crawled.outcome == "accepted"
    parts_url = f"url {site.origin}/.well-known/parts"
    assert await pending(crawler.storage) == [("keyset", f"url {site.origin}/.well-known/notrain-keys.json"),
                                              ("part", f"{parts_url}/0.json"), ("part", f"{parts_url}/1.json"),
                                              ("manifest", f"url {site.origin}{MANIFEST}")]


async def test_a_part_on_another_origin_is_never_requested(crawler, site, sites):
    elsewhere = await sites()
    data = part_document(site.origin, [sha("x")])
    elsewhere.serve("/part.json", data)
    site.serve(MANIFEST, origin_manifest(site, make_key("parts site"), parts=[reference(data, f"{elsewhere.origin}/part.json")]))
    await crawler.add(site.origin, "test", check_address=False)
    (crawled,) = await crawler.crawl_due()
    assert crawled.outcome == "failed" and "is not on the manifest's origin" in crawled.error
    assert elsewhere.hits["/part.json"] == 0 and await pending(crawler.storage) == []


def form(envelope: bytes, parts: list[bytes]) -> aiohttp.FormData:
    data = aiohttp.FormData()
    data.add_field("envelope", envelope, content_type="application/vnd.notrain.manifest+json", filename="envelope.json")
    for number, part in enumerate(parts):
        data.add_field("part", part, content_type="application/json", filename=f"part-{number}.json")
    return data


async def encoded_form(envelope: bytes, parts: list[bytes]) -> tuple[bytes, str]:
    """The octets and Content-Type of the form :func:`form` makes, for a caller that sends bytes."""
    payload, written = form(envelope, parts)(), []

    class Sink:
        async def write(self, data: bytes) -> None:
            written.append(bytes(data))

    await payload.write(Sink())
    return b"".join(written), payload.content_type


async def post_form(session, data: aiohttp.FormData) -> tuple[int, dict]:
    async with session.post("/v1/manifests", data=data) as response:
        return response.status, await response.json()


async def test_a_did_key_artist_submits_a_manifest_with_its_parts(tmp_path):
    artist = make_key("parts artist")
    publisher = artist.public.did_key
    good = part_document(publisher, [sha("sketch 1"), sha("sketch 2")])
    envelope = did_manifest(artist, parts=[reference(good)])
    async with aggregator(tmp_path) as (app, session, _):
        storage = app[SERVICE].storage
        # Without its part, and the part not in this log: nothing to take it from (no origin to fetch).
        status, body = await submit(session, envelope)
        assert status == 400 and body["error"]["code"] == "E_REQUEST" and body["error"]["where"] == "/parts/0"
        # A part that is not the one the signed index names: refused, and nothing at all is logged.
        wrong = part_document(publisher, [sha("sketch 1"), sha("sketch 3")])
        status, body = await post_form(session, form(envelope, [wrong]))
        assert status == 422 and body["error"] == {"code": "E_PART_DIGEST", "where": "/parts/0", "message": body["error"]["message"]}
        status, body = await post_form(session, form(envelope, [good, good]))
        assert status == 400 and body["error"]["code"] == "E_REQUEST" and body["error"]["where"] == "/parts"
        checkpoint = await storage.checkpoint()
        assert await storage.pending_count() == 0 and (checkpoint is None or checkpoint.size == 0)

        status, body = await post_form(session, form(envelope, [good]))
        assert status == 202, body
        (part_entry,) = body["parts"]
        (cited,) = (await check_sha256(session, sha("sketch 2")))["because"]
        assert cited["publisher"] == publisher and cited["entry"] == body["entry"] and cited["rule"] == "/parts/0/works/1"
        assert cited["part"] == {"index": 0, "sha256": sha(good), "entry": part_entry, "log_index": cited["part"]["log_index"]}
        done = await integrated(session, body["entry"])
        stored = await storage.entry(part_entry)
        entry = parse_entry(stored.leaf)
        assert (entry.kind, entry.source.text, entry.body) == ("part", "submission", good)
        assert stored.log_index == done["log_index"] - 1

        # The same envelope alone now: its part is in this log, so it is the same entry, receipt and part.
        status, again = await submit(session, envelope)
        assert status == 200 and again["entry"] == body["entry"] and again["parts"] == [part_entry] and again["receipt"] == body["receipt"]


async def test_a_submission_form_is_bounded(tmp_path):
    artist = make_key("parts artist")
    envelope = did_manifest(artist, parts=[{"sha256": "00" * 32, "size": MAX_PART_BYTES}])
    async with aggregator(tmp_path) as (app, session, _):
        status, body = await post_form(session, form(envelope, [b" " * (MAX_PART_BYTES + 1)]))
        assert status == 413 and body["error"] == {"code": "E_SIZE", "where": "/parts/0", "message": body["error"]["message"]}
        data = aiohttp.FormData()
        data.add_field("part", b"{}", filename="part.json")  # a part before any envelope
        status, body = await post_form(session, data)
        assert status == 400 and body["error"]["code"] == "E_REQUEST" and body["error"]["where"] == "part"
        assert await app[SERVICE].storage.pending_count() == 0


async def test_a_submission_forms_parts_are_bounded_together(tmp_path):
    """Eight parts of the most a part may be fill the 64 MiB of a catalogue; one octet more is refused
    while it is read, before anything is checked against the manifest."""
    artist = make_key("parts artist")
    envelope = did_manifest(artist, parts=[{"sha256": "00" * 32, "size": MAX_PART_BYTES}])
    largest = b" " * MAX_PART_BYTES
    full = MAX_CATALOGUE_BYTES // MAX_PART_BYTES
    async with aggregator(tmp_path) as (app, session, _):
        status, body = await post_form(session, form(envelope, [largest] * full))
        assert status == 400 and body["error"]["code"] == "E_REQUEST" and body["error"]["where"] == "/parts"
        status, body = await post_form(session, form(envelope, [largest] * full + [b"{"]))
        assert status == 413 and body["error"] == {"code": "E_SIZE", "where": f"/parts/{full}", "message": body["error"]["message"]}
        assert await app[SERVICE].storage.pending_count() == 0


async def test_a_body_that_is_not_a_form_is_refused_with_a_code(tmp_path):
    """What aiohttp's multipart reader cannot frame is E_REQUEST at "form", never a 500."""
    part = b'--abc\r\nContent-Disposition: form-data; name="envelope"\r\n'
    bodies = [("multipart/form-data", b"x"), ("multipart/form-data; boundary=abc", b"no boundary here"),
              ("multipart/form-data; boundary=abc", part + b"\r\n{}"),  # never closed
              ("multipart/form-data; boundary=abc", part + b"a header without a colon\r\n\r\n{}\r\n--abc--\r\n"),
              ("multipart/form-data; boundary=abc", part + b"X-A: b\r\n" * 200 + b"\r\n{}\r\n--abc--\r\n")]
    async with aggregator(tmp_path) as (app, session, _):
        for content_type, body in bodies:
            async with session.post("/v1/manifests", data=body, headers={"Content-Type": content_type}) as response:
                assert response.status == 400, (content_type, body[:60])
                assert (await response.json())["error"]["code"] == "E_REQUEST"
                assert (await response.json())["error"]["where"] == "form"


async def test_an_origin_pushing_its_manifest_has_its_parts_fetched_from_its_origin(tmp_path, site):
    envelope, parts = catalogue(site, make_key("parts site"))
    async with aggregator(tmp_path) as (app, session, _):
        status, body = await submit(session, envelope)
        assert status == 202, body
        entries = [parse_entry((await app[SERVICE].storage.entry(entry)).leaf) for entry in body["parts"]]
        assert [(e.kind, e.source.text, e.sha256.hex()) for e in entries] == [
            ("part", f"url {site.origin}/.well-known/parts/{n}.json", sha(parts[n])) for n in (0, 1)]
        site.serve("/.well-known/parts/0.json", status=404)  # not needed again: resubmitted, it is taken from the log
        status, again = await submit(session, envelope)
        assert status == 200 and again["parts"] == body["parts"]


async def test_an_origins_parts_are_fetched_within_one_deadline(tmp_path, site):
    """A part that takes longer than the parts' deadline (however long each request may take) refuses the
    manifest with E_REQUEST, not with a request timeout minutes later."""
    key = make_key("slow parts site")
    part = part_document(site.origin, [sha("slow")])
    site.serve("/.well-known/parts/0.json", part, delay=2.0)
    envelope = origin_manifest(site, key, parts=[reference(part, "parts/0.json")])
    verified = verify_manifest(envelope, publisher=site.origin, keys={key.public.kid: key.public}, now=datetime.now(UTC))
    storage = await open_storage(f"sqlite:///{tmp_path / 'aggregator.sqlite'}")
    try:
        async with HttpClient(timeout=30.0, addresses=AddressPolicy(allow_loopback=True)) as client:
            with pytest.raises(PartsError) as caught:
                await load_parts(storage, verified, deadline=0.2,
                                 fetch=lambda manifest, missing: fetch_parts(client, manifest, site.origin + MANIFEST, missing))
        assert (caught.value.code, caught.value.where) == ("E_REQUEST", "/parts") and caught.value.message.startswith("deadline")
    finally:
        await storage.close()


async def test_a_crawler_using_the_aggregator_as_its_source_gets_the_parts_and_checks_them(tmp_path, proxy):
    artist = make_key("parts artist")
    part = part_document(artist.public.did_key, [sha("sketch 1"), sha("sketch 2")])
    async with aggregator(tmp_path) as (_, session, url):
        status, body = await post_form(session, form(did_manifest(artist, parts=[reference(part)]), [part]))
        assert status == 202, body
        await integrated(session, body["entry"])
        source = AggregatorSource(url, log_key=await log_key(url))
        catalog = await source.load()
        assert source.rejected == []
        (statement,) = catalog.content_statements(ContentHash(sha256=bytes.fromhex(sha("sketch 2"))))
        assert statement.evidence.rule == "/parts/0/works/1" and statement.evidence.publisher == artist.public.did_key

        # An aggregator that alters a part cannot pass it off: the manifest is rejected whole.
        altered = AggregatorSource(await proxy(url, {f"/v1/parts/{sha(part)}": lambda data: data.replace(sha("sketch 1").encode(), sha("sketch 9").encode())}))
        assert len(await altered.load()) == 0 and [r.error.split(":")[0] for r in altered.rejected] == ["E_PART_DIGEST"]


async def test_a_manifest_whose_parts_are_not_logged_before_it_is_left_out_as_a_snapshot_leaves_it_out(tmp_path):
    """The query index follows the rule snapshots follow (spec/log.md, "Parts in the log"): a part counts only
    if it is logged before the manifest.  Here an index was logged alone (ingest never does this; an older
    aggregator did), then its part."""
    storage = await open_storage(f"sqlite:///{tmp_path / 'aggregator.sqlite'}")
    try:
        artist = make_key("parts artist")
        publisher = artist.public.did_key
        part = part_document(publisher, [sha("sketch 1")])
        envelope = did_manifest(artist, works=[{"sha256": sha("in the index")}], parts=[reference(part)])
        now = datetime.now(UTC).replace(microsecond=0)
        keys = trusted_keys(publisher)
        submissions = Submissions(storage, NoteSigner(LOG, make_key("log")), max_merge_delay=60, fetch_keyset=None)
        await submissions.accept(envelope, verify_manifest(envelope, publisher=publisher, keys=keys, now=now), Source("submission"), now,
                                 keys=keys, keyset=None)
        await submissions.observe("part", part, Source("submission"), now)
        assert publisher not in (await Query(storage).load()).catalog

        # Signed again (a new sequence, so a new part) and submitted with its part: taken whole.
        part = part_document(publisher, [sha("sketch 1")], sequence=2)
        envelope = did_manifest(artist, sequence=2, works=[{"sha256": sha("in the index")}], parts=[reference(part)])
        await submissions.submit(envelope, parts=[part])
        catalog = (await Query(storage).load()).catalog
        assert catalog.get(publisher).sequence == 2 and catalog.content_statements(ContentHash(sha256=bytes.fromhex(sha("sketch 1"))))
    finally:
        await storage.close()
