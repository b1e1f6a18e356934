"""Operating the aggregator: metrics, rate limits, pushback, readiness, security headers, and secrets
kept out of a real `notrain serve` process's logs."""

from __future__ import annotations

import asyncio
import json
import stat

import aiohttp
from aggregator_helpers import ENVELOPE_TYPE, aggregator_config, did_manifest, integrated, running, submit
from conftest import make_key
from prometheus_client.parser import text_string_to_metric_families
from serve_process import ServeProcess
from test_aggregator_openapi import Validated, openapi  # noqa: F401 - the document's fixture

from notrain.aggregator.limits import Pushback, TokenBuckets, client_key


async def scrape(session: aiohttp.ClientSession) -> dict[tuple[str, frozenset], float]:
    """Every sample of /metrics, by (name, labels)."""
    async with session.get("/metrics") as response:
        assert response.status == 200 and response.headers["Content-Type"].startswith("text/plain; version=")
        text = await response.text()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def labels(**values: str) -> frozenset:
    return frozenset(values.items())


async def test_metrics_count_requests_submissions_and_the_log(tmp_path):
    async with running(aggregator_config(tmp_path)) as api:
        status, body = await submit(api, did_manifest(make_key("artist")))
        assert status == 202
        status, refused = await submit(api, b'{"payloadType": 1}')
        assert status == 422
        async with api.get("/no/such/route-xyz") as response:
            assert response.status == 404
        await integrated(api, body["entry"])
        samples = await scrape(api)

    route = "/v1/manifests"
    assert samples["notrain_http_requests_total", labels(route=route, method="POST", status="202")] == 1
    assert samples["notrain_http_requests_total", labels(route=route, method="POST", status="422")] == 1
    assert samples["notrain_submissions_total", labels(route=route, outcome="accepted")] == 1
    assert samples["notrain_submissions_total", labels(route=route, outcome=refused["error"]["code"])] == 1
    assert samples["notrain_http_request_duration_seconds_count", labels(route=route)] == 2
    # A path nobody routes is one label value, never the path itself (label values stay bounded).
    assert samples["notrain_http_requests_total", labels(route="unmatched", method="GET", status="404")] == 1
    assert not any("xyz" in value for _, found in samples for _, value in found)
    assert samples["notrain_log_size", labels()] == 1
    assert samples["notrain_log_pending_entries", labels()] == 0
    assert samples["notrain_log_sequencing", labels()] == 1
    assert samples["notrain_log_integration_entries_sum", labels()] == 1


async def test_two_applications_in_one_process_count_separately(tmp_path):
    async with running(aggregator_config(tmp_path / "a")) as first, running(aggregator_config(tmp_path / "b")) as second:
        assert (await submit(first, did_manifest(make_key("artist"))))[0] == 202
        one, other = await scrape(first), await scrape(second)
    accepted = ("notrain_submissions_total", labels(route="/v1/manifests", outcome="accepted"))
    assert one[accepted] == 1 and accepted not in other


async def test_submissions_are_rate_limited_per_client_with_retry_after(tmp_path):
    config = aggregator_config(tmp_path, submissions={"per_minute": 3})
    async with running(config) as api:
        for n in range(3):
            assert (await submit(api, did_manifest(make_key(f"artist {n}"))))[0] == 202
        async with api.post("/v1/manifests", data=did_manifest(make_key("one too many"))) as response:
            assert response.status == 429
            assert (await response.json())["error"]["code"] == "E_RATE_LIMITED"
            # 3 a minute: the next token is 20 s away (a little less by the time it is computed).
            assert 1 <= int(response.headers["Retry-After"]) <= 20
        async with api.get("/v1/log") as response:
            assert response.status == 200  # reads are not limited
        samples = await scrape(api)
    assert samples["notrain_submissions_total", labels(route="/v1/manifests", outcome="E_RATE_LIMITED")] == 1
    assert samples["notrain_rate_limit_clients", labels()] == 1


def test_token_buckets_refill_and_the_table_stays_bounded():
    now = [0.0]
    buckets = TokenBuckets(60, max_clients=100, clock=lambda: now[0])
    assert [buckets.take("a") for _ in range(60)] == [0.0] * 60
    assert buckets.take("a") == 1.0  # 60 a minute: one a second
    now[0] += 0.5
    assert buckets.take("a") == 0.5  # half a token came back; the refusal took none
    now[0] += 0.5
    assert buckets.take("a") == 0.0
    for n in range(10_000):
        buckets.take(f"client {n}")
    assert len(buckets) == 100  # least recently used forgotten: memory bounded by max_clients


def test_clients_are_keyed_by_ipv4_address_or_ipv6_64():
    assert client_key("192.0.2.1") == "192.0.2.1" == client_key("::ffff:192.0.2.1")
    assert client_key("2001:db8::1") == client_key("2001:db8::ffff:1") == "2001:db8::/64"
    assert client_key("2001:db8:0:1::1") != client_key("2001:db8::1")
    assert client_key(None) == client_key("") == "unknown"


async def test_pushback_reads_storage_at_most_once_per_ttl():
    now, reads = [0.0], []

    async def count() -> int:
        reads.append(now[0])
        return 10

    async def size() -> int:
        return 0

    pushback = Pushback(count, size, max_pending=10, max_stall=60, ttl=1.0, clock=lambda: now[0])
    assert all(await asyncio.gather(*(pushback.reason() for _ in range(100))))
    assert len(reads) == 1
    now[0] += 1.0
    await pushback.reason()
    assert len(reads) == 2
    assert await Pushback(count, size, max_pending=11, max_stall=60).reason() is None


async def test_pushback_when_the_log_stops_advancing_with_entries_pending():
    now, state = [0.0], {"pending": 3, "size": 5}

    async def count() -> int:
        return state["pending"]

    async def size() -> int:
        return state["size"]

    pushback = Pushback(count, size, max_pending=100, max_stall=60, ttl=0, clock=lambda: now[0])
    assert await pushback.reason() is None
    now[0] = 59.5
    assert await pushback.reason() is None  # not yet over max_stall
    now[0] = 61.0
    assert "not advanced" in await pushback.reason()  # a receipt now could not be kept
    state["size"] = 8
    assert await pushback.reason() is None  # a sequencer took over: the log grows again
    now[0], state["pending"] = 200.0, 0
    assert await pushback.reason() is None  # nothing pending: an idle log is not stalled
    now[0], state["pending"] = 230.0, 1
    assert await pushback.reason() is None  # the stall is counted from when entries waited


async def test_submissions_get_503_when_too_many_entries_wait(tmp_path):
    # One integration at startup, then none for a minute: entries stay pending.
    config = aggregator_config(tmp_path, log={"checkpoint_interval": 60.0, "max_pending": 1})
    async with running(config) as api:
        assert (await submit(api, did_manifest(make_key("first"))))[0] == 202
        await asyncio.sleep(0.6)  # past the pending count's reuse time (limits.PENDING_TTL)
        async with api.post("/v1/manifests", data=did_manifest(make_key("second"))) as response:
            assert response.status == 503 and (await response.json())["error"]["code"] == "E_UNAVAILABLE"
            assert int(response.headers["Retry-After"]) == 60
        async with api.get("/readyz") as response:
            assert response.status == 503 and (await response.json())["ready"] is False
        async with api.get("/healthz") as response:
            assert response.status == 200 and (await response.json())["pending"] == 1  # alive, just behind


async def test_ready_when_the_log_has_a_checkpoint(tmp_path):
    async with running(aggregator_config(tmp_path)) as api:
        for _ in range(100):
            async with api.get("/readyz") as response:
                body = await response.json()
            if response.status == 200:
                break
            await asyncio.sleep(0.05)
    assert body == {"ready": True, "reasons": []}


async def test_security_headers_on_every_answer(tmp_path):
    async with running(aggregator_config(tmp_path)) as api:
        requests = [("GET", "/v1/log"), ("GET", "/nowhere"), ("GET", "/metrics"), ("GET", "/healthz"), ("POST", "/v1/manifests"),
                    ("GET", "/"), ("DELETE", "/v1/log")]
        for method, path in requests:
            async with api.request(method, path, data=b"x") as response:
                assert response.headers["X-Content-Type-Options"] == "nosniff", path
                assert response.headers["Referrer-Policy"] == "no-referrer", path
        async with api.get("/") as response:
            assert "default-src 'none'" in response.headers["Content-Security-Policy"]  # the page's own policy stays


async def test_a_real_process_never_logs_its_private_key_and_keeps_it_0600(tmp_path):
    serve = await ServeProcess(tmp_path).start()
    key_file = tmp_path / "data" / "log-key.jwk"
    bodies = []
    try:
        async with aiohttp.ClientSession(base_url=serve.url) as session:
            status, body = await submit(session, did_manifest(make_key("artist")))
            assert status == 202
            await integrated(session, body["entry"])
            bodies.append(json.dumps(body))
            for envelope in (b"{}", b"not json", did_manifest(make_key("artist"), sequence=0)):
                bodies.append(json.dumps((await submit(session, envelope))[1]))
            for path in ("/", "/metrics", "/healthz", "/readyz", "/v1/log", "/log/checkpoint", "/log/tile/entries/000.p/1",
                         f"/v1/entries/{body['entry']}", "/v1/openapi.json", "/nowhere"):
                async with session.get(path) as response:
                    bodies.append((await response.read()).decode("utf-8", "replace"))
    finally:
        assert serve.stop() == 0  # SIGTERM: a graceful shutdown
    private = json.loads(key_file.read_text())["d"]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    stderr = serve.stderr()
    assert "verifier key aggregator.test/log+" in stderr  # the log was captured: the public key is announced
    assert all(json.loads(line) for line in stderr.splitlines())  # one JSON object a line
    assert private not in stderr
    assert not any(private in text for text in bodies)


async def test_crawl_outcomes_are_counted(tmp_path, site):
    # The site serves no manifest: its crawl comes to "absent" (a 404 is no manifest, not a failure).
    async with running(aggregator_config(tmp_path, crawl={"origins": [site.origin]})) as api:
        absent = ("notrain_crawls_total", labels(outcome="absent"))
        for _ in range(200):
            samples = await scrape(api)
            if absent in samples:
                break
            await asyncio.sleep(0.05)
    assert samples[absent] == 1
    assert ("notrain_crawls_total", labels(outcome="failed")) not in samples


async def test_refusals_match_the_openapi_document(tmp_path, openapi):  # noqa: F811 - the imported fixture
    """429 on both write routes (one bucket per client for all writes), and 503 under pushback, as documented."""
    async with running(aggregator_config(tmp_path / "a", submissions={"per_minute": 1})) as api:
        call = Validated(api, openapi)
        assert (await call("POST", "/v1/manifests", body=did_manifest(make_key("artist")), content_type=ENVELOPE_TYPE))[0] == 202
        assert (await call("POST", "/v1/manifests", body=did_manifest(make_key("other")), content_type=ENVELOPE_TYPE))[0] == 429
        assert (await call("POST", "/v1/origins", body=b'{"origin": "https://example.com"}'))[0] == 429
    config = aggregator_config(tmp_path / "b", log={"checkpoint_interval": 60.0, "max_pending": 1})
    async with running(config) as api:
        call = Validated(api, openapi)
        assert (await call("POST", "/v1/manifests", body=did_manifest(make_key("artist")), content_type=ENVELOPE_TYPE))[0] == 202
        await asyncio.sleep(0.6)  # past the pending count's reuse time (limits.PENDING_TTL)
        assert (await call("POST", "/v1/manifests", body=did_manifest(make_key("other")), content_type=ENVELOPE_TYPE))[0] == 503
