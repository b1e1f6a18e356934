"""Crawled origins: a registry of sites whose own manifests the aggregator fetches on a schedule.

Origins come from the configuration (``crawl.origins``), from ``POST /v1/origins`` and from accepted
submissions of origin publishers.  A background task crawls the ones that are due, a few at a time:
``/.well-known/notrain.json`` through the SSRF-guarded client, conditionally (``If-None-Match`` with the
ETag stored from the last verified crawl; a 304 logs nothing), then the key set, verified by core with
the pins and floor kept in storage.  What verifies is stored by :meth:`Submissions.accept`, the very step
a submission takes, so both obey one anti-rollback and equivocation rule, and new bytes only are logged
(the key set, each rotation in it, the envelope; the log deduplicates by their SHA-256).  A manifest with
parts is accepted only with every part (:mod:`.parts`: those this log holds already, the others fetched
from the manifest's origin within the same deadline), and its parts are logged before it.

Outcomes, as spec/fetching.md classifies them: 404, 410 and other 4xx but 429 mean *no manifest*
(recorded, not a failure); 429, 5xx, timeouts, network errors, refused addresses and documents that do not
verify (a part that cannot be fetched or does not match its reference included) are *failures*: nothing is
stored, pins and floors stay, and the origin is retried sooner than ``crawl.interval`` with exponential
backoff (1, 2, 4... minutes, at most the interval).

A bare (unsigned) manifest is checked with :func:`notrain.core.verify.accept_bare` against the stored pins
and floor, but never stored, logged or served: spec/envelope.md forbids serving one as if verifiable, and
no reader of the log could verify it (spec/log.md, "Log entries").
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from ...core import dsse
from ...core.errors import NotrainError
from ...core.logentry import Source
from ...core.manifest import canonical_origin
from ...core.verify import accept_bare, is_envelope, verify_manifest
from ...fetch.addresses import AddressPolicy, BlockedAddress, GuardedResolver
from ...fetch.http import Fetched, Transport
from ...fetch.manifests import MANIFEST_PATH, Unreachable, fetch_parts
from ..storage import Origin, Storage, Validators
from .origins import fetch_keyset
from .parts import load_parts
from .rounds import every
from .submissions import Accepted, Submissions, origin_keys

log = logging.getLogger("notrain.aggregator.crawler")

CONCURRENCY = 8  # origins crawled at once
DUE_BATCH = 100  # origins read from storage per round
RETRY_AFTER_FAILURE = timedelta(minutes=1)  # first retry; doubles per failure up to crawl.interval
ORIGIN_DEADLINE = 60.0  # seconds for one origin's manifest and key set together (spec/fetching.md)
MANIFEST_DOCUMENT = "manifest"  # the name validators are stored under


class OriginError(NotrainError):
    """An origin offered for crawling that the aggregator will not fetch."""

    code = "E_ORIGIN_REFUSED"


@dataclass(frozen=True)
class Crawled:
    """What one crawl of one origin came to."""

    origin: str
    outcome: str  # "accepted", "unchanged" (304), "absent" (no manifest), "bare" (checked, not stored), "failed"
    status: int | None  # the manifest request's HTTP status, None without a response
    error: str | None = None
    accepted: Accepted | None = None


class Crawler:
    def __init__(
        self,
        storage: Storage,
        client: Transport,
        submissions: Submissions,
        *,
        interval: float,
        addresses: AddressPolicy,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.storage, self.client, self.submissions, self.clock = storage, client, submissions, clock
        self.interval = timedelta(seconds=interval)
        self.addresses = addresses
        self._slots = asyncio.Semaphore(CONCURRENCY)
        self._crawling: set[str] = set()

    async def add(self, origin: str, added_by: str, *, check_address: bool = True) -> datetime:
        """Register a canonical origin (crawled at once if new) and return when it is next crawled.
        ``check_address``: resolve its host now and refuse addresses the SSRF guard would refuse, so a
        client learns at once (every fetch checks again, since DNS answers change)."""
        if canonical_origin(origin) != origin:
            raise OriginError("an origin is scheme://host[:port] in canonical form, such as https://example.com", code="E_REQUEST", where="origin")
        if check_address:
            await self._check_address(origin)
        await self.storage.add_origin(origin, added_by, self.clock())
        known = await self.storage.origin(origin)
        return known.next_crawl_at if known is not None else self.clock()

    async def _check_address(self, origin: str) -> None:
        host = urlsplit(origin).hostname or ""
        try:
            if not self.addresses.check_host(host):
                resolver = GuardedResolver(self.addresses)
                try:
                    await resolver.resolve(host, 0, socket.AF_UNSPEC)
                finally:
                    await resolver.close()
        except BlockedAddress as error:
            raise OriginError(f"not crawled: {error}", where="origin") from None
        except OSError as error:
            raise OriginError(f"not crawled: {host} does not resolve ({error.strerror or error})", where="origin") from None

    async def run(self, poll: float = 1.0) -> None:
        """Crawl due origins until cancelled."""
        await every(poll, self.crawl_due, log, "crawl")

    async def crawl_due(self) -> list[Crawled]:
        """Crawl every origin that is due now, :data:`CONCURRENCY` at a time."""
        due = [o for o in await self.storage.due_origins(self.clock(), DUE_BATCH) if o.origin not in self._crawling]
        return list(await asyncio.gather(*(self._crawl_one(o) for o in due)))

    async def _crawl_one(self, origin: Origin) -> Crawled:
        self._crawling.add(origin.origin)
        try:
            async with self._slots:
                return await self.crawl(origin)
        finally:
            self._crawling.discard(origin.origin)

    async def crawl(self, origin: Origin) -> Crawled:
        """Fetch, verify and store one origin's manifest, then record the crawl and its next time."""
        now = self.clock().replace(microsecond=0)
        stored = origin.validators.get(MANIFEST_DOCUMENT)
        try:
            async with asyncio.timeout(ORIGIN_DEADLINE):
                crawled, validators = await self._fetch(origin.origin, stored, now)
        except TimeoutError:
            crawled, validators = Crawled(origin.origin, "failed", None, f"deadline: not loaded within {ORIGIN_DEADLINE:g} s"), {}
        failures = origin.failures + 1 if crawled.outcome == "failed" else 0
        await self.storage.record_crawl(
            origin.origin, status=crawled.status, failures=failures, next_crawl_at=now + self._delay(failures), validators=validators
        )
        if crawled.outcome == "failed":
            log.info("crawl of %s failed (%d in a row): %s", origin.origin, failures, crawled.error)
        return crawled

    def _delay(self, failures: int) -> timedelta:
        if failures == 0:
            return self.interval
        return min(self.interval, RETRY_AFTER_FAILURE * 2 ** min(failures - 1, 20))

    async def _fetch(self, origin: str, stored: Validators | None, now: datetime) -> tuple[Crawled, dict[str, Validators]]:
        etag = stored.etag if stored is not None else None
        fetched = await self.client.get(origin + MANIFEST_PATH, max_bytes=dsse.MAX_ENVELOPE_BYTES, etag=etag)
        if fetched.not_modified and etag is not None:
            return Crawled(origin, "unchanged", 304), {MANIFEST_DOCUMENT: stored}
        if fetched.failure is None and fetched.status is not None and 400 <= fetched.status < 500 and fetched.status != 429:
            return Crawled(origin, "absent", fetched.status), {}
        if not fetched.ok:
            return Crawled(origin, "failed", fetched.status, fetched.failure or f"HTTP {fetched.status}"), {}
        try:
            crawled = await self._verify(origin, fetched, now)
        except NotrainError as error:
            return Crawled(origin, "failed", fetched.status, f"{error.code}: {error.message}" + (f" (at {error.where})" if error.where else "")), {}
        except Unreachable as error:
            return Crawled(origin, "failed", fetched.status, str(error)), {}
        if crawled.outcome != "accepted":
            return crawled, {}
        return crawled, {MANIFEST_DOCUMENT: Validators(fetched.header("ETag"), fetched.header("Last-Modified"))}

    async def _verify(self, origin: str, fetched: Fetched, now: datetime) -> Crawled:
        # The transport follows same-host redirects only, so the final origin is the one asked for or its
        # https upgrade, which then is the publisher (spec/fetching.md, "Redirects").
        publisher = canonical_origin(fetched.final_url, of_url=True) or origin
        source = Source("url", url=fetched.final_url)
        if not await asyncio.to_thread(is_envelope, fetched.body):
            # Every floor stored here was set by a signed manifest (bare ones are never stored), so a floor
            # counts as pins: the publisher is known to sign, and TLS alone must not undo that.
            known_to_sign = bool(await self.storage.pins(publisher)) or await self.storage.floor(publisher) is not None
            await asyncio.to_thread(accept_bare, fetched.body, fetched_from=fetched.final_url, now=now, pinned=known_to_sign)
            return Crawled(origin, "bare", fetched.status)
        observed = await fetch_keyset(self.client, publisher)
        keys = await origin_keys(self.storage, publisher, observed.parsed)
        verified = await asyncio.to_thread(verify_manifest, fetched.body, publisher=publisher, keys=keys, now=now)
        verified, parts = await load_parts(
            self.storage, verified, fetch=lambda manifest, missing: fetch_parts(self.client, manifest, fetched.final_url, missing)
        )
        accepted = await self.submissions.accept(fetched.body, verified, source, now, keys=keys, keyset=observed, parts=parts)
        return Crawled(origin, "accepted", fetched.status, accepted=accepted)
