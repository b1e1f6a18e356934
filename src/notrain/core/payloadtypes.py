"""The manifest payload as msgspec types: the compiled first pass of parsing it.

Verifying a typical manifest costs one Ed25519 check and, beside it, parsing two small JSON
documents and some sixty field checks.  Done in Python, the checks cost about as much as the
signature (bench/README.md, P3); written here as msgspec types, msgspec (C) makes them while it
decodes: every member's JSON type, integer ranges, string and array lengths, and the refusal of
floats, lone surrogates and members nobody defined.

A document that decodes into these types *and* repeats no member name passes every check of
spec/manifest.md that a type can state; what types cannot state (canonical publishers, hex
spelling, timestamps, path patterns, URLs) is left to :mod:`notrain.core.manifest`, which builds
the model.  Anything else gives ``None`` and goes to the careful parse, which names the error in
the spec's order, so the first pass changes how fast a manifest is read, never what is accepted
or which error is reported (tests/test_core_fast_paths_payload.py holds it to that).

The types are stricter than the spec where that keeps them simple: unknown members, unknown
preference labels with values other than ``y``/``n`` and indented payloads are valid but take the
careful parse.  The envelope's types are in :mod:`notrain.core.dsse`.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from . import ijson
from .dsse import MAX_PAYLOAD_BYTES

UNSET = msgspec.UNSET
_Unset = msgspec.UnsetType


def _text(limit: int) -> type:
    return Annotated[str, msgspec.Meta(min_length=1, max_length=limit)]


# A hex digest's exact spelling is checked with the model's columns (bytes.fromhex in bulk): a
# pattern here would call Python's re once per string, several times the cost.
_Digest = Annotated[str, msgspec.Meta(min_length=64, max_length=64)]
# Known labels take "y" or "n" (spec/manifest.md); an unknown label with another value is valid
# and ignored, and left to the careful parse.
Prefs = dict[str, Literal["y", "n"]]


class _Strict(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True, frozen=True):
    """Unknown members refused, absent ones UNSET: re-encoding writes exactly the members given,
    which is how a repeated name is caught (:func:`decode`).  Fields are in sorted order, the
    order ``ijson.dumps`` (and so ``notrain sign``) writes them in."""


class Work(_Strict, kw_only=True):
    pdq: _Digest | _Unset = UNSET
    prefs: Prefs | _Unset = UNSET
    sha256: _Digest | _Unset = UNSET
    title: _text(2048) | _Unset = UNSET


class PathRule(_Strict, kw_only=True):
    pattern: _text(2048)
    prefs: Prefs


class Name(_Strict, kw_only=True):
    name: _text(256)
    prefs: Prefs | _Unset = UNSET


class Account(_Strict, kw_only=True):
    service: _text(64) | _Unset = UNSET
    url: _text(2048)


class Part(_Strict, kw_only=True):
    sha256: _Digest
    size: Annotated[int, msgspec.Meta(ge=1, le=8 * 1024 * 1024)]
    url: _text(2048) | _Unset = UNSET


class Pdq(_Strict, kw_only=True):
    hasher: _text(64)
    threshold: Annotated[int, msgspec.Meta(ge=0, le=48)] | _Unset = UNSET


class Payload(_Strict, kw_only=True):
    accounts: list[Account] | _Unset = UNSET
    critical: list[str] | _Unset = UNSET
    default: Prefs | _Unset = UNSET
    expires: str
    issued: str
    names: list[Name] | _Unset = UNSET
    notrain: Literal[1]
    parts: Annotated[list[Part], msgspec.Meta(max_length=256)] | _Unset = UNSET
    paths: list[PathRule] | _Unset = UNSET
    pdq: Pdq | _Unset = UNSET
    publisher: str
    sequence: Annotated[int, msgspec.Meta(ge=0, le=2**53 - 1)]
    works: list[Work] | _Unset = UNSET


_PAYLOAD = msgspec.json.Decoder(Payload)
_ENCODER = msgspec.json.Encoder()  # msgspec's encoders and decoders are thread-safe (since 0.16)


def decode(data: bytes) -> Payload | None:
    """The payload as :class:`Payload` if it passes every check a type states and repeats no
    member name, else None.

    msgspec keeps the last of repeated names silently.  Re-encoding the value writes each member
    it holds once, in the types' (sorted) order; if that gives the document's own tokens back
    (``msgspec.json.format`` drops the whitespace between them), the document is that
    serialisation and so repeats nothing.  Documents written in another order or with needless
    escapes are valid yet take the careful parse.
    """
    if type(data) is not bytes or len(data) > MAX_PAYLOAD_BYTES or not ijson.is_utf8(data):
        return None
    try:
        value = _PAYLOAD.decode(data)
    except msgspec.DecodeError:  # ValidationError (type, range, length, unknown member) is one
        return None
    encoded = _ENCODER.encode(value)
    return value if encoded == data or encoded == msgspec.json.format(data, indent=-1) else None
