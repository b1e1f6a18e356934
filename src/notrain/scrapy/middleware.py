"""``NotrainDownloaderMiddleware``: honour notrain manifests and every existing opt-out signal.

Every request is held until its origin's site signals are known (manifest,
robots.txt, tdmrep.json, ai.txt: fetched once per origin through the crawler
itself, see :mod:`.transport`, and cached).  However many requests wait for
one origin, a single fetch runs and each of them gets its answer: the cache
makes every waiter await one shared task.  (Scrapy's RobotsTxtMiddleware
shares a Deferred, which since 2.14 hands ``None`` — allow all — to the third
and later waiters, and treats an unreachable robots.txt as allow-all.)

* Before the download, a request is refused (:class:`Forbidden`, an
  ``IgnoreRequest``) when robots.txt disallows crawling it for our product
  token (unreachable robots.txt = complete disallow, RFC 9309), or when
  site-level statements (manifest, robots.txt Content-Usage, ai.txt, or the
  fail-closed state of an unverifiable manifest) already disallow a
  configured purpose: such a page or image is never downloaded.  So is a
  URL with no origin notrain can read signals for (a host that is not a
  canonical DNS name or address, such as ``my_host.example`` or
  ``[::ffff:127.0.0.1]``): fail-closed, as for an unreachable manifest.
* After the download, the response's own signals (headers, HTML metas,
  TDMRep, embedded XMP/C2PA) join in, and so does the manifest a page links
  to (``rel="notrain"``) when the origin has none at the well-known path;
  :func:`notrain.core.decide` decides, and a disallowed (or, with ``NOTRAIN_UNKNOWN = "deny"``, undecided)
  response is dropped.  An allowed one carries a :class:`Verdict` in
  ``response.meta["notrain"]`` (the same dict as its request's meta).

Settings:

``NOTRAIN_ENABLED`` (False)
    The middleware raises ``NotConfigured`` unless True (the add-on sets it).
``NOTRAIN_PURPOSES`` (``["train-ai"]``)
    The AIPREF categories the crawl's use of the content must be allowed for.
``NOTRAIN_UNKNOWN`` (``"allow"``)
    What a purpose nobody stated becomes: ``"allow"`` (opt-out semantics) or ``"deny"``.
``NOTRAIN_PRODUCT_TOKEN`` (the first product token of ``USER_AGENT``, else ``"notrain"``)
    The name robots.txt groups, per-bot metas and ai.txt are matched against.
``NOTRAIN_OBEY_ROBOTS_CRAWL`` (True)
    Also refuse what robots.txt disallows crawling (independent of Scrapy's ``ROBOTSTXT_OBEY``).
``NOTRAIN_MANIFEST_TTL`` (86400) / ``NOTRAIN_ERROR_TTL`` (300)
    Seconds a verified manifest (at most until its expiry) / a failure is cached.
``NOTRAIN_CACHE_SIZE`` (10000)
    Origins kept in memory (least recently used dropped first).
``NOTRAIN_TIMEOUT`` (10)
    Seconds for one policy file, redirects included.
``NOTRAIN_REPORT_PATH`` (``"notrain-report.json"``)
    Where the compliance report is written when the spider closes (see :mod:`.report`).
``NOTRAIN_SOURCES`` (``[]``)
    Bundles (or other sources) of manifests about works and names anywhere,
    for the pipelines (see :mod:`.sources`).
``NOTRAIN_WITNESSES`` (``[]``) / ``NOTRAIN_MIN_COSIGNATURES`` (0)
    Witnesses' cosigner vkeys, and how many of them must have cosigned the
    log checkpoint of every aggregator or snapshot source (with a log key)
    that sets no witness policy of its own (see :mod:`.sources`).
``NOTRAIN_REDIS_URL`` (unset)
    Fleet mode: policy files are shared with the other processes of the
    fleet through this Redis (:class:`~notrain.fetch.shared.SharedTransport`,
    keys under ``notrain:``, so never in the way of scrapy-redis's
    ``<spider>:requests``, ``:dupefilter``, ``:items``); every process still
    verifies every signature itself.  Needs the ``notrain[fleet]`` extra.

Request meta: ``dont_obey_notrain`` skips the gate for one request.

Stats (``notrain/``): ``request_count``, ``response_count``,
``response_status_count/<status>`` and ``exception_count/<type>`` for policy
fetches; ``requests_checked``, ``responses_checked``, ``allowed``,
``forbidden`` and ``forbidden/<mechanism>``; ``manifest/verified`` and
``manifest/failed/<error code>``; ``cache_hits`` (lookups answered without
a new fetch, waiters on an in-flight fetch included); in fleet mode,
``fleet/shared_hits`` (policy files read from Redis instead of fetched).

Signal: :data:`notrain.scrapy.signals.manifest_verified`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.utils.httpobj import urlparse_cached

from ..core.decision import FAIL_CLOSED, Decision, decide
from ..core.errors import URLError
from ..core.vocab import State
from ..fetch.http import Transport
from ..fetch.manifests import ManifestState, Status
from ..fetch.site import SiteFetcher, SiteSignals, page_statements
from ..signals.headers import discovered_manifest_links
from ..signals.robots import UNREACHABLE
from .options import Options, SettingsError
from .report import ALLOWED, DROPPED, FORBIDDEN, manifest_json
from .runtime import Runtime, mechanisms
from .signals import manifest_verified
from .transport import DONT_OBEY, ScrapyTransport

OFF_LOOP_BYTES = 64 * 1024  # a body this big may take over ~1 ms to read signals from (HTML ~1 ms per 100 KB)


if TYPE_CHECKING:
    from ..fetch.shared import SharedTransport

logger = logging.getLogger(__name__)

ROBOTS_DISALLOW = "robots.txt-disallow"
_SITE_STATEMENTS = "_notrain_site_statements"  # request meta: site-level statements computed before the download  # crawl permission, as opposed to robots.txt usage statements


class Forbidden(IgnoreRequest):
    """A request or response refused by notrain; errbacks can tell it from other ``IgnoreRequest``."""

    def __init__(self, url: str, purposes: list[str], mechanisms: list[str], stage: str) -> None:
        self.url, self.purposes, self.mechanisms, self.stage = url, purposes, mechanisms, stage
        when = "before download" if stage == FORBIDDEN else "after download"
        super().__init__(f"Forbidden by notrain ({when}): {', '.join(purposes)} disallowed by {', '.join(mechanisms)}")


@dataclass(frozen=True)
class Verdict:
    """What notrain decided about an allowed response: ``response.meta["notrain"]``."""

    url: str
    decision: Decision
    manifest: ManifestState

    def to_json(self, *, decision: bool = True) -> dict:
        """The verdict as evidence; without ``decision`` when a later decision that
        includes its statements is kept next to it (compact provenance)."""
        doc = {"url": self.url, "manifest": manifest_json(self.manifest)}
        if decision:
            doc["decision"] = self.decision.to_json()
        return doc

    def __repr__(self) -> str:  # short: items carrying one get logged whole (e.g. when dropped)
        states = ", ".join(f"{c} {o.state.value}" for c, o in self.decision.outcomes.items())
        return f"<Verdict {self.url}: {states}>"


class NotrainDownloaderMiddleware:
    def __init__(self, crawler: Crawler) -> None:
        self.runtime = Runtime.of(crawler)
        self.crawler = crawler
        self.options = self.runtime.options
        self.report = self.runtime.report
        self.token = self.options.product_token
        # Bound once: Scrapy's stats collector resolves and wraps its methods on every attribute access.
        self._inc_value, self._set_value = crawler.stats.inc_value, crawler.stats.set_value
        transport: Transport = ScrapyTransport(crawler, self.options.timeout)
        self.shared = _shared(transport, self.options) if self.options.redis_url else None
        if self.shared is not None:
            crawler.signals.connect(self._close_redis, signal=signals.spider_closed)
        self.fetcher = SiteFetcher(self.shared or transport, self.options.policy())

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> NotrainDownloaderMiddleware:
        return cls(crawler)

    async def process_request(self, request: Request) -> None:
        if not _gated(request):
            return
        self._inc("notrain/requests_checked")
        site = await self._site(request.url)
        if site is None:
            raise self._forbid(request.url, list(self.options.purposes), [FAIL_CLOSED], FORBIDDEN)
        if self.options.obey_robots_crawl and not site.can_fetch(request.url, self.token):
            mechanism = FAIL_CLOSED if site.files.robots.status == UNREACHABLE else ROBOTS_DISALLOW
            raise self._forbid(request.url, list(self.options.purposes), [mechanism], FORBIDDEN)
        # Site-level statements can only be joined by more "n"s or "y"s, never
        # overridden, so a "disallowed" here is final (an "unknown" is not).
        statements = site.statements(request.url, self.token)
        decision = decide(statements, categories=self.options.purposes)
        refused = [p for p in self.options.purposes if decision.state(p) is State.DISALLOWED]
        if refused:
            raise self._forbid(request.url, refused, mechanisms(decision, refused), FORBIDDEN)
        request.meta[_SITE_STATEMENTS] = (request.url, statements)  # reused for the response, unless redirected

    async def process_response(self, request: Request, response: Response) -> Response:
        if not _gated(request):
            return response
        self._inc("notrain/responses_checked")
        site = await self._site(response.url)
        if site is None:
            raise self._forbid(response.url, list(self.options.purposes), [FAIL_CLOSED], DROPPED)
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, values in response.headers.items() for v in values]
        url, earlier = request.meta.pop(_SITE_STATEMENTS, (None, None))
        read = functools.partial(
            page_statements, site, response.url, self.token, headers=headers, body=response.body,
            site_statements=earlier if url == response.url and not site.manifest.stale else None,
        )
        # Parsing is linear and bounded, but a big page or image can take milliseconds: not on the event loop.
        # A small one is read in place: a thread hop costs more than the page.
        statements, page = await asyncio.to_thread(read) if len(response.body) > OFF_LOOP_BYTES else read()
        links = [*(page.manifest_links if page else ()), *discovered_manifest_links(headers, response.url)]
        if site.manifest.status is Status.ABSENT and links:  # spec/discovery.md: follow the page's rel="notrain"
            site = SiteSignals(await self.fetcher.manifests.discovered(site.origin, links[0]), site.files)
            await self._note(site)
            statements += site.manifest.statements(response.url)  # the absent one said nothing
        decision, refused = self.runtime.decide(statements)
        if refused:
            raise self._forbid(response.url, refused, mechanisms(decision, refused), DROPPED)
        request.meta["notrain"] = Verdict(response.url, decision, site.manifest)
        self._inc("notrain/allowed")
        self.report.count(ALLOWED)
        return response

    async def _site(self, url: str) -> SiteSignals | None:
        """The URL's site signals; None for a URL with no origin (``http://my_host.example/``,
        ``http://[::ffff:127.0.0.1]/``), whose signals cannot be read: it is refused, fail-closed."""
        try:
            site = await self.fetcher.site(url)
        except URLError:
            return None
        self._set_value("notrain/cache_hits", self.fetcher.manifests.cache.hits)
        if self.shared is not None:
            self._set_value("notrain/fleet/shared_hits", self.shared.shared_hits)
        await self._note(site)
        return site

    async def _note(self, site: SiteSignals) -> None:
        """Report; and count, signal and log a manifest state the crawl has not seen before."""
        if not self.report.observe(site):
            return
        state = site.manifest
        if state.error:
            self._inc(f"notrain/manifest/failed/{_error_code(state.error)}")
        elif state.status is Status.VERIFIED:
            self._inc("notrain/manifest/verified")
            self.runtime.sources.crawled.add(state.manifest)  # its works and names, wherever they turn up
            await self.crawler.signals.send_catch_log_async(signal=manifest_verified, origin=site.origin, manifest=state.manifest)
        root = decide(site.statements(site.origin + "/", self.token), categories=self.options.purposes)
        logger.info(
            "notrain: %s: manifest %s%s; robots.txt %s, tdmrep.json %s, ai.txt %s; at /: %s",
            site.origin,
            state.status.value + (" (stale: last good one kept)" if state.stale else ""),
            f" ({state.error})" if state.error else f" ({state.manifest.publisher}, sequence {state.manifest.sequence})" if state.manifest else "",
            site.files.robots.status,
            "present" if site.files.tdmrep else "absent",
            "present" if site.files.ai_txt else "absent",
            ", ".join(f"{p} {root.state(p).value}" for p in self.options.purposes),
        )

    def _forbid(self, url: str, purposes: list[str], by: list[str], stage: str) -> Forbidden:
        self.runtime.refused(stage, "notrain/forbidden", by)
        forbidden = Forbidden(url, purposes, by, stage)
        logger.debug("%s: %s", forbidden, url)
        return forbidden

    async def _close_redis(self) -> None:
        await self.shared.redis.aclose()  # type: ignore[union-attr]

    def _inc(self, key: str) -> None:
        self._inc_value(key)


def _gated(request: Request) -> bool:
    """Whether notrain decides about this request.

    Not for its own policy fetches, nor for ``dont_obey_notrain``, nor for
    non-HTTP schemes; nor for the robots.txt fetched by Scrapy's
    RobotsTxtMiddleware, which is read to obey it, not to use it.
    """
    if request.meta.get(DONT_OBEY):
        return False
    if urlparse_cached(request).scheme not in ("http", "https"):  # cached per request; Scrapy reads the same
        return False
    return not (request.meta.get("dont_obey_robotstxt") and urlsplit(request.url).path == "/robots.txt")


def _shared(transport: Transport, options: Options) -> SharedTransport:
    """Fleet mode's transport (imported here: redis is an optional extra)."""
    try:
        from redis.asyncio import Redis

        from ..fetch.shared import SharedTransport
    except ImportError:
        raise SettingsError("NOTRAIN_REDIS_URL needs the redis package: pip install 'notrain[fleet]'") from None
    try:
        redis = Redis.from_url(options.redis_url)  # type: ignore[arg-type]
    except ValueError as error:
        raise SettingsError(f"NOTRAIN_REDIS_URL: {error}") from None
    return SharedTransport(transport, redis, ttl=options.manifest_ttl, error_ttl=options.error_ttl)


def _error_code(error: str) -> str:
    """A stats key for a manifest failure: "E_SIGNATURE_INVALID", "HTTP_503", "timeout", "network"..."""
    head = error.split(":", 1)[0].strip()
    return re.sub(r"\W+", "_", head) or "unknown"
