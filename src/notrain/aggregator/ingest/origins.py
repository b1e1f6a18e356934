"""An origin's key set, read from the origin itself through the fetch layer's SSRF guard.

A key set is only ever taken from the origin it speaks for, over the same guarded client the crawler uses
(any address that is not global unicast is refused unless the operator allowed loopback for a demo), so a
submitter cannot hand the aggregator keys for someone else's site.  Submissions and crawls both call
:func:`fetch_keyset`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from ...core.errors import KeyMaterialError
from ...core.keyset import MAX_KEYSET_BYTES, KeySet, parse_keyset
from ...fetch.http import Transport
from ...fetch.manifests import KEYSET_PATH


@dataclass(frozen=True)
class ObservedKeyset:
    """An origin's key set as fetched from it: exact bytes, parsed, and the URL they came from."""

    data: bytes
    parsed: KeySet
    url: str


async def fetch_keyset(transport: Transport, origin: str) -> ObservedKeyset:
    """The key set ``origin`` serves now (parsing runs in a worker thread); ``E_KEYSET`` when there is none."""
    url = origin + KEYSET_PATH
    fetched = await transport.get(url, max_bytes=MAX_KEYSET_BYTES)
    if not fetched.ok:
        reason = fetched.failure or f"HTTP {fetched.status}"
        raise KeyMaterialError(f"no key set available from {origin}: {reason}", code="E_KEYSET", where=url)
    return ObservedKeyset(fetched.body, await asyncio.to_thread(parse_keyset, fetched.body, origin), fetched.final_url)
