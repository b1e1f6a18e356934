"""What every signal parser shares: limits, the statement constructor, mechanism names.

A parser turns one existing opt-out mechanism into core
:class:`~notrain.core.decision.Statement` objects and never decides anything
itself: :func:`notrain.core.decide` combines them with everything else.
Parsers are lenient about what publishers write (a typo must not crash a
crawl; it becomes a warning) and strict about limits: inputs beyond their
size limit raise :class:`SignalError`, the only exception a parser may raise.
"""

from __future__ import annotations

from typing import Mapping

from ..core.decision import Evidence, Statement
from ..core.errors import NotrainError
from ..core.vocab import State

# Mechanism names, as they appear in evidence and compliance reports.
ROBOTS_AI_TOKEN = "robots.txt-ai-crawler"
ROBOTS_CONTENT_USAGE = "robots.txt-content-usage"
ROBOTS_CONTENT_SIGNAL = "robots.txt-content-signal"
HEADER_CONTENT_USAGE = "header-content-usage"
HEADER_CONTENT_SIGNAL = "header-content-signal"
X_ROBOTS_TAG = "x-robots-tag"
HTML_META_ROBOTS = "html-meta-robots"
TDMREP_FILE = "tdmrep-file"
TDMREP_HEADER = "tdmrep-header"
TDMREP_HTML = "tdmrep-html"
AI_TXT = "ai.txt"
XMP_DATA_MINING = "xmp-plus-datamining"
C2PA_TRAINING_MINING = "c2pa-training-mining"

MAX_RAW_CHARS = 512  # how much of a raw value evidence keeps


class SignalError(NotrainError):
    """An input a signal parser refuses outright (too large, not the right kind of document)."""

    code = "E_SIGNAL"


def make_statement(
    prefs: Mapping[str, State],
    mechanism: str,
    source: str,
    *,
    raw: str | None = None,
    rule: str | None = None,
    warnings: tuple[str, ...] | list[str] = (),
    detail: str = "",
    inferred: bool = False,
) -> Statement:
    """A statement from a signal; UNKNOWN entries are dropped (they say nothing).
    ``inferred``: notrain's reading of a signal that does not state the preference itself."""
    stated = {c: s for c, s in prefs.items() if s is not State.UNKNOWN}
    return Statement(
        stated,
        Evidence(
            mechanism,
            source,
            rule=rule,
            detail=detail,
            raw=None if raw is None else raw[:MAX_RAW_CHARS],
            warnings=tuple(warnings),
        ),
        inferred,
    )


def check_size(data: bytes | str, limit: int, what: str) -> None:
    if len(data) > limit:
        raise SignalError(f"{what} is {len(data)} bytes; the limit is {limit}", code="E_SIGNAL_SIZE", where=what)


def literal_specials(path: str) -> str:
    """A normalised URL path with its literal ``*`` and ``$`` written ``%2A`` and ``%24``.

    In robots.txt-style patterns (robots.txt rules, TDMRep ``location``) a bare
    ``*`` or ``$`` is a wildcard or anchor, and RFC 9309 §2.2.3 has a publisher
    write ``%2A`` or ``%24`` to match the literal character; the AIPREF attach
    draft and TDMRep adopt its matching.  Rewriting the path makes those
    patterns match it (and a URL that writes the escape itself), while the
    wildcard ``*`` still matches any octets.  Protego does the same.
    notrain's own manifest rules do not use this (spec/paths.md).
    """
    return path.replace("*", "%2A").replace("$", "%24") if "*" in path or "$" in path else path
