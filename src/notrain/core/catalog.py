"""A catalog of accepted manifests and the statements they make about a thing.

The catalog turns "this URL / these image bytes / this caption" into
:class:`~notrain.core.decision.Statement` objects, one per (manifest, rule);
:func:`~notrain.core.decision.decide` combines them with statements from any
other source.  It never decides by itself.

Scoping rules (spec/decision.md):

* path rules and the default of an origin's manifest apply only to URLs of
  that origin: a site cannot speak for another site's URLs;
* works and names apply wherever the work or name turns up;
* within one manifest the most specific path rule wins per category, then the
  manifest default.
"""

from __future__ import annotations

from dataclasses import dataclass

from .decision import Evidence, Statement
from .manifest import Manifest, canonical_origin
from .names import NameIndex
from .paths import PathMatcher, url_path
from .verify import check_sequence
from .vocab import State
from .works import WorkIndex

MECHANISM = "notrain"


@dataclass(frozen=True)
class ContentHash:
    """What is known of a file's content: its SHA-256 and, for images, its PDQ hash."""

    sha256: bytes | None = None
    pdq: bytes | None = None
    pdq_quality: int = 100


def url_statements(manifest: Manifest, matcher: PathMatcher, url: str) -> list[Statement]:
    """What one origin's manifest (its path rules compiled in ``matcher``) says
    about one of that origin's URLs: one statement per deciding rule, per the
    longest-match-then-default rule.  The caller has checked the origin."""
    match = matcher.match(url_path(url))
    by_rule: dict[str, dict[str, State]] = {}
    for category, (state, rules) in match.by_category.items():
        for rule in rules:
            if dict(rule.prefs).get(category) is state:
                by_rule.setdefault(rule.ref, {})[category] = state
    for category, state in manifest.default.items():
        if category not in match.by_category:
            by_rule.setdefault("/default", {})[category] = state
    return [Statement(prefs, _evidence(manifest, url, ref)) for ref, prefs in by_rule.items()]


def _evidence(manifest: Manifest, source: str, rule: str, detail: str = "") -> Evidence:
    return Evidence(MECHANISM, source, manifest.publisher, rule, manifest.digest, manifest.sequence, detail)


class Catalog:
    """Accepted manifests, indexed for URL, content and caption lookups."""

    def __init__(self) -> None:
        self._manifests: dict[str, Manifest] = {}
        self._paths: dict[str, PathMatcher] = {}
        self._works: WorkIndex[str] = WorkIndex()
        self._names: NameIndex[str] = NameIndex()

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
            self._paths.pop(publisher, None)
        else:
            self._paths[publisher] = PathMatcher(manifest.paths)
        threshold = manifest.pdq.threshold if manifest.pdq else 0
        for i, work in enumerate(manifest.works):
            self._works.add(publisher, i, sha256=work.sha256, pdq=work.pdq, threshold=threshold)
        for i, name in enumerate(manifest.names):
            self._names.add(publisher, i, name.name)
        return True

    def remove(self, publisher: str) -> None:
        if self._manifests.pop(publisher, None) is not None:
            self._paths.pop(publisher, None)
            self._works.remove_owner(publisher)
            self._names.remove_owner(publisher)

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
        origin = canonical_origin(url, of_url=True)
        manifest = self._manifests.get(origin) if origin else None
        if manifest is None:
            return []
        return url_statements(manifest, self._paths[origin], url)

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
            found.append(Statement(prefs, _evidence(manifest, manifest.publisher, work.ref, detail)))
        return found

    def text_statements(self, text: str) -> list[Statement]:
        found = []
        for hit in self._names.match(text):
            manifest = self._manifests[hit.owner]
            name = manifest.names[hit.index]
            prefs = manifest.prefs_for(name.prefs)
            if prefs:
                found.append(Statement(prefs, _evidence(manifest, manifest.publisher, name.ref, f"name {hit.name!r}")))
        return found
