"""A crawler that keeps images and captions, honouring every opt-out through notrain."""

BOT_NAME = "gallery"
SPIDER_MODULES = ["gallery.spiders"]
USER_AGENT = "ExampleBot/1.0 (+https://example.invalid/bot)"  # robots.txt groups match "ExampleBot"

ADDONS = {"notrain.scrapy.Addon": 0}
# Also check captions (names) and image bytes (works, embedded metadata). The add-on adds the
# item pipeline and swaps the ImagesPipeline below for notrain's; it never enables storage itself.
NOTRAIN_PIPELINES = True
NOTRAIN_SOURCES: list[str] = []  # bundles: -s NOTRAIN_SOURCES=/path/to/bundle.json
NOTRAIN_REPORT_PATH = "notrain-report.json"
NOTRAIN_ALLOW_LOOPBACK = True  # the example sites listen on 127.0.0.1; never set this for a real crawl

ITEM_PIPELINES = {"scrapy.pipelines.images.ImagesPipeline": 1}
IMAGES_STORE = "images"

ROBOTSTXT_OBEY = False  # notrain obeys robots.txt itself (NOTRAIN_OBEY_ROBOTS_CRAWL), fail-closed
CONCURRENT_REQUESTS_PER_DOMAIN = 4
TELNETCONSOLE_ENABLED = False
