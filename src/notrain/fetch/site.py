"""Everything an origin says about AI use, and what one of its responses adds.

Per origin, four site-level files are fetched concurrently, once however many
callers wait, and cached: the notrain manifest (see :mod:`.manifests`, with
its own fail-closed rules), ``/robots.txt`` (RFC 9309: 4xx = no rules,
unreachable = complete disallow), ``/.well-known/tdmrep.json`` and ``/ai.txt``
(both optional: an unreachable one is reported as a warning, not a refusal,
since neither mechanism asks for that).

A response then adds its own signals (headers, HTML metas, TDMRep values,
embedded XMP and C2PA in images).  :func:`page_statements` gathers all of
them; :func:`notrain.core.decide` is still the one place where they combine.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

from ..core.decision import Statement
from ..core.errors import URLError
from ..core.manifest import canonical_origin
from ..signals.aitxt import AiTxt
from ..signals.base import SignalError
from ..signals.c2pa import c2pa_statements
from ..signals.headers import header_statements, tdmrep_header_values
from ..signals.html import HtmlSignals, html_signals
from ..signals.robots import RobotsTxt
from ..signals.tdmrep import MAX_FILE_BYTES as MAX_TDMREP_BYTES
from ..signals.tdmrep import TdmRules, parse_tdmrep, tdmrep_statement
from ..signals.xmp import xmp_statements
from .cache import TTLCache
from .http import Fetched, Transport
from .manifests import FetchPolicy, ManifestFetcher, ManifestState

_AUTHORITY = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*")
ROBOTS_PATH = "/robots.txt"
TDMREP_PATH = "/.well-known/tdmrep.json"
AI_TXT_PATH = "/ai.txt"
MAX_ROBOTS_BYTES = 512 * 1024  # RFC 9309 asks crawlers to parse at least 500 KiB; more is cut, not refused
MAX_AI_TXT_BYTES = 512 * 1024
ROBOTS_TTL = 24 * 3600  # RFC 9309: SHOULD NOT use a cached copy for more than 24 hours


@dataclass(frozen=True)
class SiteFiles:
    """robots.txt, tdmrep.json and ai.txt of one origin, as fetched at one moment."""

    origin: str
    robots: RobotsTxt
    tdmrep: TdmRules | None
    ai_txt: AiTxt | None
    warnings: tuple[str, ...] = ()
    fetched_at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class SiteSignals:
    """An origin's manifest state and site files together."""

    manifest: ManifestState
    files: SiteFiles

    @property
    def origin(self) -> str:
        return self.files.origin

    def can_fetch(self, url: str, token: str) -> bool:
        """Crawl permission (robots.txt), a separate question from usage."""
        return self.files.robots.can_fetch(url, token)

    def statements(self, url: str, token: str) -> list[Statement]:
        """Site-level statements about ``url``: manifest, robots.txt usage rules, ai.txt.

        (The tdmrep.json file joins in :func:`page_statements`, because TDMRep's
        precedence lets a response's headers and metadata override it.)
        """
        found = self.manifest.statements(url)
        found += self.files.robots.statements(url, token)
        if self.files.ai_txt is not None:
            found += self.files.ai_txt.statements(url, token)
        return found


class SiteFetcher:
    """Site signals per origin: fetched concurrently, once, and cached."""

    def __init__(
        self,
        client: Transport,
        policy: FetchPolicy | None = None,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.policy = policy or FetchPolicy()
        self.manifests = ManifestFetcher(client, self.policy, now=now, clock=clock)
        self._files: TTLCache[str, SiteFiles] = TTLCache(self.policy.max_origins, clock)
        self._origins: dict[str, str] = {}

    async def site(self, url_or_origin: str) -> SiteSignals:
        origin = self._origin(url_or_origin)
        manifest, files = self.manifests.cache.fresh(origin), self._files.fresh(origin)
        if manifest is not None and files is not None:  # the common case: no tasks, no suspension
            self.manifests.cache.hits += 1
            return SiteSignals(manifest, files)
        manifest, files = await asyncio.gather(
            self.manifests.state(origin), self._files.get(origin, lambda: self._load_files(origin))
        )
        return SiteSignals(manifest, files)

    def _origin(self, url: str) -> str:
        """The URL's origin, memoised per ``scheme://authority`` (a crawl meets the same hosts over and over)."""
        match = _AUTHORITY.match(url)
        head = match.group() if match else url
        origin = self._origins.get(head)
        if origin is None:
            origin = canonical_origin(url, of_url=True)
            if origin is None:
                raise URLError(f"not an http(s) URL with an origin: {url[:200]!r}", where="url")
            if len(self._origins) >= self.policy.max_origins:
                self._origins.clear()
            self._origins[head] = origin
        return origin

    async def _load_files(self, origin: str) -> tuple[SiteFiles, float]:
        robots, tdmrep, ai_txt = await asyncio.gather(
            self.client.get(origin + ROBOTS_PATH, max_bytes=MAX_ROBOTS_BYTES, truncate=True),
            self.client.get(origin + TDMREP_PATH, max_bytes=MAX_TDMREP_BYTES),
            self.client.get(origin + AI_TXT_PATH, max_bytes=MAX_AI_TXT_BYTES, truncate=True),
        )
        warnings: list[str] = []
        files = SiteFiles(origin, _robots(robots), _optional(tdmrep, parse_tdmrep, warnings), _optional(ai_txt, AiTxt.parse, warnings), tuple(warnings))
        ttl = self.policy.error_ttl if files.robots.status == "unreachable" else min(ROBOTS_TTL, self.policy.manifest_ttl)
        return files, ttl


def _robots(fetched: Fetched) -> RobotsTxt:
    if fetched.ok:
        return RobotsTxt.parse(fetched.body, fetched.url)
    if fetched.failure is None and fetched.status is not None and 400 <= fetched.status < 500 and fetched.status != 429:
        return RobotsTxt.unavailable(fetched.url)
    return RobotsTxt.unreachable(fetched.url, fetched.failure or f"HTTP {fetched.status}")


def _optional(fetched: Fetched, parse, warnings: list[str]):
    """tdmrep.json and ai.txt: parsed when served, else absent (with a warning when unreachable)."""
    if fetched.ok:
        try:
            return parse(fetched.body, fetched.url)
        except SignalError as error:
            warnings.append(f"{fetched.url}: {error}")
            return None
    if fetched.failure is not None or (fetched.status is not None and (fetched.status >= 500 or fetched.status == 429)):
        warnings.append(f"{fetched.url} could not be read ({fetched.failure or f'HTTP {fetched.status}'}); treated as absent")
    return None


def page_statements(
    site: SiteSignals,
    url: str,
    token: str,
    *,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes | None = None,
    content_type: str | None = None,
    site_statements: list[Statement] | None = None,
) -> tuple[list[Statement], HtmlSignals | None]:
    """Everything known about one response: site-level statements, its headers,
    TDMRep in its precedence order, and HTML or embedded image metadata.

    Returns the statements and, for HTML, the parsed page (for the images and
    manifest links it reveals).  ``site_statements``: what ``site.statements``
    already gave for this URL (a crawler computed it before the download).
    """
    headers = list(headers)
    found = list(site_statements) if site_statements is not None else site.statements(url, token)
    found += header_statements(headers, url, agents=token)
    kind = (content_type or _header(headers, "content-type") or "").split(";")[0].strip().lower()
    page = None
    if body is not None and kind in ("text/html", "application/xhtml+xml"):
        page = html_signals(body, url, agents=token)
        found += page.statements
    elif body is not None and kind.startswith("image/"):
        found += xmp_statements(body, url)
        found += c2pa_statements(body, kind, url)
    tdm = tdmrep_statement(site.files.tdmrep, tdmrep_header_values(headers, url), page.tdmrep if page else None, url)
    if tdm is not None:
        found.append(tdm)
    return found, page


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    return next((value for key, value in headers if key.lower() == name), None)
