"""AIPREF ``Content-Usage`` and Cloudflare ``Content-Signal`` values, read into categories.

Both functions return ``(prefs, warnings)``: ``prefs`` maps every category
(``train-ai``, ``ai-use``, ``search``) to a :class:`State`, and ``warnings``
tell the publisher what to fix.  Neither raises: a value a publisher got wrong
must never stop a crawl, it only states less.

``Content-Usage`` follows the AIPREF vocabulary exactly: the value is a strict
RFC 9651 Dictionary; if it does not parse, every category is unknown; for a
known label only the Token ``y`` or ``n`` counts and anything else is unknown;
unknown labels (including labels of earlier drafts such as ``ai`` and
``train-genai``) are ignored; parameters are ignored.  The warnings say why a
value stated less than its publisher probably meant.

``Content-Signal`` is Cloudflare's vocabulary (``search``, ``ai-input``,
``ai-train`` = ``yes`` / ``no``).  Its documentation never calls it a
Structured Field and real files write ``search=yes,ai-train=no`` or capitalise
keys, so it is read leniently as comma-separated ``key=value`` pairs, keys
case-insensitive; ``ai-train`` maps to ``train-ai``, ``ai-input`` to ``ai-use``
(approximately: ai-input also covers AI search answers) and ``search`` to
``search``.  Values other than ``yes``/``no`` are unknown, with a warning,
rather than guessed.
"""

from __future__ import annotations

import re

from ..core.vocab import AI_USE, CATEGORIES, SEARCH, TRAIN_AI, State
from .base import SignalError
from .sfv import MAX_OCTETS, FieldValue, Member, Token, join_field_lines, parse_dictionary

__all__ = ["parse_content_signal", "parse_content_usage"]

Parsed = tuple[dict[str, State], list[str]]

# Labels of earlier AIPREF drafts (and the other vocabulary's keys): ignored, as
# the current draft requires, but worth telling the publisher what to write.
_INSTEAD = {
    "ai": "train-ai",
    "genai": "train-ai",
    "train-genai": "train-ai",
    "ai-train": "train-ai",
    "ai-input": "ai-use",
    "inference": "ai-use",
    "ai-output": "ai-use",
    "tdm": "train-ai and ai-use",
    "all": "train-ai, ai-use and search",
    "bots": "train-ai, ai-use and search",
}

_SIGNAL_KEYS = {"ai-train": TRAIN_AI, "ai-input": AI_USE, "search": SEARCH}
_SIGNAL_NAME = {category: key for key, category in _SIGNAL_KEYS.items()}
_SIGNAL_USE = frozenset({"immediate", "reference", "full"})  # how much may be reproduced; not a category


MAX_WARNINGS = 10  # per value: a hostile value must not multiply into thousands


def _unknown() -> dict[str, State]:
    return {category: State.UNKNOWN for category in CATEGORIES}


def _capped(warnings: list[str]) -> list[str]:
    if len(warnings) <= MAX_WARNINGS:
        return warnings
    return warnings[:MAX_WARNINGS] + [f"... and {len(warnings) - MAX_WARNINGS} more warnings about this value"]


def _failure_hints(text: str) -> list[str]:
    """What usually makes a publisher's Content-Usage fail to parse."""
    hints = []
    keys = [re.split(r"[=;]", part, maxsplit=1)[0].strip() for part in text.split(",")]
    if any(key != key.lower() for key in keys):
        hints.append("labels must be lowercase (train-ai, not Train-AI)")
    if re.search(r"[ \t]=|=[ \t]", text):
        hints.append("no spaces are allowed around '=' (train-ai=n)")
    if text.rstrip(" \t").endswith((",", ";")):
        hints.append("remove the trailing ',' or ';'")
    return hints


def _describe(member: Member) -> str:
    value = member[0]
    if value is True:
        return "no value"
    if isinstance(value, str):
        return f'the String "{value}" (write the Token, without quotes)'
    return f"the {type(value).__name__} value {value!r}"


def parse_content_usage(value: FieldValue) -> Parsed:
    """Read a ``Content-Usage`` value (one string, or the field lines of a header)."""
    prefs = _unknown()
    warnings: list[str] = []
    duplicates: list[str] = []
    try:
        members = parse_dictionary(value, on_duplicate=duplicates.append)
    except SignalError as why:
        text = join_field_lines(value)[: MAX_OCTETS + 1].decode("utf-8", "replace")
        hints = "".join(f"; {hint}" for hint in _failure_hints(text))
        failure = (
            f"Content-Usage does not parse as a Structured Field Dictionary, so every preference is unknown"
            f"{hints} (parser: {why.message})"
        )
        return prefs, [failure]
    for label in dict.fromkeys(duplicates):
        warnings.append(f"Content-Usage names {label} more than once; only the last one counts")
    for label, member in members.items():
        if label in _INSTEAD:
            warnings.append(
                f"Content-Usage label {label!r} is not in the current AIPREF vocabulary and is ignored; write {_INSTEAD[label]}"
            )
        if label not in prefs:
            continue
        token = member[0]
        if isinstance(token, Token) and str(token) in ("y", "n"):
            prefs[label] = State.from_token(str(token))
        elif isinstance(token, Token):
            warnings.append(f"Content-Usage {label}={token} is unknown: only the Tokens y and n count (write {label}=n)")
        else:
            warnings.append(f"Content-Usage {label} has {_describe(member)}, so it is unknown: only y and n count")
    return prefs, _capped(warnings)


def parse_content_signal(value: FieldValue) -> Parsed:
    """Read a Cloudflare ``Content-Signal`` value, e.g. ``search=yes, ai-train=no``."""
    prefs = _unknown()
    data = join_field_lines(value)
    if len(data) > MAX_OCTETS:
        return prefs, [f"Content-Signal is {len(data)} bytes, over the {MAX_OCTETS}-byte limit; ignored"]
    warnings: list[str] = []
    seen: set[str] = set()
    for part in data.decode("utf-8", "replace").split(","):
        if not part.strip():
            continue
        key, eq, raw = part.partition("=")
        key, signal = key.strip(), raw.split(";", 1)[0].strip()
        name = key.lower()
        if not eq:
            warnings.append(f"Content-Signal entry {part.strip()!r} has no '=value'; ignored")
            continue
        if name in seen:
            warnings.append(f"Content-Signal names {name} more than once; only the last one counts")
        seen.add(name)
        if name == "use":
            if signal.lower() not in _SIGNAL_USE:
                warnings.append(f"Content-Signal use={signal} is not one of immediate, reference, full")
            continue
        category = _SIGNAL_KEYS.get(name)
        if category is None:
            if name in CATEGORIES:
                warnings.append(
                    f"Content-Signal key {key!r} is an AIPREF label; Content-Signal uses {_SIGNAL_NAME[name]}, so it is ignored"
                )
            continue
        if signal.lower() in ("yes", "no"):
            prefs[category] = State.ALLOWED if signal.lower() == "yes" else State.DISALLOWED
            if key != name or signal != signal.lower():
                warnings.append(f"Content-Signal {key}={signal} read as {name}={signal.lower()}; write it in lowercase")
        else:
            prefs[category] = State.UNKNOWN
            warnings.append(f"Content-Signal {name}={signal} is unknown: only yes and no count")
    return prefs, _capped(warnings)
