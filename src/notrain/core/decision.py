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

Explicit beats inferred.  Some statements are notrain's reading of a signal
that says something else (a robots.txt group blocking GPTBot read as
``train-ai=n`` for every crawler); they are marked ``inferred``.  An inferred
statement only fills a category that no explicit statement about the same
thing speaks to: where the publisher said ``y`` or ``n`` outright, the
inference is set aside (kept in :attr:`Outcome.overruled`, so reports and
``notrain doctor`` can show it), never combined.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

from .errors import scalar_string
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
        """Members with a value; text quoted from a signal (a tdmrep.json string may hold a lone
        surrogate) is escaped, so that every report and item carrying evidence can be written."""
        doc = {k: scalar_string(v) if isinstance(v, str) else v for k, v in self.__dict__.items() if v not in (None, "", ())}
        if self.warnings:
            doc["warnings"] = [scalar_string(warning) for warning in self.warnings]
        return doc


@dataclass(frozen=True)
class Statement:
    """A stated preference per category (ALLOWED or DISALLOWED); absent = no statement."""

    prefs: Mapping[str, State]
    evidence: Evidence
    inferred: bool = False  # notrain's reading of another signal, not the publisher's own words

    def to_json(self) -> dict:
        doc = {"prefs": {c: s.value for c, s in self.prefs.items()}, "evidence": self.evidence.to_json()}
        if self.inferred:
            doc["inferred"] = True
        return doc


def fail_closed(source: str, reason: str) -> Statement:
    """Disallow every category: what an unreachable or untrustworthy source means."""
    return Statement({c: State.DISALLOWED for c in CATEGORIES}, Evidence(FAIL_CLOSED, source, detail=reason))


@dataclass(frozen=True)
class Outcome:
    """One category's result, the statements that produced it, and the inferred
    statements that explicit ones overruled."""

    state: State
    because: tuple[Statement, ...] = ()
    overruled: tuple[Statement, ...] = ()


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
            "categories": {c: self._outcome_json(c, o) for c, o in self.outcomes.items()},
        }

    def _outcome_json(self, category: str, outcome: Outcome) -> dict:
        doc = {"state": outcome.state.value, "allowed": self.allowed(category), "because": [s.to_json() for s in outcome.because]}
        if outcome.overruled:
            doc["overruled"] = [s.to_json() for s in outcome.overruled]
        return doc


def decide(
    statements: Iterable[Statement],
    *,
    categories: Iterable[str] = CATEGORIES,
    unknown_as: State = State.ALLOWED,
) -> Decision:
    """Combine statements from any sources into a per-category decision.

    Per category: if any explicit statement speaks to it, only explicit ones
    count and the inferred ones are overruled; then any disallowed wins, then
    any allowed, else unknown.
    """
    if unknown_as is State.UNKNOWN:
        raise ValueError("unknown_as must be ALLOWED or DISALLOWED")
    statements = tuple(statements)
    # (category, inferred) -> (disallowing, allowing) statements.  Keyed without the State: an Enum
    # hashes in Python, and a crawler decides twice per page.
    said: dict[tuple[str, bool], tuple[list[Statement], list[Statement]]] = {}
    for statement in statements:
        for category, state in statement.prefs.items():
            if state is State.DISALLOWED or state is State.ALLOWED:
                lists = said.get((category, statement.inferred))
                if lists is None:
                    lists = said[(category, statement.inferred)] = ([], [])
                lists[state is State.ALLOWED].append(statement)
    outcomes: dict[str, Outcome] = {}
    for category in categories:
        no, yes = said.get((category, False), _NONE)
        guessed_no, guessed_yes = said.get((category, True), _NONE)
        if no or yes:
            outcomes[category] = _combine(no, yes, overruled=(*guessed_no, *guessed_yes))
        else:
            outcomes[category] = _combine(guessed_no, guessed_yes)
    return Decision(outcomes, unknown_as, statements)


def _combine(no: Sequence[Statement], yes: Sequence[Statement], overruled: tuple[Statement, ...] = ()) -> Outcome:
    """AIPREF: any disallowed wins, then any allowed, else unknown."""
    if no:
        return Outcome(State.DISALLOWED, tuple(no), overruled)
    if yes:
        return Outcome(State.ALLOWED, tuple(yes), overruled)
    return _UNKNOWN


_UNKNOWN = Outcome(State.UNKNOWN)
_NONE: tuple[tuple[Statement, ...], tuple[Statement, ...]] = ((), ())  # immutable: shared by every call
