"""A Scrapy crawl in a separate process, under Scrapy's default asyncio reactor.

``python -m``-style: run this file with a JSON object of extra settings and the URLs to
fetch; it prints the crawl's ``notrain/`` stats as one JSON line.  Tests use it where a
crawl must really run as its own process (fleet mode) or under the production reactor.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import scrapy
from scrapy.crawler import AsyncCrawlerProcess

SCRIPT = Path(__file__).resolve()


class Pages(scrapy.Spider):
    name = "pages"

    async def start(self):
        for url in sys.argv[2:]:
            yield scrapy.Request(url, dont_filter=True)

    def parse(self, response):
        pass


async def run(settings: dict, urls: list[str], timeout: float = 60) -> tuple[int, dict, str]:
    """Crawl ``urls`` with the add-on and ``settings`` in a new process: (exit code, notrain stats, stderr)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(SCRIPT), json.dumps(settings), *urls, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    lines = out.decode().strip().splitlines()
    return process.returncode, json.loads(lines[-1]) if lines else {}, err.decode()


def main() -> None:
    settings = {"ADDONS": {"notrain.scrapy.Addon": 0}, "LOG_LEVEL": "ERROR", "TELNETCONSOLE_ENABLED": False, **json.loads(sys.argv[1])}
    process = AsyncCrawlerProcess(settings)
    crawler = process.create_crawler(Pages)
    process.crawl(crawler)
    process.start()
    print(json.dumps({k: v for k, v in crawler.stats.get_stats().items() if k.startswith("notrain/")}))


if __name__ == "__main__":
    main()
