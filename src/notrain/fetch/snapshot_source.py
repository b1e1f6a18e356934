"""A snapshot on disk as a crawler's source of works and names (``NOTRAIN_SOURCES = ["snapshot:DIR"]``).

Everything :func:`notrain.fetch.snapshots.verify` checks is checked again when the source is loaded, with
no network at all, so a crawl with a snapshot and no route to any aggregator still honours it and can
cite exactly what it honoured (the snapshot id, checkpoint and inclusion proof).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ..core.decision import Evidence, Statement
from ..core.manifest import parse_timestamp
from ..core.names import NameIndex
from ..core.snapshot import Snapshot
from ..core.snapshotparts import PLAIN_WORK_LINE, records_but
from ..core.vocab import State
from ..core.works import WorkIndex
from .snapshots import LOG_KEY_FILE, MAX_JSON_BYTES, SCHEME_PREFIX, Evidenced, Trust, read_file, verify
from .sources import SourceError


def parse_source(spec: str, *, witnesses: tuple[str, ...] = (), min_cosignatures: int = 0) -> SnapshotSource:
    """``snapshot:DIR`` (checked with the log key the pull saved there) or ``snapshot:DIR#VKEY``, and
    the witness policy its checkpoint must meet."""
    if not spec.startswith(SCHEME_PREFIX) or len(spec) == len(SCHEME_PREFIX):
        raise SourceError(f"a snapshot source is spelled {SCHEME_PREFIX}DIR[#VKEY]", where=spec[:100])
    path, _, vkey = spec[len(SCHEME_PREFIX):].partition("#")
    return SnapshotSource(Path(path), log_key=vkey or None, witnesses=witnesses, min_cosignatures=min_cosignatures)


@dataclass
class SnapshotSource:
    """The works and names of a snapshot on disk, re-verified when loaded (no network at all).

    Without ``log_key``, the key saved by the pull (``log.vkey``) is used: it is the one the operator
    gave ``notrain snapshot pull``, and the checkpoint, inclusion and digests are all checked again.
    With ``witnesses``, the saved checkpoint must carry cosignatures by ``min_cosignatures`` of them."""

    path: Path
    log_key: str | None = None
    max_age: timedelta | None = None
    witnesses: tuple[str, ...] = ()  # cosigner vkeys; at least ``min_cosignatures`` of them must have cosigned the checkpoint
    min_cosignatures: int = 0
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    _catalog: SnapshotCatalog | None = None
    _evidenced: Evidenced | None = None

    def catalog(self) -> SnapshotCatalog:
        if self._catalog is None:
            key = self.log_key or read_file(self.path / LOG_KEY_FILE, MAX_JSON_BYTES).decode("ascii", "replace").strip()
            self._evidenced = verify(self.path, Trust(key, tuple(self.witnesses), self.min_cosignatures, self.max_age), now=self.now)
            self._catalog = SnapshotCatalog(self._evidenced.snapshot, now=self.now)
        return self._catalog

    def describe(self) -> dict:
        catalog = self.catalog()
        return {"kind": "snapshot", "path": str(self.path), **self._evidenced.describe(),  # type: ignore[union-attr]
                "publishers": catalog.publishers}


class SnapshotCatalog:
    """A snapshot's ``work`` and ``name`` records, matched as a catalog matches manifests: each hit is
    a statement citing its publisher record (sequence, digest) and the snapshot's id.  Publishers
    whose manifest has expired are left out (spec/snapshot.md).

    A SHA-256 is probed in the ``works`` filter and confirmed by the snapshot's own sorted keys (16
    octets a work, already held), so no per-work index is built for it; PDQ hashes and names, which
    filters cannot answer, are indexed here."""

    def __init__(self, snapshot: Snapshot, *, now: datetime) -> None:
        self.snapshot = snapshot
        self._live: dict[str, dict] = {}  # publisher -> its publisher record, if not expired
        self._pdq: WorkIndex[int] = WorkIndex()
        self._names: NameIndex[int] = NameIndex()
        self._records: list[dict] = []  # the PDQ work records and name records, by owner number
        for record in records_but(snapshot.parts["statements"], PLAIN_WORK_LINE):  # checked at load: parsed, not checked again
            if record["kind"] == "publisher":
                if parse_timestamp(record["expires"], "expires") > now:
                    self._live[record["publisher"]] = record
            elif record["publisher"] in self._live and (record["kind"] == "name" or "pdq" in record):
                owner = len(self._records)
                self._records.append(record)
                if record["kind"] == "name":
                    self._names.add(owner, 0, record["name"])
                else:
                    self._pdq.add(owner, 0, sha256=None, pdq=bytes.fromhex(record["pdq"]), threshold=record["threshold"])

    @property
    def publishers(self) -> int:
        return len(self._live)

    def __len__(self) -> int:
        return self.publishers

    def content_statements(self, content) -> list[Statement]:
        found, seen = [], set()
        if content.sha256 is not None and self.snapshot.works_may_match(content.sha256)[0]:
            for record in self.snapshot.confirm_work(content.sha256):
                if record["publisher"] in self._live:
                    seen.add((record["publisher"], record["sha256"], record.get("pdq")))
                    found.append(self._statement(record, "sha256 match"))
        if content.pdq is not None:
            for hit in self._pdq.match(pdq=content.pdq, quality=content.pdq_quality):
                record = self._records[hit.owner]
                key = (record["publisher"], record.get("sha256"), record["pdq"])
                if key not in seen:  # a work found by both its hashes is one statement
                    seen.add(key)
                    found.append(self._statement(record, f"pdq distance {hit.distance} <= {record['threshold']}"))
        return found

    def text_statements(self, text: str) -> list[Statement]:
        return [self._statement(self._records[hit.owner], f"name {hit.name!r}") for hit in self._names.match(text)]

    def _statement(self, record: dict, detail: str) -> Statement:
        publisher = self._live[record["publisher"]]
        prefs = {category: State.from_token(value) for category, value in record["prefs"].items()}
        evidence = Evidence("notrain", f"snapshot {self.snapshot.id}", publisher["publisher"], f"snapshot {record['kind']}",
                            publisher["digest"], publisher["sequence"], detail)
        return Statement(prefs, evidence)
