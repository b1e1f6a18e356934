"""Fleet mode against a real redis-server: one fetch per origin across processes, local verification."""

from __future__ import annotations

import asyncio
import base64
import json
import sys
import textwrap

import pytest
from conftest import make_key
from redis.asyncio import Redis
from services import RedisServer
from test_fetch_manifests import NOW, Clock, payload, publish

from notrain.core import MANIFEST_TYPE, dsse
from notrain.fetch.http import Fetched, HttpClient
from notrain.fetch.manifests import FetchPolicy, ManifestFetcher, Status
from notrain.fetch.shared import SharedTransport, _encode


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path)
    yield server
    server.stop()


WORKER = textwrap.dedent(
    """
    import asyncio, sys
    from datetime import datetime, timezone
    from redis.asyncio import Redis
    from notrain.fetch.http import HttpClient
    from notrain.fetch.manifests import ManifestFetcher
    from notrain.fetch.shared import SharedTransport

    async def main(redis_url, origin):
        async with HttpClient(timeout=30) as client:  # generous: a loaded CI machine must not turn into a fetch failure
            redis = Redis.from_url(redis_url)
            fetcher = ManifestFetcher(SharedTransport(client, redis), now=lambda: datetime(2026, 12, 1, tzinfo=timezone.utc))
            state = await fetcher.state(origin)
            await redis.aclose()
            print(state.status.value, ",".join(state.verified.signed_by) if state.verified else state.error)

    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


async def test_a_fleet_of_processes_fetches_each_file_once(site, redis_server):
    publish(site, make_key("site"))
    site.routes["/.well-known/notrain.json"].delay = 0.5
    workers = [
        await asyncio.create_subprocess_exec(sys.executable, "-c", WORKER, redis_server.url, site.origin, stdout=asyncio.subprocess.PIPE)
        for _ in range(4)
    ]
    outputs = [(await asyncio.wait_for(w.communicate(), 60))[0].decode().split() for w in workers]
    assert all(out == ["verified", make_key("site").public.kid] for out in outputs)
    assert site.hits["/.well-known/notrain.json"] == 1 and site.hits["/.well-known/notrain-keys.json"] == 1


async def test_a_poisoned_cache_cannot_forge_a_manifest(site, redis_server):
    publish(site, make_key("site"))
    redis = Redis.from_url(redis_server.url)
    forged = dsse.sign(payload(site.origin, 99, default={"train-ai": "y"}), MANIFEST_TYPE, [make_key("attacker")]).to_bytes()
    doc = {"url": site.origin + "/.well-known/notrain.json", "final_url": site.origin + "/.well-known/notrain.json", "status": 200,
           "headers": [], "body": base64.b64encode(forged).decode(), "failure": None, "truncated": False}
    await redis.set(f"notrain:doc:{site.origin}/.well-known/notrain.json", json.dumps(doc))
    async with HttpClient(timeout=2) as client:
        state = await ManifestFetcher(SharedTransport(client, redis), now=lambda: NOW, clock=Clock()).state(site.origin)
    await redis.aclose()
    assert state.status is Status.FAILED and state.error.startswith("E_UNKNOWN_KEY")


async def test_failures_are_shared_for_the_error_ttl_only(site, redis_server):
    site.serve("/.well-known/notrain.json", "down", status=503)
    redis = Redis.from_url(redis_server.url)
    async with HttpClient(timeout=2) as client:
        for _ in range(3):
            state = await ManifestFetcher(SharedTransport(client, redis, error_ttl=0.3), FetchPolicy(), now=lambda: NOW).state(site.origin)
            assert state.status is Status.FAILED
        assert site.hits["/.well-known/notrain.json"] == 1
        await asyncio.sleep(0.4)
        await ManifestFetcher(SharedTransport(client, redis, error_ttl=0.3), now=lambda: NOW).state(site.origin)
    await redis.aclose()
    assert site.hits["/.well-known/notrain.json"] == 2


async def test_other_urls_bypass_the_cache(site, redis_server):
    site.serve("/page", "hello")
    redis = Redis.from_url(redis_server.url)
    async with HttpClient(timeout=2) as client:
        shared = SharedTransport(client, redis)
        for _ in range(2):
            assert (await shared.get(site.origin + "/page", max_bytes=100)).body == b"hello"
    await redis.aclose()
    assert site.hits["/page"] == 2 and shared.shared_hits == 0


async def test_a_file_stored_between_the_look_and_the_lock_is_not_fetched_again(site, redis_server):
    """The holder before may store the file and let go between a process's look and its lock (two
    processes fetched one file under load): the file is looked up again once the lock is held."""
    site.serve("/robots.txt", "User-agent: *\nDisallow:\n")
    url = site.origin + "/robots.txt"
    redis = Redis.from_url(redis_server.url)
    stored = _encode(Fetched(url, url, 200, (), b"User-agent: *\nDisallow: /\n"))

    class OtherProcessFinishesFirst:
        """The real Redis, except that another process stores the file right after this one's first look."""

        def __getattr__(self, name):
            return getattr(redis, name)

        async def get(self, key):
            found = await redis.get(key)
            await redis.set(key, stored)
            return found

    async with HttpClient(timeout=2) as client:
        shared = SharedTransport(client, OtherProcessFinishesFirst())
        fetched = await shared.get(url, max_bytes=1000)
    await redis.aclose()
    assert fetched.body == b"User-agent: *\nDisallow: /\n" and shared.shared_hits == 1
    assert site.hits["/robots.txt"] == 0
