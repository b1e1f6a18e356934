"""Spawning's ``/ai.txt``: robots.txt grammar whose rules say which files may train AI.

``Disallow: *.mp3`` means "files matching this may not be used in AI training
datasets" and ``Allow: *.jpg`` that they may; ai.txt says nothing about
crawling.  So a rule becomes a ``train-ai`` statement (``n`` for Disallow, ``y``
for Allow) and never a crawl decision.

The file is read with robots.py's reader and the same RFC 9309 group
selection (Spawning's generator writes ``User-agent: *``).  The longest
matching pattern wins, by the core PathMatcher; equal lengths are separate
statements, so a tie combines most-restrictively.  Spawning's patterns do
not start with ``/``: a leading ``*`` is kept as written (``*.jpg`` matches any
path containing ``.jpg``, ``$`` being absent), and any other pattern is read
as if it started with ``/``, with a warning.  The generator's stray ``/``
lines have no ``:`` and are skipped.  Rules beyond the wildcard reach
cap (spec/paths.md, "Legacy files") are dropped with a warning; a dropped
Disallow stands in as its beginning, so the file is never read as more
permissive.

Few crawlers honour ai.txt, so every statement carries a warning telling the
publisher to say the same in robots.txt.  An unreachable ai.txt is no
statement (fetching code treats it as absent): unlike robots.txt, nothing in
the convention makes its failure mean "disallow".  Parsing never raises;
:meth:`AiTxt.statements` raises :class:`~notrain.signals.base.SignalError`
only for a URL that cannot be split.
"""

from __future__ import annotations

from ..core.decision import Statement
from ..core.errors import PayloadError
from ..core.paths import wildcard_beginning
from ..core.vocab import TRAIN_AI, State
from .base import AI_TXT, make_statement
from .robots import (
    ALLOW,
    DISALLOW,
    Group,
    Line,
    LongestMatch,
    dropped_rule_warning,
    normal_pattern,
    read_rules_file,
    split_url,
    wildcard_cap,
)

__all__ = ["HONOURED_BY_FEW", "AiTxt"]

HONOURED_BY_FEW = (
    "ai.txt is a Spawning convention that few AI crawlers honour; say the same in robots.txt with Content-Usage: train-ai=n"
)

_Rule = tuple[Group, Line, State]


class AiTxt:
    """One origin's ai.txt, parsed once."""

    def __init__(self, source: str, body: bytes) -> None:
        self.source = source
        self._file = read_rules_file(body, "ai.txt")
        self._patterns: dict[int, str] = {}
        for group in self._file.groups:
            for line in group.lines:
                if line.key in (ALLOW, DISALLOW) and line.value:
                    self._read_pattern(line)
        for line in self._file.preamble.lines:
            self._file.warnings.add(f"ai.txt line {line.number} stands before any User-agent line and is ignored")
        self._cap_wildcards()
        self.warnings = self._file.warnings.final()
        self._selections: dict[tuple[int, ...], tuple[LongestMatch[_Rule], LongestMatch[_Rule]]] = {}

    @classmethod
    def parse(cls, body: bytes, url_of_ai_txt: str) -> AiTxt:
        """An ai.txt fetched with a 2xx status.  Never raises."""
        return cls(url_of_ai_txt, body)

    def _read_pattern(self, line: Line) -> None:
        pattern = line.value
        if not pattern.startswith(("/", "*")):
            self._file.warnings.add(
                f"ai.txt line {line.number}: pattern {pattern[:80]!r} does not start with '/' or '*'; read as '/{pattern[:80]}'"
            )
            pattern = "/" + pattern
        try:
            self._patterns[line.number] = normal_pattern(pattern)
        except PayloadError as why:
            self._file.warnings.add(f"ai.txt line {line.number}: pattern {pattern[:80]!r} is ignored: {why.message}")

    def _cap_wildcards(self) -> None:
        """Leave out the wildcard rules over the reach cap (spec/paths.md, "Legacy files"); a
        dropped Disallow stands in, fail-safe, as its beginning (``*.mp3``: every path)."""
        lines = {line.number: line for group in self._file.groups for line in group.lines}
        self._stand_ins: dict[int, str] = {}
        for number in wildcard_cap(sorted(self._patterns.items())):
            pattern = self._patterns.pop(number)
            disallows = lines[number].key == DISALLOW
            self._file.warnings.add(dropped_rule_warning("ai.txt", number, pattern, [TRAIN_AI] if disallows else []))
            if disallows:
                self._stand_ins[number] = wildcard_beginning(pattern)

    def _select(self, groups: tuple[int, ...]) -> tuple[LongestMatch[_Rule], LongestMatch[_Rule]]:
        """The selected rules, and the stand-ins of their dropped Disallow lines."""
        matchers = self._selections.get(groups)
        if matchers is None:
            entries, stand_ins = [], []
            for group in (self._file.groups[i] for i in groups):
                for line in group.lines:
                    if line.number in self._patterns:
                        state = State.ALLOWED if line.key == ALLOW else State.DISALLOWED
                        entries.append((self._patterns[line.number], (group, line, state)))
                    elif line.number in self._stand_ins:
                        stand_ins.append((self._stand_ins[line.number], (group, line, State.DISALLOWED)))
            matchers = self._selections[groups] = (LongestMatch(entries), LongestMatch(stand_ins))
        return matchers

    def statements(self, url: str, token: str) -> list[Statement]:
        """What ai.txt says about training on ``url``, for the crawler with this product token."""
        path = split_url(url)
        rules, stand_ins = self._select(self._file.select(token))
        dropped = stand_ins(path)[:1]  # literal beginnings, all disallowing: one statement says it
        return [
            make_statement(
                {TRAIN_AI: state},
                AI_TXT,
                self.source,
                raw=line.raw.strip(),
                rule=f"{group.label} | {line.value}",
                warnings=(HONOURED_BY_FEW,),
                detail=f"line {line.number}",
            )
            for group, line, state in rules(path)
        ] + [
            make_statement(
                {TRAIN_AI: State.DISALLOWED},
                AI_TXT,
                self.source,
                raw=line.raw.strip(),
                rule=f"{group.label} | {self._stand_ins[line.number] or 'every path'} (fail-safe)",
                warnings=(HONOURED_BY_FEW, dropped_rule_warning("ai.txt", line.number, line.value, [TRAIN_AI])),
                detail=f"line {line.number}",
            )
            for group, line, state in dropped
        ]
