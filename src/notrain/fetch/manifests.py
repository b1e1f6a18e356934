"""Fetching, verifying and caching an origin's notrain manifest, fail-closed.

The rules are spec/fetching.md's:

* 2xx: verify (a signed manifest with the origin's key set, or an unsigned
  one only if it came over HTTPS from the origin itself); any failure to
  verify counts as an error;
* 404, 410 and other 4xx but 429: the origin has no manifest;
* 429, 5xx, timeouts, network errors, redirects off the host, oversize or
  malformed documents, unverifiable signatures: the origin is *disallowed for
  every purpose* until the error TTL passes, unless a previously verified
  manifest is still unexpired, which then keeps serving ("last good");
* a verified manifest is cached for min(its expiry, the configured TTL).

Keys are pinned on first verification: later key sets must continue from
the pinned keys through signed rotations (spec/keys.md).  Pins and rollback
floors outlive the cache; a publisher with either is never accepted bare.

Parts come only from the manifest's own origin (through the same SSRF guard
as everything else), a few at a time, and the whole manifest (document, key
set and parts) has one deadline, so a manifest with 256 slow parts holds its
origin for ``FetchPolicy.manifest_deadline`` at most.
"""

from __future__ import annotations

import asyncio
import enum
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from collections import OrderedDict
from typing import Callable, Hashable, Iterable, TypeVar
from urllib.parse import urljoin

from ..core import dsse
from ..core.catalog import OriginRules
from ..core.decision import Statement, fail_closed
from ..core.errors import NotrainError, URLError
from ..core.keys import PublicKey
from ..core.keyset import MAX_KEYSET_BYTES, parse_keyset
from ..core.manifest import MAX_PART_BYTES, Manifest, canonical_origin, merge_part
from ..core.verify import Floor, Verified, accept_bare, is_envelope, trusted_keys, verify_manifest
from .cache import TTLCache
from .http import Fetched, Transport

MANIFEST_PATH = "/.well-known/notrain.json"
KEYSET_PATH = "/.well-known/notrain-keys.json"
MAX_CATALOGUE_BYTES = 64 * 1024 * 1024  # all parts of one manifest together
PART_CONCURRENCY = 8  # parts of one manifest fetched at once: fast enough, and polite to one origin
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True)
class FetchPolicy:
    """Caching and limits (spec/fetching.md gives the allowed ranges)."""

    manifest_ttl: float = 24 * 3600
    error_ttl: float = 300
    max_origins: int = 10_000
    manifest_deadline: float = 60.0  # seconds for the document, its key set and all its parts together

    def __post_init__(self) -> None:
        if not 0 < self.manifest_ttl <= 7 * 24 * 3600:
            raise ValueError("manifest_ttl must be at most 7 days")
        if not 60 <= self.error_ttl <= 3600:
            raise ValueError("error_ttl must be 1 to 60 minutes")
        if not 0 < self.manifest_deadline <= 600:
            raise ValueError("manifest_deadline must be at most 10 minutes")


class Status(enum.Enum):
    VERIFIED = "verified"
    ABSENT = "absent"
    FAILED = "failed"


@dataclass(frozen=True)
class ManifestState:
    """What is known of one origin's manifest at one moment."""

    origin: str
    status: Status
    source: str
    verified: Verified | None = None
    error: str | None = None  # "E_CODE: message" or a fetch failure
    stale: bool = False  # a last good manifest serving while a refresh fails
    fetched_at: float = field(default_factory=time.time)
    rules: OriginRules | None = field(default=None, repr=False, compare=False)
    etag: str | None = None  # for a conditional refresh

    @property
    def manifest(self) -> Manifest | None:
        return self.verified.manifest if self.verified else None

    def statements(self, url: str) -> list[Statement]:
        """What this origin's manifest (or its failure) says about one of its URLs."""
        if self.status is Status.FAILED:
            return [fail_closed(self.source, self.error or "manifest unavailable")]
        if self.status is Status.ABSENT or self.rules is None:
            return []
        return self.rules.statements(url)


class ManifestFetcher:
    """Per-origin manifest state, fetched once however many callers wait."""

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
        self._now = now
        self._cache: TTLCache[str, ManifestState] = TTLCache(self.policy.max_origins, clock)
        # What must outlive cache eviction: pinned keys and the rollback floor per
        # publisher.  Small per origin, bounded all the same.
        self._pins: BoundedDict[str, dict[str, PublicKey]] = BoundedDict(self.policy.max_origins * 10)
        self._floors: BoundedDict[str, Floor] = BoundedDict(self.policy.max_origins * 10)
        self._discovering: dict[str, asyncio.Task[ManifestState]] = {}
        self.fetches = 0  # manifest GETs issued (for stats and tests)

    @property
    def cache(self) -> TTLCache[str, ManifestState]:
        return self._cache

    async def state(self, origin: str) -> ManifestState:
        canonical = canonical_origin(origin)
        if canonical is None:
            raise URLError(f"not an http(s) origin: {origin[:200]!r}", where="origin")
        return await self._cache.get(canonical, lambda: self._load(canonical))

    async def discovered(self, origin: str, manifest_url: str) -> ManifestState:
        """Follow a ``Link``/``<link rel="notrain">`` target that a page of the
        origin revealed, but only when the well-known location had no manifest
        and the target is on the same origin (spec/discovery.md)."""
        state = await self.state(origin)
        if state.status is not Status.ABSENT or canonical_origin(manifest_url, of_url=True) != state.origin:
            return state
        if state.source == manifest_url:
            return state
        task = self._discovering.get(state.origin)
        if task is None:  # one fetch however many pages reveal the link at once
            task = self._discovering[state.origin] = asyncio.ensure_future(self._load_discovered(state.origin, manifest_url))
        return await asyncio.shield(task)

    async def _load_discovered(self, origin: str, manifest_url: str) -> ManifestState:
        try:
            loaded, ttl = await self._load(origin, manifest_url)
            self._cache.put(origin, loaded, ttl)
            return loaded
        finally:
            self._discovering.pop(origin, None)

    async def _load(self, origin: str, source: str | None = None) -> tuple[ManifestState, float]:
        source = source or origin + MANIFEST_PATH
        self.fetches += 1
        try:
            async with asyncio.timeout(self.policy.manifest_deadline):
                return await self._fetch_and_verify(origin, source)
        except TimeoutError:
            return self._failed(origin, source, f"deadline: manifest not loaded in full within {self.policy.manifest_deadline:g} s")
        except (NotrainError, Unreachable) as error:
            return self._failed(origin, source, _describe(error))

    async def _fetch_and_verify(self, origin: str, source: str) -> tuple[ManifestState, float]:
        """The document, then its key set and parts: everything under one deadline."""
        last = self._cache.peek(origin)
        etag = last.etag if last is not None and last.status is Status.VERIFIED and not last.stale else None
        fetched = await self.client.get(source, max_bytes=dsse.MAX_ENVELOPE_BYTES, etag=etag)
        if fetched.not_modified and etag is not None:
            if last.manifest.expires > self._now():  # type: ignore[union-attr]
                return self._verified_state(origin, source, last.verified, last.etag)  # type: ignore[union-attr]
            return self._failed(origin, source, "E_EXPIRED: the unchanged manifest has expired")
        if fetched.failure is None and fetched.status is not None:
            if fetched.status in (404, 410) or (400 <= fetched.status < 500 and fetched.status != 429):
                return ManifestState(origin, Status.ABSENT, source), self.policy.manifest_ttl
        if not fetched.ok:
            raise Unreachable(fetched.failure or f"HTTP {fetched.status}")
        verified = await self._verify(origin, fetched)
        return self._verified_state(origin, source, verified, fetched.header("ETag"))

    def _verified_state(self, origin: str, source: str, verified: Verified, etag: str | None) -> tuple[ManifestState, float]:
        state = ManifestState(origin, Status.VERIFIED, source, verified, rules=OriginRules(verified.manifest), etag=etag)
        remaining = (verified.manifest.expires - self._now()).total_seconds()
        return state, max(1.0, min(remaining, self.policy.manifest_ttl))

    def _failed(self, origin: str, source: str, error: str) -> tuple[ManifestState, float]:
        last = self._cache.peek(origin)
        remaining = (last.manifest.expires - self._now()).total_seconds() if last is not None and last.manifest else 0.0
        if last is not None and last.status is Status.VERIFIED and remaining > 0:
            stale = ManifestState(origin, Status.VERIFIED, source, last.verified, error, True, last.fetched_at, last.rules)
            return stale, min(self.policy.error_ttl, remaining)
        return ManifestState(origin, Status.FAILED, source, error=error), self.policy.error_ttl

    async def _verify(self, origin: str, fetched: Fetched) -> Verified:
        publisher = _publisher_for(origin, fetched.final_url)
        previous = self._floors.get(publisher)
        keys: dict[str, PublicKey] | None = None
        if not is_envelope(fetched.body):
            pinned = publisher in self._pins
            verified = accept_bare(fetched.body, fetched_from=fetched.final_url, now=self._now(), previous=previous, pinned=pinned)
        else:
            keys_fetched = await self.client.get(publisher + KEYSET_PATH, max_bytes=MAX_KEYSET_BYTES)
            if not keys_fetched.ok:
                raise Unreachable(f"key set unavailable: {keys_fetched.failure or f'HTTP {keys_fetched.status}'}")
            keyset = parse_keyset(keys_fetched.body, publisher)
            keys = trusted_keys(publisher, keyset, self._pins.get(publisher))
            verified = verify_manifest(fetched.body, publisher=publisher, keys=keys, now=self._now(), previous=previous)
        verified = await self._load_parts(verified, fetched.final_url)
        # Only a manifest accepted in full moves the pins and the rollback floor.
        if keys is not None:
            self._pins[publisher] = keys
        self._floors[publisher] = Floor.of(verified, keys)
        return verified

    async def _load_parts(self, verified: Verified, manifest_url: str) -> Verified:
        """Fetch every part from the manifest's origin, then merge them in index order."""
        manifest = verified.manifest
        for index, fetched in sorted((await fetch_parts(self.client, manifest, manifest_url)).items()):
            manifest = merge_part(manifest, index, fetched.body)
        return Verified(manifest, verified.signed_by, verified.envelope_digest)


async def fetch_parts(client: Transport, manifest: Manifest, manifest_url: str, indices: Iterable[int] | None = None) -> dict[int, Fetched]:
    """Fetch parts ``indices`` (all by default) of ``manifest``, read from ``manifest_url``, from that URL's
    origin only, ``PART_CONCURRENCY`` at a time, each read no further than its declared size (spec/fetching.md,
    "Parts").  The first failure ends the others and raises :class:`Unreachable`; the caller's deadline bounds
    them all.  The bytes are not checked here: :func:`~notrain.core.manifest.merge_part` does that."""
    if sum(part.size for part in manifest.parts) > MAX_CATALOGUE_BYTES:
        raise Unreachable("parts exceed the catalogue limit")
    wanted = range(len(manifest.parts)) if indices is None else list(indices)
    urls = {index: part_url(manifest_url, manifest.parts[index].url, index) for index in wanted}
    slots = asyncio.Semaphore(PART_CONCURRENCY)

    async def load(index: int) -> Fetched:
        async with slots:
            fetched = await client.get(urls[index], max_bytes=min(manifest.parts[index].size, MAX_PART_BYTES))
        if not fetched.ok:
            raise Unreachable(f"part {index}: {fetched.failure or f'HTTP {fetched.status}'}")
        return fetched

    tasks = {index: asyncio.ensure_future(load(index)) for index in urls}
    try:
        return dict(zip(tasks, await asyncio.gather(*tasks.values())))
    finally:
        for task in tasks.values():  # the first failure (or the deadline) ends the others
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)


class BoundedDict(OrderedDict[K, V]):
    """A dict that forgets its least recently written entries beyond ``limit``."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def __setitem__(self, key: K, value: V) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > self.limit:
            self.popitem(last=False)


class Unreachable(Exception):
    """A fetch that did not produce a usable document (fail closed); the message says why."""


def part_url(manifest_url: str, reference: str | None, index: int) -> str:
    """Where an origin publisher's part is fetched: its ``url`` resolved against
    the manifest's URL, and only on the manifest's own origin, so that a signed
    manifest cannot send verifiers anywhere else (spec/discovery.md, "Parts")."""
    if reference is None:
        raise Unreachable(f"part {index} has no url")
    target = urljoin(manifest_url, reference)
    if canonical_origin(target, of_url=True) != canonical_origin(manifest_url, of_url=True):
        raise Unreachable(f"part {index}: {target} is not on the manifest's origin")
    return target


def _describe(error: Exception) -> str:
    if isinstance(error, NotrainError):
        return f"{error.code}: {error.message}" + (f" (at {error.where})" if error.where else "")
    return str(error)


def _publisher_for(origin: str, final_url: str) -> str:
    """The publisher id the manifest must carry: the origin asked about, or its
    https upgrade when the origin redirected there (same host only; see http.py)."""
    landed = canonical_origin(final_url)
    if landed is not None and landed != origin and origin.startswith("http://") and landed.startswith("https://"):
        return landed
    return origin
