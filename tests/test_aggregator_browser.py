"""The web page in a real headless Chromium on a phone-sized screen, with JavaScript switched off.

Debian's ``chromium`` is driven by Playwright with its executable path set (Playwright's own browser
download cannot run here).  The aggregator is the demo: the example artist's portfolio loaded as a
did:key publisher.  A visitor searches the artist, opens the page, checks a URL and a caption, uploads
one of the artist's works and a text file.  Every request the browser makes must go to the aggregator: nothing is
loaded from the internet.  Screenshots are written to ``$NOTRAIN_SCREENSHOTS`` (default: the test's
temporary directory) for a person to look at.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from aggregator_helpers import aggregator_config
from aiohttp.test_utils import TestServer
from services import require

from notrain.aggregator.app import create_app
from notrain.aggregator.demo import ARTIST, demo_envelopes

PORTFOLIO = Path(__file__).resolve().parent.parent / "examples" / "portfolio"
PHONE = {"width": 390, "height": 844}
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]

try:
    from playwright import async_api as playwright_api
except ImportError:  # in CI a missing part is a failure, elsewhere a skip (as tests/services.py does)
    playwright_api = None


@pytest.fixture
def chromium() -> str:
    if playwright_api is None:
        if os.environ.get("CI"):
            pytest.fail("playwright is not installed: pip install -e '.[test]'")
        pytest.skip("playwright is not installed (pip install -e '.[test]'; never `playwright install`)")
    return require("chromium")  # Debian's package, /usr/bin/chromium


@pytest.fixture
async def demo(tmp_path):
    server = TestServer(create_app(aggregator_config(tmp_path / "data"), preload=demo_envelopes(PORTFOLIO)), host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("NOTRAIN_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def test_a_visitor_on_a_phone_without_javascript(chromium, demo, shots):
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, java_script_enabled=False)
            page = await context.new_page()
            requested, problems = [], []
            page.on("request", lambda request: requested.append(request.url))
            page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
            await visit(page, demo, shots)
        finally:
            await browser.close()
    assert requested and all(url.startswith(demo + "/") for url in requested), requested
    assert any(url == demo + "/web/icon.svg" for url in requested)
    # No CSP violation, no failed load: the only error is the refused text file's 422 answer.
    assert problems == ["Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)"]


async def visit(page, demo: str, shots: Path) -> None:
    await page.goto(demo + "/")
    assert await page.title() == "Home · notrain aggregator"
    assert await page.locator("h1").inner_text() == "notrain aggregator"
    # The stylesheet applied (the page's own, under the CSP) and nothing wider than the phone's screen.
    assert await page.locator("button").first.evaluate("b => getComputedStyle(b).fontWeight") == "600"
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await page.screenshot(path=shots / "home.png", full_page=True)

    await page.get_by_label("Publisher id or its beginning").fill("did:key:")
    await page.get_by_role("button", name="Search publishers").click()
    results = page.locator("ul.results a")
    assert await results.count() == 1
    await results.first.click()
    assert (await page.locator("h1").inner_text()).startswith("Publisher did:key:z")
    assert ARTIST in await page.locator("dl.facts").inner_text()
    envelope = page.get_by_role("link", name="download the exact signed envelope")
    assert (await envelope.get_attribute("href")).startswith("/v1/publisher/envelope?id=did%3Akey%3A")
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await page.screenshot(path=shots / "publisher.png", full_page=True)

    await page.goto(demo + "/")
    await page.get_by_label("Address of a page or an image").fill("https://images.example/ada/sunset.png")
    await page.get_by_role("button", name="Check URL").click()
    # A did:key publisher speaks for works and names, never for another origin's URLs.
    assert "no statement for train-ai" in await page.locator("main").inner_text()
    await page.screenshot(path=shots / "check-url.png", full_page=True)

    await page.goto(demo + "/")
    await page.get_by_label("A caption or prompt").fill(f"fan art in the style of {ARTIST}, 4k")
    await page.get_by_role("button", name="Check caption").click()
    assert "disallowed for train-ai" in await page.locator("main").inner_text()

    await page.goto(demo + "/")
    await page.get_by_label("An image file").set_input_files(PORTFOLIO / "sunset.png")
    await page.get_by_role("button", name="Check image").click()
    answer = await page.locator("main").inner_text()
    assert answer.count("disallowed for train-ai") == 2 and "disallowed for ai-use" in answer
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await page.screenshot(path=shots / "check-image.png", full_page=True)

    await page.goto(demo + "/")
    await page.get_by_label("An image file").set_input_files(PORTFOLIO / "notes.txt")
    await page.get_by_role("button", name="Check image").click()
    assert await page.locator("h1").inner_text() == "Image not checked"
    assert "This file is not an image" in await page.get_by_role("alert").inner_text()
    await page.screenshot(path=shots / "not-an-image.png", full_page=True)

    await page.get_by_role("link", name="Log", exact=True).click()
    assert (await page.locator("pre").inner_text()).startswith("aggregator.test/log\n1\n")
    await page.screenshot(path=shots / "log.png", full_page=True)

