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

A manifest with parts is accepted only with all of them (:mod:`.parts`): uploaded with it, already in
the log, or fetched from its origin; they are logged before it.

Verification is CPU work (a 1 MiB manifest takes tens of milliseconds), so it runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ...core import dsse
from ...core.errors import KeyMaterialError, PolicyError
from ...core.keys import PublicKey
from ...core.keyset import KeySet
from ...core.manifest import Manifest
from ...core.logentry import Source, encode_entry
from ...core.merkle import leaf_hash
from ...core.note import NoteSigner
from ...core.receipt import make_receipt
from ...core.verify import Floor, Verified, binding, check_sequence, peek_publisher, trusted_keys, verify_manifest
from ...fetch.http import Fetched
from ...fetch.manifests import MANIFEST_PATH, Unreachable
from ..storage import Appended, Entry, FloorUpdate, NewEntry, NewManifest, Storage
from .origins import ObservedKeyset
from .parts import ObservedPart, PartsError, load_parts

SUBMITTED = Source("submission")
KeysetFetcher = Callable[[str], Awaitable[ObservedKeyset]]
"""Fetch and parse an origin's key set from the origin itself (:func:`.origins.fetch_keyset`)."""
OriginPartsFetcher = Callable[[Manifest, str, list[int]], Awaitable[dict[int, Fetched]]]
"""Fetch parts of a manifest read from a URL, from that URL's origin (:func:`notrain.fetch.manifests.fetch_parts`)."""


@dataclass(frozen=True)
class Accepted:
    """A submission appended to the log (or found there already)."""

    appended: Appended
    receipt: bytes
    verified: Verified  # with its parts merged
    equivocation: bool
    parts: tuple[Entry, ...] = ()  # the entry of each part, in the manifest's order

    @property
    def created(self) -> bool:
        return self.appended.created


@dataclass(frozen=True)
class Prepared:
    """A manifest's log entry (and detached body) and its receipt, made before the append."""

    entry: NewEntry
    body: bytes | None
    receipt: bytes

    def is_for(self, stored: Entry) -> bool:
        """Whether :attr:`receipt` is the stored entry's receipt (the same bytes a fresh signature would give)."""
        return (stored.leaf, _second(stored.received_at), _second(stored.deadline)) == (
            self.entry.leaf, _second(self.entry.received_at), _second(self.entry.deadline))


def _second(time: datetime) -> datetime:
    return time.replace(microsecond=0)  # what a receipt states


class Submissions:
    def __init__(self, storage: Storage, signer: NoteSigner, *, max_merge_delay: float, fetch_keyset: KeysetFetcher,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 on_accept: Callable[[Accepted], Awaitable[None]] | None = None, fetch_parts: OriginPartsFetcher | None = None):
        """``on_accept`` is awaited after each new manifest is stored (the query index follows the log);
        ``fetch_parts``: how an origin publisher's parts that were not uploaded are fetched from its origin."""
        self.storage, self.signer, self.fetch_keyset, self.clock = storage, signer, fetch_keyset, clock
        self.fetch_parts = fetch_parts
        self.on_accept = on_accept
        self.max_merge_delay = timedelta(seconds=max_merge_delay)

    async def submit(self, data: bytes, source: Source = SUBMITTED, parts: Sequence[bytes] | None = None) -> Accepted:
        """Verify ``data`` (a manifest envelope) and append it; raise a coded error to refuse it.  ``source``:
        where it came from (a peer log's entry, when federation copies it; spec/log.md, "Federation").
        ``parts``: the part documents uploaded with it, one per reference in order; without them its parts
        come from this log (a peer's ``part`` entries copied first with :meth:`observe`) or its origin."""
        if len(data) > dsse.MAX_ENVELOPE_BYTES:
            raise PolicyError(f"an envelope is at most {dsse.MAX_ENVELOPE_BYTES} octets", code="E_SIZE", where="envelope")
        now = self.clock().replace(microsecond=0)
        publisher, verified, keys, prepared = await asyncio.to_thread(self._verify_self_certified, data, source, now)
        keyset: ObservedKeyset | None = None
        if verified is None:  # an origin publisher: its keys come from the origin itself
            keyset = await self.fetch_keyset(publisher)
            keys = await origin_keys(self.storage, publisher, keyset.parsed)
            verified = await asyncio.to_thread(verify_manifest, data, publisher=publisher, keys=keys, now=now)
        fetch_parts = self.fetch_parts if not publisher.startswith("did:") else None
        fetch = None if fetch_parts is None else lambda manifest, missing: fetch_parts(manifest, publisher + MANIFEST_PATH, missing)
        try:
            verified, observed = await load_parts(self.storage, verified, uploaded=parts, fetch=fetch)
        except Unreachable as error:
            raise PartsError(f"{error}: upload the parts with the envelope (multipart/form-data)", where="/parts") from None
        return await self.accept(data, verified, source, now, keys=keys, keyset=keyset, parts=observed, prepared=prepared)

    def _verify_self_certified(self, data: bytes, source: Source, now: datetime) -> tuple[str, Verified | None, dict[str, PublicKey], Prepared | None]:
        """The publisher an envelope names and, for a did:key (whose key is the id), the verified manifest,
        its log entry and that entry's receipt: one worker-thread trip for the common case, which keeps the
        receipt's signature and self-checks (a third of a submission's event-loop time) off the loop.  An
        origin publisher's manifest is verified later, with the key set its origin serves."""
        publisher = peek_publisher(data)
        if not publisher.startswith("did:"):
            return publisher, None, {}, None
        keys = trusted_keys(publisher)
        verified = verify_manifest(data, publisher=publisher, keys=keys, now=now)
        entry, body = self._entry("manifest", source, now, publisher, data)
        return publisher, verified, keys, Prepared(entry, body, make_receipt(self.signer, entry.leaf, entry.received_at, entry.deadline))

    async def accept(
        self, data: bytes, verified: Verified, source: Source, now: datetime, *, keys: Mapping[str, PublicKey], keyset: ObservedKeyset | None,
        parts: Sequence[ObservedPart] = (), prepared: Prepared | None = None,
    ) -> Accepted:
        """Store a verified manifest (its ``parts`` merged into it already): the one step submissions and crawls share.

        Anti-rollback is core's rule (spec/envelope.md, step 10): the stored floor binds a manifest signed by
        a key trusted when the floor was set, so a rotation to a new key starts a new floor (TUF's recovery
        from a fast-forward attack).  A bound lower sequence is refused; an equal one with other bytes is
        equivocation, logged and flagged.  The key set it was verified with is logged with its rotations,
        then its parts, then the manifest; storage replaces the floor by the same rule in the append's
        transaction, and the pins move to the keys trusted for it (never for an equivocation, which must not
        steer anything).  ``prepared``: the entry and receipt made with the verification, used when storage
        stored that very entry (a resubmission returns the first one, receipted again).
        """
        manifest, publisher = verified.manifest, verified.manifest.publisher
        bound = binding(await self.storage.floor(publisher), verified.signed_by)
        equivocation = bound is not None and manifest.sequence == bound.sequence and manifest.digest != bound.digest
        if not equivocation:
            check_sequence(manifest, bound)  # E_ROLLBACK
        if keyset is not None:
            await self._observe_keyset(publisher, keyset, now)
        logged_parts = tuple([(await self.observe("part", part.data, part.source, now, publisher)).entry for part in parts])
        entry, body = (prepared.entry, prepared.body) if prepared is not None else self._entry("manifest", source, now, publisher, data)
        record = NewManifest(publisher, manifest.sequence, bytes.fromhex(manifest.digest), data)
        floor = FloorUpdate(publisher, Floor.of(verified, keys), frozenset(verified.signed_by))
        appended = await self.storage.append(entry, record, floor, body)
        if verified.signed_by and not publisher.startswith("did:") and not equivocation:
            await self.storage.set_pinned_keys(publisher, {kid: json.dumps(key.to_jwk()) for kid, key in keys.items()})
        receipt = prepared.receipt if prepared is not None and prepared.is_for(appended.entry) else self.receipt(appended)
        accepted = Accepted(appended, receipt, verified, appended.manifest is not None and appended.manifest.equivocation,
                            logged_parts)
        if self.on_accept is not None and accepted.created:
            await self.on_accept(accepted)
        return accepted

    def receipt(self, appended: Appended) -> bytes:
        stored = appended.entry
        return make_receipt(self.signer, stored.leaf, stored.received_at, stored.deadline)

    async def _observe_keyset(self, origin: str, keyset: ObservedKeyset, now: datetime) -> None:
        """Every key set and rotation seen is logged once (deduplicated by its bytes)."""
        source = Source("url", url=keyset.url)
        observed = [("keyset", keyset.data)] + [("rotation", rotation.envelope.to_bytes()) for rotation in keyset.parsed.rotations]
        for kind, observed_bytes in observed:
            await self.observe(kind, observed_bytes, source, now, origin)

    async def observe(self, kind: str, data: bytes, source: Source, now: datetime, publisher: str | None = None) -> Appended:
        """Log bytes that state nothing by themselves (a key set, a rotation, a part), once per digest:
        the same bytes again return the entry that holds them.  Federation copies a peer's ``part``
        entries with this before the manifests that need them (spec/log.md, "Parts in the log")."""
        entry, body = self._entry(kind, source, now, publisher, data)
        return await self.storage.append(entry, body=body)

    def _entry(self, kind: str, source: Source, now: datetime, publisher: str | None, data: bytes) -> tuple[NewEntry, bytes | None]:
        """The log entry observing ``data``, deduplicated by its digest, and ``data`` again if the entry is
        detached (its bytes commit to the body by digest; spec/log.md, "Log entries"), for storage to keep."""
        leaf = encode_entry(kind, source, now, data)
        entry = NewEntry(leaf, leaf_hash(leaf), kind, publisher, now, now + self.max_merge_delay, hashlib.sha256(data).digest())
        return entry, data if len(leaf) < len(data) else None  # shorter than its body: detached


async def origin_keys(storage: Storage, origin: str, keyset: KeySet) -> dict[str, PublicKey]:
    """The keys of ``keyset`` this aggregator trusts for ``origin``: all on first contact, else those reached
    from the stored pins (with their key material, so a pinned key that left the set still verifies the
    rotation from it; spec/keys.md, "Trust").  Rotation signatures are checked in a worker thread."""
    pinned = {kid: PublicKey.from_jwk(json.loads(jwk)) for kid, jwk in (await storage.pinned_keys(origin)).items()}
    by_id_only = await storage.pins(origin) - pinned.keys()  # pins stored before keys were kept with them
    pinned.update((kid, keyset.keys[kid]) for kid in by_id_only if kid in keyset.keys)
    if by_id_only and not pinned:
        raise KeyMaterialError("no key in this key set is pinned", code="E_KEY_UNTRUSTED", where="/keys")
    return await asyncio.to_thread(trusted_keys, origin, keyset, pinned or None)
