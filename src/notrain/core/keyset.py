"""Key sets (``/.well-known/notrain-keys.json``) and signed key rotations.

A site's keys are served by its origin.  On first contact a verifier trusts
the key set as served (the origin speaks for itself, like robots.txt).  Once
it has seen keys for a publisher it *pins* them, and from then on accepts a
new key only through rotation statements: DSSE envelopes, signed by the old
key, that name the new one.  A hijacked web server can then serve a new key
set, but cannot make a verifier with pins accept it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Mapping

from . import dsse, ijson
from .errors import KeyMaterialError, NotrainError
from .keys import PrivateKey, PublicKey
from .manifest import check_publisher, format_timestamp, parse_timestamp

KEYSET_VERSION = 1
ROTATION_TYPE = "application/vnd.notrain.rotation+json"
MAX_KEYSET_BYTES = 64 * 1024
MAX_KEYS = 16
MAX_ROTATIONS = 64
_KID = re.compile(r"\A[A-Za-z0-9_-]{43}\Z")  # an RFC 7638 SHA-256 thumbprint


@dataclass(frozen=True)
class Rotation:
    """``old`` hands over to ``new``; only meaningful once verified with the old key."""

    publisher: str
    old: str  # kid
    new: PublicKey
    issued: datetime
    envelope: dsse.Envelope

    def verify_with(self, old_key: PublicKey) -> bool:
        if old_key.kid != self.old:
            return False
        try:
            dsse.verify(self.envelope, ROTATION_TYPE, {old_key.kid: old_key})
        except NotrainError:
            return False
        return True


@dataclass(frozen=True)
class KeySet:
    publisher: str
    keys: dict[str, PublicKey]
    rotations: tuple[Rotation, ...]

    def to_json(self) -> dict:
        return {
            "notrain-keys": KEYSET_VERSION,
            "publisher": self.publisher,
            "keys": [k.to_jwk() for k in self.keys.values()],
            "rotations": [r.envelope.to_json() for r in self.rotations],
        }

    def trusted(self, pinned: Mapping[str, PublicKey] | None = None) -> dict[str, PublicKey]:
        """The keys a verifier may use.

        With no pins, every key in the set.  With pins, only keys in the set
        that are pinned or reachable from a pinned key by a chain of rotations
        each verified with the key before it.
        """
        if not pinned:
            return dict(self.keys)
        reachable: dict[str, PublicKey] = dict(pinned)
        pending = list(self.rotations)
        changed = True
        while changed:  # each rotation is verified at most once
            changed = False
            for rotation in list(pending):
                old = reachable.get(rotation.old)
                if old is None:
                    continue
                pending.remove(rotation)
                if rotation.new.kid not in reachable and rotation.verify_with(old):
                    reachable[rotation.new.kid] = rotation.new
                    changed = True
        trusted = {kid: key for kid, key in self.keys.items() if kid in reachable}
        if not trusted:
            raise KeyMaterialError(
                "no key in this key set is pinned or reached from a pinned key by a signed rotation",
                code="E_KEY_UNTRUSTED",
                where="/keys",
            )
        return trusted


def parse_keyset(data: bytes, publisher: str) -> KeySet:
    """Parse a key set served for ``publisher`` (its ``publisher`` member must match)."""
    doc = ijson.loads(data, max_size=MAX_KEYSET_BYTES, max_depth=8, what="key set")
    if not isinstance(doc, dict) or type(doc.get("notrain-keys")) is not int or doc["notrain-keys"] != KEYSET_VERSION:
        raise KeyMaterialError("not a notrain key set (version 1)", code="E_KEYSET", where="/notrain-keys")
    if publisher.startswith("did:"):
        raise KeyMaterialError("a did:key publisher has no key set: the DID is the key", code="E_KEYSET", where="/publisher")
    if doc.get("publisher") != publisher:
        raise KeyMaterialError(f"key set is for {doc.get('publisher')!r}, not {publisher!r}", code="E_KEYSET", where="/publisher")
    raw_keys = doc.get("keys")
    if not isinstance(raw_keys, list) or not 1 <= len(raw_keys) <= MAX_KEYS:
        raise KeyMaterialError(f"'keys' must list 1 to {MAX_KEYS} keys", code="E_KEYSET", where="/keys")
    keys: dict[str, PublicKey] = {}
    for i, jwk in enumerate(raw_keys):
        key = PublicKey.from_jwk(jwk, where=f"/keys/{i}")
        if key.kid in keys:
            raise KeyMaterialError("the same key is listed twice", code="E_KEYSET", where=f"/keys/{i}")
        keys[key.kid] = key
    raw_rotations = doc.get("rotations", [])
    if not isinstance(raw_rotations, list) or len(raw_rotations) > MAX_ROTATIONS:
        raise KeyMaterialError(f"'rotations' must be an array of at most {MAX_ROTATIONS}", code="E_KEYSET", where="/rotations")
    rotations = tuple(_parse_rotation(item, publisher, f"/rotations/{i}") for i, item in enumerate(raw_rotations))
    return KeySet(publisher, keys, rotations)


def _parse_rotation(item: object, publisher: str, where: str) -> Rotation:
    envelope = dsse.from_json(item, where)
    if envelope.payload_type != ROTATION_TYPE:
        raise KeyMaterialError("a rotation has payloadType " + ROTATION_TYPE, code="E_ROTATION", where=f"{where}/payloadType")
    doc = ijson.loads(envelope.payload, max_size=4096, max_depth=4, what="rotation")
    version = doc.get("notrain-rotation") if isinstance(doc, dict) else None
    if type(version) is not int or version != 1 or doc.get("publisher") != publisher:
        raise KeyMaterialError("rotation payload must be version 1 and name this publisher", code="E_ROTATION", where=where)
    old = doc.get("old")
    if not isinstance(old, str) or not _KID.match(old):
        raise KeyMaterialError("rotation 'old' must be a key id", code="E_ROTATION", where=f"{where}/old")
    new = PublicKey.from_jwk(_member(doc, "new", where), where=f"{where}/new")
    issued = parse_timestamp(_member(doc, "issued", where), f"{where}/issued")
    return Rotation(publisher, old, new, issued, envelope)


def _member(doc: dict, name: str, where: str) -> object:
    """A rotation member that must be present: a missing one is the statement's
    defect (E_ROTATION), a bad one its value's (E_JWK, E_TIMESTAMP)."""
    if name not in doc:
        raise KeyMaterialError(f"rotation lacks {name!r}", code="E_ROTATION", where=f"{where}/{name}")
    return doc[name]


def make_rotation(publisher: str, old: PrivateKey, new: PublicKey, issued: datetime) -> Rotation:
    """A rotation statement from ``old`` to ``new``, signed by ``old``."""
    if new == old.public:
        raise KeyMaterialError("a rotation must name a new key", code="E_ROTATION")
    payload = ijson.dumps(
        {"notrain-rotation": 1, "publisher": check_publisher(publisher), "old": old.public.kid, "new": new.to_jwk(), "issued": format_timestamp(issued)}
    )
    return Rotation(publisher, old.public.kid, new, issued, dsse.sign(payload, ROTATION_TYPE, [old]))


def make_keyset(publisher: str, keys: list[PublicKey], rotations: tuple[Rotation, ...] = ()) -> KeySet:
    check_publisher(publisher)
    if publisher.startswith("did:"):
        raise KeyMaterialError("a did:key publisher needs no key set: the DID is the key", code="E_KEYSET")
    if not 1 <= len(keys) <= MAX_KEYS or len(rotations) > MAX_ROTATIONS:
        raise KeyMaterialError(f"a key set has 1 to {MAX_KEYS} keys and at most {MAX_ROTATIONS} rotations", code="E_KEYSET")
    return KeySet(publisher, {k.kid: k for k in keys}, rotations)
