"""A :class:`~notrain.fetch.http.Transport` that downloads through the crawler itself.

Policy files (manifests, key sets, robots.txt, tdmrep.json, ai.txt) are
fetched with ``crawler.engine.download_async``, so the crawl's proxies, user
agent, TLS settings, download slots, politeness and stats apply to them as to
any page, and there is no second connection pool.  What the generic
downloader middlewares would otherwise decide is pinned per request in meta:

* ``dont_redirect`` + ``handle_httpstatus_all``: redirects are followed here,
  with the same rule as :mod:`notrain.fetch.http` (same host only, an
  http→https upgrade allowed, at most five hops), because a well-known file
  speaks for its origin and RedirectMiddleware would follow any host;
* ``download_timeout``: the remaining part of one budget shared by all hops;
* ``download_maxsize``: Scrapy cancels a download past it
  (``DownloadCancelledError``), which becomes ``Fetched(failure="too large")``.
  Where a cut body is acceptable (``truncate=True``: robots.txt, ai.txt) the
  download is stopped instead from the ``bytes_received`` signal, so the first
  ``max_bytes`` are kept rather than lost;
* ``dont_retry``: a policy fetch gets one attempt.  A failure is cached only
  for the short error TTL (and a last good manifest keeps serving meanwhile),
  while every request of the origin is parked waiting for the answer and
  occupies crawl concurrency: retries would multiply that stall by
  ``RETRY_TIMES + 1`` for a black-holed origin;
* ``dont_cache``: freshness is notrain's (TTLs, ETags), not HttpCacheMiddleware's;
* ``dont_obey_robotstxt`` and ``dont_obey_notrain``: these requests are how
  the policies are learnt, so neither gate may hold them.

Every hop passes the SSRF guard of :mod:`notrain.fetch.addresses` first: an IP
literal is checked as is, a name is resolved through the reactor's resolver
and its address checked.  With Scrapy's default resolver and DNS cache
(``DNS_RESOLVER`` = ``CachingThreadedResolver``, ``DNSCACHE_ENABLED``) that
lookup fills the cache the download then reads, so the connection goes to the
address that was checked.  With the cache off, another resolver, or in
Scrapy's reactorless mode (whose aiohttp handler resolves for itself) the
download resolves again, and a DNS server that answers differently the second
time (rebinding) is not caught (spec/fetching.md, "Addresses").  Loopback is
allowed by ``NOTRAIN_ALLOW_LOOPBACK`` (the setting, or the environment variable).
The pages of the crawl itself are the operator's choice and are not guarded.

Like :class:`~notrain.fetch.http.HttpClient`, :meth:`ScrapyTransport.get`
never raises for a failed download: the outcome's ``failure`` says what went
wrong, because the fail-closed rules must tell "unreachable" from "absent".
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urljoin, urlsplit

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DownloadCancelledError, DownloadTimeoutError, StopDownload
from scrapy.http import Response
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.reactor import is_reactor_installed
from twisted.internet.error import TimeoutError as TwistedTimeoutError

from ..fetch.addresses import AddressPolicy, BlockedAddress
from ..fetch.http import MAX_REDIRECTS, Fetched, _same_host

DONT_OBEY = "dont_obey_notrain"  # request meta: skip the notrain gate for this request
_TRUNCATE_AT = "_notrain_truncate_at"
_RECEIVED = "_notrain_received"
_REDIRECTS = (301, 302, 303, 307, 308)


class ScrapyTransport:
    """GET policy files through ``crawler.engine`` with notrain's fetch rules."""

    def __init__(self, crawler: Crawler, timeout: float = 10.0, addresses: AddressPolicy | None = None) -> None:
        self.crawler = crawler
        self.timeout = timeout
        default = AddressPolicy.from_environment().allow_loopback
        self.addresses = addresses or AddressPolicy(allow_loopback=crawler.settings.getbool("NOTRAIN_ALLOW_LOOPBACK", default))
        crawler.signals.connect(self._stop_when_full, signal=signals.bytes_received)

    async def get(self, url: str, *, max_bytes: int, etag: str | None = None, truncate: bool = False) -> Fetched:
        deadline = time.monotonic() + self.timeout
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return Fetched(url, current, failure="timeout")
            try:
                await self._check_address(current)
                response = await self._download(current, remaining, max_bytes, etag, truncate)
            except BlockedAddress as error:
                self._count("notrain/refused_address_count")
                return Fetched(url, current, failure=f"network: {error}"[:300])
            except (DownloadTimeoutError, TwistedTimeoutError):
                return Fetched(url, current, failure="timeout")
            except DownloadCancelledError:
                return Fetched(url, current, failure="too large")
            except Exception as error:  # the downloader's errors are not one hierarchy
                self._count(f"notrain/exception_count/{type(error).__name__}")
                return Fetched(url, current, failure=f"network: {type(error).__name__}: {error}"[:300])
            if response.status not in _REDIRECTS:
                return _fetched(url, response, max_bytes)
            location = response.headers.get("Location")
            if not location:
                return Fetched(url, current, response.status, failure="redirect: no Location")
            target = urljoin(current, location.decode("latin-1"))
            if not _same_host(current, target):
                return Fetched(url, current, response.status, failure=f"redirect: leaves the origin ({target})")
            current = target
        return Fetched(url, current, failure=f"redirect: more than {MAX_REDIRECTS} hops")

    async def _check_address(self, url: str) -> None:
        """Raise :class:`BlockedAddress` if ``url``'s host is, or resolves to, a refused address.
        A lookup that fails is left to the download, which fails the same way."""
        host = urlsplit(url).hostname
        if not host or self.addresses.check_host(host):
            return  # no host (the download fails), or an IP literal, now checked
        try:
            if is_reactor_installed():
                from twisted.internet import reactor

                addresses = [await maybe_deferred_to_future(reactor.resolve(host))]
            else:  # reactorless Scrapy downloads with aiohttp, which resolves on its own
                addresses = [info[4][0] for info in await asyncio.get_running_loop().getaddrinfo(host, None)]
        except Exception:  # noqa: BLE001 - DNS errors: the download reports them
            return
        for address in addresses:
            self.addresses.check(host, address)

    async def _download(self, url: str, timeout: float, max_bytes: int, etag: str | None, truncate: bool) -> Response:
        meta = {
            DONT_OBEY: True,
            "dont_obey_robotstxt": True,
            "dont_redirect": True,
            "handle_httpstatus_all": True,
            "dont_retry": True,
            "dont_cache": True,
            "download_timeout": timeout,
        }
        headers = {"If-None-Match": etag} if etag else {}
        if truncate:
            meta[_TRUNCATE_AT] = max_bytes
            headers["Accept-Encoding"] = "identity"  # a cut compressed body would not decompress
        else:
            meta["download_maxsize"] = max_bytes
        self._count("notrain/request_count")
        response = await self.crawler.engine.download_async(Request(url, headers=headers, meta=meta, callback=NO_CALLBACK))
        self._count("notrain/response_count")
        self._count(f"notrain/response_status_count/{response.status}")
        return response

    def _stop_when_full(self, data: bytes, request: Request, spider=None) -> None:
        """``bytes_received`` handler: end a truncatable download once it has enough."""
        limit = request.meta.get(_TRUNCATE_AT)
        if limit is None:
            return
        received = request.meta[_RECEIVED] = request.meta.get(_RECEIVED, 0) + len(data)
        if received > limit:
            raise StopDownload(fail=False)

    def _count(self, key: str) -> None:
        self.crawler.stats.inc_value(key)


def _fetched(url: str, response: Response, max_bytes: int) -> Fetched:
    headers = tuple(
        (key.decode("latin-1"), value.decode("latin-1")) for key, values in response.headers.items() for value in values
    )
    if response.status == 304:
        return Fetched(url, response.url, 304, headers, not_modified=True)
    body = response.body
    if len(body) > max_bytes:  # only a truncatable download gets here (download_maxsize cancels the others)
        return Fetched(url, response.url, response.status, headers, body[:max_bytes], truncated=True)
    return Fetched(url, response.url, response.status, headers, body)
