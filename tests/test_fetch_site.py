"""Site signals from real local sites: every mechanism at once, single flight, hostile servers."""

from __future__ import annotations

import asyncio
import json

from conftest import make_key
from sites import Route
from test_fetch_manifests import NOW, Clock, publish

from notrain.core import State, decide
from notrain.fetch.http import HttpClient
from notrain.fetch.manifests import FetchPolicy, Status
from notrain.fetch.site import SiteFetcher, page_statements

ROBOTS = b"""User-agent: *
Allow: /
Disallow: /private/
Content-Usage: search=y
Content-Usage: /essays/ train-ai=n

User-agent: GPTBot
Disallow: /
"""

PAGE = b"""<!doctype html><html><head>
<meta name="robots" content="noai, noimageai">
<meta name="tdm-reservation" content="0">
</head><body><img src="/a.png"></body></html>"""


def fetcher(client, **policy) -> SiteFetcher:
    return SiteFetcher(client, FetchPolicy(**policy), now=lambda: NOW, clock=Clock())


async def test_every_mechanism_at_once(site, client):
    publish(site, make_key("site"), default={"ai-use": "n"})
    site.serve("/robots.txt", ROBOTS)
    site.serve("/.well-known/tdmrep.json", json.dumps([{"location": "/essays/*", "tdm-reservation": 1}]))
    site.serve("/ai.txt", "User-agent: *\nDisallow: *.png\n")
    signals = await fetcher(client).site(site.origin + "/essays/one")
    url = site.origin + "/essays/one"
    headers = [("Content-Type", "text/html"), ("Content-Usage", "search=n"), ("X-Robots-Tag", "otherbot: noai")]
    statements, page = page_statements(signals, url, "notrainbot", headers=headers, body=PAGE)
    mechanisms = {s.evidence.mechanism for s in statements}
    assert {"notrain", "robots.txt-content-usage", "header-content-usage", "html-meta-robots", "tdmrep-html"} <= mechanisms
    decision = decide(statements)
    assert decision.state("train-ai") is State.DISALLOWED  # robots Content-Usage and the noai meta
    assert decision.state("ai-use") is State.DISALLOWED  # the manifest (the page's tdm 0 says yes, n wins)
    assert decision.state("search") is State.DISALLOWED  # the header's search=n beats robots' search=y
    assert signals.can_fetch(url, "notrainbot") and not signals.can_fetch(site.origin + "/private/x", "notrainbot")
    assert not signals.can_fetch(url, "GPTBot")
    assert page is not None and page.image_statements  # noimageai speaks about the page's images


async def test_ai_txt_speaks_for_images(site, client):
    site.serve("/ai.txt", "User-agent: *\nDisallow: *.png\n")
    signals = await fetcher(client).site(site.origin)
    decision = decide(signals.statements(site.origin + "/art/a.png", "notrainbot"))
    assert decision.state("train-ai") is State.DISALLOWED
    assert decide(signals.statements(site.origin + "/art/a.txt", "notrainbot")).state("train-ai") is State.UNKNOWN


async def test_one_fetch_per_file_however_many_wait(site, client):
    publish(site, make_key("site"))
    for path in ("/robots.txt", "/.well-known/tdmrep.json", "/ai.txt", "/.well-known/notrain.json"):
        site.routes.setdefault(path, Route(body=b"User-agent: *\n"))
        site.routes[path].delay = 0.2
    f = fetcher(client)
    results = await asyncio.gather(*(f.site(f"{site.origin}/page/{i}") for i in range(15)))
    assert all(r.files is results[0].files for r in results)
    assert {site.hits[p] for p in ("/robots.txt", "/.well-known/tdmrep.json", "/ai.txt", "/.well-known/notrain.json")} == {1}


async def test_unreachable_robots_means_complete_disallow(site, client):
    site.serve("/robots.txt", "oops", status=503)
    signals = await fetcher(client).site(site.origin)
    assert not signals.can_fetch(site.origin + "/", "notrainbot")
    assert not decide(signals.statements(site.origin + "/", "notrainbot")).allowed("search")


async def test_robots_4xx_means_no_rules(site, client):
    site.serve("/robots.txt", "gone", status=404)
    signals = await fetcher(client).site(site.origin)
    assert signals.can_fetch(site.origin + "/anything", "notrainbot")


async def test_a_slow_robots_txt_times_out_and_fails_closed(site):
    site.serve("/robots.txt", "User-agent: *\nAllow: /\n", delay=0.6)
    async with HttpClient(timeout=0.2) as client:
        signals = await fetcher(client).site(site.origin)
    assert signals.files.robots.status == "unreachable"
    assert not signals.can_fetch(site.origin + "/", "notrainbot")


async def test_a_huge_robots_txt_is_cut_not_refused(site, client):
    body = b"User-agent: *\nDisallow: /secret/\n" + b"# filler\n" * 100_000
    site.serve("/robots.txt", body)
    signals = await fetcher(client).site(site.origin)
    assert signals.files.robots.status == "parsed"
    assert not signals.can_fetch(site.origin + "/secret/x", "notrainbot")


async def test_broken_optional_files_are_warnings(site, client):
    site.serve("/.well-known/tdmrep.json", status=302, Location="/.well-known/tdmrep.json")
    site.serve("/ai.txt", b"\xff\xfe not text", **{"Content-Type": "image/png"})
    signals = await fetcher(client).site(site.origin)
    assert signals.files.tdmrep is None
    assert any("tdmrep.json" in w and "redirect" in w for w in signals.files.warnings)
    assert signals.files.ai_txt is not None  # wrong content type and bad bytes: still read, leniently


async def test_site_manifest_failure_fails_every_url_closed(site, client):
    site.serve("/.well-known/notrain.json", "busy", status=500)
    signals = await fetcher(client).site(site.origin)
    assert signals.manifest.status is Status.FAILED
    decision = decide(signals.statements(site.origin + "/x", "notrainbot"))
    assert not any(decision.allowed(c) for c in ("train-ai", "ai-use", "search"))
