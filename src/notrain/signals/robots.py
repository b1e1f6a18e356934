"""robots.txt for one origin: crawl permission, Content-Usage, Content-Signal and AI crawler groups.

:meth:`RobotsTxt.parse` reads a file once; :meth:`~RobotsTxt.can_fetch` and
:meth:`~RobotsTxt.statements` then answer for any URL of the origin and any
product token.  What each token selects is compiled on first use and kept, so
a crawl pays for matching only.

**Groups** (RFC 9309 §2.2.1).  The product token is compared case-insensitively
with every group's user-agent lines; all matching groups are merged; if none
match, the ``*`` groups apply; if there are none, no rule applies.  A specific
group never inherits from ``*``.  One selection serves Allow/Disallow,
Content-Usage and Content-Signal, so the answers never disagree about which
group applies.  A user-agent value is read as its leading run of letters,
digits, ``-`` and ``_`` (``CCBot/2.0`` is ``ccbot``, as Google reads it), with
a warning: obeying the group a publisher meant is the safer error.  The
crawler's own token is compared whole (up to ``/`` or whitespace), so a value
cut at a non-ASCII letter never matches a different non-ASCII name
(:func:`~notrain.signals.crawlers.product_token`).

**Lines** follow RFC 9309's reference parser, google/robotstxt: a line without
``:`` made of exactly two words is a label and its value (``disallow /``, as
Google and Protego read it, with a warning), and a run of user-agent lines is
ended only by a rule of the group (Crawl-delay counts as one), never by an
unknown line.

**Crawl permission** is Protego's: longest match, Allow wins a tie, the
percent-encoding rules, ``/robots.txt`` always allowed.  Protego is given the
selected rules alone, as a one-group file, because its own group choice (the
single most specific user-agent, by substring) is not RFC 9309's merge.

**Content-Usage** (AIPREF attach-05 §3.2): the label is case-insensitive; the
value runs to the first CR, LF or ``#``; a value starting with ``/`` is a path
(to the first SP/HTAB) then a preference, otherwise the whole value is the
preference and matches every path with length 0.  The longest matching rules
win, found with the core :class:`~notrain.core.paths.PathMatcher`; rules of the
same length are separate statements, so :func:`~notrain.core.decide` combines
them most-restrictively.  ``%2A`` and ``%24`` in a path match a literal ``*``
and ``$`` (RFC 9309 §2.2.3, which attach-05 adopts).  A matching rule states only what its own value says:
a longer rule replaces a shorter one for every category.  Preferences apply
only to paths the token may crawl: a disallowed path yields none.

**Content-Signal** (Cloudflare): one statement per line of the selected
groups, for crawlable paths only, like Content-Usage; it has no path.

Content-Usage and Content-Signal lines before the first user-agent line belong
to no group, and RFC 9309 would ignore them.  Publishers write them there to
mean "everyone", so they apply to every token, with a warning.

**AI crawler tokens** (notrain's interpretation; mechanism
``robots.txt-ai-crawler``).  When a group that names a known AI-*training*
crawler (see :data:`AI_CRAWLERS`) disallows a path, the publisher has said
"do not take this for training": :meth:`~RobotsTxt.statements` returns an
*inferred* ``train-ai: n`` for that path, whatever token asks, citing the
token and the Disallow line.  Being inferred, it only fills the category when
nothing explicit (this file's Content-Usage for the path, a header, a
manifest...) speaks to it: :func:`~notrain.core.decide` sets it aside otherwise.  Only explicit groups count (a ``Disallow`` under ``*`` is about
all crawling, not about AI), only training crawlers count (blocking a search
or user-triggered fetcher says nothing about training), and an Allow never
counts as consent.  The statements carry their own mechanism, so a crawler
operator who reads robots.txt more narrowly can drop them by name.

**Fetch outcomes** (RFC 9309 §2.3.1): :meth:`RobotsTxt.parse` for 2xx,
:meth:`RobotsTxt.unavailable` for 4xx (everything may be crawled, no
preferences) and :meth:`RobotsTxt.unreachable` for 5xx and network errors
(nothing may be crawled, and one fail-closed statement).

**Limits and errors.**  The first 500 KiB are read (RFC 9309's minimum), minus
a line cut in half at the limit, with a warning; bytes that are not UTF-8
become U+FFFD, with a warning.  Content-Usage wildcard rules beyond the
wildcard reach cap (64 pieces one path can reach, spec/paths.md) are dropped
with a warning and stand in fail-safe: paths under the dropped rule's
beginning get a statement disallowing what it disallowed.  Parsing never raises.  ``can_fetch`` and
``statements`` raise :class:`~notrain.signals.base.SignalError` only for a URL
that cannot be split into parts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Generic, TypeVar

from protego import Protego

from ..core.decision import Statement, fail_closed
from ..core.errors import PayloadError
from ..core.paths import MAX_WILDCARD_REACH, PathMatcher, PathRule, check_pattern, url_path, wildcard_beginning
from ..core.vocab import TRAIN_AI, State
from .aipref import parse_content_signal, parse_content_usage
from .base import ROBOTS_AI_TOKEN, ROBOTS_CONTENT_SIGNAL, ROBOTS_CONTENT_USAGE, SignalError, literal_specials, make_statement
from .crawlers import AI_CRAWLERS, TRAINING, AICrawler, crawler_token, product_token

__all__ = ["AI_CRAWLERS", "MAX_OCTETS", "TRAINING", "AICrawler", "RobotsTxt", "product_token"]

MAX_OCTETS = 500 * 1024
MAX_WARNINGS = 50

USER_AGENT, ALLOW, DISALLOW = "user-agent", "allow", "disallow"
CONTENT_USAGE, CONTENT_SIGNAL = "content-usage", "content-signal"

# Spellings seen in the wild, read as the key they mean (Protego reads the same ones).
_KEYS = {
    "user-agent": USER_AGENT,
    "useragent": USER_AGENT,
    "user agent": USER_AGENT,
    "allow": ALLOW,
    "disallow": DISALLOW,
    "dissallow": DISALLOW,
    "dissalow": DISALLOW,
    "disalow": DISALLOW,
    "diasllow": DISALLOW,
    "disallaw": DISALLOW,
    "content-usage": CONTENT_USAGE,
    "content-signal": CONTENT_SIGNAL,
}
# Records other than the rules notrain reads.  Group members end a run of user-agent lines, as rules
# do, and stay with their group (notrain reads none of them); the others neither start nor end a group.
_GROUP_MEMBERS = frozenset({"crawl-delay", "request-rate", "visit-time"})
_KNOWN_OTHER = frozenset({"sitemap", "host", "clean-param", "license"})

_EOL = re.compile(r"\r\n|\r|\n")
_WS = re.compile(r"[ \t]+")  # attach-05: a Content-Usage path ends at SP or HTAB
_UNSAFE_FOR_PROTEGO = re.compile(r"[\s\x00-\x1f\x7f]")  # would split or end a line Protego reads


_TRAINING = {product_token(crawler.token): crawler for crawler in AI_CRAWLERS if crawler.purpose == TRAINING}
_CRAWLER_NAMES = frozenset(crawler.token.lower() for crawler in AI_CRAWLERS)


def normal_pattern(value: str) -> str:
    """The core normal form of a robots.txt path pattern; raises PayloadError.

    A leading ``*`` is accepted (Google reads ``*.pdf`` as ``/*.pdf``) and kept,
    so the pattern keeps its length in octets.
    """
    if value.startswith("*"):
        return check_pattern("/" + value, "robots.txt")[1:]
    return check_pattern(value, "robots.txt")


# --- The file: lines into groups (shared with ai.txt) ---------------------------------------------


@dataclass(frozen=True)
class Line:
    number: int
    key: str  # canonical: one of the constants above, or a group member such as crawl-delay
    value: str  # up to '#', stripped
    raw: str  # the line as written, for evidence


@dataclass
class Group:
    agents: list[str] = field(default_factory=list)  # as written
    lines: list[Line] = field(default_factory=list)

    @property
    def label(self) -> str:
        return "User-agent: " + ", ".join(self.agents) if self.agents else "(before any User-agent line)"


class Warnings(list[str]):
    """Warnings for a publisher, capped so a hostile file cannot make millions."""

    dropped = 0

    def add(self, text: str) -> None:
        if len(self) < MAX_WARNINGS:
            self.append(text)
        else:
            self.dropped += 1

    def final(self) -> tuple[str, ...]:
        return tuple(self) + ((f"... and {self.dropped} more warnings",) if self.dropped else ())


@dataclass
class RulesFile:
    """A robots.txt-grammar file split into groups (RFC 9309 §2.2)."""

    groups: list[Group]
    preamble: Group  # group rules written before any user-agent line
    warnings: Warnings
    by_agent: dict[str, tuple[int, ...]]  # product token -> indices of the groups naming it

    def select(self, token: str) -> tuple[int, ...]:
        """The groups a product token obeys: every group naming it, else the ``*`` groups."""
        return self.by_agent.get(crawler_token(token)) or self.by_agent.get("*", ())


def _check_agent(line: Line, name: str, warnings: Warnings) -> None:
    """Warn about a user-agent value that is not a product token, unless it is a known
    crawler's name as its operator writes it (``Kangaroo Bot``): that reading is the meant one."""
    token = product_token(line.value)
    if line.value.lower() in _CRAWLER_NAMES:
        return
    where = f"{name} line {line.number}: user-agent {line.value[:80]!r}"
    if not token:
        warnings.add(f"{where} names no product token; ignored")
    elif not line.value.isascii() and token != line.value.lower():
        warnings.add(
            f"{where} has a character outside RFC 9309's product-token characters; read as {token!r}, as "
            f"google/robotstxt reads it, so no crawler of that name obeys this group; write an ASCII token"
        )
    elif token != line.value.lower():
        warnings.add(f"{where} is not a product token; read as {token!r}")


def _decode(body: bytes, name: str, warnings: Warnings) -> str:
    if len(body) > MAX_OCTETS:
        head = body[:MAX_OCTETS]
        head = head[: max(head.rfind(b"\n"), head.rfind(b"\r")) + 1]
        warnings.add(
            f"{name} is {len(body)} bytes; only the first {len(head)} were read (RFC 9309 reads at least "
            f"{MAX_OCTETS}); rules after that are ignored"
        )
        body = head
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        text = body.decode("utf-8", "replace")
        warnings.add(
            f"{name} is not valid UTF-8: the undecodable bytes became U+FFFD, so rules containing them "
            f"cannot match; save the file as UTF-8"
        )
    return text.removeprefix("\ufeff")


def _split_line(content: str) -> tuple[str, str, bool] | None:
    """``(label, value, colon missing)`` of a line stripped of its comment, or None.

    A line without ``:`` is read as google/robotstxt reads it: exactly two runs
    of non-whitespace, a known label and its value (``disallow /``).
    """
    label, colon, value = content.partition(":")
    if colon:
        return label, value, False
    words = content.split()
    if len(words) == 2 and words[0].lower() in _KEYS:
        return words[0], words[1], True
    return None


def read_rules_file(body: bytes, name: str) -> RulesFile:
    """Split a robots.txt-grammar file into groups.  Never raises.

    A run of user-agent lines is ended only by a rule of the group (Allow,
    Disallow, Content-Usage, Content-Signal, and the Crawl-delay, Request-rate
    and Visit-time that many crawlers read as members of their group), as in
    RFC 9309's reference parser (google/robotstxt): any other line, known
    (Sitemap) or not, neither ends the run nor starts a group.
    """
    warnings = Warnings()
    text = _decode(body, name, warnings)
    groups: list[Group] = []
    preamble = Group()
    current: Group | None = None
    in_agents = False
    for number, raw in enumerate(_EOL.split(text), 1):
        content = raw.split("#", 1)[0].strip()
        if not content:
            continue
        split = _split_line(content)
        if split is None:
            warnings.add(f"{name} line {number} has no ':' and is ignored: {raw.strip()[:80]!r}")
            continue
        label, value, missing_colon = split
        label = label.strip().lower()
        key = _KEYS.get(label)
        if key is None:
            if label in _GROUP_MEMBERS and current is not None:
                current.lines.append(Line(number, label, value.strip(), raw))
                in_agents = False  # a rule of the group, as Allow is: it ends the run of user-agent lines
            elif label not in _GROUP_MEMBERS | _KNOWN_OTHER:
                warnings.add(f"{name} line {number}: unknown directive {label[:40]!r} is ignored")
            continue
        if missing_colon:
            warnings.add(f"{name} line {number} has no ':'; read as {key!r} as Google and Protego read it; write {key.capitalize()}: {value[:60]}")
        elif label not in (USER_AGENT, ALLOW, DISALLOW, CONTENT_USAGE, CONTENT_SIGNAL):
            warnings.add(f"{name} line {number}: {label!r} is read as {key!r}; spell it {key.capitalize()}")
        line = Line(number, key, value.strip(), raw)
        if key == USER_AGENT:
            if current is None or not in_agents:
                current = Group()
                groups.append(current)
                in_agents = True
            _check_agent(line, name, warnings)
            current.agents.append(line.value)
            continue
        in_agents = False
        (current or preamble).lines.append(line)
    by_agent: dict[str, list[int]] = {}
    for index, group in enumerate(groups):
        for agent in dict.fromkeys(filter(None, map(product_token, group.agents))):
            by_agent.setdefault(agent, []).append(index)
    return RulesFile(groups, preamble, warnings, {k: tuple(v) for k, v in by_agent.items()})


T = TypeVar("T")
_MATCHED = "matched"


class LongestMatch(Generic[T]):
    """Which of some path patterns match a path most specifically, by the core PathMatcher.

    Every pattern gets one marker category, so the matcher's answer for it is
    the set of longest matching patterns (all of them when lengths tie).  With
    a ``limit``, patterns that would take the wildcard reach over it are left
    out, in order; ``dropped`` holds their payloads.
    """

    def __init__(self, entries: Sequence[tuple[str, T]], *, limit: int | None = None) -> None:
        self._payloads = [payload for _, payload in entries]
        rules = [PathRule(pattern, ((_MATCHED, State.ALLOWED),), str(i)) for i, (pattern, _) in enumerate(entries)]
        self._matcher = PathMatcher(rules, limit=limit)
        self.dropped = [self._payloads[int(rule.ref)] for rule in self._matcher.dropped]

    def __call__(self, path: str) -> list[T]:
        hit = self._matcher.match(path).by_category.get(_MATCHED)
        return [] if hit is None else [self._payloads[int(rule.ref)] for rule in hit[1]]


def split_url(url: str) -> str:
    """The normalised path and query that rules match, or SignalError for an unsplittable URL.

    As RFC 9309 matchers (Google's, Protego) do, a relative path is read from the
    root and an empty query keeps its '?', which ``Disallow: /*?`` matches.
    """
    try:
        path = url_path(url)
    except ValueError as why:
        raise SignalError(f"cannot read the URL {url[:200]!r}: {why}", code="E_SIGNAL_URL", where="url") from None
    if "?" not in path and "?" in url.partition("#")[0]:
        path += "?"
    return path if path.startswith("/") else "/" + path


# --- robots.txt ----------------------------------------------------------------------------------

PARSED, UNAVAILABLE, UNREACHABLE = "parsed", "unavailable", "unreachable"
_OUTSIDE_GROUPS = (
    "this line stands before any User-agent line, where RFC 9309 ignores it; "
    "notrain applies it to every crawler; put it inside a User-agent group"
)


def _protego_value(value: str) -> str:
    return _UNSAFE_FOR_PROTEGO.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), value)


def failsafe_matcher(dropped: Sequence[tuple[str, Statement]]) -> Callable[[str], list[Statement]]:
    """Path -> the fail-safe statements of dropped wildcard rules whose beginning the path starts with.

    Each statement only disallows, so all that apply are returned (one rule per
    category, the longest: any one disallowing is enough), never just the
    longest overall.  The beginnings are literal, so this costs one trie walk.
    """
    if not dropped:
        return lambda path: []
    rules = [PathRule(beginning, tuple((c, State.DISALLOWED) for c in statement.prefs), str(i)) for i, (beginning, statement) in enumerate(dropped)]
    matcher = PathMatcher(rules)

    def hits(path: str) -> list[Statement]:
        refs = dict.fromkeys(rule.ref for _, winners in matcher.match(path).by_category.values() for rule in winners)
        return [dropped[int(ref)][1] for ref in refs]

    return hits


def wildcard_cap(entries: Sequence[tuple[int, str]]) -> list[int]:
    """The line numbers of the wildcard rules (``(line number, pattern)``, in file order) left
    out so that no path reaches more than MAX_WILDCARD_REACH pieces (spec/paths.md, "Legacy files")."""
    admitted = PathMatcher(limit=MAX_WILDCARD_REACH)
    return [number for number, pattern in entries if "*" in pattern and not admitted.add(PathRule(pattern, (), str(number)))]


def _paths_under(beginning: str) -> str:
    return f"every path starting with {beginning[:80]!r} is" if beginning else "every path is"


def dropped_rule_warning(name: str, number: int, pattern: str, disallowed: Sequence[str]) -> str:
    cover = (
        f"{_paths_under(wildcard_beginning(pattern))} treated as disallowing {', '.join(disallowed)} instead"
        if disallowed else "it allowed only, so leaving it out cannot make the file more permissive"
    )
    return (
        f"{name} line {number}: the wildcard rule {pattern[:80]!r} is not used: with it, one path could reach more "
        f"than {MAX_WILDCARD_REACH} wildcard pieces (spec/paths.md); {cover}"
    )


class _Selection:
    """What one set of groups says: statements built at parse time, matchers built on first use."""

    def __init__(
        self, crawl_rules: list[Line], usage: list[tuple[str, Statement]], signals: list[Statement], dropped: list[tuple[str, Statement]]
    ) -> None:
        self._crawl_rules = crawl_rules
        self.usage = LongestMatch(usage)  # path -> the winning Content-Usage statements
        self.dropped = failsafe_matcher(dropped)  # path -> what stands in for Content-Usage rules over the cap
        self.signals = signals
        self._last: tuple[str, bool] | None = None  # a crawler asks can_fetch, then statements, about one path

    @cached_property
    def _protego(self) -> Protego:
        rules = [f"{line.key}: {_protego_value(line.value)}" for line in self._crawl_rules if line.value]
        return Protego.parse("User-agent: *\n" + "\n".join(rules))

    def can_fetch(self, path: str) -> bool:
        # Protego is handed the normalised path (pure ASCII: it cannot encode a lone
        # surrogate) behind a dummy origin, so a path such as '//x' stays a path.
        last = self._last
        if last is not None and last[0] == path:
            return last[1]
        allowed = self._protego.can_fetch("http://origin.invalid" + path, "*")
        self._last = (path, allowed)
        return allowed

    @cached_property
    def disallows(self) -> LongestMatch[Line]:
        """Path -> the longest matching Disallow lines, to cite as evidence."""
        entries = []
        for line in self._crawl_rules:
            if line.key == DISALLOW:
                try:
                    entries.append((normal_pattern(line.value), line))
                except PayloadError:
                    continue  # Protego may still read it; a statement then cites only the group
        # Evidence only: a line over the wildcard cap is not cited, the statement then cites the group.
        return LongestMatch(entries, limit=MAX_WILDCARD_REACH)


class RobotsTxt:
    """One origin's robots.txt, parsed once; see the module docstring for the rules."""

    def __init__(self, source: str, status: str, rules: RulesFile, reason: str = "") -> None:
        self.source = source
        self.status = status
        self._rules = rules
        self._reason = reason
        self._usage: dict[int, tuple[str, Statement]] = {}
        self._signals: dict[int, Statement] = {}
        self._dropped: dict[int, tuple[str, Statement]] = {}  # fail-safe stand-ins for capped wildcard rules
        groups_of: dict[int, Group] = {}
        for group in [rules.preamble, *rules.groups]:
            for line in group.lines:
                self._read_line(group, line)
                groups_of[line.number] = group
        self._cap_wildcards(groups_of)
        self.warnings = rules.warnings.final()
        self._selections: dict[tuple[int, ...], _Selection] = {}
        self._crawler_statements: dict[tuple[str, int | None], Statement] = {}
        # Training crawlers named in the file, by the groups they select: often one group names many.
        self._training: dict[tuple[int, ...], list[AICrawler]] = {}
        for token, crawler in _TRAINING.items():
            if token in rules.by_agent:
                self._training.setdefault(rules.by_agent[token], []).append(crawler)

    @classmethod
    def parse(cls, body: bytes, url_of_robots: str) -> RobotsTxt:
        """A robots.txt fetched with a 2xx status.  Never raises."""
        return cls(url_of_robots, PARSED, read_rules_file(body, "robots.txt"))

    @classmethod
    def unavailable(cls, url_of_robots: str) -> RobotsTxt:
        """4xx: RFC 9309 lets a crawler fetch anything; there are no preferences."""
        return cls(url_of_robots, UNAVAILABLE, read_rules_file(b"", "robots.txt"))

    @classmethod
    def unreachable(cls, url_of_robots: str, reason: str) -> RobotsTxt:
        """5xx or a network error: RFC 9309's complete disallow, and a fail-closed statement."""
        return cls(url_of_robots, UNREACHABLE, read_rules_file(b"", "robots.txt"), reason)

    def _read_line(self, group: Group, line: Line) -> None:
        where = f"robots.txt line {line.number}"
        notes = [] if group.agents else [_OUTSIDE_GROUPS]
        if line.key in (ALLOW, DISALLOW) and not group.agents:
            self._rules.warnings.add(f"{where}: {line.key.capitalize()} before any User-agent line is ignored")
        elif line.key == CONTENT_SIGNAL:
            prefs, warnings = parse_content_signal(line.value)
            self._signals[line.number] = make_statement(
                prefs,
                ROBOTS_CONTENT_SIGNAL,
                self.source,
                raw=line.raw.strip(),
                rule=group.label,
                warnings=warnings + notes,
                detail=f"line {line.number}",
            )
        elif line.key == CONTENT_USAGE:
            path, preference = "", line.value
            if preference.startswith("/"):
                path, preference = (_WS.split(preference, maxsplit=1) + [""])[:2]
                try:
                    path = normal_pattern(path)
                except PayloadError as why:
                    self._rules.warnings.add(f"{where}: Content-Usage path {path[:80]!r} is ignored: {why.message}")
                    return
                if not preference:
                    notes.append("this Content-Usage rule has a path but no preference after it")
            prefs, warnings = parse_content_usage(preference)
            self._usage[line.number] = (
                path,
                make_statement(
                    prefs,
                    ROBOTS_CONTENT_USAGE,
                    self.source,
                    raw=line.raw.strip(),
                    rule=f"{group.label} | {path or 'every path'}",
                    warnings=warnings + notes,
                    detail=f"line {line.number}",
                ),
            )

    def _cap_wildcards(self, groups_of: dict[int, Group]) -> None:
        """Drop the Content-Usage wildcard rules over the reach cap, fail-safe (spec/paths.md, "Legacy files"):
        one stand-in per group and beginning, disallowing what any of its dropped rules disallowed."""
        stand_ins: dict[tuple[int, str], tuple[int, dict[str, State], list[int]]] = {}
        self._usage_raw: dict[int, str] = {}
        for number in wildcard_cap([(n, self._usage[n][0]) for n in sorted(self._usage)]):
            pattern, statement = self._usage.pop(number)
            self._usage_raw[number] = statement.evidence.raw or ""
            disallowed = [c for c, s in statement.prefs.items() if s is State.DISALLOWED]
            self._rules.warnings.add(dropped_rule_warning("robots.txt", number, pattern, disallowed))
            if disallowed:
                first, prefs, lines = stand_ins.setdefault((id(groups_of[number]), wildcard_beginning(pattern)), (number, {}, []))
                prefs.update(dict.fromkeys(disallowed, State.DISALLOWED))
                lines.append(number)
        for (_, beginning), (first, prefs, lines) in stand_ins.items():
            note = (
                f"Content-Usage wildcard rules on lines {', '.join(map(str, lines[:5]))}{', ...' if len(lines) > 5 else ''} were "
                f"over the wildcard cap of {MAX_WILDCARD_REACH} pieces (spec/paths.md) and are read fail-safe: "
                f"{_paths_under(beginning)} disallowed for what they disallowed"
            )
            self._dropped[first] = (
                beginning,
                make_statement(
                    prefs, ROBOTS_CONTENT_USAGE, self.source, raw=self._usage_raw[first],
                    rule=f"{groups_of[first].label} | {beginning or 'every path'} (fail-safe)", warnings=(note,), detail=f"line {first}",
                ),
            )

    def _select(self, groups: tuple[int, ...]) -> _Selection:
        selection = self._selections.get(groups)
        if selection is None:
            chosen = [self._rules.preamble, *(self._rules.groups[i] for i in groups)]
            lines = [(group, line) for group in chosen for line in group.lines]
            selection = self._selections[groups] = _Selection(
                [line for g, line in lines if line.key in (ALLOW, DISALLOW) and g.agents],
                [self._usage[line.number] for _, line in lines if line.number in self._usage],
                [self._signals[line.number] for _, line in lines if line.number in self._signals],
                [self._dropped[line.number] for _, line in lines if line.number in self._dropped],
            )
        return selection

    def can_fetch(self, url: str, token: str) -> bool:
        """May the crawler with this product token fetch ``url`` (RFC 9309)?"""
        path = split_url(url)
        if self.status == UNREACHABLE:
            return path == "/robots.txt"
        return self._select(self._rules.select(token)).can_fetch(path)

    def statements(self, url: str, token: str) -> list[Statement]:
        """Every usage statement this file makes about ``url`` for this product token."""
        path = split_url(url)
        if self.status == UNREACHABLE:
            return [fail_closed(self.source, f"robots.txt unreachable: {self._reason}")]
        selection = self._select(self._rules.select(token))
        literal = literal_specials(path)
        found = selection.usage(literal) + selection.dropped(literal) + selection.signals if selection.can_fetch(path) else []
        for groups, crawlers in self._training.items():
            blocked = self._select(groups)
            if not blocked.can_fetch(path):
                disallows = blocked.disallows(literal)
                found += [self._crawler_statement(crawler, disallows) for crawler in crawlers]
        return found

    def _crawler_statement(self, crawler: AICrawler, disallows: list[Line]) -> Statement:
        line = disallows[0] if disallows else None
        key = (crawler.token, None if line is None else line.number)
        statement = self._crawler_statements.get(key)
        if statement is None:
            why = (
                f"{crawler.operator}'s {crawler.token} is an AI training crawler ({crawler.note}); notrain reads a "
                f"Disallow for it as train-ai=n"
            )
            statement = self._crawler_statements[key] = make_statement(
                {TRAIN_AI: State.DISALLOWED},
                ROBOTS_AI_TOKEN,
                self.source,
                raw=None if line is None else line.raw.strip(),
                rule=f"User-agent: {crawler.token}" + ("" if line is None else f" | Disallow: {line.value}"),
                detail=why if line is None else f"line {line.number}: {why}",
                inferred=True,
            )
        return statement
