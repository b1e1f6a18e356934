"""One careful HTTP GET for site-level files (manifests, key sets, robots.txt...).

Every fetch has a size cap (the body is streamed and abandoned past it), a
total timeout, and its own redirect handling: at most five hops, and only
within the same host (an upgrade from http to https is allowed).  A
well-known file speaks for its origin, so a redirect to another host must
not let that host speak instead.  Every hop passes the SSRF guard of
:mod:`.addresses` (the connector resolves through it, IP literals are checked
here), so no document can steer a fetch into the verifier's own network.

Nothing here raises for network trouble: the outcome is a :class:`Fetched`
whose ``failure`` says what went wrong, because the fail-closed rules
(spec/fetching.md) need to tell "unreachable" from "absent".
"""

from __future__ import annotations

import asyncio
import ssl as ssl_module
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver

from .addresses import AddressPolicy, BlockedAddress, GuardedResolver

MAX_REDIRECTS = 5
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Fetched:
    url: str  # the URL asked for
    final_url: str  # after redirects
    status: int | None = None  # None when no response was received
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    failure: str | None = None  # "timeout", "network: ..." (also "network: refused address: ..."), "too large", "redirect: ..."
    not_modified: bool = False
    truncated: bool = False  # the body was cut at max_bytes (only when the caller allowed it)

    def header(self, name: str) -> str | None:
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None

    @property
    def ok(self) -> bool:
        return self.failure is None and self.status is not None and 200 <= self.status < 300


class Transport(Protocol):
    """What the fetch layer needs from an HTTP client.  :class:`HttpClient` is the
    aiohttp one; the Scrapy integration provides one that downloads through the
    crawler's own engine."""

    async def get(self, url: str, *, max_bytes: int, etag: str | None = None, truncate: bool = False) -> Fetched: ...


@dataclass
class HttpClient:
    """A small wrapper around one aiohttp session with notrain's fetch rules."""

    user_agent: str = "notrain"
    timeout: float = 10.0
    ssl: ssl_module.SSLContext | bool | None = None  # tests pass a context trusting their own CA
    addresses: AddressPolicy = field(default_factory=AddressPolicy.from_environment)
    dns: AbstractResolver | None = None  # what the SSRF guard wraps; aiohttp's default resolver when None
    _session: aiohttp.ClientSession | None = field(default=None, repr=False)

    async def __aenter__(self) -> "HttpClient":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(resolver=GuardedResolver(self.addresses, self.dns))
            self._session = aiohttp.ClientSession(connector=connector, headers={"User-Agent": self.user_agent}, auto_decompress=True)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def get(self, url: str, *, max_bytes: int, etag: str | None = None, truncate: bool = False) -> Fetched:
        """GET ``url`` following same-host redirects, reading at most ``max_bytes``
        (beyond that: a "too large" failure, or with ``truncate`` the first ``max_bytes``)."""
        try:
            return await asyncio.wait_for(self._get(url, max_bytes, etag, truncate), self.timeout)
        except asyncio.TimeoutError:
            return Fetched(url, url, failure="timeout")

    async def _get(self, url: str, max_bytes: int, etag: str | None, truncate: bool) -> Fetched:
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            headers = {"If-None-Match": etag} if etag else {}
            try:
                self.addresses.check_host(urlsplit(current).hostname)
                async with self._client().get(current, allow_redirects=False, headers=headers, ssl=self.ssl) as response:
                    if response.status in (301, 302, 303, 307, 308):
                        target = response.headers.get("Location")
                        if not target:
                            return Fetched(url, current, response.status, failure="redirect: no Location")
                        target = urljoin(current, target)
                        if not _same_host(current, target):
                            return Fetched(url, current, response.status, failure=f"redirect: leaves the origin ({target})")
                        current = target
                        continue
                    received = tuple((k, v) for k, v in response.headers.items())
                    if response.status == 304:
                        return Fetched(url, current, 304, received, not_modified=True)
                    declared = response.content_length
                    if declared is not None and declared > max_bytes and not truncate:
                        return Fetched(url, current, response.status, received, failure="too large")
                    body = bytearray()
                    async for chunk in response.content.iter_chunked(_CHUNK):
                        body += chunk
                        if len(body) > max_bytes:
                            if truncate:
                                return Fetched(url, current, response.status, received, bytes(body[:max_bytes]), truncated=True)
                            return Fetched(url, current, response.status, received, failure="too large")
                    return Fetched(url, current, response.status, received, bytes(body))
            except BlockedAddress as error:
                return Fetched(url, current, failure=f"network: {error}"[:300])
            except aiohttp.ClientConnectorError as error:
                if isinstance(error.os_error, BlockedAddress):
                    return Fetched(url, current, failure=f"network: {error.os_error}"[:300])
                return Fetched(url, current, failure=f"network: {type(error).__name__}: {error}"[:300])
            except (aiohttp.ClientError, OSError, ValueError) as error:
                return Fetched(url, current, failure=f"network: {type(error).__name__}: {error}"[:300])
        return Fetched(url, current, failure=f"redirect: more than {MAX_REDIRECTS} hops")


def _same_host(source: str, target: str) -> bool:
    a, b = urlsplit(source), urlsplit(target)
    if b.scheme not in ("http", "https") or a.hostname != b.hostname:
        return False
    if a.scheme == b.scheme:
        return _port(a) == _port(b)
    # http -> https on the same host is an upgrade, not a change of speaker.
    return a.scheme == "http" and b.scheme == "https"


def _port(url) -> int | None:
    try:
        return url.port if url.port is not None else {"http": 80, "https": 443}[url.scheme]
    except ValueError:
        return None
