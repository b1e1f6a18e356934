"""Origins: the aggregator reads an origin's own files through the fetch layer, with its SSRF guard.

A key set is only ever taken from the origin it speaks for, over the same guarded client the crawler uses
(any address that is not global unicast is refused unless the operator allowed loopback for a demo), so a
submitter cannot hand the aggregator keys for someone else's site.
"""

from __future__ import annotations

import asyncio

from ...core.errors import KeyMaterialError
from ...core.keyset import MAX_KEYSET_BYTES, KeySet, parse_keyset
from ...fetch.http import Transport
from ...fetch.manifests import KEYSET_PATH


class Origins:
    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    async def keyset(self, origin: str) -> tuple[bytes, KeySet]:
        """The key set ``origin`` serves now: exact bytes and parsed (parsing runs in a thread)."""
        fetched = await self.transport.get(origin + KEYSET_PATH, max_bytes=MAX_KEYSET_BYTES)
        if not fetched.ok:
            reason = fetched.failure or f"HTTP {fetched.status}"
            raise KeyMaterialError(f"no key set available from {origin}: {reason}", code="E_KEYSET", where=origin + KEYSET_PATH)
        return fetched.body, await asyncio.to_thread(parse_keyset, fetched.body, origin)
