"""Strict base64 through pybase64 accepts exactly the canonical spelling: the one string that
standard base64 with padding writes for the decoded bytes (the definition in spec/envelope.md)."""

from __future__ import annotations

import base64
import binascii

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notrain.core import b64
from notrain.core.errors import NotrainError


def canonical(text: str) -> bytes | None:
    """The reference: decode leniently, accept only if re-encoding gives the text back."""
    try:
        data = base64.b64decode(text.encode("ascii"))
    except (binascii.Error, UnicodeEncodeError):
        return None
    return data if base64.b64encode(data).decode() == text else None


def decoded(text: str) -> bytes | None:
    try:
        return b64.std_decode(text, where="/payload")
    except NotrainError as exc:
        assert exc.code == "E_BASE64" and exc.where == "/payload"
        return None


@given(st.text(alphabet="ABCDQRSTwxyz0189+/=-_ \n\té", max_size=24))
@settings(max_examples=2000)
def test_std_decode_accepts_exactly_the_canonical_spelling(text):
    assert decoded(text) == canonical(text)


@given(st.binary(max_size=300))
def test_std_decode_reads_every_canonical_string(data):
    assert decoded(base64.b64encode(data).decode()) == data


@pytest.mark.parametrize("text", ["QR==", "QUI=x", "QUJ", "QUJD\n", " QUJD", "QU==QUJD", "QUJD====", "QUJE=", "=QUJ", "Q\u0660==", "QUJ\x00"])
def test_std_decode_refuses(text):
    assert decoded(text) is None and canonical(text) is None
