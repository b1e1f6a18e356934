"""Strict RFC 9651 Structured Field Dictionaries, for AIPREF ``Content-Usage``.

AIPREF makes strictness part of the meaning: ``Train-AI=n`` (uppercase key),
``train-ai = n`` (spaces around ``=``) and ``train-ai;has;parameters="?";``
(trailing ``;``) are parse failures, so every category is unknown, and
``train-ai=yes`` is the Token ``yes``, not ``y``.  A lenient parser would turn
those into opt-outs the publisher never validly wrote, or lose the
distinction between a Token and a String.

Why a library, and which: this module is a thin wrapper over ``http-sf``
(Mark Nottingham, editor of RFC 9651), which is strict on every fixture in
our reference notes (uppercase keys, whitespace around ``=``, trailing ``,``
and ``;``, 15-digit Integers, 3-digit fractions, String escapes), parses the
empty field as the empty Dictionary, reports *where* and *why* parsing
failed, and is maintained (1.5.0, 2026).  The two libraries first proposed
were rejected: ``http-sfv`` 0.9.9 is its author's deprecated predecessor of
``http-sf``, fails the empty field (RFC 9651 makes it an empty Dictionary)
and raises bare ``ValueError``\\ s with no message; ``sfvparse`` 0.1.0 is
lenient exactly where AIPREF needs strictness (it lowercases ``Train-AI``,
accepts a trailing ``,`` or ``;``) and rejects bare keys (Boolean true).

Errors: :func:`parse_dictionary` raises :class:`SFVError` for a malformed
value and :class:`~notrain.signals.base.SignalError` for one over
:data:`MAX_OCTETS`; both are SignalErrors, so a caller catches one type.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import cast

import http_sf
from http_sf import DisplayString, Token

from .base import SignalError, check_size

__all__ = ["MAX_OCTETS", "DisplayString", "Member", "SFVError", "Token", "join_field_lines", "parse_dictionary"]

MAX_OCTETS = 8 * 1024
"""Longest field value parsed: AIPREF values are a few dozen octets; anything
near this is garbage or an attack, and HTTP servers cap header lines near it."""

Member = tuple[object, dict[str, object]]
"""A Dictionary member: (bare item or inner list, parameters).  Bare items are
``int``, ``Decimal``, ``str`` (String), :class:`Token`, ``bytes``, ``bool``,
``datetime`` (Date) or :class:`DisplayString`; an inner list is a ``list`` of
(bare item, parameters)."""

FieldValue = str | bytes | Iterable[str | bytes]


class SFVError(SignalError):
    """The value is not a valid Structured Field Dictionary."""

    code = "E_SFV"


def _octets(value: str | bytes) -> bytes:
    # Any octet above 0x7E is invalid in a Dictionary, so how a str's non-ASCII
    # characters become bytes cannot change the outcome; surrogatepass makes
    # even lone surrogates encodable, so encoding never raises.
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")


def join_field_lines(value: FieldValue) -> bytes:
    """One field value from one or several field lines, joined with ", " as
    RFC 9110 §5.3 and RFC 9651 §4.2 require (so the last duplicate wins across lines)."""
    if isinstance(value, (str, bytes)):
        return _octets(value)
    return b", ".join(_octets(line) for line in value)


def parse_dictionary(value: FieldValue, on_duplicate: Callable[[str], None] | None = None) -> dict[str, Member]:
    """Parse a Dictionary; a duplicate key keeps its last value and parameters.

    ``on_duplicate`` is told each key that is replaced, so callers can warn.
    """
    data = join_field_lines(value)
    check_size(data, MAX_OCTETS, "structured field value")

    def duplicate(key: str, where: str) -> None:
        if on_duplicate is not None and where == "dictionary":
            on_duplicate(key)

    try:
        return cast(dict[str, Member], http_sf.parse(data, tltype="dictionary", on_duplicate_key=duplicate))
    except http_sf.StructuredFieldError as why:
        raise SFVError(str(why), where="structured field value") from None
