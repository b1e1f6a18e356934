"""A catalog of accepted manifests and the statements they make about a thing.

The catalog turns "this URL / these image bytes / this caption" into
:class:`~notrain.core.decision.Statement` objects, one per (manifest, rule);
:func:`~notrain.core.decision.decide` combines them with statements from any
other source.  It never decides by itself.

Scoping rules (spec/decision.md):

* path rules and the default of an origin's manifest apply only to URLs of
  that origin: a site cannot speak for another site's URLs;
* works and names apply wherever the work or name turns up;
* an account whose proof holds (core.accounts; the verifier checks it) covers
  the URLs under its path on its service's origin with its publisher's default
  (spec/keys.md, "Works of a proven account");
* within one manifest the most specific path rule wins per category, then the
  manifest default.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import SplitResult

from .decision import Evidence, Statement
from .manifest import Manifest, origin_of_split
from .names import NameIndex
from .paths import PathMatcher, normalise, url_path
from .urls import split_plain, split_url
from .verify import check_sequence
from .vocab import State
from .works import WorkIndex

MECHANISM = "notrain"
MAX_MEMOISED_ORIGINS = 65536
_UNSEEN = object()


@dataclass(frozen=True)
class ContentHash:
    """What is known of a file's content: its SHA-256 and, for images, its PDQ hash."""

    sha256: bytes | None = None
    pdq: bytes | None = None
    pdq_quality: int = 100


class OriginRules:
    """One origin's manifest compiled for URL lookups.

    A URL yields one statement per (deciding rule, category), longest match
    first, then the manifest default.  The statements depend only on the rule
    and the category, never on the URL, so each is built once and reused:
    a lookup allocates nothing but its result list.
    """

    def __init__(self, manifest: Manifest) -> None:
        self.manifest = manifest
        self.matcher = PathMatcher(manifest.paths)
        self._statements: dict[tuple[str, str, State], Statement] = {}
        # A rule matches only a path that begins with its text before the first '*' (rules match from the
        # path's start), so a path beginning with none of these is answered by the default alone.
        self._beginnings = tuple({_beginning(rule.pattern) for rule in manifest.paths})
        self._default = [self._statement("/default", category, state) for category, state in manifest.default.items()]

    def statements(self, url: str | SplitResult) -> list[Statement]:
        """What the manifest says about ``url``; the caller has checked its origin.
        A string that is no URL at all has no origin, so nothing (spec/decision.md, "Scope")."""
        try:
            path = url_path(url)
        except ValueError:  # hostile URLs are looked up, never raised on (see _split)
            return []
        if not path.startswith(self._beginnings):
            return list(self._default)
        match = self.matcher.match(path)
        found = []
        for category, (state, rules) in match.by_category.items():
            for rule in rules:
                if (category, state) in rule.prefs:
                    found.append(self._statement(rule.ref, category, state))
        for category, state in self.manifest.default.items():
            if category not in match.by_category:
                found.append(self._statement("/default", category, state))
        return found

    def _statement(self, ref: str, category: str, state: State) -> Statement:
        key = (ref, category, state)
        statement = self._statements.get(key)
        if statement is None:
            statement = self._statements[key] = Statement({category: state}, _evidence(self.manifest, ref))
        return statement


def _beginning(pattern: str) -> str:
    """The literal text a path must begin with for ``pattern`` to match it."""
    return pattern.removesuffix("$").partition("*")[0]


def _split(url: str) -> SplitResult | None:
    """``url`` split, or None for one that cannot be (an unclosed '[', a netloc
    that NFKC turns into a delimiter...): hostile URLs are looked up, never raised on."""
    try:
        return split_url(url)
    except ValueError:
        return None


def account_scope(account_url: str) -> tuple[str, str] | None:
    """(origin, path) of the URLs an account covers once proven, or None if it covers none: the path is
    normalised as path rules are, without query or trailing '/'; an account at the root of its origin
    covers nothing, since an origin speaks for itself (spec/keys.md, "Works of a proven account")."""
    parts = _split(account_url)
    try:
        origin = origin_of_split(parts, of_url=True) if parts is not None else None
    except ValueError:
        return None
    path = normalise(parts.path).rstrip("/") if origin is not None else ""
    return (origin, path) if path else None  # type: ignore[return-value]


def account_covers(account_url: str, url: str) -> bool:
    """Whether ``url`` is under the account ``account_url`` (its proof holding is the caller's to know)."""
    scope, parts = account_scope(account_url), _split(url)
    if scope is None or parts is None:
        return False
    try:
        if origin_of_split(parts, of_url=True) != scope[0]:
            return False
    except ValueError:
        return False
    return scope[1] in _path_prefixes(normalise(parts.path or "/"))


def _path_prefixes(path: str) -> list[str]:
    """The path and each of its ancestors at a '/' (trailing '/' dropped): what an account path may equal.
    Nothing for a path with a '.' or '..' segment, which an HTTP client resolves to somewhere else."""
    if "/." in path and any(segment in (".", "..") for segment in path.split("/")):
        return []
    prefixes = [path[:i] for i in range(1, len(path)) if path[i] == "/"]
    return prefixes + [path.rstrip("/")]


def _evidence(manifest: Manifest, rule: str, detail: str = "") -> Evidence:
    return Evidence(MECHANISM, manifest.publisher, manifest.publisher, rule, manifest.digest, manifest.sequence, detail)


class Catalog:
    """Accepted manifests, indexed for URL, content and caption lookups."""

    def __init__(self) -> None:
        self._manifests: dict[str, Manifest] = {}
        self._origins: dict[str, OriginRules] = {}
        self._origin_of: dict[tuple[str, str], str | None] = {}  # (scheme, netloc) -> origin
        self._works: WorkIndex[str] = WorkIndex()
        self._names: NameIndex[str] = NameIndex()
        self._proven: dict[str, frozenset[str]] = {}  # publisher -> account URLs whose proof holds
        # origin -> account path -> the statements of the publishers' defaults for URLs under it
        self._accounts: dict[str, dict[str, list[Statement]]] = {}
        self._account_scopes: dict[str, list[tuple[str, str]]] = {}  # publisher -> where its statements are

    def __len__(self) -> int:
        return len(self._manifests)

    def __contains__(self, publisher: str) -> bool:
        return publisher in self._manifests

    def get(self, publisher: str) -> Manifest | None:
        return self._manifests.get(publisher)

    def manifests(self) -> list[Manifest]:
        return list(self._manifests.values())

    def add(self, manifest: Manifest) -> bool:
        """Accept ``manifest``, replacing its publisher's older one.

        Raises ``E_ROLLBACK`` for an older sequence or a different manifest
        under the same sequence; returns False if it is already the current one.
        """
        publisher = manifest.publisher
        current = self._manifests.get(publisher)
        check_sequence(manifest, current)
        if current is not None and current.digest == manifest.digest and current.parts_loaded == manifest.parts_loaded:
            return False
        if current is not None:
            self._works.remove_owner(publisher)
            self._names.remove_owner(publisher)
        self._manifests[publisher] = manifest
        if manifest.is_did_key:
            self._origins.pop(publisher, None)
        else:
            self._origins[publisher] = OriginRules(manifest)
        threshold = manifest.pdq.threshold if manifest.pdq else 0
        for i, work in enumerate(manifest.works):
            self._works.add(publisher, i, sha256=work.sha256, pdq=work.pdq, threshold=threshold)
        for i, name in enumerate(manifest.names):
            self._names.add(publisher, i, name.name)
        self._index_accounts(publisher)
        return True

    def set_proven_accounts(self, publisher: str, account_urls: frozenset[str] | set[str]) -> None:
        """Which accounts of ``publisher`` the verifier last found proven (both directions, spec/keys.md):
        those its current manifest lists cover the URLs under them.  Kept across manifest updates."""
        self._proven[publisher] = frozenset(account_urls)
        self._index_accounts(publisher)

    def _index_accounts(self, publisher: str) -> None:
        """(Re)install the account statements of one publisher: work in its own accounts only."""
        for origin, path in self._account_scopes.pop(publisher, ()):
            paths = self._accounts[origin]
            paths[path] = [s for s in paths[path] if s.evidence.publisher != publisher]
            if not paths[path]:
                del paths[path]
            if not paths:
                del self._accounts[origin]
        manifest, proven = self._manifests.get(publisher), self._proven.get(publisher, frozenset())
        scopes = []
        for account in manifest.accounts if manifest is not None else ():
            scope = account_scope(account.url) if account.url in proven else None
            if scope is None or scope in scopes:
                continue
            scopes.append(scope)
            detail = f"proven account {account.url}"
            statements = [Statement({category: state}, _evidence(manifest, account.ref, detail)) for category, state in manifest.default.items()]
            self._accounts.setdefault(scope[0], {}).setdefault(scope[1], []).extend(statements)
        if scopes:
            self._account_scopes[publisher] = scopes

    def remove(self, publisher: str) -> None:
        if self._manifests.pop(publisher, None) is not None:
            self._origins.pop(publisher, None)
            self._works.remove_owner(publisher)
            self._names.remove_owner(publisher)
            self._index_accounts(publisher)

    # -- statements -------------------------------------------------------------------

    def statements(self, *, url: str | None = None, content: ContentHash | None = None, text: str | None = None) -> list[Statement]:
        found: list[Statement] = []
        if url is not None:
            found.extend(self.url_statements(url))
        if content is not None:
            found.extend(self.content_statements(content))
        if text:
            found.extend(self.text_statements(text))
        return found

    def url_statements(self, url: str) -> list[Statement]:
        parts = split_plain(url) or _split(url)  # most URLs are plain; their origin is then memoised
        origin = self._origin(parts) if parts is not None else None
        if origin not in self._origins and origin not in self._accounts:
            return []  # the common answer: nothing speaks for this origin
        rules = self._origins.get(origin) if origin is not None else None
        found = rules.statements(parts) if rules is not None else []  # type: ignore[arg-type]
        accounts = self._accounts.get(origin) if origin is not None else None
        if accounts:  # one dict lookup per ancestor of the path: bounded by the URL's length
            for prefix in _path_prefixes(normalise(parts.path or "/")):  # type: ignore[union-attr]
                found.extend(accounts.get(prefix, ()))
        return found

    def _origin(self, parts: SplitResult) -> str | None:
        """The canonical origin of a split URL, memoised per (scheme, netloc):
        a crawl meets the same hosts over and over."""
        key = (parts.scheme, parts.netloc)
        origin = self._origin_of.get(key, _UNSEEN)
        if origin is _UNSEEN:
            if len(self._origin_of) >= MAX_MEMOISED_ORIGINS:
                self._origin_of.clear()
            try:
                origin = origin_of_split(parts, of_url=True)
            except ValueError:
                origin = None
            self._origin_of[key] = origin
        return origin  # type: ignore[return-value]

    def content_statements(self, content: ContentHash) -> list[Statement]:
        found = []
        seen: set[tuple[str, int]] = set()
        for hit in self._works.match(sha256=content.sha256, pdq=content.pdq, quality=content.pdq_quality):
            if (hit.owner, hit.index) in seen:  # sha256 hits come first: one statement per work
                continue
            seen.add((hit.owner, hit.index))
            manifest = self._manifests[hit.owner]
            work = manifest.works[hit.index]
            prefs = manifest.prefs_for(work.prefs)
            if not prefs:
                continue
            detail = "sha256 match" if hit.by == "sha256" else f"pdq distance {hit.distance} <= {manifest.pdq.threshold}"  # type: ignore[union-attr]
            found.append(Statement(prefs, _evidence(manifest, work.ref, detail)))
        return found

    def text_statements(self, text: str) -> list[Statement]:
        found = []
        for hit in self._names.match(text):
            manifest = self._manifests[hit.owner]
            name = manifest.names[hit.index]
            prefs = manifest.prefs_for(name.prefs)
            if prefs:
                found.append(Statement(prefs, _evidence(manifest, name.ref, f"name {hit.name!r}")))
        return found
