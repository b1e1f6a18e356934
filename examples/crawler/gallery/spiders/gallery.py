"""Crawls the example gallery and board: every <figure> becomes an item with its caption and image."""

import scrapy


class GallerySpider(scrapy.Spider):
    name = "gallery"

    def __init__(self, site="http://127.0.0.1:8765", board="http://127.0.0.1:8766", **kwargs):
        super().__init__(**kwargs)
        self.start_urls = [site.rstrip("/") + "/", board.rstrip("/") + "/"]

    def parse(self, response):
        for figure in response.css("figure"):
            yield {
                "caption": figure.css("figcaption::text").get(""),
                "alt": figure.css("img::attr(alt)").get(""),
                "image_urls": [response.urljoin(src) for src in figure.css("img::attr(src)").getall()],
                "page": response.url,
                # The page's verdict, which notrain's item pipeline turns into the item's provenance.
                "notrain": response.meta.get("notrain"),
            }
        yield from response.follow_all(css="a::attr(href)")
