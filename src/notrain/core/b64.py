"""Strict base64 decoding.

``base64.b64decode`` silently discards characters outside the alphabet unless
``validate=True`` and accepts non-canonical trailing bits; either would let two
different strings decode to the same signed bytes.  notrain accepts exactly one
spelling of every byte string: standard alphabet with padding (RFC 4648 §4) in
envelopes, unpadded URL-safe alphabet (§5) in JWKs and key ids.
"""

from __future__ import annotations

import base64
import binascii
import re

import pybase64

from .errors import NotrainError

_URL = re.compile(r"\A[A-Za-z0-9_-]*\Z")


def std_encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def std_decode(text: object, *, where: str, code: str = "E_BASE64") -> bytes:
    """Decode padded standard base64, refusing any other spelling.

    pybase64 (SIMD, 10-60 times ``binascii``'s speed: the payload of every
    envelope is decoded before anything else) with ``validate`` refuses
    foreign characters and misplaced padding; what a decoder may still accept,
    missing padding and non-zero bits in the last quantum, can only show in the
    length and the last four characters, so only those are re-encoded and
    compared (a full re-encode would double the cost of decoding a 1 MiB payload).
    """
    if not isinstance(text, str) or not text.isascii():
        raise NotrainError("not canonical padded standard base64", code=code, where=where)
    try:
        data = pybase64.b64decode(text, validate=True)
    except ValueError:  # binascii.Error is one
        raise NotrainError("not canonical padded standard base64", code=code, where=where) from None
    tail = data[-(len(data) % 3 or 3) :]
    if len(text) != (len(data) + 2) // 3 * 4 or (data and binascii.b2a_base64(tail, newline=False) != text[-4:].encode()):
        raise NotrainError("not canonical padded standard base64", code=code, where=where)
    return data


def url_decode(text: object, *, where: str, code: str = "E_BASE64") -> bytes:
    """Decode unpadded base64url, refusing any other spelling."""
    if not isinstance(text, str) or not _URL.match(text) or len(text) % 4 == 1:
        raise NotrainError("not canonical unpadded base64url", code=code, where=where)
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error:
        raise NotrainError("not canonical unpadded base64url", code=code, where=where) from None
    if url_encode(data) != text:
        raise NotrainError("not canonical unpadded base64url", code=code, where=where)
    return data
