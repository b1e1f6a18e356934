"""The batch core: an Arrow record batch in, one decision per row out.

Every row gets exactly what the crawler's path gives it::

    decide(catalog.statements(url=url, content=ContentHash(sha256, pdq), text=caption))

for the chosen purpose, but the statements are only looked up for rows a
vectorised probe cannot clear: rows whose origin has rules (or whose URL is
spelled oddly, origins.py), whose caption may hold a name (captions.py), whose
SHA-256 is a work's, or which carry a PDQ hash.  Every other row has no
statement, and its decision is that of ``decide([])``, computed once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..core.catalog import Catalog, ContentHash
from ..core.decision import Statement, decide
from ..core.errors import NotrainError
from ..core.names import normalise
from ..core.vocab import CATEGORIES, TRAIN_AI, State
from .captions import NamePrefilter
from .origins import hosts_with_rules, rows_needing_rules

KEEP, REASON, EVIDENCE, CAPTION = "notrain_keep", "notrain_reason", "notrain_evidence", "notrain_caption"
MAX_MEMOISED = 65536
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_WORD = re.compile(r"[^\W_]+")


class FilterError(NotrainError):
    """A dataset the filter cannot read as asked: a missing or mistyped column, an unreadable file."""

    code = "E_FILTER_INPUT"


@dataclass(frozen=True)
class Columns:
    """Which input columns hold what (img2dataset's --url_col / --caption_col conventions)."""

    url: str = "url"
    caption: str | None = None
    sha256: str | None = None  # 64 hex digits, or 32 raw bytes
    pdq: str | None = None  # 64 hex digits, or 32 raw bytes


class BatchFilter:
    """Decisions for dataset rows against one catalog; build once, apply to every batch.

    ``names="strip"`` keeps a row refused only for names in its caption when the
    caption without them is refused by nothing (the new caption is in ``notrain_caption``).
    """

    def __init__(self, catalog: Catalog, *, purpose: str = TRAIN_AI, unknown_as: State = State.ALLOWED, names: str = "drop",
                 prefilter=None) -> None:
        """``prefilter``: a source's own bulk probes, ``url_rows(urls)`` and ``work_rows(sha256)`` (a snapshot's
        filters, filter/sources.py); without one, the catalog's hosts with rules and its works' SHA-256."""
        if purpose not in CATEGORIES:
            raise FilterError(f"unknown purpose {purpose!r}; one of {', '.join(CATEGORIES)}", code="E_FILTER_OPTION")
        if names not in ("drop", "strip"):
            raise FilterError("names is 'drop' or 'strip'", code="E_FILTER_OPTION")
        self.catalog, self.purpose, self.unknown_as, self.names = catalog, purpose, unknown_as, names
        self.prefilter = prefilter
        self._with_rules = hosts_with_rules(catalog)
        self._names = NamePrefilter(catalog)
        self._sha256 = sorted({w.sha256 for m in catalog.manifests() for w in m.works if w.sha256 is not None})
        self._memo: dict[tuple[int, ...], tuple] = {}
        self._nothing = self._verdict(())

    # -- the column pass ------------------------------------------------------------

    def apply(self, batch: pa.RecordBatch, columns: Columns = Columns(),
              extra: Sequence[Sequence[tuple[str, Statement]]] | None = None) -> pa.RecordBatch:
        """Decision columns for ``batch``: keep (bool), reason and evidence (JSON), null where kept.

        ``extra`` gives, per row, statements found outside the batch's columns with the part they
        come from (``"work"`` or ``"embedded"``): filter-shards passes what a downloaded image says.
        """
        urls = _column(batch, columns.url, string=True)
        captions = _column(batch, columns.caption, string=True) if columns.caption else None
        sha256 = _column(batch, columns.sha256, string=False) if columns.sha256 else None
        pdq = _column(batch, columns.pdq, string=False) if columns.pdq else None
        url_rows = self.prefilter.url_rows(urls) if self.prefilter is not None else rows_needing_rules(urls, self._with_rules)
        name_rows = self._names.candidates(captions) if captions is not None else np.zeros(len(batch), bool)
        work_rows = self._work_rows(sha256, pdq, len(batch))
        extra_rows = np.fromiter(map(bool, extra), bool, len(batch)) if extra is not None else np.zeros(len(batch), bool)
        rows = np.flatnonzero(url_rows | name_rows | work_rows | extra_rows)
        keep = np.full(len(batch), self._nothing[0])
        verdicts = [self._nothing]  # reason and evidence columns are taken from these: no list of a batch's length
        verdict_of = np.zeros(len(batch), np.int32)
        stripped: list[str | None] = [None] * len(batch) if self.names == "strip" else []
        url_list, caption_list = _values(urls, rows), _values(captions, rows)
        sha_list, pdq_list = _values(sha256, rows), _values(pdq, rows)
        for k, i in enumerate(rows):
            found = self._statements(
                url_list[k] if url_rows[i] else None,
                ContentHash(sha256=_hash_bytes(sha_list[k]), pdq=_hash_bytes(pdq_list[k])) if work_rows[i] else None,
                caption_list[k] if name_rows[i] else None,
            ) + (list(extra[i]) if extra_rows[i] else [])
            verdict = self._verdict(found)
            if not verdict[0] and self.names == "strip" and verdict[1] == "name":
                verdict, stripped[i] = self._strip(found, caption_list[k])
            keep[i], verdict_of[i] = verdict[0], len(verdicts)
            verdicts.append(verdict)
        chosen = pa.array(verdict_of)
        arrays = [pa.array(keep, pa.bool_()), pa.array([v[1] for v in verdicts], pa.string()).take(chosen),
                  pa.array([v[2] for v in verdicts], pa.string()).take(chosen)]
        names = [KEEP, REASON, EVIDENCE]
        if self.names == "strip":
            arrays.append(pa.array(stripped, pa.string()))
            names.append(CAPTION)
        return pa.RecordBatch.from_arrays(arrays, names=names)

    def _work_rows(self, sha256: pa.Array | None, pdq: pa.Array | None, size: int) -> np.ndarray:
        rows = np.zeros(size, bool)
        if sha256 is not None and self.prefilter is not None:
            rows |= self.prefilter.work_rows(sha256)
        elif sha256 is not None and self._sha256:
            if pa.types.is_string(sha256.type) or pa.types.is_large_string(sha256.type):
                probed = pc.is_in(pc.ascii_lower(sha256), value_set=pa.array([h.hex() for h in self._sha256], pa.string()))
            else:
                probed = pc.is_in(sha256.cast(pa.binary()), value_set=pa.array(self._sha256, pa.binary()))
            rows |= pc.fill_null(probed, False).to_numpy(zero_copy_only=False)
        if pdq is not None:  # perceptual matches need the index's radius search: row by row
            rows |= pc.is_valid(pdq).to_numpy(zero_copy_only=False)
        return rows

    # -- one row --------------------------------------------------------------------

    def _statements(self, url: str | None, content: ContentHash | None, text: str | None) -> list[tuple[str, Statement]]:
        found = [("url", s) for s in self.catalog.url_statements(url)] if url is not None else []
        if content is not None:
            found += [("work", s) for s in self.catalog.content_statements(content)]
        if text:
            found += [("name", s) for s in self.catalog.text_statements(text)]
        return found

    def _verdict(self, found) -> tuple[bool, str | None, str | None]:
        """(keep, reason, evidence) from decide(); memoised for the reused statements of path rules."""
        key = tuple(id(s) for _, s in found)
        memo = self._memo.get(key) if all(kind == "url" for kind, _ in found) else None
        if memo is not None:
            return memo[0]
        decision = decide((s for _, s in found), categories=(self.purpose,), unknown_as=self.unknown_as)
        if decision.allowed(self.purpose):
            verdict = (True, None, None)
        else:
            because = decision.disallowed_by(self.purpose)
            kinds = {id(s): kind for kind, s in found}
            reason = "+".join(k for k in ("url", "work", "embedded", "name") if any(kinds[id(s)] == k for s in because)) or "unknown"
            verdict = (False, reason, json.dumps([s.to_json() for s in because], ensure_ascii=False))
        if all(kind == "url" for kind, _ in found):
            if len(self._memo) >= MAX_MEMOISED:
                self._memo.clear()
            self._memo[key] = (verdict, found)  # the statements stay alive: their ids stay theirs
        return verdict

    def _strip(self, found, caption: str):
        """The caption without the names that refused it, if nothing refuses the row then; else the refusal."""
        refused = self._verdict(found)
        names = [normalise(self._name(s)) for kind, s in found if kind == "name"]
        cut = strip_names(caption, names)
        rest = [(kind, s) for kind, s in found if kind != "name"]
        again = self._statements(None, None, cut) if cut else []
        verdict = self._verdict(rest + again)
        if not verdict[0] or cut == caption:
            return refused, None
        return (True, "name-stripped", refused[2]), cut

    def _name(self, statement: Statement) -> str:
        manifest = self.catalog.get(statement.evidence.publisher)
        return next(n.name for n in manifest.names if n.ref == statement.evidence.rule)  # type: ignore[union-attr]


def strip_names(caption: str, names: list[str]) -> str:
    """``caption`` without each run of whole words whose normal forms spell one of ``names`` (normal
    forms), separators inside the run included; the caller checks the result, since NFKC may hide a
    name from this word-level cut."""
    words: list[tuple[str, re.Match[str]]] = []  # (normal word, the caption's token it comes from)
    for token in _WORD.finditer(caption):
        words += [(w, token) for w in normalise(token.group()).split()]
    plain = [w for w, _ in words]
    cuts = []
    for name in names:
        target = name.split()
        for start in range(len(plain) - len(target) + 1):
            if plain[start : start + len(target)] == target:
                cuts.append((words[start][1].start(), words[start + len(target) - 1][1].end()))
    if not cuts:
        return caption
    kept, position = [], 0
    for begin, end in sorted(cuts):
        kept.append(caption[position : max(begin, position)])
        position = max(end, position)
    kept.append(caption[position:])
    return " ".join("".join(kept).split())


def _column(batch: pa.RecordBatch, name: str, *, string: bool) -> pa.Array:
    if name not in batch.schema.names:
        raise FilterError(f"no column {name!r} (columns: {', '.join(batch.schema.names)})", code="E_FILTER_COLUMN", where=name)
    column = batch.column(name)
    kinds = (pa.types.is_string, pa.types.is_large_string) + (() if string else (pa.types.is_binary, pa.types.is_fixed_size_binary, pa.types.is_large_binary))
    if pa.types.is_null(column.type):
        return pa.nulls(len(column), pa.string())
    if not any(kind(column.type) for kind in kinds):
        raise FilterError(f"column {name!r} holds {column.type}, not text", code="E_FILTER_COLUMN", where=name)
    if pa.types.is_large_string(column.type):  # Arrow-backed pandas and Spark's large var types: one string type for every kernel
        return column.cast(pa.string())
    return column


def _hash_bytes(value: str | bytes | None) -> bytes | None:
    """A 32-byte hash from 64 hex digits or raw bytes; anything else is no hash (it can match no work)."""
    if isinstance(value, str):
        return bytes.fromhex(value) if _HEX64.fullmatch(value) else None
    return value if isinstance(value, bytes) and len(value) == 32 else None


def _values(column: pa.Array | None, rows: np.ndarray) -> list:
    if column is None:
        return [None] * len(rows)
    return column.take(pa.array(rows, pa.int64())).to_pylist()
