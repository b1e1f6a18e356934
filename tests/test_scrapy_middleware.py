"""Real Scrapy crawls against local sites: the notrain add-on, middleware, transport and report.

The crawls run reactorless under pytest-asyncio (``get_crawler`` picks that
mode when no Twisted reactor is installed), in the same event loop as the
aiohttp sites, so they coexist with the rest of the suite.  What must never
be downloaded is asserted on the servers' hit counts, not only on items.
"""

from __future__ import annotations

import ast
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import ClassVar

import crawl_process
import pytest
import scrapy
from conftest import make_key
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler
from sites import Site
from test_fetch_manifests import payload, publish

from notrain.core import dsse
from notrain.scrapy import Forbidden, SettingsError, Verdict
from notrain.scrapy.options import Options
from notrain.scrapy.signals import manifest_verified
from notrain.scrapy.transport import ScrapyTransport

MANIFEST = "/.well-known/notrain.json"
HTML = {"Content_Type": "text/html; charset=utf-8"}


def valid_now() -> dict:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    return {"issued": _z(now - timedelta(days=1)), "expires": _z(now + timedelta(days=30))}


def _z(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class Pages(scrapy.Spider):
    """Requests the (url, meta) pairs it is given; records what reached it."""

    name = "pages"

    def __init__(self, requests=(), **kwargs):
        super().__init__(**kwargs)
        self.to_request = list(requests)
        self.parsed: dict[str, Verdict | None] = {}
        self.refused: dict[str, Exception] = {}

    async def start(self):
        for url, meta in self.to_request:
            yield scrapy.Request(url, meta=meta, errback=self.failed, dont_filter=True)

    def parse(self, response):
        self.parsed[response.url] = response.meta.get("notrain")

    def failed(self, failure):
        self.refused[failure.request.url] = failure.value


class Entries:
    """A downloader middleware placed before notrain's: whether the site had answered its manifest
    request when each request entered the chain (the site's state, not a clock)."""

    site: ClassVar[Site | None] = None
    answered: ClassVar[list[bool]] = []

    def process_request(self, request):
        if not request.meta.get("dont_obey_notrain"):
            site = Entries.site
            Entries.answered.append(site.hits[MANIFEST] > 0 and site.in_flight == 0)


def settings(tmp_path, **extra) -> dict:
    return {
        "ADDONS": {"notrain.scrapy.Addon": 0},
        "NOTRAIN_REPORT_PATH": str(tmp_path / "report.json"),
        "CONCURRENT_REQUESTS": 64,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 64,
        "LOG_LEVEL": "INFO",
        **extra,
    }


async def crawl(spider_settings: dict, requests) -> tuple[scrapy.crawler.Crawler, Pages]:
    crawler = get_crawler(Pages, spider_settings)
    await crawler.crawl_async(requests=requests)
    return crawler, crawler.spider


async def test_a_crawl_honours_every_origin(sites, tmp_path, caplog):
    key = make_key("art")
    art, down, forged, hop, robots, tdm, legacy = [await sites() for _ in range(7)]
    publish(art, key, default={"train-ai": "y"}, paths=[{"pattern": "/art/", "prefs": {"train-ai": "n"}}], **valid_now())
    for path in ("/art/1.html", "/art/2.png", "/art/3.html", "/art/free.html", "/about.html", "/about2.html"):
        art.serve(path, "<p>page</p>", **HTML)
    down.serve(MANIFEST, "busy", status=503)
    publish(forged, make_key("forged"), **valid_now())
    envelope = json.loads(forged.routes[MANIFEST].body)
    envelope["payload"] = dsse.b64.std_encode(payload(forged.origin, 2, **valid_now()))
    forged.serve(MANIFEST, json.dumps(envelope))
    hop.serve("/go", status=302, Location=art.origin + "/art/3.html")
    hop.serve("/go2", status=302, Location=art.origin + "/about2.html")
    robots.serve("/robots.txt", "User-agent: *\nDisallow: /private/\nContent-Usage: /ai/ train-ai=n\n")
    tdm.serve("/.well-known/tdmrep.json", json.dumps([{"location": "/", "tdm-reservation": 1}]), Content_Type="application/json")
    legacy.serve("/h", "header says no", Content_Usage="train-ai=n")
    legacy.serve("/h-ok", "header says yes", Content_Usage="train-ai=y")
    legacy.serve("/noai", '<html><head><meta name="robots" content="noai"></head><body>x</body></html>', **HTML)
    for site, paths in ((down, ["/a", "/b"]), (forged, ["/a"]), (robots, ["/private/x", "/ai/x", "/public"]), (tdm, ["/t"])):
        for path in paths:
            site.serve(path, "page", **HTML)

    verified: list[tuple[str, int]] = []

    def on_verified(sender, origin, manifest):
        verified.append((sender, origin, manifest.sequence))

    requests = [(art.origin + p, {}) for p in ("/art/1.html", "/art/2.png", "/about.html")]
    requests += [(art.origin + "/art/free.html", {"dont_obey_notrain": True})]
    requests += [(down.origin + "/a", {}), (down.origin + "/b", {}), (forged.origin + "/a", {})]
    requests += [(hop.origin + "/go", {}), (hop.origin + "/go2", {})]
    requests += [(robots.origin + p, {}) for p in ("/private/x", "/ai/x", "/public")]
    requests += [(tdm.origin + "/t", {})] + [(legacy.origin + p, {}) for p in ("/h", "/h-ok", "/noai")]
    crawler = get_crawler(Pages, settings(tmp_path))
    crawler.signals.connect(on_verified, signal=manifest_verified)
    with caplog.at_level("INFO", logger="notrain.scrapy.middleware"):
        await crawler.crawl_async(requests=requests)
    spider, stats = crawler.spider, crawler.stats.get_stats()

    # Never downloaded: what the manifest, its failures, or robots.txt forbid.
    assert [art.hits[p] for p in ("/art/1.html", "/art/2.png", "/art/3.html")] == [0, 0, 0]
    assert down.hits["/a"] == down.hits["/b"] == forged.hits["/a"] == 0
    assert robots.hits["/private/x"] == robots.hits["/ai/x"] == 0
    # Downloaded, then dropped by the response's own signals (or tdmrep.json, which they could override).
    assert tdm.hits["/t"] == legacy.hits["/h"] == legacy.hits["/noai"] == 1
    assert set(spider.parsed) == {art.origin + p for p in ("/about.html", "/about2.html", "/art/free.html")} | {
        robots.origin + "/public", legacy.origin + "/h-ok"}
    assert spider.parsed[art.origin + "/art/free.html"] is None  # dont_obey_notrain: not judged at all
    verdict = spider.parsed[art.origin + "/about.html"]
    assert verdict.decision.allowed("train-ai") and verdict.manifest.manifest.publisher == art.origin
    assert json.loads(json.dumps(verdict.to_json()))["decision"]["categories"]["train-ai"]["state"] == "allowed"
    refused = spider.refused
    assert all(isinstance(e, Forbidden) for e in refused.values()) and len(refused) == 11
    assert refused[down.origin + "/a"].mechanisms == ["fail-closed"]
    assert refused[robots.origin + "/private/x"].mechanisms == ["robots.txt-disallow"]
    assert refused[art.origin + "/art/3.html"].stage == "forbidden_before_download"  # after the redirect
    assert refused[legacy.origin + "/noai"].mechanisms == ["html-meta-robots"]
    assert refused[tdm.origin + "/t"].stage == "dropped_after_download"

    # One fetch per policy file and origin.
    assert art.hits[MANIFEST] == art.hits["/.well-known/notrain-keys.json"] == art.hits["/robots.txt"] == 1
    assert verified == [(crawler, art.origin, 1)]
    assert stats["notrain/manifest/verified"] == 1
    assert stats["notrain/manifest/failed/HTTP_503"] == 1
    assert stats["notrain/manifest/failed/E_SIGNATURE_INVALID"] == 1
    assert stats["notrain/forbidden"] == 11
    assert stats["notrain/forbidden/fail-closed"] == 3
    assert stats["notrain/forbidden/notrain"] == 3
    assert stats["notrain/forbidden/robots.txt-disallow"] == 1
    assert stats["notrain/forbidden/robots.txt-content-usage"] == 1
    assert stats["notrain/forbidden/html-meta-robots"] == 1
    assert stats["notrain/forbidden/header-content-usage"] == 1
    assert stats["notrain/forbidden/tdmrep-file"] == 1
    assert stats["notrain/allowed"] == 4
    assert stats["notrain/response_status_count/503"] == 1
    assert stats["notrain/request_count"] == 7 * 4 + 2  # manifest, robots.txt, tdmrep.json, ai.txt; 2 key sets
    assert stats["notrain/cache_hits"] > 0
    assert stats["downloader/exception_type_count/notrain.scrapy.middleware.Forbidden"] == 8  # before download
    assert any(f"notrain: {down.origin}: manifest failed (HTTP 503)" in r.getMessage() for r in caplog.records)

    report = json.loads((tmp_path / "report.json").read_text())
    assert report["snapshot"] is None and report["notrain_version"]
    assert report["settings"]["purposes"] == ["train-ai"] and report["settings"]["product_token"] == "Scrapy"
    by_origin = {m["origin"]: m for m in report["manifests"]}
    assert by_origin[art.origin]["status"] == "verified"
    assert by_origin[art.origin]["signed_by"] == [key.public.kid] and by_origin[art.origin]["sequence"] == 1
    assert by_origin[art.origin]["digest"] == verdict.manifest.manifest.digest
    assert by_origin[down.origin]["status"] == "failed" and by_origin[down.origin]["error"] == "HTTP 503"
    assert by_origin[forged.origin]["error"].startswith("E_SIGNATURE_INVALID")
    assert report["origins"][robots.origin]["robots_txt"] == "parsed"
    assert report["origins"][tdm.origin]["tdmrep"] == "present"
    assert report["counts"]["outcomes"] == {"allowed": 4, "forbidden_before_download": 8, "dropped_after_download": 3}
    assert report["counts"]["forbidden_by_mechanism"]["fail-closed"] == 3
    assert any(e["origin"] == down.origin for e in report["errors"])


async def test_ten_waiters_share_one_slow_manifest(sites, tmp_path):
    site = await sites()
    publish(site, make_key("slow"), default={"train-ai": "y"}, paths=[{"pattern": "/private/", "prefs": {"train-ai": "n"}}],
            **valid_now())
    site.routes[MANIFEST].delay = 2.0
    paths = [f"/private/{i}" for i in range(6)] + [f"/public/{i}" for i in range(6)]
    for path in paths:
        site.serve(path, "page")
    Entries.site, Entries.answered = site, []
    extra = {"DOWNLOADER_MIDDLEWARES": {Entries: 10}}
    crawler, spider = await crawl(settings(tmp_path, **extra), [(site.origin + p, {}) for p in paths])
    assert site.hits[MANIFEST] == 1 and site.hits["/.well-known/notrain-keys.json"] == 1
    assert Entries.answered == [False] * 12  # every request was waiting before the one manifest fetch ended
    assert [site.hits[p] for p in paths] == [0] * 6 + [1] * 6
    assert len(spider.refused) == 6 and len(spider.parsed) == 6


async def test_where_scrapys_robots_middleware_lets_waiters_through(sites, tmp_path):
    site = await sites()
    site.serve("/robots.txt", "User-agent: *\nDisallow: /private/\n", delay=0.5)
    paths = [f"/private/{i}" for i in range(12)]
    for path in paths:
        site.serve(path, "secret")
    requests = [(site.origin + p, {}) for p in paths]
    plain = {"ROBOTSTXT_OBEY": True, "CONCURRENT_REQUESTS": 64, "CONCURRENT_REQUESTS_PER_DOMAIN": 64}
    await crawl(plain, requests)
    assert sum(site.hits[p] for p in paths) > 0  # Scrapy alone: the third and later waiters get through
    site.hits.clear()
    crawler, _ = await crawl(settings(tmp_path, ROBOTSTXT_OBEY=True), requests)
    assert sum(site.hits[p] for p in paths) == 0
    assert crawler.stats.get_value("notrain/forbidden/robots.txt-disallow") == 12


async def test_unreachable_robots_txt_is_a_complete_disallow(sites, tmp_path):
    site = await sites()
    site.serve("/robots.txt", "down", status=500)
    site.serve("/page", "page")
    _, spider = await crawl(settings(tmp_path), [(site.origin + "/page", {})])
    assert site.hits["/page"] == 0 and spider.refused[site.origin + "/page"].mechanisms == ["fail-closed"]


async def test_unknown_can_be_denied_and_purposes_chosen(sites, tmp_path):
    site = await sites()
    site.serve("/page", "page")
    site.serve("/search-no", "page", Content_Usage="search=n")
    _, spider = await crawl(
        settings(tmp_path, NOTRAIN_UNKNOWN="deny", NOTRAIN_PURPOSES=["train-ai", "search"]),
        [(site.origin + "/page", {}), (site.origin + "/search-no", {})],
    )
    assert site.hits["/page"] == 1 and spider.parsed == {}
    assert spider.refused[site.origin + "/page"].mechanisms == ["unknown-policy"]
    assert spider.refused[site.origin + "/search-no"].purposes == ["train-ai", "search"]


async def test_disabled_unless_enabled(sites, tmp_path):
    site = await sites()
    site.serve("/art/x", "page")
    publish(site, make_key("s"), **valid_now())
    middleware = {"notrain.scrapy.middleware.NotrainDownloaderMiddleware": 90}
    crawler, _ = await crawl({"DOWNLOADER_MIDDLEWARES": middleware}, [(site.origin + "/art/x", {})])
    assert site.hits["/art/x"] == 1 and site.hits[MANIFEST] == 0
    assert not any(k.startswith("notrain/") for k in crawler.stats.get_stats())


@pytest.mark.parametrize(
    "values",
    [{"NOTRAIN_PURPOSES": ["train"]}, {"NOTRAIN_PURPOSES": []}, {"NOTRAIN_UNKNOWN": "maybe"},
     {"NOTRAIN_ERROR_TTL": 1}, {"NOTRAIN_PRODUCT_TOKEN": "my bot"}, {"NOTRAIN_TIMEOUT": 0}, {"NOTRAIN_PROVENANCE": "short"}],
)
def test_settings_that_cannot_be_honoured_stop_the_crawl(values):
    with pytest.raises(SettingsError):
        Options.from_settings(Settings(values))


def test_product_token_defaults_to_the_user_agents():
    assert Options.from_settings(Settings({"USER_AGENT": "ArtBot/2.0 (+https://x)"})).product_token == "ArtBot"
    assert Options.from_settings(Settings({"USER_AGENT": "(none)"})).product_token == "notrain"


class TransportProbe(scrapy.Spider):
    """Runs transport fetches from inside an open crawl (download_async needs one)."""

    name = "probe"

    def __init__(self, calls=(), **kwargs):
        super().__init__(**kwargs)
        self.calls, self.results = list(calls), []

    async def start(self):
        transport = ScrapyTransport(self.crawler, timeout=0.5)
        for url, options in self.calls:
            self.results.append(await transport.get(url, **options))
        return
        yield


async def test_transport_rules(sites):
    site, other = await sites(), await sites()
    site.serve("/big", b"x" * 5000)
    site.serve("/slow", "late", delay=2.0)
    site.serve("/e", "tagged", ETag='"v1"')
    site.serve("/r", status=301, Location="/e")
    site.serve("/away", status=302, Location=other.origin + "/e")
    site.serve("/loop", status=302, Location="/loop")
    site.serve("/err", "busy", status=503)
    closed = await sites()
    await closed.stop()
    calls = [
        (site.origin + "/big", {"max_bytes": 1000}),
        (site.origin + "/big", {"max_bytes": 1000, "truncate": True}),
        (site.origin + "/slow", {"max_bytes": 1000}),
        (site.origin + "/e", {"max_bytes": 1000, "etag": '"v1"'}),
        (site.origin + "/r", {"max_bytes": 1000}),
        (site.origin + "/away", {"max_bytes": 1000}),
        (site.origin + "/loop", {"max_bytes": 1000}),
        (site.origin + "/err", {"max_bytes": 1000}),
        (closed.origin + "/x", {"max_bytes": 1000}),
    ]
    crawler = get_crawler(TransportProbe, {"LOG_LEVEL": "INFO"})
    await crawler.crawl_async(calls=calls)
    big, cut, slow, not_modified, moved, away, loop, error, refused = crawler.spider.results
    assert big.failure == "too large"
    assert cut.ok and cut.truncated and cut.body == b"x" * 1000
    assert slow.failure == "timeout"
    assert not_modified.not_modified and not_modified.status == 304
    assert moved.ok and moved.body == b"tagged" and moved.final_url == site.origin + "/e" and moved.header("etag") == '"v1"'
    assert away.failure.startswith("redirect: leaves the origin") and other.hits["/e"] == 0
    assert loop.failure == "redirect: more than 5 hops" and site.hits["/loop"] == 6
    assert error.ok is False and error.status == 503 and error.failure is None and site.hits["/err"] == 1  # no retry
    assert refused.failure.startswith("network: ")
    stats = crawler.stats.get_stats()
    assert stats["notrain/response_status_count/503"] == 1
    assert any(k.startswith("notrain/exception_count/") for k in stats)


async def test_under_scrapys_default_asyncio_reactor(sites, tmp_path):
    """Production crawls run the Twisted asyncio reactor, not the reactorless mode of the tests above."""
    site = await sites()
    publish(site, make_key("art"), default={"train-ai": "y"}, paths=[{"pattern": "/art/", "prefs": {"train-ai": "n"}}], **valid_now())
    paths = [f"/art/{i}" for i in range(10)] + ["/about"]
    for path in paths:
        site.serve(path, "page")
    code, stats, err = await crawl_process.run({"NOTRAIN_REPORT_PATH": str(tmp_path / "r.json")}, [site.origin + p for p in paths], 30)
    assert code == 0, err
    assert [site.hits[p] for p in paths] == [0] * 10 + [1] and site.hits[MANIFEST] == 1
    assert stats["notrain/forbidden/notrain"] == 10 and stats["notrain/manifest/verified"] == 1
    assert json.loads((tmp_path / "r.json").read_text())["manifests"][0]["status"] == "verified"


def test_the_scrapy_package_never_imports_the_aggregator():
    package = Path(__file__).resolve().parent.parent / "src" / "notrain" / "scrapy"
    imported = set()
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):  # resolved from notrain.scrapy: "..fetch.x" is notrain.fetch.x
                base = "notrain.scrapy".rsplit(".", node.level - 1)[0] if node.level else ""
                imported.add(".".join(filter(None, (base, node.module))))
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
    assert "notrain.fetch.manifests" in imported  # the resolution works (fetch/ is where integrations meet)
    assert not [name for name in imported if name == "notrain.aggregator" or name.startswith("notrain.aggregator.")]


async def test_a_manifest_linked_from_the_page_is_followed(sites, tmp_path):
    site = await sites()
    key = make_key("linked")
    publish(site, key, **valid_now())  # default train-ai=n
    site.serve("/m.json", site.routes.pop(MANIFEST).body)
    site.serve("/index.html", '<html><head><link rel="notrain" href="/m.json"></head></html>', **HTML)
    crawler, spider = await crawl(settings(tmp_path), [(site.origin + "/index.html", {})])
    assert site.hits[MANIFEST] == 1 and site.hits["/m.json"] == 1
    assert spider.refused[site.origin + "/index.html"].mechanisms == ["notrain"]
    assert crawler.stats.get_value("notrain/manifest/verified") == 1
