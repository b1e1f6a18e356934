"""Verifying a signed manifest: bytes in, a trusted :class:`Manifest` out.

The order is fixed by the spec (spec/envelope.md, "Verification"): parse the envelope,
check its payload type, verify a signature by a trusted key over the exact
payload bytes, and only then parse those bytes.  Policy checks follow: the
manifest must be for the publisher the verifier asked about, still valid, and
not older than one already accepted (anti-rollback).

The rollback floor is kept per set of keys (spec/envelope.md, step 10): it binds
manifests signed by a key that was trusted when the floor was set, so a
rotation to a new key resets it.  That is TUF's recovery from fast-forward
attacks (a thief's manifest with sequence 2^53-1 would otherwise lock the
publisher out), moved from TUF's roles to notrain's keys.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from urllib.parse import urlsplit

from . import dsse, ijson
from .errors import KeyMaterialError, PayloadError, PolicyError
from .keys import PublicKey
from .keyset import KeySet
from .manifest import MANIFEST_TYPE, Manifest, canonical_origin, check_publisher, parse_payload

CLOCK_SKEW = timedelta(minutes=5)


class Accepted(Protocol):
    """What anti-rollback needs to remember of the last accepted manifest of a publisher."""

    @property
    def sequence(self) -> int: ...

    @property
    def digest(self) -> str: ...


@dataclass(frozen=True)
class Floor:
    """A rollback floor: the last accepted manifest's sequence and digest, and the
    key ids trusted when it was accepted (empty for a bare manifest)."""

    sequence: int
    digest: str
    keys: frozenset[str] = frozenset()

    @classmethod
    def of(cls, verified: Verified, trusted: Mapping[str, PublicKey] | None) -> Floor:
        return cls(verified.manifest.sequence, verified.manifest.digest, frozenset(trusted or ()))


@dataclass(frozen=True)
class Verified:
    manifest: Manifest
    signed_by: tuple[str, ...]  # key ids whose signatures verified; () for a bare manifest
    envelope_digest: str | None  # SHA-256 of the envelope bytes, None for a bare manifest


def trusted_keys(publisher: str, keyset: KeySet | None = None, pinned: Mapping[str, PublicKey] | None = None) -> dict[str, PublicKey]:
    """The keys that may sign for ``publisher``: the did:key itself, or the
    origin's key set (limited by pins, see :meth:`KeySet.trusted`)."""
    check_publisher(publisher)
    if publisher.startswith("did:"):
        key = PublicKey.from_did_key(publisher)
        return {key.kid: key}
    if keyset is None:
        raise KeyMaterialError(f"no key set for {publisher}", code="E_KEYSET")
    if keyset.publisher != publisher:
        raise KeyMaterialError(f"key set is for {keyset.publisher}, not {publisher}", code="E_KEYSET")
    return keyset.trusted(pinned)


def peek_publisher(data: bytes) -> str:
    """The publisher an envelope *claims*, read before verification.

    Only for choosing which keys to verify with (like a JWS ``kid``); the
    answer is untrusted until :func:`verify_manifest` has checked it.
    """
    doc = ijson.loads(dsse.parse(data).payload, max_size=dsse.MAX_PAYLOAD_BYTES, what="manifest")
    if not isinstance(doc, dict):
        raise PayloadError("a manifest is a JSON object", code="E_FIELD_TYPE", where="/")
    if "publisher" not in doc:
        raise PayloadError("a manifest names its publisher", code="E_FIELD_MISSING", where="/publisher")
    return check_publisher(doc["publisher"])


def verify_manifest(
    data: bytes,
    *,
    publisher: str,
    keys: Mapping[str, PublicKey],
    now: datetime,
    previous: Floor | None = None,
) -> Verified:
    """``previous``: the publisher's rollback floor, if the verifier holds one."""
    envelope = dsse.parse(data)
    signed_by = dsse.verify(envelope, MANIFEST_TYPE, keys)
    manifest = parse_payload(envelope.payload)
    if manifest.publisher != publisher:
        raise PolicyError(f"manifest is published by {manifest.publisher}, expected {publisher}", code="E_PUBLISHER_MISMATCH", where="/publisher")
    if manifest.is_did_key and PublicKey.from_did_key(publisher).kid not in signed_by:
        raise PolicyError("a did:key manifest must be signed by the key its DID names", code="E_PUBLISHER_MISMATCH", where="/signatures")
    check_policy(manifest, now=now, previous=binding(previous, signed_by))
    return Verified(manifest, signed_by, hashlib.sha256(data).hexdigest())


def accept_bare(
    data: bytes, *, fetched_from: str, now: datetime, previous: Floor | None = None, pinned: bool = False
) -> Verified:
    """Accept an unsigned manifest only as its own origin served it over HTTPS, and
    only from a publisher not known to sign: with pins (``pinned``) or a floor set
    by a signed manifest, TLS alone must not undo what the keys promised."""
    if urlsplit(fetched_from).scheme != "https":
        raise PolicyError("an unsigned manifest is accepted only over HTTPS", code="E_UNSIGNED", where=fetched_from)
    if pinned or (previous is not None and previous.keys):
        raise PolicyError(
            "an unsigned manifest from a publisher whose keys are pinned or whose signed manifest was accepted",
            code="E_UNSIGNED",
            where=fetched_from,
        )
    manifest = parse_payload(data)
    if manifest.publisher != canonical_origin(fetched_from):
        raise PolicyError(
            f"an unsigned manifest for {manifest.publisher} was served by another origin", code="E_UNSIGNED", where="/publisher"
        )
    check_policy(manifest, now=now, previous=previous)
    return Verified(manifest, (), None)


def is_envelope(data: bytes) -> bool:
    """Whether a document at the well-known path is an envelope (else a bare manifest)."""
    doc = ijson.loads(data, max_size=dsse.MAX_ENVELOPE_BYTES, what="manifest document")
    return isinstance(doc, dict) and "payloadType" in doc


def check_policy(manifest: Manifest, *, now: datetime, previous: Accepted | None) -> None:
    if manifest.issued - now > CLOCK_SKEW:  # a difference: no overflow for any ``now``
        raise PolicyError(f"manifest is issued in the future ({manifest.issued:%Y-%m-%dT%H:%M:%SZ})", code="E_NOT_YET_VALID", where="/issued")
    if manifest.expires <= now:
        raise PolicyError(f"manifest expired at {manifest.expires:%Y-%m-%dT%H:%M:%SZ}", code="E_EXPIRED", where="/expires")
    check_sequence(manifest, previous)


def binding(floor: Floor | None, signed_by: Iterable[str]) -> Floor | None:
    """The floor if it binds a manifest signed by ``signed_by``: when one of its
    keys was trusted as the floor was set.  A manifest signed only by keys
    reached since (through rotations) starts a new floor.  Public so that a
    verifier keeping floors elsewhere (the aggregator's storage) applies this
    one rule."""
    if floor is None or not floor.keys.isdisjoint(signed_by):
        return floor
    return None


def check_sequence(manifest: Accepted, previous: Accepted | None) -> None:
    """Anti-rollback against the last manifest accepted *for the same publisher*:
    the sequence only grows, and an equal sequence must carry the same bytes
    (else the publisher signed two different manifests)."""
    if previous is None:
        return
    if manifest.sequence < previous.sequence:
        raise PolicyError(f"sequence {manifest.sequence} is older than the accepted {previous.sequence}", code="E_ROLLBACK", where="/sequence")
    if manifest.sequence == previous.sequence and manifest.digest != previous.digest:
        raise PolicyError(f"sequence {manifest.sequence} was already accepted with other content", code="E_ROLLBACK", where="/sequence")
