"""The IETF AIPREF usage vocabulary, as notrain uses it.

Three categories (``train-ai``, ``ai-use``, ``search``), two stated values
(``y`` allow, ``n`` disallow) and a third state, unknown, when nobody said
anything.  Labels notrain does not know are ignored, never an error: AIPREF
has renamed its labels several times and will add more.
"""

from __future__ import annotations

import enum
import re
from typing import Mapping

from .errors import PayloadError

TRAIN_AI = "train-ai"
AI_USE = "ai-use"
SEARCH = "search"
CATEGORIES: tuple[str, ...] = (TRAIN_AI, AI_USE, SEARCH)

# AIPREF: new labels may use only these characters (and labels are lowercase).
LABEL = re.compile(r"\A[a-z][a-z0-9_.*-]{0,63}\Z")


class State(enum.Enum):
    """The AIPREF state of one category."""

    ALLOWED = "allowed"
    DISALLOWED = "disallowed"
    UNKNOWN = "unknown"

    @classmethod
    def from_token(cls, token: str) -> "State":
        return {"y": cls.ALLOWED, "n": cls.DISALLOWED}.get(token, cls.UNKNOWN)


_KNOWN = frozenset(CATEGORIES)
_STATED = {"y": State.ALLOWED, "n": State.DISALLOWED}

Prefs = Mapping[str, State]
"""Category -> stated value (ALLOWED or DISALLOWED); absent means unknown."""


def parse_prefs(value: object, where: str) -> dict[str, State]:
    """Parse a manifest ``prefs`` object: ``{"train-ai": "n", ...}``.

    Keys must be syntactically valid labels; known labels take exactly
    ``"y"`` or ``"n"``.  Unknown labels are kept out of the result whatever
    their value, so a future vocabulary cannot break today's verifier.
    """
    if not isinstance(value, dict):
        raise PayloadError("preferences must be an object", code="E_FIELD_TYPE", where=where)
    if value.keys() <= _KNOWN:  # the common case, in C: known labels only, each "y" or "n"
        try:
            prefs = dict(zip(value, map(_STATED.get, value.values())))
        except TypeError:  # an unhashable value: the loop names it
            prefs = {}
        if len(prefs) == len(value) and None not in prefs.values():
            return prefs
    prefs = {}
    for label, token in value.items():
        if label in _KNOWN:
            state = _STATED.get(token) if type(token) is str else None
            if state is None:
                raise PayloadError(f"preference {label!r} must be \"y\" or \"n\"", code="E_FIELD_VALUE", where=f"{where}/{label}")
            prefs[label] = state
        elif not LABEL.match(label):
            raise PayloadError(f"{label!r} is not a valid preference label", code="E_FIELD_VALUE", where=f"{where}/{label}")
    return prefs


def stated_prefs(tokens: Mapping[str, str], where: str) -> dict[str, State]:
    """:func:`parse_prefs` of an object whose values are all ``"y"`` or ``"n"`` already (the
    compiled first pass's type, core/payloadtypes.py): the same result, without re-checking them."""
    if tokens.keys() <= _KNOWN:
        return {label: _STATED[token] for label, token in tokens.items()}
    return parse_prefs(tokens, where)


def prefs_to_json(prefs: Prefs) -> dict[str, str]:
    return {c: ("y" if s is State.ALLOWED else "n") for c, s in prefs.items() if s is not State.UNKNOWN}
