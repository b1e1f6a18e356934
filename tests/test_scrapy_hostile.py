"""Real Scrapy crawls of hostile sites: every request ends in Forbidden, and the report is written.

A manifest of the last day of year 9999 (its validity once overflowed Python's datetime), one with a
lone surrogate in a member name (its error location once made the compliance report unwritable at
spider close), and URLs that Scrapy accepts but that have no origin notrain can fetch signals for.
"""

from __future__ import annotations

import json

from conftest import make_key
from test_fetch_manifests import publish
from test_hostile import ESCAPED, LAST_DAY, SURROGATE_MEMBER
from test_scrapy_middleware import HTML, MANIFEST, crawl, settings

from notrain.scrapy import Forbidden


async def test_hostile_manifests_and_urls_are_forbidden_and_reported(sites, tmp_path):
    last_day, surrogate, plain = await sites(), await sites(), await sites()
    publish(last_day, make_key("late"), **LAST_DAY)
    publish(surrogate, make_key("odd"), **SURROGATE_MEMBER)
    for site in (last_day, surrogate, plain):
        site.serve("/page", "<p>page</p>", **HTML)
    no_origin = plain.origin.replace("127.0.0.1", "[::ffff:127.0.0.1]") + "/page"  # reachable, but not a canonical origin
    requests = [(site.origin + "/page", {}) for site in (last_day, surrogate)] + [(no_origin, {}), (plain.origin + "/page", {})]

    crawler, spider = await crawl(settings(tmp_path), requests)

    assert set(spider.refused) == {last_day.origin + "/page", surrogate.origin + "/page", no_origin}
    assert all(isinstance(error, Forbidden) and error.mechanisms == ["fail-closed"] for error in spider.refused.values())
    assert last_day.hits["/page"] == surrogate.hits["/page"] == plain.hits["/page"] - 1 == 0  # refused before download
    assert list(spider.parsed) == [plain.origin + "/page"]
    stats = crawler.stats.get_stats()
    assert stats["notrain/manifest/failed/E_NOT_YET_VALID"] == stats["notrain/manifest/failed/E_JSON_SURROGATE"] == 1
    assert not [key for key in stats if "Error" in key and "Forbidden" not in key]  # no OverflowError, no UnicodeEncodeError

    report = json.loads((tmp_path / "report.json").read_bytes().decode("utf-8"))
    by_origin = {m["origin"]: m for m in report["manifests"]}
    assert by_origin[last_day.origin]["error"].startswith("E_NOT_YET_VALID")
    assert by_origin[surrogate.origin]["error"].endswith(f"(at /{ESCAPED})")
    assert report["counts"]["outcomes"] == {"forbidden_before_download": 3, "allowed": 1}
    assert last_day.hits[MANIFEST] == surrogate.hits[MANIFEST] == 1
