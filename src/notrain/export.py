"""One signed manifest drives every legacy mechanism: ``notrain export``.

A site that publishes a notrain manifest should not have to say the same thing
again, by hand, in every older mechanism.  :func:`export` turns the manifest of
an origin publisher into the files those mechanisms read, and the round-trip
tests read them back with notrain's own signal parsers:

===========  ==========================================================  ==========================
file         what it says                                                parser that reads it back
===========  ==========================================================  ==========================
robots.txt   AIPREF ``Content-Usage`` rules (attach-05) in a              :mod:`.signals.robots`
             ``User-agent: *`` group; optionally Cloudflare
             ``Content-Signal`` and a group of AI *training* crawlers
             with ``Disallow`` wherever train-ai is disallowed
tdmrep.json  W3C TDMRep ``tdm-reservation`` per location, first match    :mod:`.signals.tdmrep`
nginx.conf   per-location ``Content-Usage``, ``X-Robots-Tag: noai,        :mod:`.signals.headers`
apache.conf  noimageai`` and ``tdm-reservation`` / ``tdm-policy`` headers
meta.html    ``<meta name="robots" content="noai, noimageai">`` and       :mod:`.signals.html`
             ``<meta name="tdm-reservation">`` for the site default
===========  ==========================================================  ==========================

Nothing here does I/O or verifies anything: the caller hands over a parsed
manifest (``notrain export`` reads a file; ``notrain verify`` checks it).

**Regions.**  A manifest decides each category separately: the longest rule
that states the category wins, then the default.  Every legacy mechanism
instead picks *one* rule per URL and takes everything from it (robots.txt's
longest Content-Usage rule, TDMRep's first matching location, the web server's
location).  So each emitted rule carries the manifest's decision for *every*
category, at the URLs where it is the most specific: ``/press/`` with
``train-ai=y`` under a default of ``ai-use=n`` is written
``/press/ train-ai=y, ai-use=n``.  When two rules only sometimes match the
same URLs (``/press/`` and ``/*.psd$``), the URLs they share get a rule of
their own, longer than both (``/press/*.psd$``), whenever one pattern can say
exactly which URLs those are.  Where the decision still depends on the URL in
a way no pattern can say, the strictest possible value is written
(disallowed, then unstated, then allowed: never grant what the manifest does
not) and the result carries a warning.

**What cannot be expressed** (each case is a comment in the file and an
:class:`ExportWarning`):

* TDMRep has one switch for all mining: ``tdm-reservation: 1`` is written
  where train-ai *or* ai-use is disallowed (so it also reserves the other),
  ``0`` where both are allowed, and nothing otherwise; a location left
  unreserved inside a reserved one stays reserved (first match).  It has no
  ``search``.  tdmrep.json is JSON, so its caveats are warnings only.
* ``noai`` / ``noimageai`` say "train-ai and ai-use disallowed" (DeviantArt's
  terms), so they are written only where both are; HTML meta tags are per
  page, so meta.html carries the site default only.
* ``Content-Signal`` has no paths: a category is written only if the whole
  site says the same about it, and ``ai-input`` (its name for ai-use) also
  covers AI search answers.
* Web servers match the decoded path without the query: rules about the query
  are left out, escapes of reserved characters match their raw form too, and
  ``$`` and ``*`` apply to the path alone.
* robots.txt parsers keep a bare trailing ``?`` (``/a?``) that notrain drops,
  so a ``$`` rule can differ for such a URL.
* Works and names follow content, not URLs: no legacy mechanism can carry
  them, and legacy files do not expire when the manifest does.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from urllib.parse import urlsplit

from .core.errors import NotrainError
from .core.manifest import Manifest, format_timestamp
from .core.paths import pattern_matches
from .core.vocab import AI_USE, CATEGORIES, SEARCH, TRAIN_AI, State
from .signals.robots import AI_CRAWLERS, TRAINING

__all__ = [
    "FORMATS",
    "Export",
    "ExportError",
    "ExportOptions",
    "ExportWarning",
    "Region",
    "export",
    "regions",
    "valid_policy_url",
]

Y, N, UNKNOWN = State.ALLOWED, State.DISALLOWED, State.UNKNOWN

FORMATS: dict[str, str] = {
    "robots": "robots.txt",
    "tdmrep": "tdmrep.json",
    "nginx": "nginx.conf",
    "apache": "apache.conf",
    "meta": "meta.html",
}
"""Format name -> the file it is written to."""

NOAI = "noai, noimageai"
_SIGNAL_NAMES = {SEARCH: "search", AI_USE: "ai-input", TRAIN_AI: "ai-train"}  # Cloudflare's order and names
_POLICY_URL = re.compile(r"https?://[A-Za-z0-9._~:/?#\[\]@!&'()*+,;=%-]+\Z")
_ESCAPE = re.compile(r"%([0-9A-F]{2})")
_DOT_SEGMENT = re.compile(r"//|/\.\.?(?:/|$)")
_LITERAL_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/-._~!&'()+,:;=@")
_REGEX_PLAIN = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/-_~!&',:;=@%")
_REGEX_META = frozenset(".^|?*+()[]{}")
_ALWAYS, _NEVER, _MAYBE = "always", "never", "maybe"


class ExportError(NotrainError):
    """A manifest or an option that cannot be exported."""

    code = "E_EXPORT"


@dataclass(frozen=True)
class ExportWarning:
    """Something the manifest says that a legacy mechanism cannot say (exactly)."""

    mechanism: str  # e.g. "TDMRep", "Content-Usage", "web server"
    where: str  # the pattern or manifest member concerned
    message: str

    def to_json(self) -> dict:
        return {"mechanism": self.mechanism, "where": self.where, "message": self.message}


@dataclass(frozen=True)
class ExportOptions:
    block_training_crawlers: bool = False  # robots.txt: Disallow for AI training crawlers (blocks crawling, too)
    content_signal: bool = False  # robots.txt: a Cloudflare Content-Signal line
    tdm_policy: str | None = None  # TDMRep policy URL, where mining is reserved


@dataclass(frozen=True)
class Export:
    files: dict[str, str]  # file name -> contents
    warnings: tuple[ExportWarning, ...]


def export(manifest: Manifest, options: ExportOptions = ExportOptions(), formats: Iterable[str] = FORMATS) -> Export:
    """The legacy files for ``manifest`` (an origin's), for each of ``formats``."""
    if manifest.is_did_key:
        raise ExportError(
            "a did:key publisher has no site, so there is nothing to put in robots.txt, tdmrep.json or server headers",
            code="E_EXPORT_NO_ORIGIN",
            where="/publisher",
        )
    if options.tdm_policy is not None and not valid_policy_url(options.tdm_policy):
        raise ExportError(
            "the TDM policy must be an absolute http(s) URL of printable ASCII without quotes, '\\' or '$'",
            code="E_EXPORT_POLICY_URL",
            where="--tdm-policy",
        )
    job = _Job(manifest, options)
    job.note_manifest()
    files = {FORMATS[name]: _WRITERS[name](job) for name in formats}
    return Export(files, tuple(job.warnings))


def valid_policy_url(url: str) -> bool:
    """An absolute http(s) URL that every output format can quote as it is."""
    try:
        return bool(_POLICY_URL.match(url)) and bool(urlsplit(url).netloc)
    except ValueError:  # an unclosed '[' and the like
        return False


# --- Regions: the manifest's per-category decisions, one rule per URL ----------------------------


@dataclass(frozen=True)
class Region:
    """The URLs where one pattern is the most specific, and what the manifest says there.

    ``pattern`` is a rule's pattern, the overlap of two rules (``overlap_of``)
    or ``""`` for the default (every path).  ``prefs`` has every category the
    manifest decides there; ``cautious`` the categories whose value depends on
    the URL in a way no pattern can say, written as the strictest possibility.
    """

    pattern: str
    prefs: dict[str, State]
    overlap_of: tuple[str, ...] = ()
    cautious: tuple[str, ...] = ()


def regions(manifest: Manifest, categories: tuple[str, ...] = CATEGORIES) -> list[Region]:
    """The manifest's URL space for ``categories``, most specific region first.

    At every URL, each of the longest matching regions holds the manifest's
    decision (exact unless ``cautious``), so any one-rule-per-URL mechanism
    that prefers longer patterns can say it.
    """
    space = _Space(manifest, categories)
    found = [space.region(pattern) for pattern in space.rules]
    found += [space.region(pattern, pair) for pattern, pair in space.overlaps.items() if pattern not in space.rules]
    default = {c: manifest.default[c] for c in categories if c in manifest.default}
    if default and "/" not in space.rules:  # a "/" rule already covers every path, with the default folded in
        found.append(Region("", default))
    return sorted(found, key=lambda region: (-len(region.pattern), region.pattern))


def _rules(manifest: Manifest, categories: tuple[str, ...]) -> dict[str, dict[str, State]]:
    """The preferences for ``categories`` of the path rules, by pattern; same-pattern rules
    combine (any n wins); rules that state none of them are left out."""
    rules: dict[str, dict[str, State]] = {}
    for rule in manifest.paths:
        prefs = {c: s for c, s in rule.prefs if c in categories}
        if prefs:
            known = rules.get(rule.pattern, {})
            rules[rule.pattern] = {c: _combine([known.get(c, UNKNOWN), prefs.get(c, UNKNOWN)]) for c in {**known, **prefs}}
    return rules


class _Space:
    """A manifest's path rules for some categories, as the regions that say them.

    Rules are keyed by pattern.  A rule may be *written* longer than its pattern
    (``/ab`` as ``/ab*``, ``/a*b$`` as ``/a**b$``: the same URLs) so that its
    region wins where it matters; lengths below are the written ones for which
    region wins, and the manifest's own for what the manifest decides.
    """

    def __init__(self, manifest: Manifest, categories: tuple[str, ...]) -> None:
        self.categories = categories
        self.default = manifest.default
        self.rules = _rules(manifest, categories)
        self.written: dict[str, str] = {}  # pattern -> the longer spelling it is written with
        self.covered: set[frozenset[str]] = set()  # rule pairs whose shared URLs are an overlap region
        self.overlaps: dict[str, tuple[str, ...]] = {}  # pattern -> the rule patterns it is the overlap of
        self._settled_at: dict[tuple[str, str], tuple[int, State]] = {}  # valid while ``written`` stays as it is
        self._relations: dict[tuple[str, str], str] = {}
        self._near = _Near(self.rules)
        self._lengthen_nested()
        for prefix, wild in self._overlapping():
            both = _intersection(prefix.rstrip("*"), wild)
            if both is not None and (self._changes(prefix, wild) or self._changes(wild, prefix)):
                self.written[both] = _lengthened(both, max(len(both), self._length(prefix) + 1, self._length(wild) + 1))
                self.covered.add(frozenset((prefix, wild)))
                self.overlaps[both] = self.overlaps.get(both, ()) + (prefix, wild)

    def region(self, pattern: str, overlap_of: tuple[str, ...] = ()) -> Region:
        prefs, cautious = {}, []
        for category in self.categories:
            state, exact = self.decide(pattern, category)
            if state is not UNKNOWN:
                prefs[category] = state
            if not exact:
                cautious.append(category)
        return Region(self.written.get(pattern, pattern), prefs, overlap_of, tuple(cautious))

    def decide(self, pattern: str, category: str) -> tuple[State, bool]:
        """The manifest's ``category`` at URLs where ``pattern``'s region wins, and
        whether it is the same at all of them.

        Rules whose region is longer than ``pattern``'s do not matter there, nor do
        rules whose overlap with it is a region.  Of the others, those that match
        wherever ``pattern`` does decide, as in spec/paths.md; those that match only
        some of its URLs may change that.
        """
        best, value = self._settled(pattern, category)
        outcomes = {value} | {
            _contribution(value, best, length, state) or value for length, state in self._unsettled(pattern, category)
        }
        return _strictest(outcomes), len(outcomes) == 1

    def _relation(self, inner: str, outer: str) -> str:
        key = (inner, outer)
        if key not in self._relations:
            self._relations[key] = _relation(inner, outer)
        return self._relations[key]

    def _length(self, pattern: str) -> int:
        return len(self.written.get(pattern, pattern))

    def _others(self, pattern: str, category: str) -> Iterable[tuple[str, str, State]]:
        """(rule, its relation to ``pattern``, its value) for the rules stating ``category``
        whose regions are not longer than ``pattern``'s and may share a URL with it."""
        for other in self._near(pattern):
            prefs = self.rules[other]
            if category in prefs and self._length(other) <= self._length(pattern):
                yield other, self._relation(pattern, other), prefs[category]

    def _settled(self, pattern: str, category: str) -> tuple[int, State]:
        """(length, value) of the longest rules stating ``category`` that match wherever
        ``pattern`` does, combined; (-1, the default's value) if there are none."""
        key = (pattern, category)
        if key not in self._settled_at:
            sure = [(len(other), state) for other, relation, state in self._others(pattern, category) if relation is _ALWAYS]
            best = max((length for length, _ in sure), default=-1)
            value = _combine([s for length, s in sure if length == best]) if sure else self.default.get(category, UNKNOWN)
            self._settled_at[key] = (best, value)
        return self._settled_at[key]

    def _unsettled(self, pattern: str, category: str) -> list[tuple[int, State]]:
        """(length, value) of the rules stating ``category`` that match only some of ``pattern``'s URLs,
        except where their overlap is a region of its own."""
        return [
            (len(other), state)
            for other, relation, state in self._others(pattern, category)
            if relation is _MAYBE and frozenset((pattern, other)) not in self.covered
        ]

    def _changes(self, inner: str, outer: str) -> bool:
        """Does ``inner``'s rule change what the manifest says in ``outer``'s region, where both match?"""
        if self._length(inner) > self._length(outer):
            return False
        for category, state in self.rules[inner].items():
            best, value = self._settled(outer, category)
            if _contribution(value, best, len(inner), state) not in (None, value):
                return True
        return False

    def _lengthen_nested(self) -> None:
        """A rule inside another that changes the other's region is written longer than it,
        so that its own region (which accounts for both) wins where both match."""
        changed = True
        while changed:
            changed = False
            for inner in self.rules:
                for outer in self._near(inner):
                    if self._length(inner) > self._length(outer) or inner == outer:
                        continue
                    if self._relation(inner, outer) is not _ALWAYS or self._relation(outer, inner) is _ALWAYS:
                        continue
                    if self._changes(inner, outer):
                        longer = _lengthened(inner, self._length(outer) + 1)
                        if longer is not None:
                            self.written[inner] = longer
                            self._settled_at.clear()
                            changed = True

    def _overlapping(self) -> Iterable[tuple[str, str]]:
        """(prefix, wildcard pattern) pairs that share some URLs but not all; a prefix
        may end in '*', which matches what it matches without."""
        for prefix in self.rules:
            if "*" not in prefix.rstrip("*") and not prefix.endswith("$"):
                for wild in self._near(prefix):
                    if (
                        "*" in wild.rstrip("*")
                        and self._relation(prefix, wild) is _MAYBE
                        and self._relation(wild, prefix) is _MAYBE
                    ):
                        yield prefix, wild


class _Near:
    """Patterns indexed by literal head (up to the first '*'), to find those that may share a
    URL with a given one: two patterns whose heads are not prefixes of each other never do."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self._by_head: dict[str, list[str]] = {}
        for pattern in patterns:
            self._by_head.setdefault(_head(pattern), []).append(pattern)
        self._heads = sorted(self._by_head)

    def __call__(self, pattern: str) -> Iterable[str]:
        head = _head(pattern)
        for end in range(len(head) + 1):
            yield from self._by_head.get(head[:end], ())
        for longer in self._heads[bisect.bisect_right(self._heads, head) :]:
            if not longer.startswith(head):
                break
            yield from self._by_head[longer]


def _lengthened(pattern: str, length: int) -> str | None:
    """``pattern`` spelt ``length`` octets long without changing what it matches: more '*'
    at the end, or next to a '*' before a final '$'.  None if it has no room for one."""
    extra = "*" * (length - len(pattern))
    if not extra:
        return pattern
    if not pattern.endswith("$"):
        return pattern + extra
    return pattern.replace("*", "*" + extra, 1) if "*" in pattern else None


def _contribution(value: State, best: int, length: int, state: State) -> State | None:
    """What a rule of ``length`` saying ``state`` makes of ``value`` (decided by rules of length
    ``best``) where it matches: nothing if shorter, combined if as long, its own if longer."""
    if length < best:
        return None
    return _combine([value, state]) if length == best else state


def _combine(states: Iterable[State]) -> State:
    """AIPREF combining: any n, else any y, else unknown."""
    states = set(states)
    return N if N in states else Y if Y in states else UNKNOWN


def _strictest(states: set[State]) -> State:
    """Never grant more than the manifest might: n, then unstated, then y."""
    return N if N in states else UNKNOWN if UNKNOWN in states else Y


def _intersection(prefix: str, wild: str) -> str | None:
    """``prefix*rest`` for ``wild`` = ``head*rest``, if that is exactly the URLs both match
    (the rest cannot start inside the prefix)."""
    head = _head(wild)
    if not prefix.startswith(head):
        return None
    rest = wild[len(head) :].lstrip("*")
    first = rest.removesuffix("$").split("*")[0]
    if not first or any(prefix.startswith(first, i) or first.startswith(prefix[i:]) for i in range(len(head), len(prefix))):
        return None
    return f"{prefix}*{rest}"


def _relation(inner: str, outer: str) -> str:
    """Does ``outer`` match every URL ``inner`` matches (_ALWAYS), none (_NEVER) or some (_MAYBE)?

    Sound, not complete: _MAYBE also means "not sure", which only costs a
    warning, whereas a wrong _ALWAYS or _NEVER would export a wrong decision.
    ``outer`` matching ``inner``'s own text, its ``*`` read as a character
    that only a ``*`` of ``outer`` can absorb, proves inclusion.
    """
    if not _compatible(_head(inner), _head(outer), str.startswith):
        return _NEVER
    if pattern_matches(outer, _body(inner)) and (inner.endswith("$") or not outer.endswith("$")):
        return _ALWAYS
    if _exact(inner):  # its one URL, which outer does not match
        return _NEVER
    if _exact(outer):
        return _MAYBE if pattern_matches(inner, _body(outer)) else _NEVER
    if inner.endswith("$") and outer.endswith("$") and not _compatible(_tail(inner), _tail(outer), str.endswith):
        return _NEVER
    return _MAYBE


def _body(pattern: str) -> str:
    return pattern.removesuffix("$")


def _head(pattern: str) -> str:
    return _body(pattern).split("*", 1)[0]


def _tail(pattern: str) -> str:
    return _body(pattern).rsplit("*", 1)[-1]


def _exact(pattern: str) -> bool:
    return pattern.endswith("$") and "*" not in pattern


def _compatible(a: str, b: str, test: Callable[[str, str], bool]) -> bool:
    return test(a, b) or test(b, a)


# --- The export job: shared regions and warnings ----------------------------------------------------


class _Job:
    def __init__(self, manifest: Manifest, options: ExportOptions) -> None:
        self.manifest = manifest
        self.options = options
        self._warnings: dict[ExportWarning, None] = {}  # ordered and without duplicates

    @property
    def warnings(self) -> list[ExportWarning]:
        return list(self._warnings)

    def warn(self, mechanism: str, where: str, message: str) -> None:
        self._warnings[ExportWarning(mechanism, where, message)] = None

    @cached_property
    def regions(self) -> list[Region]:
        return regions(self.manifest)

    @cached_property
    def tdm_regions(self) -> list[Region]:
        return regions(self.manifest, (TRAIN_AI, AI_USE))

    def note_cautious(self, found: list[Region], mechanism: str) -> None:
        for region in found:
            for category in region.cautious:
                value = _token(region.prefs.get(category, UNKNOWN))
                self.warn(
                    mechanism,
                    _where(region),
                    f"the manifest's {category} here depends on other rules that match only some of these URLs, "
                    f"which one rule per URL cannot say; the strictest possible value is written ({value})",
                )

    def note_tdm(self, region: Region) -> None:
        """Warn where TDMRep's single switch says more or less than the manifest."""
        train, use = region.prefs.get(TRAIN_AI, UNKNOWN), region.prefs.get(AI_USE, UNKNOWN)
        if N in (train, use) and train is not use:
            other, state = (AI_USE, use) if train is N else (TRAIN_AI, train)
            said = "allows" if state is Y else "does not state"
            message = f"tdm-reservation 1 reserves all mining, so it also reserves {other}, which the manifest {said} here"
        elif _reservation(region) is None and Y in (train, use):
            message = (
                f"TDMRep cannot say train-ai={_token(train)}, ai-use={_token(use)}: "
                f"it only reserves or frees both; no reservation is written"
            )
        else:
            return
        self.warn("TDMRep", _where(region), message)

    def note_manifest(self) -> None:
        manifest = self.manifest
        for member, entries in (("/works", manifest.works), ("/names", manifest.names)):
            if entries:
                self.warn(
                    "every format", member, f"{len(entries)} {member[1:]} are not exported: legacy signals only speak about URLs"
                )
        if manifest.parts:
            self.warn(
                "every format", "/parts", "path rules in the manifest's parts are not exported; only the index's own rules are"
            )

    def banner(self) -> list[str]:
        manifest = self.manifest
        return [
            f"notrain export for {manifest.publisher}: manifest sequence {manifest.sequence}, sha256 {manifest.digest[:16]}...,",
            f"expires {format_timestamp(manifest.expires)}. Crawlers that read notrain check the signed manifest itself;",
            "these copies are for the others. They never expire: export again whenever you sign a new manifest.",
        ]


def _where(region: Region) -> str:
    return region.pattern or "every path (the default)"


def _token(state: State) -> str:
    return {Y: "y", N: "n", UNKNOWN: "unstated"}[state]


def _usage_value(prefs: dict[str, State]) -> str:
    """An AIPREF Content-Usage value (an SF Dictionary), categories in vocabulary order."""
    return ", ".join(f"{c}={_token(prefs[c])}" for c in CATEGORIES if c in prefs)


def _reservation(region: Region) -> int | None:
    """TDMRep's one switch: 1 if training or AI use is disallowed, 0 if both are allowed, else unset."""
    train, use = region.prefs.get(TRAIN_AI, UNKNOWN), region.prefs.get(AI_USE, UNKNOWN)
    if N in (train, use):
        return 1
    return 0 if train is Y and use is Y else None


# --- robots.txt -----------------------------------------------------------------------------------


def _robots(job: _Job) -> str:
    job.note_cautious(job.regions, "Content-Usage")
    usage = _usage_lines(job)
    signal = _content_signal(job)
    lines = [
        *(f"# {line}" for line in job.banner()),
        "# Merge these groups into /robots.txt. Content-Usage (IETF AIPREF) applies only to paths a crawler may",
        "# fetch, and a crawler with a group of its own reads only that group: copy these rules into other groups too.",
        "",
        "User-agent: *",
        *usage,
        *signal,
    ]
    if job.options.block_training_crawlers:
        lines += [
            "",
            "# AI training crawlers: these Disallow lines stop them from crawling, not just from training.",
            *(f"User-agent: {crawler.token}" for crawler in AI_CRAWLERS if crawler.purpose == TRAINING),
            *_crawl_rules(job),
            *usage,
            *signal,
        ]
    return "\n".join(lines) + "\n"


def _usage_lines(job: _Job) -> list[str]:
    lines = []
    for region in reversed(job.regions):  # from the default to the most specific
        if region.overlap_of:
            lines.append(f"# where {' and '.join(region.overlap_of)} overlap")
        if region.cautious:
            lines.append(f"# strictest value for {', '.join(region.cautious)}: the manifest's depends on more than this path")
        path = f"{region.pattern} " if region.pattern else ""
        lines.append(f"Content-Usage: {path}{_usage_value(region.prefs)}")
    return lines


def _content_signal(job: _Job) -> list[str]:
    if not job.options.content_signal:
        return []
    entries = []
    for category, name in _SIGNAL_NAMES.items():
        state = _site_wide(job, category, name)
        if state is not UNKNOWN:
            entries.append(f"{name}={'yes' if state is Y else 'no'}")
    if not entries:
        return []
    note = ["# Content-Signal (Cloudflare) has no paths; its ai-input is AIPREF ai-use, plus AI search answers."]
    return note + [f"Content-Signal: {', '.join(entries)}"]


def _site_wide(job: _Job, category: str, name: str) -> State:
    """``category``'s value if the manifest says the same about it for every URL, else UNKNOWN (with a warning)."""
    state = job.manifest.default.get(category, UNKNOWN)
    differ = [rule.pattern for rule in job.manifest.paths if dict(rule.prefs).get(category, state) is not state]
    if state is UNKNOWN or differ:
        why = "the default does not state it" if state is UNKNOWN else f"rules for {', '.join(differ)} differ from the default"
        job.warn("Content-Signal", "/default", f"Content-Signal has no paths and {why}, so {name} is left out")
        return UNKNOWN
    return state


def _crawl_rules(job: _Job) -> list[str]:
    """Allow/Disallow for train-ai alone: RFC 9309's longest match is the manifest's, per category."""
    train = {pattern: prefs[TRAIN_AI] for pattern, prefs in _rules(job.manifest, (TRAIN_AI,)).items()}
    allowed = _Near(pattern for pattern, state in train.items() if state is Y)
    lines = ["Disallow: /"] if job.manifest.default.get(TRAIN_AI) is N else []
    for pattern, state in sorted(train.items(), key=lambda item: (len(item[0]), item[0])):
        lines.append(f"Allow: {pattern}" if state is Y else f"Disallow: {_outranking(job, pattern, allowed)}")
    return lines


def _outranking(job: _Job, pattern: str, allowed: _Near) -> str:
    """``pattern``, one octet longer if an Allow of its length could match the same URL:
    RFC 9309 lets Allow win a tie, the manifest lets n win."""
    if not any(len(other) == len(pattern) and _relation(pattern, other) is not _NEVER for other in allowed(pattern)):
        return pattern
    if not pattern.endswith("$"):
        return pattern + "*"
    if "*" in pattern:
        return pattern.replace("*", "**", 1)
    job.warn(
        "robots.txt", pattern, "an Allow line of the same length wins a tie in RFC 9309, and this pattern cannot be lengthened"
    )
    return pattern


# --- TDMRep ---------------------------------------------------------------------------------------


def _tdmrep(job: _Job) -> str:
    """tdmrep.json: the first matching location wins, so the most specific come first."""
    job.note_cautious(job.tdm_regions, "TDMRep")
    values = [(region, _reservation(region)) for region in job.tdm_regions]
    reserved = _Near(region.pattern for region, reservation in values if reservation == 1)
    rules = []
    for region, reservation in values:
        job.note_tdm(region)
        if reservation is None:
            _note_unreserved(job, region, reserved)
            continue
        rule: dict[str, object] = {"location": region.pattern or "/", "tdm-reservation": reservation}
        if reservation == 1 and job.options.tdm_policy:
            rule["tdm-policy"] = job.options.tdm_policy
        rules.append(rule)
    if any(SEARCH in dict(rule.prefs) for rule in job.manifest.paths) or SEARCH in job.manifest.default:
        job.warn("TDMRep", "search", "TDMRep has no search category; search preferences are not in tdmrep.json or tdm-* headers")
    return json.dumps(rules, indent=2) + "\n"


def _note_unreserved(job: _Job, region: Region, reserved: _Near) -> None:
    """A location TDMRep cannot leave unset falls through to the next match: say so if that reserves."""
    if any(
        len(other) < len(region.pattern) and _relation(region.pattern, other) is not _NEVER for other in reserved(region.pattern)
    ):
        job.warn(
            "TDMRep",
            _where(region),
            "TDMRep cannot un-reserve part of a reserved location: the first match there is a shorter, reserving one",
        )


# --- Web servers ----------------------------------------------------------------------------------

_SERVER_NOTES = [
    "Servers match the decoded path without the query string: for URLs with a query, rules ending in",
    "'$' or using '*' can apply differently than in the manifest; escaped reserved characters (%2F...) match",
    "their unescaped form too. Regexes use \\z (the very end) and (?s) so that '*' also spans newlines.",
]


def _server_regions(job: _Job) -> list[Region]:
    """The regions a web server can tell apart (it never sees the query), most specific first."""
    job.note_cautious(job.regions, "Content-Usage")
    chosen = []
    for region in job.regions:
        if "?" in region.pattern:
            job.warn(
                "web server", region.pattern, "this rule is about the query string, which server locations cannot see; left out"
            )
            continue
        ambiguous = sorted(
            {escape.group(0) for escape in _ESCAPE.finditer(region.pattern) if _reserved(int(escape.group(1), 16))}
        )
        if ambiguous:
            job.warn(
                "web server",
                region.pattern,
                f"servers decode {', '.join(ambiguous)} before matching, so this rule also applies where URLs write it unescaped",
            )
        if _DOT_SEGMENT.search(_body(region.pattern)):
            job.warn(
                "web server",
                region.pattern,
                "servers merge '//' and resolve '.' and '..' segments, so no URL reaches this rule as written",
            )
        chosen.append(region)
    return chosen


def _reserved(octet: int) -> bool:
    """An escaped printable character that may also appear raw in a URL path."""
    return 0x21 <= octet <= 0x7E and chr(octet) not in "%#?"


def _says_noai(region: Region) -> bool:
    """noai/noimageai disallow train-ai and ai-use (DeviantArt's terms, spec/decision.md): only where both are."""
    return region.prefs.get(TRAIN_AI) is N and region.prefs.get(AI_USE) is N


def _headers(job: _Job, region: Region) -> list[tuple[str, str | None]]:
    """The response headers for ``region``: (name, value), None for "do not send"."""
    job.note_tdm(region)
    reservation = _reservation(region)
    return [
        ("Content-Usage", _usage_value(region.prefs)),
        ("X-Robots-Tag", NOAI if _says_noai(region) else None),
        ("tdm-reservation", None if reservation is None else str(reservation)),
        ("tdm-policy", job.options.tdm_policy if reservation == 1 else None),
    ]


def _nginx(job: _Job) -> str:
    """Include inside the site's ``server`` block.  nginx picks one location per request:
    ``=`` exact, then the longest ``^~`` prefix, then the first matching regex.  Regexes come
    most specific first, and a prefix or exact location is used only where no longer rule can
    match the same URL, so nginx's choice is always one of the longest regions."""
    chosen = _server_regions(job)
    default = [region for region in chosen if not region.pattern]
    lines = [
        *(f"# {line}" for line in job.banner()),
        "# Include this inside the server block of the site. nginx uses one location per request: if your",
        "# server block has its own locations for these paths, copy the add_header lines into them. A location",
        "# with add_header of its own does not inherit the server-level ones below.",
        *(f"# {line}" for line in _SERVER_NOTES),
    ]
    near = _Near(region.pattern for region in chosen)
    for region in default + [region for region in chosen if region.pattern]:
        headers = [f'add_header {name} "{value}" always;' for name, value in _headers(job, region) if value is not None]
        if region.pattern:
            headers = [f"location {_nginx_match(region, near)} {{", *(f"    {header}" for header in headers), "}"]
        lines += ["", *headers]
    return "\n".join(lines) + "\n"


def _nginx_match(region: Region, near: _Near) -> str:
    literal = _literal(region.pattern)
    alone = not any(
        len(other) > len(region.pattern) and _relation(other, region.pattern) is not _NEVER for other in near(region.pattern)
    )
    if alone and literal is not None:
        return f'= "{literal}"' if region.pattern.endswith("$") else f'^~ "{literal}"'
    return f'~ "{_regex(region.pattern)}"'


def _apache(job: _Job) -> str:
    """Apache applies every matching <LocationMatch> in file order and a later ``Header set``
    replaces an earlier one, so sections go from the least specific to the most."""
    lines = [
        *(f"# {line}" for line in job.banner()),
        "# Include this in the VirtualHost of the site; it needs mod_headers (a2enmod headers). 'Header always",
        "# unset' also removes such a header if the site sets it itself.",
        *(f"# {line}" for line in _SERVER_NOTES),
    ]
    for region in reversed(_server_regions(job)):
        lines += ["", f'<LocationMatch "{_regex(region.pattern) if region.pattern else "^/"}">']
        for name, value in _headers(job, region):
            lines.append(
                f"    Header always unset {name}"
                if value is None
                else f'    Header always set {name} "{value.replace("%", "%%")}"'
            )
        lines.append("</LocationMatch>")
    return "\n".join(lines) + "\n"


def _decoded(text: str) -> bytes:
    """A normal-form pattern piece as the octets a server compares: escapes decoded."""
    out = bytearray()
    for i, piece in enumerate(text.split("%")):
        out += bytes.fromhex(piece[:2]) + piece[2:].encode() if i else piece.encode()
    return bytes(out)


def _literal(pattern: str) -> str | None:
    """A prefix or exact pattern as a plain nginx location string, if it needs no escaping."""
    body = _server_body(pattern)
    if "*" in body:
        return None
    text = _decoded(body).decode("latin-1")
    return text if set(text) <= _LITERAL_SAFE else None


def _regex(pattern: str) -> str:
    """A PCRE for nginx and Apache matching what ``pattern`` matches in a decoded path."""
    body = _server_body(pattern)
    regex = "^" + ".*".join(_regex_literal(_decoded(piece)) for piece in body.split("*"))
    return ("(?s)" if "*" in body else "") + regex + (r"\z" if pattern.endswith("$") else "")


def _server_body(pattern: str) -> str:
    """What a server location must match: the body, without the '*'s that only lengthen a prefix."""
    return _body(pattern) if pattern.endswith("$") else pattern.rstrip("*")


def _regex_literal(data: bytes) -> str:
    """Octets as a PCRE literal: metacharacters escaped, anything else unusual (quotes, '\\', '$',
    spaces, controls, non-ASCII) as \\xHH, which needs no quoting in either server's config."""
    return "".join(
        char if char in _REGEX_PLAIN else f"\\{char}" if char in _REGEX_META else f"\\x{octet:02X}"
        for octet in data
        for char in (chr(octet),)
    )


# --- HTML ---------------------------------------------------------------------------------------


def _meta(job: _Job) -> str:
    """Meta tags are per page: these are the default's, for pages no path rule covers."""
    default = Region("", dict(job.manifest.default))
    tags = _meta_tags(job, default)
    lines = [
        "<!--",
        *job.banner(),
        "Put these in the <head> of pages that no path rule of the manifest covers.",
        "-->",
        *tags,
    ]
    differ = [region.pattern for region in job.regions if region.pattern and _meta_tags(job, region) != tags]
    if differ:
        job.warn(
            "HTML meta",
            "/paths",
            f"pages matching {', '.join(differ)} need other meta tags than the default's; use the headers there",
        )
        lines.append(f"<!-- Not for pages matching {', '.join(differ)}: the manifest says otherwise there. -->")
    job.note_tdm(default)
    unsaid = [SEARCH] + ([AI_USE] if _reservation(default) is None else [])
    for category in unsaid:
        if category in default.prefs:
            job.warn("HTML meta", "/default", f"no meta tag can say {category}={_token(default.prefs[category])}")
    return "\n".join(lines) + "\n"


def _meta_tags(job: _Job, region: Region) -> list[str]:
    tags = [f'<meta name="robots" content="{NOAI}">'] if _says_noai(region) else []
    reservation = _reservation(region)
    if reservation is not None:
        tags.append(f'<meta name="tdm-reservation" content="{reservation}">')
    if reservation == 1 and job.options.tdm_policy:
        tags.append(f'<meta name="tdm-policy" content="{job.options.tdm_policy}">')
    return tags


_WRITERS: dict[str, Callable[[_Job], str]] = {
    "robots": _robots,
    "tdmrep": _tdmrep,
    "nginx": _nginx,
    "apache": _apache,
    "meta": _meta,
}
