"""`notrain doctor` against real local sites: one with every mechanism and every mistake, one clean."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys

from conftest import make_key
from sites import Site
from test_fetch_manifests import publish

from notrain.core import State
from notrain.doctor import diagnose, render
from notrain.fetch.http import HttpClient

ROBOTS = b"""User-agent: GPTBot
Disallow: /

User-agent: *
Allow: /
Content-Usage: search=y
"""


def messy(site: Site) -> None:
    """Every mechanism at once, with the mistakes doctor should explain."""
    publish(site, make_key("site"))
    envelope = json.loads(site.routes["/.well-known/notrain.json"].body)
    envelope["signatures"][0]["sig"] = base64.b64encode(bytes(64)).decode()  # a broken signature
    site.serve("/.well-known/notrain.json", json.dumps(envelope))
    site.serve("/robots.txt", ROBOTS)
    site.serve("/ai.txt", "User-agent: *\nDisallow: /\n")
    site.serve("/.well-known/tdmrep.json", json.dumps([{"location": "/*", "tdm-reservation": 1}]))
    site.serve(
        "/gallery",
        b'<html><head><meta name="robots" content="noai"><meta name="tdm-reservation" content="0"></head><body>art</body></html>',
        **{"Content-Type": "text/html", "Content-Usage": "Train-AI=n", "Via": "1.1 varnish"},
    )


async def test_doctor_explains_a_site_with_every_mechanism_and_mistake(site):
    messy(site)
    async with HttpClient(timeout=2.0) as client:
        d = await diagnose(site.origin + "/gallery", client, token="notrainbot")
    mechanisms = {s.evidence.mechanism for s in d.statements}
    assert {"fail-closed", "robots.txt-content-usage", "robots.txt-ai-crawler", "ai.txt", "html-meta-robots", "tdmrep-html"} <= mechanisms
    assert not any(d.decision.allowed(c) for c in ("train-ai", "ai-use", "search"))  # the broken manifest fails closed
    advice = "\n".join(d.advice)
    assert "E_SIGNATURE_INVALID" in advice and "fail-closed" in advice
    assert "lowercase (train-ai, not Train-AI)" in advice
    assert "ai.txt is read by few crawlers" in advice
    # The GPTBot block is an inference, overruled where the page states train-ai itself: not part of the disagreement.
    assert "signals disagree on train-ai: ai.txt, html-meta-robots say no, tdmrep-html says yes" in advice
    assert "signals disagree on ai-use: html-meta-robots says no, tdmrep-html says yes" in advice  # noai covers ai-use
    assert "robots.txt-ai-crawler (User-agent: GPTBot | Disallow: /) would mean train-ai=n by inference" in advice
    assert "disagree on search" not in advice  # only the fail-closed statement said no: it is explained on its own
    assert "blocks some AI training crawlers (GPTBot" in advice
    assert d.crawl["GPTBot"] is False and d.crawl["CCBot"] is True
    text = render(d)
    assert "DISALLOWED" in text and "fail-closed" in text and "advice:" in text


async def test_doctor_shows_an_explicit_statement_and_the_inference_it_overrules(site):
    # i7 §3: the site's "Content-Usage: /open/ train-ai=y" decides /open/, not the GPTBot block read as train-ai=n.
    site.serve("/robots.txt", "User-agent: GPTBot\nDisallow: /\n\nUser-agent: *\nAllow: /\nContent-Usage: /open/ train-ai=y\n")
    site.serve("/open/poem", "<html></html>", **{"Content-Type": "text/html"})
    site.serve("/closed/poem", "<html></html>", **{"Content-Type": "text/html"})
    async with HttpClient(timeout=2.0) as client:
        d = await diagnose(site.origin + "/open/poem", client)
        closed = await diagnose(site.origin + "/closed/poem", client)
    assert d.decision.state("train-ai") is State.ALLOWED
    [inference] = d.decision.outcomes["train-ai"].overruled
    assert inference.inferred and inference.evidence.rule == "User-agent: GPTBot | Disallow: /"
    advice = "\n".join(d.advice)
    assert "would mean train-ai=n by inference, but robots.txt-content-usage states train-ai explicitly" in advice
    assert "disagree" not in advice
    text = render(d)
    assert "robots.txt-ai-crawler (inferred)" in text and "robots.txt-content-usage" in text
    assert "overruled inference: User-agent: GPTBot | Disallow: /" in text
    report = d.to_json()["decision"]["categories"]["train-ai"]
    assert report["state"] == "allowed" and report["overruled"][0]["inferred"] is True
    assert closed.decision.state("train-ai") is State.DISALLOWED  # nothing explicit there: the inference fills it
    assert not closed.decision.outcomes["train-ai"].overruled


async def test_doctor_notices_a_cdn_that_strips_headers(site):
    site.serve("/p", "<html></html>", **{"Content-Type": "text/html", "CF-Ray": "8c1d", "Server": "cloudflare"})
    async with HttpClient(timeout=2.0) as client:
        d = await diagnose(site.origin + "/p", client)
    assert any("CDN" in a and "cf-ray" in a for a in d.advice)
    assert any("no notrain manifest" in a for a in d.advice)


async def test_doctor_on_a_clean_site(site):
    publish(site, make_key("site"), paths=[{"pattern": "/blog/", "prefs": {"train-ai": "y"}}])
    site.serve("/blog/post", "<html></html>", **{"Content-Type": "text/html"})
    async with HttpClient(timeout=2.0) as client:
        d = await diagnose(site.origin + "/blog/post", client)
    assert d.site.manifest.status.value == "verified"
    assert d.decision.state("train-ai") is State.ALLOWED
    assert not any("manifest" in a for a in d.advice)


async def test_doctor_cli_json(site):
    messy(site)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "notrain.cli", "doctor", site.origin + "/gallery", "--json",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env={**os.environ},
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    report = json.loads(out)
    assert report["manifest"]["status"] == "failed" and report["decision"]["categories"]["train-ai"]["allowed"] is False
    assert report["advice"] and b"Traceback" not in err


async def test_doctor_cli_refuses_a_non_http_url():
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "notrain.cli", "doctor", "ftp://example.org/x",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    _, err = await process.communicate()
    assert process.returncode == 2 and b"http(s) URL" in err and b"Traceback" not in err



async def test_doctor_follows_a_pages_manifest_link(site):
    key = make_key("site")
    publish(site, key)
    site.routes["/meta/notrain.json"] = site.routes.pop("/.well-known/notrain.json")
    site.serve("/p", '<html><head><link rel="notrain" href="/meta/notrain.json"></head></html>', **{"Content-Type": "text/html"})
    async with HttpClient(timeout=2.0) as client:
        d = await diagnose(site.origin + "/p", client)
    assert d.site.manifest.status.value == "verified" and d.decision.state("train-ai") is State.DISALLOWED
    assert any("publish it there too" in a for a in d.advice)
