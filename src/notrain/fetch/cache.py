"""A bounded TTL cache whose misses are single-flight.

However many callers ask for the same origin while its files are being
fetched, exactly one fetch runs and every caller gets its result: each waiter
awaits the same task.  (Scrapy's RobotsTxtMiddleware keeps one Deferred per
netloc and, since 2.14, loses every waiter after the second; a shared task
cannot lose anyone.)  A waiter that is cancelled does not cancel the fetch
for the others.

Entries expire by their own deadline (which the loader chooses: a manifest
lives until min(expiry, TTL), an error only for the short error TTL), and the
least recently used entries are dropped beyond ``max_entries``.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from typing import Awaitable, Callable, Generic, Hashable, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    def __init__(self, max_entries: int, clock: Callable[[], float] = time.monotonic) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be positive")
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._inflight: dict[K, asyncio.Task[V]] = {}
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def peek(self, key: K) -> V | None:
        """The cached value even if expired (the "last good" value), or None."""
        entry = self._entries.get(key)
        return entry[1] if entry else None

    def fresh(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] <= self._clock():
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: K, value: V, ttl: float) -> None:
        self._entries[key] = (self._clock() + ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    async def get(self, key: K, load: Callable[[], Awaitable[tuple[V, float]]]) -> V:
        """The fresh cached value, or the result of ``load()`` (value, ttl), run once for all waiters."""
        value = self.fresh(key)
        if value is not None:
            self.hits += 1
            return value
        task = self._inflight.get(key)
        if task is None:
            self.misses += 1
            task = asyncio.ensure_future(self._load(key, load))
            self._inflight[key] = task
        else:
            self.hits += 1
        return await asyncio.shield(task)

    async def _load(self, key: K, load: Callable[[], Awaitable[tuple[V, float]]]) -> V:
        try:
            value, ttl = await load()
            self.put(key, value, ttl)
            return value
        finally:
            self._inflight.pop(key, None)
