"""Statements and the one decision function.

Every source of preferences (a notrain manifest's path rules, its works, its
names, and, in other modules, robots.txt, HTTP headers, TDMRep, embedded
metadata...) produces :class:`Statement` objects.  :func:`decide` is the only
place where they are combined, for every caller: the Scrapy middleware, the
CLI, the aggregator and the dataset filter.

Combining follows AIPREF: per category, any *disallowed* wins, then any
*allowed*, else *unknown*.  What *unknown* finally means is the caller's
policy (``unknown_as``); notrain is an opt-out protocol, so the default is
allowed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

from .vocab import CATEGORIES, State

FAIL_CLOSED = "fail-closed"


@dataclass(frozen=True)
class Evidence:
    """Where a statement came from, precisely enough to cite in a report."""

    mechanism: str  # e.g. "notrain", "fail-closed"; signal parsers add their own
    source: str  # the URL, publisher or file it was read from
    publisher: str | None = None
    rule: str | None = None  # JSON Pointer into the manifest, or the rule's text
    manifest_digest: str | None = None
    sequence: int | None = None
    detail: str = ""
    raw: str | None = None  # the signal's value as found (header value, robots.txt line...)
    warnings: tuple[str, ...] = ()  # what a publisher should fix (legacy labels, lenient parses...)

    def to_json(self) -> dict:
        doc = {k: v for k, v in self.__dict__.items() if v not in (None, "", ())}
        if self.warnings:
            doc["warnings"] = list(self.warnings)
        return doc


@dataclass(frozen=True)
class Statement:
    """A stated preference per category (ALLOWED or DISALLOWED); absent = no statement."""

    prefs: Mapping[str, State]
    evidence: Evidence

    def to_json(self) -> dict:
        return {"prefs": {c: s.value for c, s in self.prefs.items()}, "evidence": self.evidence.to_json()}


def fail_closed(source: str, reason: str) -> Statement:
    """Disallow every category: what an unreachable or untrustworthy source means."""
    return Statement({c: State.DISALLOWED for c in CATEGORIES}, Evidence(FAIL_CLOSED, source, detail=reason))


@dataclass(frozen=True)
class Outcome:
    """One category's result and the statements that produced it."""

    state: State
    because: tuple[Statement, ...] = ()


@dataclass(frozen=True)
class Decision:
    outcomes: dict[str, Outcome]
    unknown_as: State = State.ALLOWED
    statements: tuple[Statement, ...] = field(default=(), repr=False)

    def state(self, category: str) -> State:
        outcome = self.outcomes.get(category)
        return outcome.state if outcome else State.UNKNOWN

    def allowed(self, category: str) -> bool:
        """The final yes/no for ``category``, with unknown resolved by policy."""
        state = self.state(category)
        if state is State.UNKNOWN:
            state = self.unknown_as
        return state is State.ALLOWED

    def disallowed_by(self, category: str) -> tuple[Statement, ...]:
        outcome = self.outcomes.get(category)
        return outcome.because if outcome and outcome.state is State.DISALLOWED else ()

    def to_json(self) -> dict:
        return {
            "unknown_as": self.unknown_as.value,
            "categories": {
                c: {"state": o.state.value, "allowed": self.allowed(c), "because": [s.to_json() for s in o.because]}
                for c, o in self.outcomes.items()
            },
        }


def decide(
    statements: Iterable[Statement],
    *,
    categories: Iterable[str] = CATEGORIES,
    unknown_as: State = State.ALLOWED,
) -> Decision:
    """Combine statements from any sources into a per-category decision."""
    if unknown_as is State.UNKNOWN:
        raise ValueError("unknown_as must be ALLOWED or DISALLOWED")
    statements = tuple(statements)
    said: dict[tuple[str, State], list[Statement]] = {}
    for statement in statements:
        for category, state in statement.prefs.items():
            said.setdefault((category, state), []).append(statement)
    outcomes: dict[str, Outcome] = {}
    for category in categories:
        no = said.get((category, State.DISALLOWED))
        yes = said.get((category, State.ALLOWED))
        outcomes[category] = Outcome(State.DISALLOWED, tuple(no)) if no else Outcome(State.ALLOWED, tuple(yes)) if yes else _UNKNOWN
    return Decision(outcomes, unknown_as, statements)


_UNKNOWN = Outcome(State.UNKNOWN)
