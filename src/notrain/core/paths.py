"""Path rules: RFC 9309-style patterns, longest match, compiled once.

A pattern starts with ``/``; ``*`` matches any run of octets and a final ``$``
anchors the end.  Patterns and request paths are compared after the same
percent-encoding normalisation, octet by octet, against the URL's path plus
query.  The most specific rule (the longest pattern, in octets) decides, per
category; rules of equal length combine most-restrictively.

The rules are compiled into a trie.  Without wildcards the trie is itself a
deterministic automaton: a lookup walks the path once, O(path length) whatever
the number of rules.  Wildcards make it non-deterministic; the sets of trie
nodes a path can reach are then built into a DFA lazily, as paths meet them,
and kept (up to a bound), so that repeated lookups are again one dictionary
step per character.  Protego and urllib instead test every rule against the
path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit

from .errors import PayloadError
from .vocab import State

MAX_PATTERN_OCTETS = 2048
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
    parts = urlsplit(url) if isinstance(url, str) else url
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
    for piece in pieces:
        position = path.find(piece, position)
        if position < 0:
            return False
        position += len(piece)
    if not anchored:
        return True
    if last is None:
        return position == len(path)
    return path.endswith(last) and len(path) - len(last) >= position


@dataclass(frozen=True)
class PathRule:
    pattern: str  # normal form
    prefs: tuple[tuple[str, State], ...]  # (category, ALLOWED|DISALLOWED)
    ref: str = ""  # where the rule stands (a JSON Pointer), for evidence


# (pattern length in octets, merged prefs, the rules) of the rules ending at one node.
_Slot = tuple[int, dict[str, State], tuple[PathRule, ...]]


@dataclass
class _Node:
    children: dict[str, "_Node"] = field(default_factory=dict)
    star: "_Node | None" = None
    is_star: bool = False  # a '*' state: it also loops on any octet
    # Rules ending here, for prefix rules and for '$' rules.
    prefix: "_Slot | None" = None
    anchored: "_Slot | None" = None


def _restrictive(a: State, b: State) -> State:
    return State.DISALLOWED if State.DISALLOWED in (a, b) else a


def _attach(slot: "_Slot | None", rule: PathRule) -> "_Slot":
    """Merge a rule into the rules ending at the same node (same pattern, so same length)."""
    if slot is None:
        return (len(rule.pattern), dict(rule.prefs), (rule,))
    merged = dict(slot[1])
    for category, state in rule.prefs:
        merged[category] = _restrictive(merged[category], state) if category in merged else state
    return (slot[0], merged, slot[2] + (rule,))


@dataclass(frozen=True)
class PathMatch:
    """The winning rules for one path: category -> (state, rules that said it)."""

    by_category: dict[str, tuple[State, tuple[PathRule, ...]]]


class _DfaState:
    """A set of trie nodes reached by the same input, with what they contribute
    and the transitions found so far (a lazily built DFA, as RE2 does it)."""

    __slots__ = ("nodes", "prefix", "anchored", "next")

    def __init__(self, nodes: tuple[_Node, ...]) -> None:
        self.nodes = nodes
        self.prefix = tuple(n.prefix for n in nodes if n.prefix is not None)
        self.anchored = tuple(n.anchored for n in nodes if n.anchored is not None)
        self.next: dict[str, _DfaState | None] = {}


MAX_DFA_STATES = 65536  # beyond this, transitions are computed without being kept


class PathMatcher:
    """A compiled set of path rules."""

    def __init__(self, rules: list[PathRule] | tuple[PathRule, ...]) -> None:
        self._root = _Node()
        self._has_star = False
        self.rule_count = len(rules)
        for rule in rules:
            self._add(rule)
        self._states: dict[frozenset[int], _DfaState] = {}
        self._start = self._state([self._root]) if self._has_star else None

    def _add(self, rule: PathRule) -> None:
        node = self._root
        body = rule.pattern[:-1] if rule.pattern.endswith("$") else rule.pattern
        for char in body:
            if char == "*":
                self._has_star = True
                if node.star is None:
                    node.star = _Node(is_star=True)
                node = node.star
            else:
                node = node.children.setdefault(char, _Node())
        if rule.pattern.endswith("$"):
            node.anchored = _attach(node.anchored, rule)
        else:
            node.prefix = _attach(node.prefix, rule)

    def match(self, path: str) -> PathMatch:
        """Match a normalised path (see :func:`url_path`)."""
        best: dict[str, tuple[int, State, tuple[PathRule, ...]]] = {}
        collect = self._collect
        if self._start is None:  # no wildcards: the trie itself is the automaton
            node = self._root
            collect(node.prefix, best)
            for char in path:
                node = node.children.get(char)  # type: ignore[assignment]
                if node is None:
                    break
                collect(node.prefix, best)
            else:
                collect(node.anchored, best)
        else:
            state: _DfaState | None = self._start
            for slot in state.prefix:
                collect(slot, best)
            for char in path:
                following = state.next.get(char, _MISSING)  # type: ignore[union-attr]
                if following is _MISSING:
                    following = self._step(state, char)  # type: ignore[arg-type]
                if following is None:
                    break
                state = following  # type: ignore[assignment]
                for slot in state.prefix:  # type: ignore[union-attr]
                    collect(slot, best)
            else:
                for slot in state.anchored:  # type: ignore[union-attr]
                    collect(slot, best)
        return PathMatch({c: (state, rules) for c, (_, state, rules) in best.items()})

    def _step(self, state: _DfaState, char: str) -> "_DfaState | None":
        reached: list[_Node] = []
        for node in state.nodes:
            child = node.children.get(char)
            if child is not None:
                reached.append(child)
            if node.is_star:
                reached.append(node)
        following = self._state(reached) if reached else None
        if len(self._states) < MAX_DFA_STATES:
            state.next[char] = following
        return following

    def _state(self, nodes: list[_Node]) -> _DfaState:
        """The DFA state for ``nodes`` and every star node reachable through
        empty matches (``*`` matches the empty string)."""
        closure: dict[int, _Node] = {}
        pending = list(nodes)
        while pending:
            node = pending.pop()
            if id(node) not in closure:
                closure[id(node)] = node
                if node.star is not None:
                    pending.append(node.star)
        key = frozenset(closure)
        state = self._states.get(key)
        if state is None:
            state = _DfaState(tuple(closure.values()))
            if len(self._states) < MAX_DFA_STATES:
                self._states[key] = state
        return state

    @staticmethod
    def _collect(slot: "_Slot | None", best: dict) -> None:
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
