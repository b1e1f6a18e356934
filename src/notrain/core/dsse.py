"""DSSE envelopes (secure-systems-lab/dsse v1) with Ed25519 signatures.

The signature covers PAE(payloadType, payload): the exact payload bytes and
their type, never a re-serialisation, so no canonicalisation is needed and a
signature for one payload type can never be replayed as another.  notrain
profiles DSSE strictly: padded standard base64 only, a ``keyid`` on every
signature, at most 16 signatures, no unknown members.  A member of the wrong
JSON type is an envelope-field error; ``E_BASE64`` is only for strings that
are not canonical base64 (spec/envelope.md, "Format").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Mapping

import msgspec

from . import b64, ijson
from .errors import EnvelopeError, NotrainError, SignatureError
from .keys import PrivateKey, PublicKey

MAX_SIGNATURES = 16
MAX_PAYLOAD_BYTES = 1024 * 1024
MAX_ENVELOPE_BYTES = 1440 * 1024
_ENVELOPE_MEMBERS = {"payloadType", "payload", "signatures"}
_SIGNATURE_MEMBERS = {"keyid", "sig"}


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what the signature actually covers."""
    type_bytes = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(type_bytes), type_bytes, len(payload), payload)


@dataclass(frozen=True)
class Signature:
    keyid: str
    sig: bytes


@dataclass(frozen=True)
class Envelope:
    payload_type: str
    payload: bytes
    signatures: tuple[Signature, ...]

    def to_json(self) -> dict:
        return {
            "payloadType": self.payload_type,
            "payload": b64.std_encode(self.payload),
            "signatures": [{"keyid": s.keyid, "sig": b64.std_encode(s.sig)} for s in self.signatures],
        }

    def to_bytes(self) -> bytes:
        return ijson.dumps(self.to_json(), pretty=True)


def sign(payload: bytes, payload_type: str, keys: list[PrivateKey] | tuple[PrivateKey, ...]) -> Envelope:
    if not keys:
        raise ValueError("sign() needs at least one key")
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise EnvelopeError(f"payload is {len(payload)} bytes; the limit is {MAX_PAYLOAD_BYTES}", code="E_SIZE")
    message = pae(payload_type, payload)
    return Envelope(payload_type, payload, tuple(Signature(k.public.kid, k.sign(message)) for k in keys))


def parse(data: bytes) -> Envelope:
    """Parse envelope bytes (structure and encodings only; no signature is checked)."""
    typed = _typed(data)
    if typed is not None:
        try:
            return _from_types(typed)
        except NotrainError:  # bad base64 or too large: the careful parse names it
            pass
    doc = ijson.loads(data, max_size=MAX_ENVELOPE_BYTES, max_depth=4, what="envelope")
    return from_json(doc)


class _SignatureType(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    keyid: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    sig: str


class _EnvelopeType(msgspec.Struct, forbid_unknown_fields=True, frozen=True, rename={"payload_type": "payloadType"}):
    payload: str
    payload_type: str
    signatures: Annotated[list[_SignatureType], msgspec.Meta(min_length=1, max_length=MAX_SIGNATURES)]


_ENVELOPE = msgspec.json.Decoder(_EnvelopeType)


def _typed(data: bytes) -> _EnvelopeType | None:
    """The compiled first pass (as for payloads, core/payloadtypes.py): the envelope if msgspec
    finds exactly DSSE's members with the types named above and none is repeated, else None for
    the careful parse, which names the error.

    Envelopes are written indented, so re-encoding would not give them back; their members are
    counted instead: each has a ``:`` of its own (three, and two per signature) and base64 has
    none, so a text with exactly that many ``:`` repeats no name (a repeated one adds a ``:`` the
    value does not hold).  A ``:`` inside a key id or payload type sends it to the careful parse.
    """
    if type(data) is not bytes or len(data) > MAX_ENVELOPE_BYTES or not ijson.is_utf8(data):
        return None
    try:
        value = _ENVELOPE.decode(data)
    except msgspec.DecodeError:  # ValidationError (type, length, unknown member) is one
        return None
    return value if data.count(b":") == 3 + 2 * len(value.signatures) else None


def _from_types(typed: _EnvelopeType) -> Envelope:
    payload = _payload(typed.payload, "")
    signatures = tuple(Signature(s.keyid, b64.std_decode(s.sig, where="/signatures")) for s in typed.signatures)
    return Envelope(typed.payload_type, payload, signatures)


def from_json(doc: object, where: str = "") -> Envelope:
    if not isinstance(doc, dict):
        raise EnvelopeError("an envelope is a JSON object", code="E_ENVELOPE_FIELD", where=where or "/")
    _exact_members(doc, _ENVELOPE_MEMBERS, where)
    payload_type = doc["payloadType"]
    if not isinstance(payload_type, str):
        raise EnvelopeError("payloadType must be a string", code="E_ENVELOPE_FIELD", where=f"{where}/payloadType")
    if not isinstance(doc["payload"], str):
        raise EnvelopeError("payload must be a string", code="E_ENVELOPE_FIELD", where=f"{where}/payload")
    payload = _payload(doc["payload"], where)
    raw_sigs = doc["signatures"]
    if not isinstance(raw_sigs, list):
        raise EnvelopeError("signatures must be an array", code="E_ENVELOPE_FIELD", where=f"{where}/signatures")
    if not raw_sigs:
        raise EnvelopeError("the envelope has no signatures", code="E_NO_SIGNATURES", where=f"{where}/signatures")
    if len(raw_sigs) > MAX_SIGNATURES:
        raise EnvelopeError(f"more than {MAX_SIGNATURES} signatures", code="E_TOO_MANY_SIGNATURES", where=f"{where}/signatures")
    signatures = []
    for i, item in enumerate(raw_sigs):
        at = f"{where}/signatures/{i}"
        if not isinstance(item, dict):
            raise EnvelopeError("a signature is a JSON object", code="E_ENVELOPE_FIELD", where=at)
        _exact_members(item, _SIGNATURE_MEMBERS, at)
        if not isinstance(item["keyid"], str) or not 0 < len(item["keyid"]) <= 128:
            raise EnvelopeError("keyid must be a non-empty string", code="E_ENVELOPE_FIELD", where=f"{at}/keyid")
        if not isinstance(item["sig"], str):
            raise EnvelopeError("sig must be a string", code="E_ENVELOPE_FIELD", where=f"{at}/sig")
        signatures.append(Signature(item["keyid"], b64.std_decode(item["sig"], where=f"{at}/sig")))
    return Envelope(payload_type, payload, tuple(signatures))


def _payload(text: str, where: str) -> bytes:
    payload = b64.std_decode(text, where=f"{where}/payload")
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise EnvelopeError(f"payload is {len(payload)} bytes; the limit is {MAX_PAYLOAD_BYTES}", code="E_SIZE", where=f"{where}/payload")
    return payload


def _exact_members(doc: dict, members: set[str], where: str) -> None:
    if doc.keys() == members:
        return
    missing = members - doc.keys()
    if missing:
        name = sorted(missing)[0]
        raise EnvelopeError(f"missing member {name!r}", code="E_ENVELOPE_FIELD", where=f"{where}/{name}")
    extra = doc.keys() - members
    if extra:
        name = sorted(extra)[0]
        raise EnvelopeError(f"unknown member {name!r}", code="E_ENVELOPE_FIELD", where=f"{where}/{name}")


def verify(envelope: Envelope, payload_type: str, trusted: Mapping[str, PublicKey]) -> tuple[str, ...]:
    """Check the envelope against the trusted keys (kid -> key).

    Signatures by keys not in ``trusted`` are ignored (they may belong to a
    rotation the verifier has not seen yet), but one bad signature by a
    trusted key fails the whole envelope: a valid co-signature must not paper
    over a forged one.  Returns the key ids whose signatures verified.
    """
    if envelope.payload_type != payload_type:
        raise EnvelopeError(
            f"payloadType is {envelope.payload_type!r}, expected {payload_type!r}", code="E_PAYLOAD_TYPE", where="/payloadType"
        )
    message = pae(envelope.payload_type, envelope.payload)
    good: list[str] = []
    for i, signature in enumerate(envelope.signatures):
        key = trusted.get(signature.keyid)
        if key is None:
            continue
        if len(signature.sig) != 64 or not key.verify(signature.sig, message):
            raise SignatureError(f"signature by key {signature.keyid} does not verify", where=f"/signatures/{i}/sig")
        if signature.keyid not in good:
            good.append(signature.keyid)
    if not good:
        raise SignatureError("no signature by a trusted key", code="E_UNKNOWN_KEY", where="/signatures")
    return tuple(good)
