"""Fleet mode: site-level files shared between crawler processes through Redis.

A fleet of crawler processes (next to scrapy-redis, say) should fetch each
origin's manifest, key set and robots.txt once, not once per process.  This
:class:`SharedTransport` wraps any :class:`~notrain.fetch.http.Transport`:

* the *raw* response (status, body, a few headers, final URL) is stored in
  Redis with a TTL; failures are stored too, for the short error TTL, so the
  fleet does not hammer a struggling origin;
* a cross-process lock (``SET NX PX``) lets one process fetch a URL while the
  others wait for its result (polling, bounded by the lock's lifetime; past
  that a waiter fetches for itself);
* each process still verifies what it reads: signatures, key pins and
  anti-rollback all run locally on the raw bytes, so a value planted in Redis
  cannot make a process accept a forged manifest.  (Unsigned files, such as
  robots.txt and key sets on first contact, are only as trustworthy as the
  Redis the operator runs.)

Only URLs under the well-known, robots.txt and ai.txt paths go through the
cache; anything else passes straight to the inner transport.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
from urllib.parse import urlsplit

from redis.asyncio import Redis

from .http import Fetched, Transport

SHARED_PATHS = ("/.well-known/", "/robots.txt", "/ai.txt")
_KEPT_HEADERS = ("etag", "content-type", "cache-control")
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"


class SharedTransport:
    def __init__(
        self,
        inner: Transport,
        redis: Redis,
        *,
        ttl: float = 3600,
        error_ttl: float = 300,
        lock_timeout: float = 30,
        prefix: str = "notrain:",
    ) -> None:
        self.inner = inner
        self.redis = redis
        self.ttl = ttl
        self.error_ttl = error_ttl
        self.lock_timeout = lock_timeout
        self.prefix = prefix
        self.shared_hits = 0  # answers read from Redis instead of fetched (for stats and tests)

    async def get(self, url: str, *, max_bytes: int, etag: str | None = None, truncate: bool = False) -> Fetched:
        if not urlsplit(url).path.startswith(SHARED_PATHS):
            return await self.inner.get(url, max_bytes=max_bytes, etag=etag, truncate=truncate)
        key = f"{self.prefix}doc:{url}"
        lock = f"{self.prefix}lock:{url}"
        token = secrets.token_hex(16)
        deadline = asyncio.get_running_loop().time() + self.lock_timeout
        while True:
            cached = await self.redis.get(key)
            if cached is not None:
                self.shared_hits += 1
                return _decode(cached)
            if await self.redis.set(lock, token, nx=True, px=int(self.lock_timeout * 1000)):
                break
            if asyncio.get_running_loop().time() >= deadline:
                return await self.inner.get(url, max_bytes=max_bytes, truncate=truncate)  # the holder died
            await asyncio.sleep(0.05)
        try:
            # Checked again under the lock: the holder before may have stored it and let go between our
            # look and our lock (seen under load: two processes fetched one file).
            cached = await self.redis.get(key)
            if cached is not None:
                self.shared_hits += 1
                return _decode(cached)
            # Conditional requests are per process (each has its own last copy); the shared copy is whole.
            fetched = await self.inner.get(url, max_bytes=max_bytes, truncate=truncate)
            ttl = self.ttl if fetched.failure is None and fetched.status is not None and fetched.status < 500 else self.error_ttl
            await self.redis.set(key, _encode(fetched), px=int(ttl * 1000))
            return fetched
        finally:
            await self.redis.eval(_RELEASE, 1, lock, token)


def _encode(fetched: Fetched) -> bytes:
    return json.dumps(
        {
            "url": fetched.url,
            "final_url": fetched.final_url,
            "status": fetched.status,
            "headers": [(k, v) for k, v in fetched.headers if k.lower() in _KEPT_HEADERS],
            "body": base64.b64encode(fetched.body).decode(),
            "failure": fetched.failure,
            "truncated": fetched.truncated,
        }
    ).encode()


def _decode(data: bytes) -> Fetched:
    doc = json.loads(data)
    return Fetched(
        doc["url"],
        doc["final_url"],
        doc["status"],
        tuple((k, v) for k, v in doc["headers"]),
        base64.b64decode(doc["body"]),
        doc["failure"],
        truncated=doc["truncated"],
    )
