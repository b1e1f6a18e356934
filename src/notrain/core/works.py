"""Matching works by content: exact SHA-256 and PDQ perceptual hashes.

A repost is rarely byte-identical (resized, recompressed, metadata stripped),
so a work is found either by the SHA-256 of the file or by a PDQ hash within
the Hamming distance its publisher set.  Distances are computed for all stored
hashes at once with numpy (XOR + popcount over four 64-bit words): at 32 bytes
a hash, a million works scan in a few milliseconds, with no index to keep in
step.  Query hashes with a PDQ quality below 50 are not matched perceptually,
as Meta's PDQ documentation advises: they are too flat to be distinctive.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Hashable, TypeVar

import numpy as np

MIN_QUERY_QUALITY = 50
PDQ_BYTES = 32

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
    """Works of many publishers, searchable by SHA-256 and by PDQ distance."""

    def __init__(self) -> None:
        self._by_sha256: dict[bytes, list[tuple[Owner, int]]] = {}
        self._sha256_of: dict[Owner, list[bytes]] = {}  # so that removing an owner is O(its works)
        self._pdq_rows: list[bytes] = []
        self._pdq_meta: list[tuple[Owner, int, int]] = []  # owner, work index, threshold
        self._pdq_matrix: np.ndarray | None = None
        self._thresholds: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self._pdq_meta) + sum(map(len, self._by_sha256.values()))

    def add(self, owner: Owner, index: int, *, sha256: bytes | None, pdq: bytes | None, threshold: int) -> None:
        if sha256 is not None:
            self._by_sha256.setdefault(sha256, []).append((owner, index))
            self._sha256_of.setdefault(owner, []).append(sha256)
        if pdq is not None:
            if len(pdq) != PDQ_BYTES:
                raise ValueError("a PDQ hash is 32 bytes")
            self._pdq_rows.append(pdq)
            self._pdq_meta.append((owner, index, threshold))
            self._pdq_matrix = None

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
        keep = [i for i, meta in enumerate(self._pdq_meta) if meta[0] != owner]
        if len(keep) != len(self._pdq_meta):
            self._pdq_rows = [self._pdq_rows[i] for i in keep]
            self._pdq_meta = [self._pdq_meta[i] for i in keep]
            self._pdq_matrix = None

    def _matrix(self) -> tuple[np.ndarray, np.ndarray]:
        if self._pdq_matrix is None:
            raw = np.frombuffer(b"".join(self._pdq_rows), dtype=">u8")
            self._pdq_matrix = raw.astype(np.uint64).reshape(-1, 4)
            self._thresholds = np.fromiter((m[2] for m in self._pdq_meta), dtype=np.int64, count=len(self._pdq_meta))
        return self._pdq_matrix, self._thresholds  # type: ignore[return-value]

    def match(self, *, sha256: bytes | None = None, pdq: bytes | None = None, quality: int = 100) -> list[WorkMatch[Owner]]:
        found: list[WorkMatch[Owner]] = []
        if sha256 is not None:
            found.extend(WorkMatch(owner, index, "sha256") for owner, index in self._by_sha256.get(sha256, ()))
        if pdq is not None and quality >= MIN_QUERY_QUALITY and self._pdq_meta:
            matrix, thresholds = self._matrix()
            query = np.frombuffer(pdq, dtype=">u8").astype(np.uint64)
            distances = np.bitwise_count(matrix ^ query).sum(axis=1, dtype=np.int64)
            for row in np.flatnonzero(distances <= thresholds):
                owner, index, _ = self._pdq_meta[row]
                found.append(WorkMatch(owner, index, "pdq", int(distances[row])))
        return found
