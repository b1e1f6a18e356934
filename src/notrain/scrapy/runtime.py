"""One notrain state per crawl, shared by the downloader middleware and the pipelines.

The settings are read once, ``NOTRAIN_SOURCES`` loaded once, and a single
compliance report collects what every component refused; it is written when
the spider closes.  Components reach it through :meth:`Runtime.of`, keyed by
crawler (weakly: the state goes with the crawl), not through each other, so
each works whether or not the others are enabled, in any construction order.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterable

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.utils.asyncio import is_asyncio_available

from ..core.decision import Decision, Statement, decide
from .options import Options, SettingsError
from .report import ComplianceReport
from .sources import Sources, load_sources

logger = logging.getLogger(__name__)

UNKNOWN_POLICY = "unknown-policy"  # NOTRAIN_UNKNOWN = "deny" and nobody said yes

_RUNTIMES: weakref.WeakKeyDictionary[Crawler, Runtime] = weakref.WeakKeyDictionary()


class Runtime:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.options = Options.from_settings(crawler.settings)
        self.sources: Sources = load_sources(crawler.settings.getlist("NOTRAIN_SOURCES"), crawler)
        self.report = ComplianceReport(self.options, self.sources)
        crawler.signals.connect(self._write_report, signal=signals.spider_closed)

    @classmethod
    def of(cls, crawler: Crawler) -> Runtime:
        """The crawl's runtime, created by the first component that asks.

        ``NotConfigured`` unless ``NOTRAIN_ENABLED``; :class:`SettingsError`
        (not ``NotConfigured``: crawling without the gate is the failure to
        avoid) without asyncio or with a setting notrain cannot honour.
        """
        if not crawler.settings.getbool("NOTRAIN_ENABLED"):
            raise NotConfigured("NOTRAIN_ENABLED is not set")
        if not is_asyncio_available():
            raise SettingsError("notrain needs asyncio: the asyncio reactor (Scrapy's default) or the reactorless mode")
        runtime = _RUNTIMES.get(crawler)
        if runtime is None:
            runtime = _RUNTIMES[crawler] = cls(crawler)
        return runtime

    def decide(self, statements: Iterable[Statement]) -> tuple[Decision, list[str]]:
        """The decision on everything known about one thing, and the configured purposes it refuses."""
        decision = decide(statements, unknown_as=self.options.unknown_as)
        return decision, [p for p in self.options.purposes if not decision.allowed(p)]

    def refused(self, outcome: str, stat: str, mechanisms: list[str]) -> None:
        """Count a refusal: stats ``<stat>`` and ``<stat>/<mechanism>``, and the report's ``outcome``."""
        self.inc(stat)
        for mechanism in mechanisms:
            self.inc(f"{stat}/{mechanism}")
        self.report.count(outcome, mechanisms)

    def inc(self, key: str) -> None:
        self.crawler.stats.inc_value(key)

    def _write_report(self) -> None:
        path = self.report.write(self.options.report_path)
        logger.info("notrain: compliance report written to %s", path)


def mechanisms(decision: Decision, purposes: list[str]) -> list[str]:
    """What refused ``purposes``: the disallowing mechanisms, or the unknown policy."""
    found = {s.evidence.mechanism for p in purposes for s in decision.disallowed_by(p)}
    return sorted(found) or [UNKNOWN_POLICY]
