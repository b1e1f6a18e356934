"""W3C TDMRep: ``/.well-known/tdmrep.json``, and TDMRep's own precedence.

TDMRep says ``tdm-reservation: 1`` (text-and-data-mining rights reserved, the
EU DSM Art. 4 opt-out) or ``0`` (not reserved), optionally with a
``tdm-policy`` URL, in three places: the site-wide file, the HTTP headers of a
response and metadata embedded in the content (HTML ``<meta>``).  Mapping:

======================  ==========  ==========  ======
TDMRep                  train-ai    ai-use      search
======================  ==========  ==========  ======
``tdm-reservation: 1``  disallowed  disallowed  --
``tdm-reservation: 0``  allowed     allowed     --
======================  ==========  ==========  ======

Mining covers training and AI input alike; a policy URL is kept in the
evidence, never fetched here.  Any other value is a protocol error, which
TDMRep says to treat as unset (a warning, no preference).

Unlike everything else, TDMRep sources do not combine most-restrictively: the
spec's processing order is file < header < embedded metadata, later sources
override earlier ones, and a source that is silent about a property keeps the
earlier value.  So headers and HTML hand over their :class:`TdmValues` instead
of statements, and :func:`tdmrep_statement` turns the three sources into the
one statement that joins the AIPREF combining in
:func:`notrain.core.decide`.

The file's ``location`` patterns follow robots.txt (``*``, a final ``$``,
case-sensitive, compared after percent-encoding normalisation against path and
query; ``%24`` and ``%2A`` match a literal ``$`` and ``*``, as TDMRep's own
example ``/path/foo-%24`` for ``https://www.example.com/path/foo-$`` shows),
but the *first* matching rule in array order wins, not the longest.  A
longer rule further down that disagrees is reported as a warning, since
robots.txt-minded publishers expect it to win.  The locations' wildcard
pieces are capped at 64 per file (spec/paths.md, "Legacy files"): a
reservation beyond it stands in as its location cut at the first ``*``.  A file beyond 64 KiB raises
:class:`SignalError`; a malformed one yields no rules and a warning, because a
publisher's typo must not stop a crawl (the other signals still apply).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import lru_cache

from ..core.decision import Statement
from ..core.errors import PayloadError
from ..core.paths import MAX_WILDCARD_REACH, check_pattern, pattern_matches, url_path, wildcard_beginning, wildcard_pieces
from ..core.vocab import AI_USE, TRAIN_AI, State
from .base import TDMREP_FILE, check_size, literal_specials, make_statement

MAX_FILE_BYTES = 64 * 1024
_PREFS = {
    1: {TRAIN_AI: State.DISALLOWED, AI_USE: State.DISALLOWED},
    0: {TRAIN_AI: State.ALLOWED, AI_USE: State.ALLOWED},
}


@dataclass(frozen=True)
class TdmValues:
    """What one TDMRep source says about one resource (``None``: unset)."""

    mechanism: str
    source: str
    reservation: int | None = None
    policy: str | None = None
    raw: str | None = None
    rule: str | None = None
    warnings: tuple[str, ...] = ()


def tdm_values(mechanism: str, source: str, reservations: Iterable[str], policies: Iterable[str], raw: str) -> TdmValues | None:
    """Validate the textual values a header or HTML carries (``None`` if it carries none).

    Several values that disagree are a publisher error; the reservation wins,
    being the opt-out, and the first policy is kept.
    """
    reservations = [r.strip() for r in reservations]
    policies = [p.strip() for p in policies if p.strip()]
    if not reservations and not policies:
        return None
    warnings = [f"tdm-reservation {r!r} is neither 1 nor 0; treated as unset" for r in reservations if r not in ("0", "1")]
    valid = {int(r) for r in reservations if r in ("0", "1")}
    if len(valid) > 1:
        warnings.append("conflicting tdm-reservation values; 1 (reserved) wins")
    if len(set(policies)) > 1:
        warnings.append("several tdm-policy values; the first is used")
    return TdmValues(
        mechanism, source, max(valid) if valid else None, policies[0] if policies else None, raw, None, tuple(warnings)
    )


@dataclass(frozen=True)
class _Rule:
    pattern: str  # normal form
    values: TdmValues

    def matches(self, path: str) -> bool:
        return pattern_matches(self.pattern, path)


@dataclass(frozen=True)
class TdmRules:
    """A parsed ``tdmrep.json``: its rules in file order, and what is wrong with it."""

    source: str
    rules: tuple[_Rule, ...] = ()
    warnings: tuple[str, ...] = ()

    def match(self, url: str) -> TdmValues | None:
        """The first rule whose location matches ``url``'s path and query."""
        path = literal_specials(url_path(url))
        hits = [rule for rule in self.rules if rule.matches(path)]
        if not hits:
            return None
        first = hits[0]
        longer = [r for r in hits[1:] if r.values.reservation != first.values.reservation and len(r.pattern) > len(first.pattern)]
        if not longer:
            return first.values
        note = f"rule {first.pattern!r} matches first, so the more specific {longer[0].pattern!r} further down never applies here"
        return replace(first.values, warnings=first.values.warnings + (note,))


def parse_tdmrep(data: bytes, source: str) -> TdmRules:
    """Parse the bytes of ``/.well-known/tdmrep.json`` fetched from ``source``."""
    check_size(data, MAX_FILE_BYTES, "tdmrep.json")
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return TdmRules(source, warnings=(f"tdmrep.json is not valid JSON ({exc}); no rule applies",))
    warnings: list[str] = []
    if isinstance(doc, dict):
        warnings.append("tdmrep.json must be an array of rules; read the single object as one rule")
        doc = [doc]
    if not isinstance(doc, list):
        return TdmRules(source, warnings=("tdmrep.json must be an array of rules; no rule applies",))
    rules = []
    pieces = 0  # of all rules together: each location is tested on its own, nothing is shared
    for index, item in enumerate(doc):
        rule = _rule(item, index, source, warnings)
        if rule is None:
            continue
        count = wildcard_pieces(rule.pattern)
        if pieces + count > MAX_WILDCARD_REACH:
            rule = _stand_in(rule, index, warnings)
            count = 0
        pieces += count
        if rule is not None:
            rules.append(rule)
    return TdmRules(source, tuple(rules), tuple(warnings))


def _stand_in(rule: _Rule, index: int, warnings: list[str]) -> _Rule | None:
    """A rule over the wildcard cap (spec/paths.md, "Legacy files"): a reservation stands, fail-safe,
    as its location cut at the first ``*``, in its place; anything else is dropped."""
    note = f"tdmrep.json rule {index}: location {rule.pattern[:80]!r} is over the cap of {MAX_WILDCARD_REACH} wildcard pieces per file"
    if rule.values.reservation != 1:
        warnings.append(f"{note}; it reserves nothing, so it is left out")
        return None
    beginning = wildcard_beginning(rule.pattern)
    note = f"{note}; read fail-safe as {beginning!r}: every path under it is reserved"
    warnings.append(note)
    return _Rule(beginning, replace(rule.values, rule=beginning, warnings=rule.values.warnings + (note,)))


def _rule(item: object, index: int, source: str, warnings: list[str]) -> _Rule | None:
    where = f"tdmrep.json rule {index}"
    if not isinstance(item, dict):
        warnings.append(f"{where} is not an object; skipped")
        return None
    location = item.get("location")
    try:
        pattern = check_pattern(location, f"/{index}/location")
    except PayloadError as exc:
        warnings.append(f"{where}: location {location!r:.80} skipped: {exc.message}")
        return None
    rule_warnings = []
    reservation = item.get("tdm-reservation")
    if reservation in ("0", "1"):
        rule_warnings.append(f"{where}: tdm-reservation should be the number {reservation}, not a string")
        reservation = int(reservation)
    elif type(reservation) is not int or reservation not in (0, 1):
        rule_warnings.append(f"{where}: tdm-reservation {reservation!r:.80} is neither 1 nor 0; treated as unset")
        reservation = None
    policy = item.get("tdm-policy")
    if policy is not None and not isinstance(policy, str):
        rule_warnings.append(f"{where}: tdm-policy must be a URL string; ignored")
        policy = None
    raw = json.dumps(item, ensure_ascii=False)
    return _Rule(pattern, TdmValues(TDMREP_FILE, source, reservation, policy or None, raw, pattern, tuple(rule_warnings)))


def tdmrep_statement(
    file_rules: TdmRules | None, header_values: TdmValues | None, html_values: TdmValues | None, url: str
) -> Statement | None:
    """Apply TDMRep's override order (file < header < HTML) and state the result.

    ``None`` when no source said anything; a statement without preferences
    when sources said only invalid things (it carries their warnings).  A
    broken file's warnings always ride along: it may hide a reservation for ``url``.
    """
    sources = tuple(v for v in (file_rules.match(url) if file_rules else None, header_values, html_values) if v is not None)
    file_warnings = file_rules.warnings if file_rules else ()
    if not sources and not file_warnings:
        return None
    return _statement(sources, file_warnings, file_rules.source if file_rules else url)


@lru_cache(maxsize=1024)
def _statement(sources: tuple[TdmValues, ...], file_warnings: tuple[str, ...], fallback_source: str) -> Statement:
    """The statement for these sources; kept, since most pages of a site end at the same file rule
    and say nothing else (this was most of a crawl's TDMRep time)."""
    warnings = [*file_warnings, *(w for v in sources for w in v.warnings)]
    decisive = next((v for v in reversed(sources) if v.reservation is not None), None)
    if decisive is None:
        last = sources[-1] if sources else TdmValues(TDMREP_FILE, fallback_source)
        return make_statement({}, last.mechanism, last.source, raw=last.raw, warnings=warnings)
    policy = next((v.policy for v in reversed(sources) if v.policy is not None), None)
    overridden = [f"{v.mechanism} ({v.reservation})" for v in sources if v.reservation not in (None, decisive.reservation)]
    detail = "; ".join(
        ([f"tdm-policy {policy}"] if policy and decisive.reservation == 1 else [])
        + ([f"overrides {', '.join(overridden)}"] if overridden else [])
    )
    return make_statement(
        _PREFS[decisive.reservation],
        decisive.mechanism,
        decisive.source,
        raw=decisive.raw,
        rule=decisive.rule,
        warnings=warnings,
        detail=detail,
    )
