"""Path rules: RFC 9309-style patterns, longest match, compiled once.

A pattern starts with ``/``; ``*`` matches any run of octets and a final ``$``
anchors the end.  Patterns and request paths are compared after the same
percent-encoding normalisation, octet by octet, against the URL's path plus
query.  The most specific rule (the longest pattern, in octets) decides, per
category; rules of equal length combine most-restrictively.

The rules are compiled into a trie.  A lookup walks the path once, so it costs
O(path length) for literal patterns, whatever the number of rules; each
wildcard on the way adds one state to follow (O(path length x wildcard states)
in the worst case), which robots.txt-sized rule sets never come close to.
Protego and urllib instead test every rule against the path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .errors import PayloadError
from .vocab import State

MAX_PATTERN_OCTETS = 2048
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_NEEDS_ENCODING = re.compile(r"[\x00-\x20\x7f]")
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


def url_path(url: str) -> str:
    """The part of a URL that path rules match: path and query, normalised."""
    parts = urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return normalise(path)


def check_pattern(pattern: object, where: str) -> str:
    """Validate a rule pattern and return its normal form."""
    if not isinstance(pattern, str) or not pattern.startswith("/"):
        raise PayloadError("a path pattern must be a string starting with '/'", code="E_PATTERN", where=where)
    if any(c in pattern for c in " \t\r\n#") or any(ord(c) < 0x20 or ord(c) == 0x7F for c in pattern):
        raise PayloadError("a path pattern must not contain whitespace, control characters or '#'", code="E_PATTERN", where=where)
    if "$" in pattern[:-1]:
        raise PayloadError("'$' may only end a path pattern", code="E_PATTERN", where=where)
    if re.search(r"%(?![0-9A-Fa-f]{2})", pattern):
        raise PayloadError("a '%' in a path pattern must start a %XX escape", code="E_PATTERN", where=where)
    normal = normalise(pattern)
    if len(normal) > MAX_PATTERN_OCTETS:
        raise PayloadError(f"a path pattern is limited to {MAX_PATTERN_OCTETS} octets", code="E_PATTERN", where=where)
    return normal


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


class PathMatcher:
    """A compiled set of path rules."""

    def __init__(self, rules: list[PathRule] | tuple[PathRule, ...]) -> None:
        self._root = _Node()
        self._has_star = False
        self.rule_count = len(rules)
        for rule in rules:
            self._add(rule)

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
        if not self._has_star:
            node = self._root
            self._collect(node.prefix, best)
            for char in path:
                node = node.children.get(char)  # type: ignore[assignment]
                if node is None:
                    break
                self._collect(node.prefix, best)
            else:
                self._collect(node.anchored, best)
        else:
            states = self._closure([self._root], best)
            for char in path:
                step: list[_Node] = []
                for node in states:
                    child = node.children.get(char)
                    if child is not None:
                        step.append(child)
                    if node.is_star:
                        step.append(node)
                if not step:
                    break
                states = self._closure(step, best)
            else:
                for node in states:
                    self._collect(node.anchored, best)
        return PathMatch({c: (state, rules) for c, (_, state, rules) in best.items()})

    def _closure(self, nodes: list[_Node], best) -> list[_Node]:
        """Add the star children of ``nodes`` (``*`` matches the empty string) and
        collect the prefix rules of every state reached."""
        seen: dict[int, _Node] = {}
        pending = list(nodes)
        while pending:
            node = pending.pop()
            if id(node) in seen:
                continue
            seen[id(node)] = node
            self._collect(node.prefix, best)
            if node.star is not None:
                pending.append(node.star)
        return list(seen.values())

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
