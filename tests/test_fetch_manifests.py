"""Fetching manifests from real local sites: verification, fail-closed, caching, single flight."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import datetime, timedelta, timezone

import pytest
from conftest import make_key
from sites import LocalCA, Site

from notrain.core import MANIFEST_TYPE, State, decide, dsse, make_keyset, make_rotation
from notrain.core.ijson import dumps
from notrain.fetch.http import HttpClient
from notrain.fetch.manifests import FetchPolicy, ManifestFetcher, Status

NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)


def payload(origin: str, sequence: int = 1, **members) -> bytes:
    doc = {"notrain": 1, "publisher": origin, "sequence": sequence, "issued": "2026-11-01T00:00:00Z",
           "expires": "2027-11-01T00:00:00Z", "default": {"train-ai": "n"}, **members}
    return json.dumps(doc).encode()


def publish(site: Site, key, sequence: int = 1, keys=None, rotations=(), **members) -> bytes:
    body = payload(site.origin, sequence, **members)
    site.serve("/.well-known/notrain.json", dsse.sign(body, MANIFEST_TYPE, [key]).to_bytes())
    site.serve("/.well-known/notrain-keys.json", dumps(make_keyset(site.origin, keys or [key.public], rotations).to_json()))
    return body


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def fetcher(client, clock=None, **policy) -> ManifestFetcher:
    return ManifestFetcher(client, FetchPolicy(**policy), now=lambda: NOW, clock=clock or Clock())


async def test_a_signed_manifest_is_verified_and_applies_to_its_urls(site, client):
    publish(site, make_key("site"), paths=[{"pattern": "/free/", "prefs": {"train-ai": "y"}}])
    state = await fetcher(client).state(site.origin)
    assert state.status is Status.VERIFIED and state.verified.signed_by == (make_key("site").public.kid,)
    assert decide(state.statements(site.origin + "/art/1.png")).state("train-ai") is State.DISALLOWED
    assert decide(state.statements(site.origin + "/free/1.png")).state("train-ai") is State.ALLOWED


@pytest.mark.parametrize("status", [404, 410, 401, 403])
async def test_absent_manifest_says_nothing(site, client, status):
    site.serve("/.well-known/notrain.json", "nope", status=status)
    state = await fetcher(client).state(site.origin)
    assert state.status is Status.ABSENT and state.statements(site.origin + "/x") == []


@pytest.mark.parametrize("status", [500, 503, 429])
async def test_server_errors_fail_closed(site, client, status):
    site.serve("/.well-known/notrain.json", "busy", status=status)
    state = await fetcher(client).state(site.origin)
    assert state.status is Status.FAILED and f"HTTP {status}" in state.error
    decision = decide(state.statements(site.origin + "/x"))
    assert not any(decision.allowed(c) for c in ("train-ai", "ai-use", "search"))


async def test_bad_signature_fails_closed(site, client):
    publish(site, make_key("site"))
    envelope = json.loads(site.routes["/.well-known/notrain.json"].body)
    envelope["payload"] = dsse.b64.std_encode(payload(site.origin, 2))
    site.serve("/.well-known/notrain.json", json.dumps(envelope))
    state = await fetcher(client).state(site.origin)
    assert state.status is Status.FAILED and state.error.startswith("E_SIGNATURE_INVALID")


async def test_a_manifest_for_another_origin_fails_closed(site, client):
    key = make_key("site")
    site.serve("/.well-known/notrain.json", dsse.sign(payload("https://victim.example"), MANIFEST_TYPE, [key]).to_bytes())
    site.serve("/.well-known/notrain-keys.json", dumps(make_keyset(site.origin, [key.public]).to_json()))
    state = await fetcher(client).state(site.origin)
    assert state.status is Status.FAILED and state.error.startswith("E_PUBLISHER_MISMATCH")


async def test_missing_key_set_fails_closed(site, client):
    publish(site, make_key("site"))
    del site.routes["/.well-known/notrain-keys.json"]
    state = await fetcher(client).state(site.origin)
    assert state.status is Status.FAILED and "key set unavailable" in state.error


async def test_malformed_and_oversize_documents_fail_closed(site, client):
    site.serve("/.well-known/notrain.json", '{"payloadType": "x", "payloadType": "y"}')
    state = await fetcher(client).state(site.origin)
    assert state.error.startswith("E_JSON_DUPLICATE_KEY")
    site.serve("/.well-known/notrain.json", b" " * (dsse.MAX_ENVELOPE_BYTES + 1))
    state = await fetcher(client, Clock()).state(site.origin)
    assert state.status is Status.FAILED and state.error == "too large"


async def test_a_slow_manifest_times_out_and_fails_closed(site):
    site.serve("/.well-known/notrain.json", "{}", delay=1.0)
    async with HttpClient(timeout=0.2) as client:
        state = await fetcher(client).state(site.origin)
    assert state.status is Status.FAILED and state.error == "timeout"


async def test_redirects_stay_on_the_host(site, client):
    other = await Site(host="127.0.0.1").start()
    try:
        publish(other, make_key("other"))
        site.serve("/.well-known/notrain.json", status=302, Location=other.origin + "/.well-known/notrain.json")
        state = await fetcher(client).state(site.origin)
        assert state.status is Status.FAILED and "leaves the origin" in state.error  # another port is another origin
        site.serve("/.well-known/notrain.json", status=302, Location="/.well-known/notrain.json")
        state = await fetcher(client, Clock()).state(site.origin)
        assert state.status is Status.FAILED and "more than 5" in state.error
        body = publish(site, make_key("site"))
        site.serve("/.well-known/notrain.json", status=301, Location="/moved.json")
        site.serve("/moved.json", dsse.sign(body, MANIFEST_TYPE, [make_key("site")]).to_bytes())
        state = await fetcher(client, Clock()).state(site.origin)
        assert state.status is Status.VERIFIED
    finally:
        await other.stop()


async def test_ten_waiters_share_one_fetch(site, client):
    publish(site, make_key("site"))
    site.routes["/.well-known/notrain.json"].delay = 0.3
    f = fetcher(client)
    states = await asyncio.gather(*(f.state(site.origin) for _ in range(12)))
    assert all(s is states[0] for s in states) and states[0].status is Status.VERIFIED
    assert site.hits["/.well-known/notrain.json"] == 1 and f.fetches == 1


async def test_a_cancelled_waiter_does_not_cancel_the_fetch_for_others(site, client):
    publish(site, make_key("site"))
    site.routes["/.well-known/notrain.json"].delay = 0.3
    f = fetcher(client)
    impatient = asyncio.ensure_future(f.state(site.origin))
    patient = asyncio.ensure_future(f.state(site.origin))
    await asyncio.sleep(0.05)
    impatient.cancel()
    assert (await patient).status is Status.VERIFIED


async def test_cache_ttls_and_last_good(site, client):
    clock = Clock()
    f = fetcher(client, clock, manifest_ttl=3600, error_ttl=300)
    publish(site, make_key("site"))
    assert (await f.state(site.origin)).status is Status.VERIFIED
    await f.state(site.origin)
    assert site.hits["/.well-known/notrain.json"] == 1  # cached
    clock.t += 3601
    site.serve("/.well-known/notrain.json", "down", status=503)
    state = await f.state(site.origin)
    assert state.status is Status.VERIFIED and state.stale and "HTTP 503" in state.error  # last good serves
    clock.t += 299
    await f.state(site.origin)
    assert site.hits["/.well-known/notrain.json"] == 2  # the error TTL holds off refetching
    clock.t += 2
    publish(site, make_key("site"), sequence=2)
    state = await f.state(site.origin)
    assert state.status is Status.VERIFIED and not state.stale and state.manifest.sequence == 2


async def test_rollback_after_a_newer_manifest_fails_closed(site, client):
    clock = Clock()
    f = fetcher(client, clock, manifest_ttl=60)
    publish(site, make_key("site"), sequence=5)
    await f.state(site.origin)
    clock.t += 61
    publish(site, make_key("site"), sequence=4)
    state = await f.state(site.origin)
    assert state.stale and state.error.startswith("E_ROLLBACK")


async def test_keys_are_pinned_and_only_signed_rotations_move_them(site, client):
    clock = Clock()
    f = fetcher(client, clock, manifest_ttl=60)
    old, new, thief = make_key("old"), make_key("new"), make_key("thief")
    publish(site, old)
    await f.state(site.origin)
    clock.t += 61
    publish(site, thief, sequence=2)  # a hijacked server swaps the key set
    state = await f.state(site.origin)
    assert state.stale and state.error.startswith("E_KEY_UNTRUSTED")
    clock.t += 301
    rotation = make_rotation(site.origin, old, new.public, NOW - timedelta(days=1))
    publish(site, new, sequence=3, rotations=(rotation,))
    state = await f.state(site.origin)
    assert not state.stale and state.verified.signed_by == (new.public.kid,)


async def test_parts_are_fetched_and_bound_by_digest(site, client):
    part = dumps({"notrain-part": 1, "publisher": site.origin, "sequence": 1, "works": [{"sha256": "ab" * 32}]})
    site.serve("/parts/1.json", part)
    ref = [{"sha256": hashlib.sha256(part).hexdigest(), "size": len(part), "url": "/parts/1.json"}]
    publish(site, make_key("site"), parts=ref)
    state = await fetcher(client).state(site.origin)
    assert [w.ref for w in state.manifest.works] == ["/parts/0/works/0"]
    site.serve("/parts/1.json", part.replace(b"ab", b"cd"))
    state = await fetcher(client, Clock()).state(site.origin)
    assert state.status is Status.FAILED and state.error.startswith("E_PART_DIGEST")


async def test_unsigned_manifests_only_over_https_from_their_origin(tmp_path):
    ca = LocalCA(tmp_path)
    secure = await Site(tls=ca).start()
    plain = await Site().start()
    try:
        secure.serve("/.well-known/notrain.json", payload(secure.origin))
        plain.serve("/.well-known/notrain.json", payload(plain.origin))
        async with HttpClient(timeout=2.0, ssl=ca.client_context()) as client:
            assert (await fetcher(client).state(secure.origin)).status is Status.VERIFIED
            state = await fetcher(client).state(plain.origin)
            assert state.status is Status.FAILED and state.error.startswith("E_UNSIGNED")
    finally:
        await secure.stop()
        await plain.stop()


async def test_unreachable_origin_fails_closed(client):
    dead = await Site().start()
    origin = dead.origin
    await dead.stop()
    state = await fetcher(client).state(origin)
    assert state.status is Status.FAILED and state.error.startswith("network")


async def test_the_cache_is_bounded(client):
    sites = [await Site().start() for _ in range(3)]
    try:
        f = fetcher(client, max_origins=2)
        for s in sites:
            await f.state(s.origin)
        assert len(f.cache) == 2
    finally:
        for s in sites:
            await s.stop()


async def test_conditional_refresh_reuses_the_verified_manifest_until_it_expires(site, client):
    clock, today = Clock(), [NOW]
    f = ManifestFetcher(client, FetchPolicy(manifest_ttl=60), now=lambda: today[0], clock=clock)
    publish(site, make_key("site"), expires="2026-12-02T00:00:00Z")
    site.routes["/.well-known/notrain.json"].headers["ETag"] = '"v1"'
    first = await f.state(site.origin)
    clock.t += 61
    second = await f.state(site.origin)
    assert second.verified is first.verified and not second.stale  # a 304, not a second verification
    assert site.hits["/.well-known/notrain.json"] == 2
    clock.t += 61
    today[0] = NOW + timedelta(days=2)  # past expires: an unchanged manifest cannot outlive it
    third = await f.state(site.origin)
    assert third.status is Status.FAILED and third.error.startswith("E_EXPIRED")


async def test_a_linked_manifest_is_followed_only_when_the_well_known_one_is_absent(site, client):
    body = payload(site.origin)
    site.serve("/meta/notrain.json", dsse.sign(body, MANIFEST_TYPE, [make_key("site")]).to_bytes())
    site.serve("/.well-known/notrain-keys.json", dumps(make_keyset(site.origin, [make_key("site").public]).to_json()))
    f = fetcher(client)
    other = await f.discovered(site.origin, "https://elsewhere.example/notrain.json")
    assert other.status is Status.ABSENT  # another origin's file never speaks for this one
    state = await f.discovered(site.origin, site.origin + "/meta/notrain.json")
    assert state.status is Status.VERIFIED and state.source == site.origin + "/meta/notrain.json"
    assert (await f.state(site.origin)) is state  # cached for the origin
    publish(site, make_key("site"), sequence=2)
    g = fetcher(client, Clock())
    assert (await g.discovered(site.origin, site.origin + "/meta/notrain.json")).manifest.sequence == 2  # well-known wins


async def test_many_pages_revealing_the_same_link_fetch_it_once(site, client):
    site.serve("/meta/notrain.json", dsse.sign(payload(site.origin), MANIFEST_TYPE, [make_key("site")]).to_bytes(), delay=0.2)
    site.serve("/.well-known/notrain-keys.json", dumps(make_keyset(site.origin, [make_key("site").public]).to_json()))
    f = fetcher(client)
    states = await asyncio.gather(*(f.discovered(site.origin, site.origin + "/meta/notrain.json") for _ in range(10)))
    assert all(s.status is Status.VERIFIED for s in states) and site.hits["/meta/notrain.json"] == 1
