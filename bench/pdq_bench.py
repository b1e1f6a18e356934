"""How fast is an exact PDQ radius search over a million hashes?

Run:  .venv/bin/python bench/pdq_bench.py        (5 to 15 minutes on a busy machine, ~1.5 GB of RAM; faiss-cpu optional)

subject:   ``PdqIndex.search`` (multi-index hashing, scan fallback), one query at
           a time, and ``PdqIndex.search_many`` for a batch.
baseline:  a NumPy brute-force scan of the same hashes: XOR and popcount of
           the four 64-bit words of every row, sum, compare (column-major, the
           fastest layout measured here).
also:      FAISS ``IndexBinaryMultiHash(256, nhash=16, b=16)`` with
           ``nflip = r // 16`` and ``range_search(radius=r + 1)`` (FAISS keeps
           distances strictly below the radius), when faiss is installed.
Every method's answers are checked against the baseline for every query.

Sets (1,000,000 hashes each): *uniform* random bits, the best case for
multi-index hashing; *clustered*: 50,000 base images with 20 near copies
each (about 0 to 24 bits flipped) and bit positions biased (each bit set with its
own probability from 0.3 to 0.7), which makes some chunk values common, as
in real collections.  Queries: half are stored hashes with 0 to r bits
flipped (they hit), half are unrelated random hashes.

Goal: radius-31 median latency <= 2 ms over 1 M hashes.
"""

from __future__ import annotations

import gc
import statistics
import sys
import time

import _harness as h
import numpy as np

from notrain.core import pdqindex
from notrain.core.pdqindex import PdqIndex

try:
    import faiss
except ImportError:  # optional: the comparison is skipped
    faiss = None

N = 1_000_000
QUERIES = 100
BATCH = 1_000
RADII = (31, 48)
ROUNDS = 4
GOAL_MS = 2.0
SLOW_S, SLOW_QUERIES = 10.0, 20  # a method whose exactness check took longer is timed on 20 queries


def uniform_set(rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, 256, size=(N, 32), dtype=np.uint8)


def clustered_set(rng: np.random.Generator) -> np.ndarray:
    bias = rng.uniform(0.3, 0.7, size=256)
    bases = rng.random((N // 20, 256)) < bias
    out = np.empty((N, 32), dtype=np.uint8)
    for start in range(0, N, 100_000):  # in blocks: 256 random floats a row
        bits = np.repeat(bases[start // 20 : (start + 100_000) // 20], 20, axis=0)
        rate = rng.integers(0, 25, size=(len(bits), 1)) / 256  # about 0 to 24 bits flipped
        out[start : start + len(bits)] = np.packbits(bits ^ (rng.random(bits.shape) < rate), axis=1)
    return out


def queries(stored: np.ndarray, radius: int, count: int, rng: np.random.Generator) -> np.ndarray:
    picked = stored[rng.integers(0, len(stored), count)].copy()
    bits = np.unpackbits(picked, axis=1).astype(bool)
    for row in range(count // 2):
        bits[row, rng.choice(256, size=rng.integers(0, radius + 1), replace=False)] ^= True
    bits[count // 2 :] = rng.random((count - count // 2, 256)) < 0.5
    return np.packbits(bits, axis=1)


def brute_search(words: np.ndarray, query: bytes, radius: int) -> np.ndarray:
    q = np.frombuffer(query, dtype=">u8").astype(np.uint64)
    distance = np.bitwise_count(words[0] ^ q[0]).astype(np.uint16)  # 256 would overflow uint8
    for w in (1, 2, 3):
        distance += np.bitwise_count(words[w] ^ q[w])
    return np.flatnonzero(distance <= radius)


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def latencies(search, qs: list[bytes]) -> list[float]:
    out = []
    for q in qs:
        start = time.perf_counter_ns()
        search(q)
        out.append((time.perf_counter_ns() - start) / 1e6)
    return out


def batch_of(search, qs: list[bytes]) -> h.Batch:
    def run() -> int:
        for q in qs:
            search(q)
        return len(qs)

    return run


def p99(values: list[float]) -> float:
    return sorted(values)[min(len(values) - 1, int(len(values) * 0.99))]


def run_set(name: str, stored: np.ndarray, rng: np.random.Generator, goals: list[tuple[str, bool]]) -> None:
    words = np.ascontiguousarray(stored.view(">u8").astype(np.uint64).T)
    raw = stored.tobytes()
    before = rss_bytes()
    start = time.perf_counter()
    index = PdqIndex(raw)
    build = time.perf_counter() - start
    print(f"\n## {name}: {N:,} hashes")
    print(f"PdqIndex build {build:.2f} s, {index.nbytes / N:.1f} bytes a hash (arrays), RSS +{(rss_bytes() - before) / N:.0f} B/hash")
    fx = None
    if faiss is not None:
        before = rss_bytes()
        start = time.perf_counter()
        fx = faiss.IndexBinaryMultiHash(256, 16, 16)
        fx.add(stored)
        print(f"FAISS MultiHash(16x16) build {time.perf_counter() - start:.2f} s, RSS +{(rss_bytes() - before) / N:.0f} B/hash")

    rows = []
    for radius in RADII:
        qs_array = queries(stored, radius, QUERIES, rng)
        qs = [bytes(q) for q in qs_array]
        truth = [brute_search(words, q, radius) for q in qs]
        assert all(np.array_equal(index.search(q, radius)[0], t) for q, t in zip(qs, truth)), "PdqIndex is not exact"
        subset: dict[str, list[bytes]] = {}
        methods = {
            "numpy brute force": lambda q, radius=radius: brute_search(words, q, radius),
            "PdqIndex.search": lambda q, radius=radius: index.search(q, radius),
        }
        if fx is not None:
            fx.nflip = radius // 16

            def faiss_search(q: bytes, fx=fx, radius=radius) -> np.ndarray:
                _, _, ids = fx.range_search(np.frombuffer(q, dtype=np.uint8).reshape(1, 32), radius + 1)
                return np.sort(ids)

            start = time.perf_counter()
            assert all(np.array_equal(faiss_search(q), t) for q, t in zip(qs, truth)), "FAISS range search is not exact"
            methods["FAISS MultiHash"] = faiss_search
            if time.perf_counter() - start > SLOW_S:  # timed on fewer queries, so the run ends
                subset["FAISS MultiHash"] = qs[:SLOW_QUERIES]
        cases = {m: batch_of(f, subset.get(m, qs)) for m, f in methods.items()}
        per_query = h.interleave(cases, rounds=ROUNDS)
        samples = {m: latencies(f, subset.get(m, qs)) for m, f in methods.items()}
        base = per_query["numpy brute force"]
        for m in methods:
            label = m if m not in subset else f"{m} ({SLOW_QUERIES} queries)"
            rows.append([f"r={radius}", label, f"{statistics.median(samples[m]):.3f}", f"{p99(samples[m]):.3f}",
                         f"{h.paired_ratio(base, per_query[m]):.1f}x", h.spread(per_query[m])])
        if radius == 31:
            goals.append((f"{name}: radius-31 median <= {GOAL_MS} ms", statistics.median(samples["PdqIndex.search"]) <= GOAL_MS))
        # batch throughput: one search_many call for BATCH queries vs single calls
        batch = queries(stored, radius, BATCH, rng).tobytes()
        start = time.perf_counter()
        found = index.search_many(batch, radius)
        elapsed = time.perf_counter() - start
        rows.append([f"r={radius}", f"search_many x{BATCH:,}", f"{elapsed / BATCH * 1e3:.3f}", "", f"{BATCH / elapsed:,.0f} q/s", f"{len(found.row)} hits"])
        gc.collect()
        print(h.table(["radius", "method", "median ms", "p99 ms", "speed vs brute", "noise"], rows), flush=True)
        rows = []


def crossover(rng: np.random.Generator) -> None:
    """Where the scan beats multi-index hashing: the constants MIH_MIN_HASHES and SCAN_DIVISOR."""
    print("\n## Crossover (uniform set): per-query ms, probing the tables vs scanning")
    rows = []
    for n, radius in ((8_192, 31), (32_768, 31), (131_072, 31), (N, 31), (N, 40), (N, 48)):
        stored = rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
        saved = pdqindex.MIH_MIN_HASHES
        pdqindex.MIH_MIN_HASHES = 0  # build the tables whatever n is
        index = PdqIndex(stored.tobytes())
        pdqindex.MIH_MIN_HASHES = saved
        qs = queries(stored, radius, 100, rng)
        words, chunks = pdqindex._words(qs.tobytes()), pdqindex._chunks(qs.tobytes())
        every = np.arange(len(qs))
        cases = {
            "probe": batch_of(lambda _, index=index, words=words, chunks=chunks, every=every, radius=radius: index._probe(words, chunks, every, radius), [b""]),
            "scan": batch_of(lambda _, index=index, words=words, every=every, radius=radius: index._scan(words, every, radius), [b""]),
        }
        times = h.interleave(cases, rounds=3)
        candidates = int(np.median(index._bucket_lengths(chunks, radius).sum(axis=1)))
        rows.append([f"{n:,}", radius, f"{candidates:,} ({candidates / n:.3f} n)", f"{h.median(times['probe']) / 1e6 / len(qs):.3f}",
                     f"{h.median(times['scan']) / 1e6 / len(qs):.3f}", f"{h.paired_ratio(times['scan'], times['probe']):.2f}"])
    print(h.table(["n", "radius", "median candidates", "probe ms", "scan ms", "scan/probe"], rows))


def main() -> None:
    print(f"# PDQ radius search ({h.machine()}, numpy {np.__version__}, faiss {faiss.__version__ if faiss else 'not installed'})")
    rng = np.random.default_rng(8)
    goals: list[tuple[str, bool]] = []
    run_set("uniform", uniform_set(rng), rng, goals)
    gc.collect()
    run_set("clustered", clustered_set(rng), rng, goals)
    gc.collect()
    if "--no-crossover" not in sys.argv:
        crossover(rng)
    print("\n" + "; ".join(f"{name}: {h.verdict(ok)}" for name, ok in goals))


if __name__ == "__main__":
    main()
