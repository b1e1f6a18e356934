"""Guards in front of the write routes: a rate limit per client and pushback when the log falls behind.

*Rate limit.*  Each client address has a token bucket of ``submissions.per_minute`` tokens, refilled
continuously; a write that finds it empty is answered 429 ``E_RATE_LIMITED`` with ``Retry-After`` (the
seconds until a token is back), before its body is read.  IPv6 clients are keyed by their /64, the block
one subscriber usually holds, so one host cannot mint fresh buckets from its own prefix.  The table holds
at most :data:`MAX_CLIENTS` buckets and forgets the least recently used: memory stays bounded however many
addresses write, and a forgotten bucket was usually full again anyway.  The address is the TCP peer's;
behind a reverse proxy every client shares the proxy's bucket, so rate-limit there instead.

*Pushback.*  Receipts promise integration within ``log.max_merge_delay``; when more than ``log.max_pending``
entries wait, accepting more would break that promise, so writes get 503 ``E_UNAVAILABLE`` with
``Retry-After`` until the sequencer catches up (Tessera answers the same way).  The pending count is a
database query, so it is re-read at most once per :data:`PENDING_TTL` seconds; a burst may overshoot the
bound by what arrives in that time, never more.  The same holds when the log has stopped advancing: entries
pending and the checkpoint's size unchanged for longer than ``log.max_merge_delay`` (no process sequences,
or the one that does is stuck) means a new receipt could not be kept either.  Both are read from storage,
so they are right whichever process of a shared database sequences.
"""

from __future__ import annotations

import asyncio
import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from aiohttp import web

from ..core.errors import NotrainError
from .api.errors import error_response

MAX_CLIENTS = 65_536  # buckets kept at most (~200 bytes each)
PENDING_TTL = 0.5  # seconds a read of the pending count is reused
GUARDED = frozenset({("POST", "/v1/manifests"), ("POST", "/v1/origins"), ("POST", "/v1/receipts")})


class TokenBuckets:
    """Token buckets by client key, ``rate`` tokens a minute each, at most ``max_clients`` remembered."""

    def __init__(self, per_minute: int, *, max_clients: int = MAX_CLIENTS, clock: Callable[[], float] = time.monotonic):
        self.capacity, self.per_second = float(per_minute), per_minute / 60.0
        self.max_clients, self.clock = max_clients, clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, last refill)

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str) -> float:
        """Take one token for ``key``: 0.0 if granted, else the seconds until one is available."""
        now = self.clock()
        tokens, last = self._buckets.pop(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.per_second)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.per_second
        self._buckets[key] = (tokens, now)  # most recently used last
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return wait


def client_key(address: str | None) -> str:
    """The bucket an address draws from: itself for IPv4, its /64 for IPv6 (an IPv4-mapped one as IPv4)."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return address or "unknown"  # a unix socket peer, say: one bucket for all of them
    if ip.version == 4:
        return str(ip)
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ipaddress.ip_network(f"{ip}/64", strict=False))


class Pushback:
    """Whether the log is too far behind to accept more: too many entries pending, or pending entries and a
    log that has not grown for ``max_stall`` seconds.  Storage is read at most once every ``ttl``."""

    def __init__(self, count_pending: Callable[[], Awaitable[int]], log_size: Callable[[], Awaitable[int]], *, max_pending: int,
                 max_stall: float, ttl: float = PENDING_TTL, clock: Callable[[], float] = time.monotonic):
        self.count_pending, self.log_size, self.max_pending, self.max_stall = count_pending, log_size, max_pending, max_stall
        self.ttl, self.clock = ttl, clock
        self._pending, self._size, self._read_at = 0, -1, -math.inf
        self._advanced_at = clock()  # the log counts as advancing at startup: a sequencer gets max_stall to act
        self._lock = asyncio.Lock()  # one pair of queries at a time, however many requests ask

    async def reason(self) -> str | None:
        """Why writes are refused now, or None."""
        if self.clock() - self._read_at >= self.ttl:
            async with self._lock:
                if self.clock() - self._read_at >= self.ttl:
                    await self._read()
        if self._pending >= self.max_pending:
            return f"{self._pending} entries wait for the log (at most {self.max_pending})"
        if self._pending and self.clock() - self._advanced_at > self.max_stall:
            return f"the log has not advanced for over {self.max_stall:g} s with entries pending"
        return None

    async def _read(self) -> None:
        pending, size = await self.count_pending(), await self.log_size()
        now = self.clock()
        if size != self._size or not pending:
            self._advanced_at = now  # growing, or nothing to integrate: not stalled
        self._pending, self._size, self._read_at = pending, size, now


class WriteGuard:
    """The middleware's state: the rate limit and the pushback of one application."""

    def __init__(self, buckets: TokenBuckets, pushback: Pushback | None, retry_after: int,
                 on_refused: Callable[[str, str], None] = lambda route, code: None):
        """``pushback`` is set once storage is open; ``on_refused(route, code)`` counts each refusal (metrics)."""
        self.buckets, self.pushback, self.retry_after, self.on_refused = buckets, pushback, retry_after, on_refused

    async def refusal(self, request: web.Request, route: str) -> web.Response | None:
        """The answer refusing this write to ``route``, or None to let it through."""
        wait = self.buckets.take(client_key(request.remote))
        if wait > 0:
            error = NotrainError("too many submissions from this address", code="E_RATE_LIMITED", where=request.path)
            return self._refuse(route, error, math.ceil(wait))
        behind = await self.pushback.reason() if self.pushback is not None else None
        if behind is not None:
            error = NotrainError(f"not accepting now: {behind}; retry later", code="E_UNAVAILABLE", where=request.path)
            return self._refuse(route, error, self.retry_after)
        return None

    def _refuse(self, route: str, error: NotrainError, retry_after: int) -> web.Response:
        self.on_refused(route, error.code)
        return error_response(error, headers={"Retry-After": str(max(1, retry_after))})


WRITE_GUARD = web.AppKey("write_guard", WriteGuard)


@web.middleware
async def guard_writes(request: web.Request, handler) -> web.StreamResponse:
    """Refuse a guarded write (see :data:`GUARDED`) before its handler reads the body."""
    resource = request.match_info.route.resource
    if resource is not None and (request.method, resource.canonical) in GUARDED:
        refusal = await request.app[WRITE_GUARD].refusal(request, resource.canonical)
        if refusal is not None:
            return refusal
    return await handler(request)
