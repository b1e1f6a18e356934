"""examples/crawler against examples/site, end to end: `scrapy crawl` in a subprocess, the site in-process."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
from pathlib import Path

import pytest
from services import free_port

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load_serve():
    spec = importlib.util.spec_from_file_location("example_serve", EXAMPLES / "site" / "serve.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
async def example(tmp_path):
    site = await load_serve().Example(free_port(), free_port(), tmp_path).start()
    yield site
    await site.stop()


async def test_the_example_crawl_honours_every_signal(example, tmp_path):
    out = tmp_path / "out"
    crawl = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "scrapy", "crawl", "gallery", "-a", f"site={example.gallery}", "-a", f"board={example.board}",
        "-s", f"NOTRAIN_SOURCES={example.bundle}", "-s", f"IMAGES_STORE={out / 'images'}",
        "-s", f"NOTRAIN_REPORT_PATH={out / 'report.json'}", "-s", "LOG_LEVEL=INFO", "-O", str(out / "items.jsonl"),
        cwd=EXAMPLES / "crawler", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(crawl.communicate(), 60)
    log = err.decode()
    assert crawl.returncode == 0, log
    hits = example.hits
    gallery, board = example.gallery, example.board

    # What a URL-level signal opts out was never downloaded.
    never = ["/private/sketchbook.html", "/images/portrait.jpg", "/drafts/notes.html", "/images/sketches/spiral.png"]
    assert [hits[gallery, p] for p in never] == [0] * len(never)
    # Each policy file once per origin.
    assert hits[gallery, "/.well-known/notrain.json"] == hits[gallery, "/robots.txt"] == hits[board, "/.well-known/notrain.json"] == 1
    # What only the response or the bytes could tell was downloaded once, and never stored.
    assert hits[gallery, "/noai.html"] == hits[gallery, "/images/clouds.jpg"] == hits[board, "/media/8841.jpg"] == 1
    stored = sorted(p.name for p in (out / "images").rglob("*.jpg"))
    assert len(stored) == 3  # shapes, stripes, blink

    items = [json.loads(line) for line in (out / "items.jsonl").read_text().splitlines()]
    by_image = {item["image_urls"][0].rsplit("/", 1)[1]: item for item in items}
    assert "spiral.png" not in by_image and "portrait.jpg" in by_image
    assert len(by_image["shapes.png"]["images"]) == 1 and by_image["shapes.png"]["notrain"]["decision"]["categories"]["train-ai"]["allowed"]
    assert by_image["8841.jpg"]["images"] == [] and by_image["8841.jpg"]["notrain"]["media_not_stored"][0]["mechanisms"] == ["notrain"]
    assert by_image["portrait.jpg"]["notrain"]["media_not_stored"][0]["stage"] == "forbidden_before_download"
    assert by_image["clouds.jpg"]["notrain"]["media_not_stored"][0]["mechanisms"] == ["xmp-plus-datamining"]
    assert by_image["sunset.png"]["notrain"]["media_not_stored"][0]["stage"] == "media_not_stored"

    report = json.loads((out / "report.json").read_text())
    assert report["counts"]["outcomes"] == {
        "allowed": 8, "forbidden_before_download": 3, "dropped_after_download": 2, "media_not_stored": 2, "item_dropped": 1}
    assert report["counts"]["forbidden_by_mechanism"] == {
        "notrain": 5, "robots.txt-content-usage": 1, "html-meta-robots": 1, "xmp-plus-datamining": 1}
    assert report["sources"][0]["manifests"][0]["publisher"].startswith("did:key:") and report["sources"][0]["rejected"] == []
    assert {m["origin"]: m["status"] for m in report["manifests"]} == {gallery: "verified", board: "absent"}
    assert "item_dropped_reasons_count/OptedOutItem': 1" in log and "'notrain/media/forbidden/notrain': 2" in log
