"""PdqIndex: exact radius search, checked against a pure-Python Hamming distance.

The oracle is ``works.hamming`` (Python integers, no numpy), so a bug shared
by the index's table probing and its scan cannot hide.  Sets below
``MIH_MIN_HASHES`` are normally only scanned; ``build(..., tables=True)``
forces the multi-index tables so that both paths meet every case.
"""

from __future__ import annotations

import random
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notrain.core import pdqindex
from notrain.core.pdqindex import MAX_BATCH, MIH_MIN_HASHES, PdqIndex
from notrain.core.works import WorkIndex, hamming

ZERO, ONES = bytes(32), b"\xff" * 32


def build(hashes: list[bytes], *, tables: bool) -> PdqIndex:
    saved = pdqindex.MIH_MIN_HASHES
    pdqindex.MIH_MIN_HASHES = 0 if tables else len(hashes) + 1
    try:
        return PdqIndex(hashes)
    finally:
        pdqindex.MIH_MIN_HASHES = saved


def oracle(stored: list[bytes], query: bytes, radius: int) -> tuple[list[int], list[int]]:
    rows = [i for i, h in enumerate(stored) if hamming(h, query) <= radius]
    return rows, [hamming(stored[i], query) for i in rows]


def flip(value: bytes, bits: list[int]) -> bytes:
    number = int.from_bytes(value, "big")
    for bit in bits:
        number ^= 1 << (255 - bit)
    return number.to_bytes(32, "big")


def spread(per_chunk: list[int], rng: random.Random) -> list[int]:
    """Bit positions flipping ``per_chunk[c]`` bits inside each 16-bit chunk c."""
    return [16 * chunk + bit for chunk, count in enumerate(per_chunk) for bit in rng.sample(range(16), count)]


def even(distance: int, start: int = 0) -> list[int]:
    """``distance`` flips dealt round-robin over the chunks from ``start``: pigeonhole's tightest case."""
    counts = [0] * 16
    for k in range(distance):
        counts[(start + k) % 16] += 1
    return counts


def check(index: PdqIndex, stored: list[bytes], query: bytes, radius: int) -> None:
    rows, distances = index.search(query, radius)
    assert (rows.tolist(), distances.tolist()) == oracle(stored, query, radius)


@pytest.mark.parametrize("tables", [True, False])
@pytest.mark.parametrize("radius", [0, 1, 15, 16, 17, 31, 32, 47, 48])
def test_hashes_at_exactly_r_are_found_and_at_r_plus_1_are_not(tables, radius):
    rng = random.Random(radius)
    query = rng.randbytes(32)
    stored = [rng.randbytes(32) for _ in range(300)]
    for start in range(16):  # every rotation of the even spread, so each chunk is the one with fewest flips
        stored.append(flip(query, spread(even(radius, start), rng)))
        stored.append(flip(query, spread(even(radius + 1, start), rng)))
    index = build(stored, tables=tables)
    rows, distances = index.search(query, radius)
    assert len(rows) == 16 and set(distances.tolist()) == {radius}
    check(index, stored, query, radius)


@pytest.mark.parametrize("tables", [True, False])
def test_all_zero_all_one_and_duplicates(tables):
    rng = random.Random(1)
    stored = [ZERO, ONES, ZERO, ONES] + [rng.randbytes(32) for _ in range(50)] + [ZERO] * 20
    index = build(stored, tables=tables)
    for query in (ZERO, ONES):
        for radius in (0, 31, 48, 255, 256):
            check(index, stored, query, radius)  # 256 differing bits must not wrap around to 0
    rows, _ = index.search(ZERO, 0)
    assert rows.tolist() == [0, 2] + list(range(54, 74))


@pytest.mark.parametrize("tables", [True, False])
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_agrees_with_brute_force(tables, data):
    seed = data.draw(st.integers(0, 2**32 - 1))
    rng = random.Random(seed)
    radius = data.draw(st.one_of(st.integers(0, 48), st.integers(49, 256)))
    query = rng.randbytes(32)
    stored = [rng.randbytes(32) for _ in range(data.draw(st.integers(0, 40)))]
    for _ in range(data.draw(st.integers(0, 40))):  # near the query, flips placed chunk by chunk
        counts = data.draw(st.lists(st.integers(0, 4), min_size=16, max_size=16))
        stored.append(flip(query, spread(counts, rng)))
    stored += data.draw(st.lists(st.sampled_from(stored), max_size=5)) if stored else []  # duplicates
    index = build(stored, tables=tables)
    check(index, stored, query, radius)
    queries = [query, rng.randbytes(32)] + stored[:3]
    found = index.search_many(queries, radius)
    expected = [(q, r) for q, value in enumerate(queries) for r in oracle(stored, value, radius)[0]]
    assert list(zip(found.query.tolist(), found.row.tolist())) == expected
    assert found.distance.tolist() == [hamming(queries[q], stored[r]) for q, r in expected]


def test_large_set_uses_the_tables_and_stays_exact():
    rng = np.random.default_rng(5)
    n = MIH_MIN_HASHES + 1000
    raw = rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
    stored = [bytes(row) for row in raw]
    index = PdqIndex(raw.tobytes())
    assert index.nbytes >= 96 * n  # words plus 16 row tables
    picked = random.Random(2)
    queries = [flip(stored[i], picked.sample(range(256), picked.randrange(0, 40))) for i in range(0, n, n // 40)]
    found = index.search_many(queries, 31)
    for q, query in enumerate(queries):
        assert found.row[found.query == q].tolist() == oracle(stored, query, 31)[0]


def test_empty_index_and_empty_batch():
    index = PdqIndex(b"")
    assert len(index) == 0
    rows, distances = index.search(ZERO, 31)
    assert rows.size == 0 and distances.size == 0
    assert PdqIndex([ZERO]).search_many([], 31).row.size == 0


def test_refuses_bad_input():
    index = PdqIndex([ZERO])
    with pytest.raises(ValueError):
        index.search(b"\x00" * 31, 31)
    with pytest.raises(ValueError):
        PdqIndex(b"\x00" * 33)
    for radius in (-1, 257, True, 3.0):
        with pytest.raises(ValueError):
            index.search(ZERO, radius)
    with pytest.raises(ValueError):
        index.search_many([ZERO] * (MAX_BATCH + 1), 31)
    assert index.search_many([ZERO] * MAX_BATCH, 31).row.size == MAX_BATCH
    for qualities in ([101], [-1], [50, 50]):
        with pytest.raises(ValueError):
            index.search_many([ZERO], 31, qualities=qualities)


@pytest.mark.parametrize("tables", [True, False])
def test_low_quality_queries_match_nothing(tables):
    index = build([ZERO, ONES], tables=tables)
    assert index.search(ZERO, 31, quality=49)[0].size == 0
    assert index.search(ZERO, 31, quality=50)[0].tolist() == [0]
    found = index.search_many([ZERO, ONES, ONES], 0, qualities=[100, 0, 50])
    assert list(zip(found.query.tolist(), found.row.tolist())) == [(0, 0), (2, 1)]


def test_work_per_query_is_never_more_than_a_scan():
    """Hashes sharing 15 of 16 chunks put every row in the query's buckets: the index scans instead."""
    rng = np.random.default_rng(3)
    n = MIH_MIN_HASHES
    raw = np.zeros((n, 32), dtype=np.uint8)
    raw[:, 30:] = rng.integers(0, 256, size=(n, 2), dtype=np.uint8)
    adversarial = PdqIndex(raw.tobytes())
    queries = raw[:50].tobytes()
    chunks = pdqindex._chunks(queries)
    for radius in (0, 31, 48):
        assert adversarial.cost(chunks, radius).tolist() == [n] * 50  # scanned, not n * 16 candidates
        found = adversarial.search_many(queries, radius)
        assert np.array_equal(np.bincount(found.query, minlength=50), [int((np.bitwise_count(raw[:, 30:] ^ raw[q, 30:]).sum(axis=1) <= radius).sum()) for q in range(50)])
    uniform = PdqIndex(rng.integers(0, 256, size=(n, 32), dtype=np.uint8).tobytes())
    costs = uniform.cost(pdqindex._chunks(rng.integers(0, 256, size=(200, 32), dtype=np.uint8).tobytes()), 31)
    assert costs.mean() < n / 50  # 272 buckets of n / 65,536 rows each, on average


def test_memory_of_a_full_batch_is_bounded():
    rng = np.random.default_rng(4)
    n = MIH_MIN_HASHES
    raw = rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
    raw[: n // 4, :8] = 0  # a quarter of the set shares its first 4 chunks: queries among them are scanned
    index = PdqIndex(raw.tobytes())
    queries = np.concatenate([raw[rng.integers(0, n // 4, 100)], raw[rng.integers(0, n, MAX_BATCH - 100)]]).tobytes()
    tracemalloc.start()
    try:
        found = index.search_many(queries, 31)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20  # measured: ~18 MiB
    assert np.array_equal(np.unique(found.query), np.arange(MAX_BATCH))  # every query found its own row


def test_work_index_uses_one_index_per_threshold():
    """Catalog-level matching over many hashes with several manifests' thresholds, against the oracle."""
    rng = random.Random(9)
    base = [rng.randbytes(32) for _ in range(MIH_MIN_HASHES + 10)]
    works: WorkIndex[str] = WorkIndex()
    thresholds = {"a": 31, "b": 10, "c": 48}
    owners = list(thresholds)
    for i, value in enumerate(base):
        works.add(owners[i % 3], i, sha256=None, pdq=value, threshold=thresholds[owners[i % 3]])
    queries = [flip(base[i], rng.sample(range(256), rng.choice([5, 10, 11, 31, 32, 48, 49]))) for i in range(0, 300, 10)]
    batch = works.match_pdq_many(queries, [100] * len(queries))
    for query, hits in zip(queries, batch):
        expected = [(i, hamming(v, query)) for i, v in enumerate(base) if hamming(v, query) <= thresholds[owners[i % 3]]]
        assert [(hit.index, hit.distance) for hit in hits] == expected
        assert [hit.owner for hit in hits] == [owners[i % 3] for i, _ in expected]
        assert works.match(pdq=query) == hits
    assert works.match(pdq=queries[0], quality=49) == []


def test_work_index_adds_and_removes_without_rebuilding_the_big_index():
    rng = random.Random(11)
    works: WorkIndex[str] = WorkIndex()
    stored: dict[tuple[str, int], bytes] = {}
    for i in range(MIH_MIN_HASHES + 100):
        stored["big", i] = rng.randbytes(32)
        works.add("big", i, sha256=None, pdq=stored["big", i], threshold=31)
    probe_of = {key: flip(value, rng.sample(range(256), 20)) for key, value in list(stored.items())[:50]}

    def agrees() -> None:
        for query in list(probe_of.values())[:6] + [flip(v, rng.sample(range(256), 25)) for v in list(stored.values())[-6:]]:
            expected = sorted(key for key, value in stored.items() if hamming(value, query) <= 31)
            assert sorted((hit.owner, hit.index) for hit in works.match(pdq=query)) == expected

    agrees()
    built = works._built
    for owner in ("a", "b", "c"):
        for i in range(20):
            stored[owner, i] = rng.randbytes(32) if i % 2 else flip(probe_of["big", i], [0])
            works.add(owner, i, sha256=None, pdq=stored[owner, i], threshold=31)
    works.remove_owner("b")
    stored = {key: value for key, value in stored.items() if key[0] != "b"}
    agrees()
    assert works._built is built  # new and removed works did not rebuild the index of the big set
    assert len(works) == len(stored)
    works.remove_owner("big")  # most rows dead: compacted
    stored = {key: value for key, value in stored.items() if key[0] != "big"}
    agrees()
    assert len(works._pdq_rows) == len(stored) == 40
