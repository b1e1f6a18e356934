"""Fleet mode in real crawls: crawler processes share policy files through a real redis-server."""

from __future__ import annotations

import asyncio

import crawl_process
import pytest
from conftest import make_key
from redis.asyncio import Redis
from services import RedisServer
from test_fetch_manifests import publish
from test_scrapy_middleware import MANIFEST, valid_now

from notrain.scrapy import SettingsError
from notrain.scrapy.options import Options

POLICY_FILES = (MANIFEST, "/.well-known/notrain-keys.json", "/robots.txt", "/.well-known/tdmrep.json", "/ai.txt")


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path)
    yield server
    server.stop()


async def test_two_crawler_processes_fetch_each_policy_file_once(sites, tmp_path, redis_server):
    origins = [await sites(), await sites()]
    for i, site in enumerate(origins):
        publish(site, make_key(f"fleet{i}"), default={"train-ai": "y"}, paths=[{"pattern": "/art/", "prefs": {"train-ai": "n"}}],
                **valid_now())
        site.routes[MANIFEST].delay = 1.0  # both processes are waiting for it at once
        for path in ("/art/1", "/about"):
            site.serve(path, "page")
    redis = Redis.from_url(redis_server.url)
    # What scrapy-redis keeps for a spider named "pages": notrain must leave it alone.
    await redis.zadd("pages:requests", {"queued request": -1})
    await redis.sadd("pages:dupefilter", "fingerprint")
    urls = [site.origin + path for site in origins for path in ("/art/1", "/about")]
    results = await asyncio.gather(
        *(crawl_process.run({"NOTRAIN_REDIS_URL": redis_server.url, "NOTRAIN_REPORT_PATH": str(tmp_path / f"r{i}.json")}, urls)
          for i in range(2))
    )
    for code, _, err in results:
        assert code == 0, err
        assert "Unclosed" not in err  # the Redis client is closed with the spider
    stats = [s for _, s, _ in results]

    for site in origins:
        assert [site.hits[path] for path in POLICY_FILES] == [1] * len(POLICY_FILES)
        assert site.hits["/art/1"] == 0 and site.hits["/about"] == 2
    assert all(s["notrain/forbidden/notrain"] == 2 and s["notrain/manifest/verified"] == 2 for s in stats)
    assert sum(s.get("notrain/fleet/shared_hits", 0) for s in stats) == 2 * len(POLICY_FILES)
    assert await redis.zrange("pages:requests", 0, -1) == [b"queued request"]
    assert await redis.smembers("pages:dupefilter") == {b"fingerprint"}
    keys = {key.decode() for key in await redis.keys("*")} - {"pages:requests", "pages:dupefilter"}
    assert keys and all(key.startswith("notrain:doc:") for key in keys)  # locks released, nothing else written
    await redis.aclose()


def test_the_report_never_shows_redis_credentials():
    from scrapy.settings import Settings

    options = Options.from_settings(Settings({"NOTRAIN_REDIS_URL": "redis://user:secret@cache.internal:6380/2?password=x"}))
    assert options.to_json()["redis_url"] == "redis://cache.internal:6380/2"


async def test_a_redis_url_redis_cannot_use_stops_the_crawl():
    from scrapy.utils.test import get_crawler

    from notrain.scrapy.middleware import NotrainDownloaderMiddleware

    crawler = get_crawler(settings_dict={"ADDONS": {"notrain.scrapy.Addon": 0}, "NOTRAIN_REDIS_URL": "http://not-redis"})
    with pytest.raises(SettingsError, match="NOTRAIN_REDIS_URL"):
        NotrainDownloaderMiddleware(crawler)
