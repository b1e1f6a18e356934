"""Submissions: ``POST /v1/manifests`` takes a signed envelope, verifies it with core, and appends it.

The aggregator never re-signs or re-encodes what a publisher signed: the entry holds the exact envelope
bytes, and the answer is a *receipt* (spec/log.md, "Receipts") — the log's signed promise to integrate
that entry by a stated time, like a Certificate Transparency SCT.  Resubmitting the same bytes returns the
same entry and the very same receipt (Ed25519 is deterministic and the receipt's times are the stored ones).

Trust comes only from core's verification: a ``did:key`` publisher's manifest must be signed by the DID's
own key; an origin publisher's by a key of the key set the origin itself serves (fetched through the
SSRF-guarded fetch layer, never taken from the submitter), continuing from the pins this aggregator holds.
Anti-rollback uses the stored floor: a lower sequence is refused (``E_ROLLBACK``); the same sequence with
other bytes is *equivocation*: logged and flagged, so everyone can see that the publisher's key signed two
different statements, but it never replaces what was accepted first.

Verification is CPU work (a 1 MiB manifest takes tens of milliseconds), so it runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from ...core import dsse
from ...core.errors import PolicyError
from ...core.keys import PublicKey
from ...core.keyset import KeySet
from ...core.logentry import Source, encode_entry
from ...core.merkle import leaf_hash
from ...core.note import NoteSigner
from ...core.receipt import make_receipt
from ...core.verify import Verified, peek_publisher, trusted_keys, verify_manifest
from ..storage import Appended, Floor, NewEntry, NewManifest, Storage

KeysetFetcher = Callable[[str], Awaitable[tuple[bytes, KeySet]]]
"""Fetch and parse an origin's key set from the origin itself: (exact bytes, parsed)."""


@dataclass(frozen=True)
class Accepted:
    """A submission appended to the log (or found there already)."""

    appended: Appended
    receipt: bytes
    verified: Verified
    equivocation: bool

    @property
    def created(self) -> bool:
        return self.appended.created


class Submissions:
    def __init__(self, storage: Storage, signer: NoteSigner, *, max_merge_delay: float, fetch_keyset: KeysetFetcher,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 on_accept: Callable[[Accepted], Awaitable[None]] | None = None):
        """``on_accept`` is awaited after each new manifest is stored (the query index follows the log)."""
        self.storage, self.signer, self.fetch_keyset, self.clock = storage, signer, fetch_keyset, clock
        self.on_accept = on_accept
        self.max_merge_delay = timedelta(seconds=max_merge_delay)

    async def submit(self, data: bytes) -> Accepted:
        """Verify ``data`` (a manifest envelope) and append it; raise a coded error to refuse it."""
        if len(data) > dsse.MAX_ENVELOPE_BYTES:
            raise PolicyError(f"an envelope is at most {dsse.MAX_ENVELOPE_BYTES} octets", code="E_SIZE", where="envelope")
        publisher = await asyncio.to_thread(peek_publisher, data)
        keyset_bytes, keys = await self._keys(publisher)
        now = self.clock().replace(microsecond=0)
        verified = await asyncio.to_thread(verify_manifest, data, publisher=publisher, keys=keys, now=now)
        manifest = verified.manifest
        floor = await self.storage.floor(publisher)
        equivocation = False
        if floor is not None and set(floor.keyid.split()) & set(verified.signed_by):
            # The floor binds manifests signed by a key trusted when it was set (spec/envelope.md, step 10):
            # a rotation to a new key starts a new floor, TUF's recovery from a fast-forward attack.
            if manifest.sequence < floor.sequence:
                raise PolicyError(
                    f"sequence {manifest.sequence} is older than the accepted {floor.sequence}", code="E_ROLLBACK", where="/sequence"
                )
            equivocation = manifest.sequence == floor.sequence and manifest.digest != floor.payload_sha256.hex()
        if keyset_bytes is not None:
            await self._observe_keyset(publisher, keyset_bytes, now)
        source = Source("submission")
        leaf = encode_entry("manifest", source, now, data)
        entry = NewEntry(leaf, leaf_hash(leaf), "manifest", publisher, now, now + self.max_merge_delay, hashlib.sha256(data).digest())
        record = NewManifest(publisher, manifest.sequence, bytes.fromhex(manifest.digest), data)
        new_floor = None if equivocation else Floor(
            publisher, manifest.sequence, bytes.fromhex(manifest.digest), _timestamp(manifest.issued), " ".join(sorted(keys))
        )
        appended = await self.storage.append(entry, record, new_floor)
        accepted = Accepted(appended, self.receipt(appended), verified, appended.manifest is not None and appended.manifest.equivocation)
        if self.on_accept is not None and accepted.created:
            await self.on_accept(accepted)
        return accepted

    def receipt(self, appended: Appended) -> bytes:
        stored = appended.entry
        return make_receipt(self.signer, stored.leaf, stored.received_at, stored.deadline)

    async def _keys(self, publisher: str) -> tuple[bytes | None, dict[str, PublicKey]]:
        if publisher.startswith("did:"):
            return None, trusted_keys(publisher)
        keyset_bytes, keyset = await self.fetch_keyset(publisher)
        pinned = await self.storage.pins(publisher)
        keys = trusted_keys(publisher, keyset, {kid: keyset.keys[kid] for kid in pinned if kid in keyset.keys} or None)
        return keyset_bytes, keys

    async def _observe_keyset(self, origin: str, data: bytes, now: datetime) -> None:
        """Every key set seen is logged once (deduplicated by its bytes), and its keys become the pins."""
        leaf = encode_entry("keyset", Source("url", url=f"{origin}/.well-known/notrain-keys.json"), now, data)
        entry = NewEntry(leaf, leaf_hash(leaf), "keyset", origin, now, now + self.max_merge_delay, hashlib.sha256(data).digest())
        await self.storage.append(entry)


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
