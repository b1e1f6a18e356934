"""Real crawls through notrain's item and media pipelines, with NOTRAIN_SOURCES bundles and real images.

What must never be stored is asserted on the store's files and what must
never be downloaded on the servers' hit counts, not only on items.
"""

from __future__ import annotations

import hashlib
import json
import logging

import pytest
import scrapy
from conftest import make_key
from pictures import encode, picture
from scrapy.pipelines.files import FilesPipeline
from scrapy.pipelines.images import ImagesPipeline
from scrapy.utils.test import get_crawler
from test_scrapy_middleware import HTML, settings, valid_now
from test_signals_xmp import FORMS, VOCAB, image_with_xmp, packet
from test_sources import entry

from notrain import imaging
from notrain.core.ijson import dumps
from notrain.fetch.sources import LocalSource, bundle
from notrain.scrapy import NotrainFilesPipeline, NotrainImagesPipeline, NotrainItemPipeline, SettingsError
from notrain.scrapy.runtime import Runtime

ARTIST = make_key("mira")
ORIGINAL = encode(picture(5))  # the artist's own file
REPOST = encode(picture(5).resize((256, 192)), "JPEG", quality=70)  # re-encoded elsewhere: only PDQ finds it
EXACT = encode(picture(6))
FREE = encode(picture(7))
NOTES = b"sketchbook notes, not an image\n"
NO_MINING = image_with_xmp(packet(FORMS["attribute"](VOCAB + "DMI-PROHIBITED-AIMLTRAINING")), "PNG")


def write_bundle(tmp_path, **members) -> str:
    did = ARTIST.public.did_key
    works = [
        {"sha256": imaging.hash_bytes(EXACT).sha256.hex()},
        {"pdq": imaging.hash_bytes(ORIGINAL).pdq.hex()},
        {"sha256": hashlib.sha256(NOTES).hexdigest()},
    ]
    doc = {"notrain": 1, "publisher": did, "sequence": 1, **valid_now(), "default": {"train-ai": "n"},
           "works": works, "pdq": {"hasher": imaging.HASHER}, "names": [{"name": "Mira Okafor"}], **members}
    path = tmp_path / "bundle.json"
    path.write_bytes(bundle([entry(dumps(doc), ARTIST)]))
    return str(path)


class Picture(scrapy.Item):
    """An item class without a provenance field: checked, but nothing attached."""

    caption = scrapy.Field()
    image_urls = scrapy.Field()
    images = scrapy.Field()


class Gallery(scrapy.Spider):
    """Visits pages one after the other; on the last, yields the given items with the page's verdict."""

    name = "gallery"

    def __init__(self, pages=(), items=(), **kwargs):
        super().__init__(**kwargs)
        self.pages, self.to_yield = list(pages), list(items)

    async def start(self):
        yield scrapy.Request(self.pages.pop(0))

    def parse(self, response):
        if self.pages:
            yield scrapy.Request(self.pages.pop(0))
            return
        for item in self.to_yield:
            if isinstance(item, dict):
                item = {**item, "notrain": response.meta.get("notrain")}
            yield item


async def run(spider_settings, pages, items):
    crawler = get_crawler(Gallery, spider_settings)
    kept: list = []

    def scraped(item):
        kept.append(item)

    crawler.signals.connect(scraped, signal=scrapy.signals.item_scraped)
    await crawler.crawl_async(pages=pages, items=items)
    return crawler, kept


async def test_opted_out_works_names_and_metadata_are_never_stored(sites, tmp_path, caplog):
    board = await sites()
    board.serve("/thread.html", "<p>a thread</p>", **HTML)
    for path, body, kind in [
        ("/exact.png", EXACT, "image/png"),
        ("/repost.jpg", REPOST, "image/jpeg"),
        ("/free.png", FREE, "image/png"),
        ("/octet.png", NO_MINING, "application/octet-stream"),  # the middleware does not read it as an image
        ("/xmp.png", NO_MINING, "image/png"),  # the middleware reads it and drops it after download
        ("/named.png", FREE, "image/png"),
        ("/notes.txt", NOTES, "text/plain"),
        ("/free.txt", b"free notes\n", "text/plain"),
    ]:
        board.serve(path, body, Content_Type=kind)
    u = board.origin
    items = [
        {"caption": "fan art in the style of mira okafor", "image_urls": [u + "/named.png"]},
        {"caption": ["a thread", "of pictures"], "alt": "", "image_urls": [u + p for p in ("/exact.png", "/repost.jpg", "/free.png",
         "/octet.png", "/xmp.png")], "file_urls": [u + "/notes.txt", u + "/free.txt"]},
        Picture(caption="by someone else", image_urls=[u + "/free.png"]),
    ]
    pipelines = {"scrapy.pipelines.images.ImagesPipeline": 1, FilesPipeline: 2}
    crawler, kept = await run(
        settings(tmp_path, NOTRAIN_PIPELINES=True, NOTRAIN_SOURCES=[write_bundle(tmp_path)], ITEM_PIPELINES=pipelines,
                 IMAGES_STORE=str(tmp_path / "images"), FILES_STORE=str(tmp_path / "files")),
        [u + "/thread.html"], items,
    )
    stats = crawler.stats.get_stats()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # refusals are outcomes, not errors

    # The item naming the artist was dropped before its image was fetched.
    assert board.hits["/named.png"] == 0
    assert stats["item_dropped_reasons_count/OptedOutItem"] == 1 and stats["notrain/items/dropped/notrain"] == 1
    # Stored: the free image (once, for two items) and the free file; nothing else.
    assert len(list((tmp_path / "images").rglob("*.jpg"))) == 1
    assert [p.read_bytes() for p in (tmp_path / "files").rglob("*.txt")] == [b"free notes\n"]
    (thread,) = [i for i in kept if isinstance(i, dict)]
    (other,) = [i for i in kept if isinstance(i, Picture)]
    assert [i["url"] for i in thread["images"]] == [u + "/free.png"] and [f["url"] for f in thread["files"]] == [u + "/free.txt"]
    assert [i["url"] for i in other["images"]] == [u + "/free.png"] and "notrain" not in other
    provenance = json.loads(json.dumps(thread["notrain"]))
    assert provenance["page"]["url"] == u + "/thread.html"
    assert provenance["decision"]["categories"]["train-ai"]["allowed"] is True
    refused = {m["url"]: m for m in provenance["media_not_stored"]}
    assert set(refused) == {u + p for p in ("/exact.png", "/repost.jpg", "/octet.png", "/xmp.png", "/notes.txt")}
    assert refused[u + "/repost.jpg"]["mechanisms"] == ["notrain"] and refused[u + "/repost.jpg"]["stage"] == "media_not_stored"
    assert refused[u + "/octet.png"]["mechanisms"] == ["xmp-plus-datamining"]
    assert refused[u + "/xmp.png"]["stage"] == "dropped_after_download"
    assert stats["notrain/media/forbidden/notrain"] == 3 and stats["notrain/media/forbidden/xmp-plus-datamining"] == 1
    assert stats["notrain/media/allowed"] == 2 and stats["notrain/media/checked"] == 6

    report = json.loads((tmp_path / "report.json").read_text())
    assert report["counts"]["outcomes"]["media_not_stored"] == 4 and report["counts"]["outcomes"]["item_dropped"] == 1
    (source,) = report["sources"]
    assert source["kind"] == "local-bundle" and source["manifests"][0]["publisher"] == ARTIST.public.did_key
    assert source["manifests"][0]["works"] == 3 and source["rejected"] == [] and report["snapshot"] is None


async def test_a_work_listed_on_a_crawled_site_is_recognised_when_reposted(sites, tmp_path):
    from test_fetch_manifests import publish

    home, board = await sites(), await sites()
    publish(home, make_key("home"), **valid_now(), default={"train-ai": "y"},
            works=[{"pdq": imaging.hash_bytes(ORIGINAL).pdq.hex(), "prefs": {"train-ai": "n"}}], pdq={"hasher": imaging.HASHER})
    home.serve("/index.html", "<p>home</p>", **HTML)
    board.serve("/index.html", "<p>board</p>", **HTML)
    board.serve("/repost.jpg", REPOST, Content_Type="image/jpeg")
    _, kept = await run(
        settings(tmp_path, NOTRAIN_PIPELINES=True, ITEM_PIPELINES={ImagesPipeline: 1}, IMAGES_STORE=str(tmp_path / "images")),
        [home.origin + "/index.html", board.origin + "/index.html"], [{"image_urls": [board.origin + "/repost.jpg"]}],
    )
    assert board.hits["/repost.jpg"] == 1 and kept[0]["images"] == [] and not list((tmp_path / "images").rglob("*.jpg"))
    assert kept[0]["notrain"]["media_not_stored"][0]["mechanisms"] == ["notrain"]


async def test_the_addon_swaps_media_pipelines_but_never_starts_storing(tmp_path):
    def pipelines(**extra):
        crawler = get_crawler(Gallery, settings(tmp_path, **extra))
        return {k: v for k, v in crawler.settings.getdict("ITEM_PIPELINES").items() if v is not None}

    assert pipelines() == {}
    assert pipelines(NOTRAIN_PIPELINES=True) == {NotrainItemPipeline: 0}
    swapped = pipelines(NOTRAIN_PIPELINES=True, ITEM_PIPELINES={"scrapy.pipelines.images.ImagesPipeline": -5, FilesPipeline: 300})
    assert swapped == {NotrainImagesPipeline: -5, NotrainFilesPipeline: 300, NotrainItemPipeline: -6}
    assert pipelines(ITEM_PIPELINES={ImagesPipeline: 1}) == {ImagesPipeline: 1}  # not asked: left alone


class Named:
    """A source given by class or import path (how an aggregator client will plug in)."""

    def __init__(self, path=None):
        self.inner = LocalSource(path or Named.path)

    def catalog(self):
        return self.inner.catalog()

    def describe(self):
        return {**self.inner.describe(), "kind": "test"}


def test_sources_by_path_class_import_path_and_object(tmp_path):
    Named.path = write_bundle(tmp_path)
    entries = [Named.path, Named, "test_scrapy_pipelines.Named", Named(Named.path)]
    runtime = Runtime(get_crawler(Gallery, settings(tmp_path, NOTRAIN_SOURCES=entries)))
    assert [d["kind"] for d in runtime.sources.describe()] == ["local-bundle", "test", "test", "test"]
    assert len(runtime.sources.text_statements("by Mira Okafor")) == 4


@pytest.mark.parametrize("entry", ["absent.json", "no.such.Module", 42])
def test_a_source_that_cannot_be_loaded_stops_the_crawl(tmp_path, entry):
    (tmp_path / "absent.json").unlink(missing_ok=True)
    with pytest.raises(SettingsError, match="NOTRAIN_SOURCES"):
        Runtime(get_crawler(Gallery, settings(tmp_path, NOTRAIN_SOURCES=[str(tmp_path / entry) if entry == "absent.json" else entry])))


@pytest.mark.parametrize("provenance", ["compact", "full"])
async def test_provenance_carries_the_pages_evidence_once_unless_full_is_asked(sites, tmp_path, provenance):
    site = await sites()
    site.serve("/robots.txt", "User-agent: *\nAllow: /\nContent-Usage: train-ai=y\n")
    site.serve("/page.html", "<p>page</p>", Content_Usage="train-ai=y, search=y", **HTML)
    extra = {} if provenance == "compact" else {"NOTRAIN_PROVENANCE": "full"}  # compact is the default
    _, kept = await run(settings(tmp_path, NOTRAIN_PIPELINES=True, **extra), [site.origin + "/page.html"], [{"caption": "a sunset"}])
    record = json.loads(json.dumps(kept[0]["notrain"]))
    assert record["page"]["url"] == site.origin + "/page.html" and record["page"]["manifest"]["status"] == "absent"
    cited = {s["evidence"]["mechanism"] for s in record["decision"]["categories"]["train-ai"]["because"]}
    assert cited == {"robots.txt-content-usage", "header-content-usage"}  # the item's decision cites the page's statements
    assert ("decision" in record["page"]) is (provenance == "full")
    if provenance == "full":
        assert record["page"]["decision"]["categories"]["train-ai"] == record["decision"]["categories"]["train-ai"]
