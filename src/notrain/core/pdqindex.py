"""Exact Hamming-radius search over many PDQ hashes.

A repost check asks for *every* stored PDQ hash within distance r of a query
(r is a manifest's threshold: 31 by default, at most 48), so the answer must
be exact: no approximate nearest neighbours.  Two ways find the candidates,
and one exact distance check confirms them, so neither can add or lose a hit:

* **Multi-index hashing** (Norouzi, Punjani & Fleet, "Fast search in Hamming
  space with multi-index hashing", CVPR 2012).  The 256 bits are cut into 16
  chunks of 16 bits, each with a table from chunk value to the rows holding
  it.  Write r = 16a + b with 0 <= b < 16: a hash within r of the query has
  one of the chunks 0..b within a bits of the query's chunk, or one of the
  other chunks within a - 1 bits (otherwise the distance would be at least
  (b + 1)(a + 1) + (15 - b)a = r + 1).  At r = 31 that is 16 x 17 table
  probes; at r = 48, 697 + 15 x 137.
* **A scan** of the whole set, two 64-bit words at a time first: the rows
  whose first 128 bits already differ in more than r bits are dropped before
  the other two words are read.

Multi-index hashing looks at a few thousand rows of a million random hashes,
but many hashes sharing chunk values (near-duplicates, or a set made to be
adversarial) make its candidate lists long.  Their length is known from the
tables before anything is gathered, so a query whose candidates exceed 1/24
of the set (or ``CANDIDATE_BUDGET``) is scanned instead: the work per
query is never more than about one scan.  Small sets are always scanned, and
carry no tables.

FAISS's ``IndexBinaryMultiHash`` implements the same idea with hash maps;
measured here (bench/pdq_bench.py, 1 M hashes) it answers radius-31 queries
about 5x slower than this module, radius-48 ones 100x slower, builds 8x
slower and takes three times the memory, so notrain does not depend on it.

Memory: 32 bytes a hash, plus 64 bytes a hash (16 row tables of uint32) and
8 MiB of bucket offsets once the set has ``MIH_MIN_HASHES`` hashes or more.
The index is immutable; build a new one when the set changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

import numpy as np

PDQ_BYTES = 32
MIN_QUERY_QUALITY = 50  # spec/matching.md: lower-quality query hashes are never matched perceptually
MAX_RADIUS = 256  # any distance can be asked for; a manifest's threshold is at most 48 (spec/limits.md)
PROBE_MAX_RADIUS = 48  # beyond this the tables cannot beat a scan (bench/pdq_bench.py): scan
MAX_BATCH = 10_000  # query hashes per call: the API's batch size
MAX_HASHES = 2**32 - 1  # rows are numbered with uint32
MIH_MIN_HASHES = 32_768  # probing wins 1x at 8k hashes, 2x at 32k, 10x at 1M (bench/pdq_bench.py crossover)
SCAN_DIVISOR = 24  # a query with more than len/24 candidates is scanned: the measured break-even at 1M
CANDIDATE_BUDGET = 1 << 18  # candidate rows (and query x probe cells) handled at once: ~10 MiB of arrays
SCAN_CELLS = 1 << 20  # query x row cells compared at once when scanning a small set

_CHUNKS = 16
_CHUNK_VALUES = 1 << 16


class Matches(NamedTuple):
    """Hits of a batch, sorted by query then row: ``query[i]`` matched ``row[i]`` at ``distance[i]``."""

    query: np.ndarray
    row: np.ndarray
    distance: np.ndarray


def _words(hashes: bytes) -> np.ndarray:
    """Hashes (32 bytes each, most significant bit first) as a (4, n) array of uint64 words."""
    if len(hashes) % PDQ_BYTES:
        raise ValueError("PDQ hashes are 32 bytes each")
    return np.ascontiguousarray(np.frombuffer(hashes, dtype=">u8").reshape(-1, 4).T.astype(np.uint64))


def _chunks(hashes: bytes) -> np.ndarray:
    """Hashes as an (n, 16) array of their 16-bit chunks."""
    return np.frombuffer(hashes, dtype=">u2").reshape(-1, _CHUNKS).astype(np.int64)


def _joined(hashes: bytes | Sequence[bytes]) -> bytes:
    if isinstance(hashes, (bytes, bytearray, memoryview)):
        return bytes(hashes)
    if any(len(h) != PDQ_BYTES for h in hashes):
        raise ValueError("PDQ hashes are 32 bytes each")
    return b"".join(hashes)


@lru_cache(maxsize=1)
def _masks_by_weight() -> tuple[np.ndarray, np.ndarray]:
    """All 16-bit masks ordered by popcount, and how many have popcount <= k."""
    masks = np.arange(_CHUNK_VALUES, dtype=np.uint16)
    weights = np.bitwise_count(masks)
    order = np.argsort(weights, kind="stable")
    return masks[order].astype(np.int64), np.cumsum(np.bincount(weights, minlength=_CHUNKS + 1))


@lru_cache(maxsize=PROBE_MAX_RADIUS + 1)
def probes(radius: int) -> tuple[np.ndarray, np.ndarray]:
    """(chunk, mask) pairs to look up for ``radius``: the query's chunk XOR mask, per the pigeonhole above."""
    masks, up_to = _masks_by_weight()
    a, b = divmod(radius, _CHUNKS)
    chunk_list, mask_list = [], []
    for chunk in range(_CHUNKS):
        weight = a if chunk <= b else a - 1
        if weight >= 0:
            count = int(up_to[weight])
            chunk_list.append(np.full(count, chunk, dtype=np.int64))
            mask_list.append(masks[:count])
    return np.concatenate(chunk_list), np.concatenate(mask_list)


def _check_radius(radius: int) -> None:
    if not isinstance(radius, int) or isinstance(radius, bool) or not 0 <= radius <= MAX_RADIUS:
        raise ValueError(f"radius must be an integer from 0 to {MAX_RADIUS}")


class PdqIndex:
    """An immutable set of PDQ hashes, numbered 0..n-1 in the order given."""

    def __init__(self, hashes: bytes | Sequence[bytes]) -> None:
        raw = _joined(hashes)
        self._n = len(raw) // PDQ_BYTES
        if self._n > MAX_HASHES:
            raise ValueError(f"at most {MAX_HASHES} hashes")
        self._words = _words(raw)
        self._rows: np.ndarray | None = None  # (16 * n,) uint32: rows sorted by chunk value, chunk after chunk
        self._offsets: np.ndarray | None = None  # (16, 65537): where each chunk value's rows start in _rows
        if self._n >= MIH_MIN_HASHES:
            self._build_tables(np.frombuffer(raw, dtype=">u2").reshape(-1, _CHUNKS))  # no int64 copy of a big set

    def _build_tables(self, chunks: np.ndarray) -> None:
        n = self._n
        rows = np.empty(_CHUNKS * n, dtype=np.uint32)
        offsets = np.zeros((_CHUNKS, _CHUNK_VALUES + 1), dtype=np.int64)
        for chunk in range(_CHUNKS):
            values = chunks[:, chunk].astype(np.uint16)
            rows[chunk * n : (chunk + 1) * n] = np.argsort(values, kind="stable")  # a radix sort for uint16
            np.cumsum(np.bincount(values, minlength=_CHUNK_VALUES), out=offsets[chunk, 1:])
        self._rows, self._offsets = rows, offsets

    def __len__(self) -> int:
        return self._n

    @property
    def nbytes(self) -> int:
        """Bytes held by the index's arrays."""
        return sum(a.nbytes for a in (self._words, self._rows, self._offsets) if a is not None)

    # -- queries ------------------------------------------------------------------------

    def search(self, query: bytes, radius: int, *, quality: int = 100) -> tuple[np.ndarray, np.ndarray]:
        """Rows within ``radius`` of ``query`` (ascending) and their distances.

        A query of ``quality`` below 50 matches nothing (spec/matching.md).
        """
        if len(query) != PDQ_BYTES:
            raise ValueError("a PDQ hash is 32 bytes")
        found = self.search_many(query, radius, qualities=[quality])
        return found.row, found.distance

    def search_many(self, queries: bytes | Sequence[bytes], radius: int, *, qualities: Sequence[int] | None = None) -> Matches:
        """Every (query, row) pair within ``radius``; at most ``MAX_BATCH`` queries.

        ``qualities`` gives each query's PDQ quality (default 100 for all);
        queries below 50 match nothing.
        """
        _check_radius(radius)
        raw = _joined(queries)
        count = len(raw) // PDQ_BYTES
        if count > MAX_BATCH:
            raise ValueError(f"at most {MAX_BATCH} query hashes per call")
        words, chunks = _words(raw), _chunks(raw)
        live = np.arange(count)
        if qualities is not None:
            quality = np.asarray(qualities, dtype=np.int64)
            if quality.shape != (count,) or np.any((quality < 0) | (quality > 100)):
                raise ValueError("one quality from 0 to 100 per query")
            live = live[quality >= MIN_QUERY_QUALITY]
        if self._n == 0 or live.size == 0:
            return _empty()
        costs = self.cost(chunks[live], radius)
        scanned, probed = live[costs == self._n], live[costs < self._n]
        parts = [self._scan(words, scanned, radius), self._probe(words, chunks, probed, radius)]
        return _sorted(parts)

    def cost(self, chunks: np.ndarray, radius: int) -> np.ndarray:
        """Rows each query would examine: its candidate count, or n where it is scanned.

        ``chunks`` is (k, 16) as from the queries' 16-bit chunks.  This is the
        plan :meth:`search_many` follows, exposed so its bound can be tested.
        """
        if self._rows is None or radius > PROBE_MAX_RADIUS:
            return np.full(len(chunks), self._n, dtype=np.int64)
        per_group = max(1, CANDIDATE_BUDGET // len(probes(radius)[0]))
        total = np.concatenate([np.zeros(0, dtype=np.int64)] + [
            self._bucket_lengths(chunks[start : start + per_group], radius).sum(axis=1) for start in range(0, len(chunks), per_group)
        ])
        limit = min(self._n // SCAN_DIVISOR, CANDIDATE_BUDGET)
        return np.where(total > limit, self._n, total)

    def _bucket_lengths(self, chunks: np.ndarray, radius: int) -> np.ndarray:
        chunk_of, mask = probes(radius)
        values = chunks[:, chunk_of] ^ mask
        return self._offsets[chunk_of, values + 1] - self._offsets[chunk_of, values]  # type: ignore[index]

    def _probe(self, words: np.ndarray, chunks: np.ndarray, queries: np.ndarray, radius: int) -> Matches:
        """Multi-index hashing for ``queries``, gathering at most CANDIDATE_BUDGET rows at a time."""
        chunk_of, mask = probes(radius)
        per_group = max(1, CANDIDATE_BUDGET // len(chunk_of))  # bounds the (queries x probes) arrays too
        found = []
        for start in range(0, len(queries), per_group):
            group = queries[start : start + per_group]
            values = chunks[group][:, chunk_of] ^ mask
            begin = self._offsets[chunk_of, values] + chunk_of * self._n  # type: ignore[index]
            length = self._offsets[chunk_of, values + 1] - self._offsets[chunk_of, values]  # type: ignore[index]
            totals = np.cumsum(length.sum(axis=1))
            first = 0
            while first < len(group):  # split where the candidates of a run of queries exceed the budget
                base = totals[first - 1] if first else 0
                last = max(first + 1, int(np.searchsorted(totals, base + CANDIDATE_BUDGET, side="right")))
                found.append(self._gather(words, group[first:last], begin[first:last], length[first:last], radius))
                first = last
        return _sorted(found)

    def _gather(self, words: np.ndarray, queries: np.ndarray, begin: np.ndarray, length: np.ndarray, radius: int) -> Matches:
        length = length.ravel()
        ends = np.cumsum(length)
        total = int(ends[-1]) if len(ends) else 0
        positions = np.repeat(begin.ravel() - (ends - length), length) + np.arange(total)
        rows = np.take(self._rows, positions).astype(np.int64)  # type: ignore[arg-type]
        owners = np.repeat(queries, length.reshape(len(queries), -1).sum(axis=1))
        return self._confirm(words, owners, rows, radius)

    def _scan(self, words: np.ndarray, queries: np.ndarray, radius: int) -> Matches:
        """Compare ``queries`` with every row: first two words for all, the rest for survivors.

        Large sets are scanned one query at a time over contiguous word
        columns (twice as fast as a 2-D broadcast); small sets take many
        queries per step, so that the per-call overhead is shared.
        """
        n, found = self._n, []
        block = max(1, SCAN_CELLS // max(n, 1)) if n < MIH_MIN_HASHES else 1
        for start in range(0, len(queries), block):
            group = queries[start : start + block]
            if block == 1:
                partial = np.bitwise_count(self._words[0] ^ words[0, group[0]])  # at most 128: fits uint8
                partial += np.bitwise_count(self._words[1] ^ words[1, group[0]])
                rows = np.flatnonzero(partial <= radius)
                who = np.zeros(len(rows), dtype=np.int64)
            else:
                partial = np.bitwise_count(self._words[0] ^ words[0, group][:, None])
                partial += np.bitwise_count(self._words[1] ^ words[1, group][:, None])
                who, rows = np.nonzero(partial <= radius)
            found.append(self._confirm(words, group[who], rows, radius))
        return _sorted(found)

    def _confirm(self, words: np.ndarray, queries: np.ndarray, rows: np.ndarray, radius: int) -> Matches:
        """Exact distances of candidate (query, row) pairs; keeps those within radius, once each."""
        distance = np.zeros(len(rows), dtype=np.uint16)  # up to 256: too wide for uint8
        for w in range(4):  # np.take: ~1.5x faster than fancy indexing on these random reads
            distance += np.bitwise_count(np.take(self._words[w], rows) ^ np.take(words[w], queries))
        keep = distance <= radius
        queries, rows, distance = queries[keep], rows[keep], distance[keep]
        key, first = np.unique(queries.astype(np.int64) * self._n + rows, return_index=True)  # a row may come from several chunks
        return Matches(key // self._n, key % self._n, distance[first].astype(np.int64))


def _empty() -> Matches:
    none = np.zeros(0, dtype=np.int64)
    return Matches(none, none, none)


def _sorted(parts: list[Matches]) -> Matches:
    parts = [p for p in parts if len(p.row)]
    if not parts:
        return _empty()
    if len(parts) == 1:
        return parts[0]
    query, row, distance = (np.concatenate(column) for column in zip(*parts))
    order = np.lexsort((row, query))
    return Matches(query[order], row[order], distance[order])
