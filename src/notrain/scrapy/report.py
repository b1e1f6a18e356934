"""The compliance report: evidence of what a crawl honoured, written when the spider closes.

It is a JSON document (written atomically, so a reader never sees half of
one) holding the notrain version, the settings honoured, every manifest
state consulted (each refresh or failure is a new entry: origin, publisher,
sequence, digest, signing key ids, status, when, error), the robots.txt,
tdmrep.json and ai.txt status of every origin, what each of
``NOTRAIN_SOURCES`` held (``sources``: its ``describe()``), counts per
outcome (pages and files refused before or after download, files the media
pipelines did not store, items dropped) and per mechanism, and the errors
met.  ``snapshot`` cites the snapshots among the sources (a list: each one's
id, the log's signed checkpoint, the descriptor entry's inclusion proof and the
consistency proof to the checkpoint), or is null when the crawl had none.
Being evidence, it keeps one small
entry per origin crawled for the whole crawl (the fetch cache is bounded; the
report is not).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

from .. import __version__
from ..core.errors import scalar_strings
from ..fetch.manifests import ManifestState, Status
from ..fetch.site import SiteFiles, SiteSignals
from ..signals.robots import UNREACHABLE
from .options import Options
from .sources import Sources

ALLOWED = "allowed"
FORBIDDEN = "forbidden_before_download"
DROPPED = "dropped_after_download"
MEDIA_FORBIDDEN = "media_not_stored"
ITEM_DROPPED = "item_dropped"


class ComplianceReport:
    """Accumulates what the middleware saw; :meth:`write` produces the file."""

    def __init__(self, options: Options, sources: Sources | None = None) -> None:
        self.options = options
        self.sources = sources or Sources(())
        self.manifests: list[dict] = []
        self.origins: dict[str, dict] = {}
        self.outcomes: Counter[str] = Counter()
        self.mechanisms: Counter[str] = Counter()
        self.errors: list[dict] = []
        self._last_state: dict[str, ManifestState] = {}
        self._last_files: dict[str, SiteFiles] = {}

    def observe(self, site: SiteSignals) -> bool:
        """Record an origin's signals; True when its manifest state is one not seen before."""
        origin = site.origin
        if self._last_files.get(origin) is not site.files:
            self._last_files[origin] = site.files
            self.origins[origin] = _files_json(site.files)
            self.errors += ({"origin": origin, "error": w} for w in site.files.warnings)
            if site.files.robots.status == UNREACHABLE:
                self.errors.append({"origin": origin, "error": "robots.txt unreachable: complete disallow (RFC 9309)"})
        if self._last_state.get(origin) is site.manifest:
            return False
        self._last_state[origin] = site.manifest
        self.manifests.append(manifest_json(site.manifest))
        if site.manifest.error:
            self.errors.append({"origin": origin, "error": f"manifest: {site.manifest.error}"})
        return True

    def count(self, outcome: str, mechanisms: Iterable[str] = ()) -> None:
        self.outcomes[outcome] += 1
        if mechanisms:  # an allowed page has none: spare it Counter.update's Python-level work
            self.mechanisms.update(mechanisms)

    def to_json(self) -> dict:
        return {
            "notrain_version": __version__,
            "written_at": _iso(datetime.now(timezone.utc).timestamp()),
            "settings": self.options.to_json(),
            "manifests": self.manifests,
            "origins": self.origins,
            "counts": {"outcomes": dict(self.outcomes), "forbidden_by_mechanism": dict(self.mechanisms)},
            "errors": self.errors,
            "sources": self.sources.describe(),
            "snapshot": self.sources.snapshots() or None,
        }

    def write(self, path: str | os.PathLike) -> Path:
        """Write the report atomically (temporary file in the same directory, then rename).

        Whatever hostile text reached it (a lone surrogate in a URL or an error
        from another component), the report is written: such strings are escaped.
        """
        target = Path(path).resolve()
        target.parent.mkdir(parents=True, exist_ok=True)
        doc = self.to_json()
        try:
            data = _pretty(doc).encode("utf-8")
        except UnicodeEncodeError:
            data = _pretty(scalar_strings(doc)).encode("utf-8")
        fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(temporary, target)
        except BaseException:
            os.unlink(temporary)
            raise
        return target


def manifest_json(state: ManifestState) -> dict:
    doc: dict = {
        "origin": state.origin,
        "source": state.source,
        "status": state.status.value,
        "stale": state.stale,
        "when": _iso(state.fetched_at),
        "error": state.error,
    }
    if state.verified is not None and state.status is Status.VERIFIED:
        manifest = state.verified.manifest
        doc.update(
            publisher=manifest.publisher,
            sequence=manifest.sequence,
            digest=manifest.digest,
            expires=manifest.expires.isoformat(),
            signed_by=list(state.verified.signed_by),
            envelope_digest=state.verified.envelope_digest,
        )
    return doc


def _files_json(files: SiteFiles) -> dict:
    return {
        "robots_txt": files.robots.status,
        "tdmrep": "present" if files.tdmrep is not None else "absent",
        "ai_txt": "present" if files.ai_txt is not None else "absent",
        "when": _iso(files.fetched_at),
        "warnings": [*files.robots.warnings, *files.warnings],
    }


def _pretty(doc: object) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat(timespec="seconds")
