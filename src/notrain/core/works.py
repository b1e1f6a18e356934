"""Matching works by content: exact SHA-256 and PDQ perceptual hashes.

A repost is rarely byte-identical (resized, recompressed, metadata stripped),
so a work is found either by the SHA-256 of the file or by a PDQ hash within
the Hamming distance its publisher set.  Stored hashes are searched exactly
by :class:`~notrain.core.pdqindex.PdqIndex` (multi-index hashing over many
hashes, a numpy scan over few), one index per threshold in use.  Query hashes
with a PDQ quality below 50 are not matched perceptually, as Meta's PDQ
documentation advises: they are too flat to be distinctive.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

from .pdqindex import MIH_MIN_HASHES, MIN_QUERY_QUALITY, PDQ_BYTES, PdqIndex

__all__ = ["MIN_QUERY_QUALITY", "PDQ_BYTES", "WorkIndex", "WorkMatch", "hamming"]

Owner = TypeVar("Owner", bound=Hashable)


@dataclass(frozen=True)
class WorkMatch(Generic[Owner]):
    owner: Owner  # whatever the caller registered the work under (e.g. a manifest)
    index: int  # the work's position in its manifest
    by: str  # "sha256" or "pdq"
    distance: int = 0  # PDQ Hamming distance (0 for sha256 matches)


def hamming(a: bytes, b: bytes) -> int:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()


class WorkIndex(Generic[Owner]):
    """Works of many publishers, searchable by SHA-256 and by PDQ distance.

    PDQ rows live in two layers, so that accepting a manifest does not
    rebuild a million-hash index: the *built* layer (rows added before the
    last rebuild) and the *fresh* rows since, small enough to scan.  Rows of a
    removed owner are only marked dead until they are a quarter of all rows.
    """

    def __init__(self) -> None:
        self._by_sha256: dict[bytes, list[tuple[Owner, int]]] = {}
        self._sha256_of: dict[Owner, list[bytes]] = {}  # so that removing an owner is O(its works)
        self._pdq_rows: list[bytes] = []
        self._pdq_meta: list[tuple[Owner, int, int]] = []  # owner, work index, threshold
        self._pdq_rows_of: dict[Owner, list[int]] = {}
        self._pdq_dead: set[int] = set()
        self._built: list[tuple[int, PdqIndex, np.ndarray]] | None = None  # threshold, index, its rows
        self._built_rows = 0
        self._fresh: list[tuple[int, PdqIndex, np.ndarray]] | None = None

    def __len__(self) -> int:
        return len(self._pdq_meta) - len(self._pdq_dead) + sum(map(len, self._by_sha256.values()))

    def add(self, owner: Owner, index: int, *, sha256: bytes | None, pdq: bytes | None, threshold: int) -> None:
        if sha256 is not None:
            self._by_sha256.setdefault(sha256, []).append((owner, index))
            self._sha256_of.setdefault(owner, []).append(sha256)
        if pdq is not None:
            if len(pdq) != PDQ_BYTES:
                raise ValueError("a PDQ hash is 32 bytes")
            self._pdq_rows_of.setdefault(owner, []).append(len(self._pdq_rows))
            self._pdq_rows.append(pdq)
            self._pdq_meta.append((owner, index, threshold))
            self._fresh = None

    def remove_owner(self, owner: Owner) -> None:
        """Forget every work of ``owner`` (a manifest replaced by a newer one)."""
        for key in self._sha256_of.pop(owner, ()):
            if key not in self._by_sha256:
                continue
            kept = [entry for entry in self._by_sha256[key] if entry[0] != owner]
            if kept:
                self._by_sha256[key] = kept
            else:
                del self._by_sha256[key]
        self._pdq_dead.update(self._pdq_rows_of.pop(owner, ()))
        if len(self._pdq_dead) * 4 > len(self._pdq_rows):
            self._compact()

    def _compact(self) -> None:
        keep = [i for i in range(len(self._pdq_rows)) if i not in self._pdq_dead]
        self._pdq_rows = [self._pdq_rows[i] for i in keep]
        self._pdq_meta = [self._pdq_meta[i] for i in keep]
        self._pdq_rows_of = {}
        for row, (owner, _, _) in enumerate(self._pdq_meta):
            self._pdq_rows_of.setdefault(owner, []).append(row)
        self._pdq_dead = set()
        self._built = self._fresh = None

    def _groups(self) -> list[tuple[int, PdqIndex, np.ndarray]]:
        """The built layer, rebuilt once the fresh rows could no longer be scanned cheaply, plus the fresh rows."""
        if self._built is None or len(self._pdq_rows) - self._built_rows > MIH_MIN_HASHES:
            self._built, self._built_rows, self._fresh = self._index(0, len(self._pdq_rows)), len(self._pdq_rows), None
        if self._fresh is None:
            self._fresh = self._index(self._built_rows, len(self._pdq_rows))
        return self._built + self._fresh

    def _index(self, start: int, stop: int) -> list[tuple[int, PdqIndex, np.ndarray]]:
        """One index per threshold over rows start..stop: each is searched at its own
        radius, so one publisher's wide threshold does not slow everyone's lookups."""
        thresholds = np.fromiter((m[2] for m in self._pdq_meta[start:stop]), dtype=np.int64, count=stop - start)
        groups = []
        for threshold in np.unique(thresholds).tolist():
            rows = np.flatnonzero(thresholds == threshold) + start
            groups.append((threshold, PdqIndex([self._pdq_rows[i] for i in rows]), rows))
        return groups

    def match(self, *, sha256: bytes | None = None, pdq: bytes | None = None, quality: int = 100) -> list[WorkMatch[Owner]]:
        found: list[WorkMatch[Owner]] = []
        if sha256 is not None:
            found.extend(WorkMatch(owner, index, "sha256") for owner, index in self._by_sha256.get(sha256, ()))
        if pdq is not None:
            found.extend(self.match_pdq_many([pdq], [quality])[0])
        return found

    def match_pdq_many(self, pdqs: Sequence[bytes], qualities: Sequence[int] | None = None) -> list[list[WorkMatch[Owner]]]:
        """PDQ matches of many query hashes at once (at most 10,000), in query order."""
        by_row: list[list[tuple[int, int]]] = [[] for _ in pdqs]
        if pdqs and self._pdq_meta:
            for threshold, index, rows in self._groups():
                hits = index.search_many(pdqs, threshold, qualities=qualities)
                for query, row, distance in zip(hits.query.tolist(), rows[hits.row].tolist(), hits.distance.tolist()):
                    if row not in self._pdq_dead:
                        by_row[query].append((row, distance))
        found: list[list[WorkMatch[Owner]]] = []
        for hits_of_query in by_row:  # in the order the works were added, whatever their thresholds
            found.append([WorkMatch(*self._pdq_meta[row][:2], "pdq", distance) for row, distance in sorted(hits_of_query)])
        return found
