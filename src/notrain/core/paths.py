"""Path rules: RFC 9309-style patterns, longest match, compiled once.

A pattern starts with ``/``; ``*`` matches any run of octets and a final ``$``
anchors the end.  Patterns and request paths are compared after the same
percent-encoding normalisation, octet by octet, against the URL's path plus
query.  The most specific rule (the longest pattern, in octets) decides, per
category; rules of equal length combine most-restrictively.

The rules are compiled once (:class:`PathMatcher`): a trie of the literal
text before each rule's first ``*``, walked once along the path, and a trie of
the literal pieces between later ``*``, each searched for with ``str.find``.
Time and memory are bounded for any rules within the limits (spec/paths.md,
"Cost of matching"); Protego and urllib instead test every rule against the
path, with regular expressions that backtrack.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import SplitResult

from .errors import PayloadError
from .urls import split_url
from .vocab import State

MAX_PATTERN_OCTETS = 2048
# Distinct wildcard pieces one path can reach (spec/paths.md, "Cost of matching"): each is at most
# one substring search per lookup, ~4-14 µs for a path up to 8 KiB, so a lookup stays under ~1 ms.
MAX_WILDCARD_REACH = 64
_MISSING = object()
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_NEEDS_ENCODING = re.compile(r"[\x00-\x20\x7f]")
_FORBIDDEN_IN_PATTERN = re.compile(r"[\x00-\x20\x7f#]")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _normalise_escape(match: re.Match[str]) -> str:
    octet = int(match.group(1), 16)
    return chr(octet) if octet in _UNRESERVED else "%" + match.group(1).upper()


def _encode(char: str) -> str:
    # surrogatepass: a lone surrogate in a URL string still gets one spelling.
    return "".join(f"%{b:02X}" for b in char.encode("utf-8", "surrogatepass"))


def normalise(text: str) -> str:
    """Percent-encoding normal form: percent-encode non-ASCII (as UTF-8), spaces
    and controls; uppercase escapes; decode escapes of unreserved characters
    (RFC 3986 §6.2.2)."""
    if not text.isascii() or _NEEDS_ENCODING.search(text):
        text = "".join(_encode(c) if not c.isascii() or _NEEDS_ENCODING.match(c) else c for c in text)
    return _ESCAPE.sub(_normalise_escape, text) if "%" in text else text


def url_path(url: str | SplitResult) -> str:
    """The part of a URL that path rules match: path and query, normalised."""
    return _url_path(url) if isinstance(url, str) else _split_path(url)


@lru_cache(maxsize=1024)
def _url_path(url: str) -> str:
    """Kept for the last URLs: a crawler asks about one URL several times (robots.txt, the manifest's
    rules, ai.txt before the download; tdmrep.json after it), and splitting it is most of each ask."""
    return _split_path(split_url(url))


def _split_path(parts: SplitResult) -> str:
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return normalise(path)


def check_pattern(pattern: object, where: str) -> str:
    """Validate a rule pattern and return its normal form."""
    if not isinstance(pattern, str) or not pattern.startswith("/"):
        raise PayloadError("a path pattern must be a string starting with '/'", code="E_PATTERN", where=where)
    if _FORBIDDEN_IN_PATTERN.search(pattern):
        raise PayloadError("a path pattern must not contain whitespace, control characters or '#'", code="E_PATTERN", where=where)
    if "$" in pattern[:-1]:
        raise PayloadError("'$' may only end a path pattern", code="E_PATTERN", where=where)
    if "%" in pattern and _BAD_ESCAPE.search(pattern):
        raise PayloadError("a '%' in a path pattern must start a %XX escape", code="E_PATTERN", where=where)
    normal = normalise(pattern)
    if len(normal) > MAX_PATTERN_OCTETS:
        raise PayloadError(f"a path pattern is limited to {MAX_PATTERN_OCTETS} octets", code="E_PATTERN", where=where)
    return normal


def pattern_matches(pattern: str, path: str) -> bool:
    """Whether one normalised pattern matches a normalised path (a prefix of it,
    unless the pattern ends with ``$``), for code that tests single patterns.

    Leftmost search of the literal pieces between ``*``: exact for patterns
    whose only wildcard is ``*``, linear, and without backtracking, so no
    crafted pattern is slow.
    """
    anchored = pattern.endswith("$")
    first, *pieces = pattern.removesuffix("$").split("*")
    if not path.startswith(first):
        return False
    position = len(first)
    last = pieces.pop() if anchored and pieces else None
    padded = ""
    for piece in pieces:
        if len(piece) > 5 and len(piece) * len(path) > _QUADRATIC_BUDGET:
            padded = padded or _pad(path)
            position = padded.find(piece, position)
        else:
            position = path.find(piece, position)
        if position < 0:
            return False
        position += len(piece)
    if not anchored:
        return True
    if last is None:
        return position == len(path)
    return path.endswith(last) and len(path) - len(last) >= position


class PathRule(NamedTuple):
    """A NamedTuple, like the manifest's catalogue entries: immutable, and built several times
    faster than a frozen dataclass (a manifest may hold thousands of rules)."""

    pattern: str  # normal form
    prefs: tuple[tuple[str, State], ...]  # (category, ALLOWED|DISALLOWED)
    ref: str = ""  # where the rule stands (a JSON Pointer), for evidence


# (pattern length in octets, merged prefs, the rules) of the rules ending at one place.
_Slot = tuple[int, dict[str, State], tuple[PathRule, ...]]


def _restrictive(a: State, b: State) -> State:
    return State.DISALLOWED if State.DISALLOWED in (a, b) else a


def _attach(slot: _Slot | None, rule: PathRule) -> _Slot:
    """Merge a rule into the rules ending at the same place (same pattern, so same length)."""
    if slot is None:
        return (len(rule.pattern), dict(rule.prefs), (rule,))
    merged = dict(slot[1])
    for category, state in rule.prefs:
        merged[category] = _restrictive(merged[category], state) if category in merged else state
    return (slot[0], merged, slot[2] + (rule,))


def _attach_by_length(slots: tuple[_Slot, ...], rule: PathRule) -> tuple[_Slot, ...]:
    """Merge a rule into the slot of its length: after a '*', patterns of different
    lengths can end at the same place ('/a*' and '/a**')."""
    length = len(rule.pattern)
    same = [slot for slot in slots if slot[0] == length]
    return tuple(slot for slot in slots if slot[0] != length) + (_attach(same[0] if same else None, rule),)


class _Piece:
    """One literal piece after a ``*``: rules ending with it, and what follows it."""

    __slots__ = ("after", "anchored", "prefix")

    def __init__(self) -> None:
        self.prefix: tuple[_Slot, ...] = ()  # rules ending '*piece': the piece occurs somewhere later
        self.anchored: tuple[_Slot, ...] = ()  # rules ending '*piece$': the path ends with it, late enough
        self.after: _Star | None = None  # rules going on with '*piece*...'


class _Star:
    """A ``*`` reached after the same literal text by several rules: their pieces, by text."""

    __slots__ = ("anywhere", "pieces")

    def __init__(self) -> None:
        self.anywhere: tuple[_Slot, ...] = ()  # rules ending with this '*' (or '*$'): they match already
        self.pieces: dict[str, _Piece] = {}


class _Node:
    """A node of the trie of literal beginnings (the text before each rule's first ``*``)."""

    __slots__ = ("anchored", "children", "deepest", "own", "prefix", "star")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.prefix: _Slot | None = None
        self.anchored: _Slot | None = None
        self.star: _Star | None = None  # rules whose first '*' follows this node's text
        self.own = 0  # pieces under ``star``
        self.deepest = 0  # own + the largest ``deepest`` of the children: the reach below here


@dataclass(frozen=True)
class PathMatch:
    """The winning rules for one path: category -> (state, rules that said it).

    ``searches`` counts the substring searches the wildcard rules needed, so
    tests can check the bound on work without timing anything.
    """

    by_category: dict[str, tuple[State, tuple[PathRule, ...]]]
    searches: int = 0


class PathMatcher:
    """A compiled set of path rules.

    The text before each rule's first ``*`` goes into a trie, walked once along
    the path: O(len(path)) for any number of literal rules.  What follows a
    ``*`` is a chain of literal pieces.  Greedy leftmost search decides a
    ``*``-only pattern exactly (finding each piece as early as possible leaves
    the most room for the rest), so a piece is looked for once with the C-level
    ``str.find`` from where the previous one ended, and rules sharing their
    beginning share those searches (a trie of pieces).  Consecutive ``*`` are
    one.  Nothing is built per path, so memory is O(total pattern octets) and a
    lookup does at most one search per distinct piece the path can reach
    (:attr:`reach`, spec/paths.md, "Wildcard reach"); with ``limit``, a rule that
    would take the reach over it is refused and listed in ``dropped``, so
    legacy files can be capped fail-safe and manifests refused.  A lazy DFA over sets of trie nodes,
    used before, needed time and memory exponential in the number of ``*``.
    """

    def __init__(self, rules: list[PathRule] | tuple[PathRule, ...] = (), *, limit: int | None = None) -> None:
        self._root = _Node()
        self.limit = limit  # most wildcard pieces one path may reach; None: no limit
        self.rule_count = 0
        self.piece_count = 0  # distinct (beginning, pieces so far) pairs in the whole trie
        self.dropped: list[PathRule] = []  # rules refused by ``limit``, in order
        for rule in rules:
            if not self.add(rule):
                self.dropped.append(rule)

    @property
    def reach(self) -> int:
        """The most distinct wildcard pieces one path can reach: the bound on searches per lookup."""
        return self._root.deepest

    def add(self, rule: PathRule) -> bool:
        """Add a rule; False (and nothing added) if it would take some path's reach over ``limit``."""
        anchored = rule.pattern.endswith("$")
        first, *rest = (rule.pattern[:-1] if anchored else rule.pattern).split("*")
        nodes = [self._root]
        for char in first:
            node = nodes[-1]
            nodes.append(node.children.get(char) or node.children.setdefault(char, _Node()))
        node = nodes[-1]
        if not rest:
            if anchored:
                node.anchored = _attach(node.anchored, rule)
            else:
                node.prefix = _attach(node.prefix, rule)
            self.rule_count += 1
            return True
        pieces = [piece for piece in rest if piece]  # '**' is '*'
        new = _new_pieces(node.star, pieces)
        if new and self.limit is not None and sum(n.own for n in nodes[:-1]) + node.deepest + new > self.limit:
            return False
        self.rule_count += 1
        star = node.star = node.star or _Star()
        if not rest[-1]:  # ends with '*' or '*$': matches wherever the text before it does
            for piece in pieces:
                star = self._after(star, piece)
            star.anywhere = _attach_by_length(star.anywhere, rule)
        else:
            for piece in pieces[:-1]:
                star = self._after(star, piece)
            last = self._piece(star, pieces[-1])
            if anchored:
                last.anchored = _attach_by_length(last.anchored, rule)
            else:
                last.prefix = _attach_by_length(last.prefix, rule)
        if new:
            node.own += new
            node.deepest += new
            for parent, child in zip(reversed(nodes[:-1]), reversed(nodes[1:])):
                parent.deepest = max(parent.deepest, parent.own + child.deepest)
        return True

    def _after(self, star: _Star, text: str) -> _Star:
        piece = self._piece(star, text)
        if piece.after is None:
            piece.after = _Star()
        return piece.after

    def _piece(self, star: _Star, text: str) -> _Piece:
        piece = star.pieces.get(text)
        if piece is None:
            piece = star.pieces[text] = _Piece()
            self.piece_count += 1
        return piece

    def match(self, path: str) -> PathMatch:
        """Match a normalised path (see :func:`url_path`)."""
        best: dict[str, tuple[int, State, tuple[PathRule, ...]]] = {}
        collect = _collect
        searches = 0
        node = self._root
        collect(node.prefix, best)
        if node.star is not None:
            searches += self._wildcards(node.star, path, 0, best)
        for position, char in enumerate(path, 1):
            node = node.children.get(char)  # type: ignore[assignment]
            if node is None:
                break
            collect(node.prefix, best)
            if node.star is not None:
                searches += self._wildcards(node.star, path, position, best)
        else:
            collect(node.anchored, best)
        return PathMatch({c: (state, rules) for c, (_, state, rules) in best.items()}, searches)

    @staticmethod
    def _wildcards(star: _Star, path: str, start: int, best: dict) -> int:
        """Collect the rules that go on from ``star``, reached at ``path[start:]``; return the searches made."""
        searches = 0
        padded = ""
        pending = [(star, start)]
        while pending:
            star, start = pending.pop()
            for slot in star.anywhere:
                _collect(slot, best)
            for text, piece in star.pieces.items():
                if piece.anchored and len(path) - len(text) >= start and path.endswith(text):
                    for slot in piece.anchored:
                        _collect(slot, best)
                if not piece.prefix and piece.after is None:
                    continue
                searches += 1
                if len(text) > 5 and len(text) * len(path) > _QUADRATIC_BUDGET:
                    padded = padded or _pad(path)
                    found = padded.find(text, start)
                else:
                    found = path.find(text, start)
                if found < 0:
                    continue
                for slot in piece.prefix:
                    _collect(slot, best)
                if piece.after is not None:
                    pending.append((piece.after, found + len(text)))
        return searches


def _new_pieces(star: _Star | None, pieces: list[str]) -> int:
    """How many of a rule's pieces (after its beginning's ``*``) the trie does not hold yet."""
    for index, text in enumerate(pieces):
        piece = star.pieces.get(text) if star is not None else None
        if piece is None:
            return len(pieces) - index
        star = piece.after
    return 0


def wildcard_beginning(pattern: str) -> str:
    """The text before a pattern's first ``*``: every path the pattern matches starts with it."""
    return pattern.split("*", 1)[0]


def wildcard_pieces(pattern: str) -> int:
    """How many pieces (non-empty texts after a ``*``) a normalised pattern searches for."""
    return sum(1 for piece in pattern.removesuffix("$").split("*")[1:] if piece)


def check_wildcard_reach(rules: Iterable[PathRule], checker: PathMatcher | None = None) -> PathMatcher:
    """Refuse (``E_PATTERN``) a document whose wildcard rules let one path reach more than
    MAX_WILDCARD_REACH distinct pieces; return the checker, which holds the wildcard rules
    only, so parts can be checked against it as they are merged."""
    checker = checker or PathMatcher(limit=MAX_WILDCARD_REACH)
    for rule in rules:
        if "*" in rule.pattern and not checker.add(rule):
            raise PayloadError(
                f"path rules may let one URL path reach at most {MAX_WILDCARD_REACH} distinct wildcard pieces",
                code="E_PATTERN",
                where=f"{rule.ref}/pattern",
            )
    return checker


# CPython's str.find is linear (Two-Way) only for a haystack of 30,000+
# characters, or 2,500+ and 4 needle lengths; below that a needle of m octets
# costs up to m comparisons per position.  When that could exceed
# _QUADRATIC_BUDGET, the path is padded with NUL (which neither a normal path
# nor a pattern contains) to where the linear algorithm is used.
_QUADRATIC_BUDGET = 1 << 17
_LINEAR_FROM = 32768


def _pad(path: str) -> str:
    return path + "\0" * (_LINEAR_FROM - len(path)) if len(path) < _LINEAR_FROM else path


def _collect(slot: _Slot | None, best: dict) -> None:
    if slot is None:
        return
    length, prefs, rules = slot
    for category, state in prefs.items():
        current = best.get(category)
        if current is None or length > current[0]:
            best[category] = (length, state, rules)
        elif length == current[0] and rules[0] not in current[2]:
            # Same length, different pattern (e.g. '/a*' and '/ab'): combine.
            best[category] = (length, _restrictive(current[1], state), current[2] + rules)
