"""Snapshot filters (spec/snapshot.md): size, false positives, batch lookups and build time.

    .venv/bin/python bench/snapshot_bench.py            # 1 M keys, ~2 min
    .venv/bin/python bench/snapshot_bench.py --large    # also 10 M keys, ~2 GB at peak

Baselines, measured in the same run: a Python ``set`` of the same keys (build, and ``key in set`` over
the batch) and ``np.isin`` against the sorted keys (an exact vectorised lookup, 64 bits a key).  The
goals of issue 9: at most 18.5 bits a key at a false-positive rate of at most 2^-16.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import interleave, machine, median, paired_ratio, spread  # noqa: E402

from notrain.core import parse_payload  # noqa: E402
from notrain.core.snapshot import Logged, build, load  # noqa: E402
from notrain.core.snapshotfilter import FuseFilter, build as build_filter  # noqa: E402

BATCH = 1_000_000
FPR_GOAL, BITS_GOAL = 2**-16, 18.5


def seconds(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def filter_figures(n: int, rng: np.random.Generator) -> dict:
    keys = rng.integers(0, 2**64, n, dtype=np.uint64)
    tracemalloc.start()
    start = time.perf_counter()
    data = build_filter(keys)
    build_s = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    as_list = keys.tolist()
    set_s = seconds(lambda: set(as_list))
    fuse = FuseFilter(data)
    assert fuse.contains(keys).all(), "a false negative"
    probes = max(10_000_000, n)
    others = rng.integers(0, 2**64, probes, dtype=np.uint64)
    hits = sum(int(fuse.contains(others[i:i + BATCH]).sum()) for i in range(0, probes, BATCH))
    return {"n": n, "bits": fuse.bits_per_key, "fpr": hits / probes, "probes": probes, "build_s": build_s,
            "set_s": set_s, "peak_mb": peak / 2**20, "fuse": fuse, "keys": keys}


def lookups(fuse: FuseFilter, keys: np.ndarray, rng: np.random.Generator) -> dict[str, list[float]]:
    """ns per key over a batch of a million, half of them members, for the filter and both baselines."""
    batch = np.concatenate([keys[:BATCH // 2], rng.integers(0, 2**64, BATCH // 2, dtype=np.uint64)])
    rng.shuffle(batch)
    members = set(keys.tolist())
    batch_list = batch.tolist()
    ordered = np.sort(keys)

    def in_set() -> int:
        found = [key in members for key in batch_list]
        return len(found)

    return interleave({
        "fuse filter (numpy batch)": lambda: fuse.contains(batch).size,
        "python set (key in set)": in_set,
        "np.isin, sorted keys": lambda: np.isin(batch, ordered, assume_unique=False).size,
    }, rounds=5)


def snapshot_build(works: int) -> tuple[float, float, int]:
    """Seconds to build and to load (checking everything) a snapshot of ``works`` works, 1,000 a manifest."""
    entries = []
    for p in range(works // 1000):
        listed = [{"sha256": hashlib.sha256(f"{p}/{w}".encode()).hexdigest()} for w in range(1000)]
        doc = {"notrain": 1, "publisher": f"https://site{p}.example", "sequence": 1, "issued": "2026-11-01T00:00:00Z",
               "expires": "2027-11-01T00:00:00Z", "default": {"train-ai": "n"}, "works": listed}
        entries.append(Logged(p, parse_payload(json.dumps(doc).encode())))
    root = hashlib.sha256(b"bench").digest()
    start = time.perf_counter()
    built = build(entries, log="bench.example/log", size=len(entries), root=root)
    build_s = time.perf_counter() - start
    load_s = seconds(lambda: load(built.descriptor, built.parts))
    return build_s, load_s, sum(map(len, built.parts.values()))


def main() -> None:
    sizes = [100_000, 1_000_000] + ([10_000_000] if "--large" in sys.argv else [])
    rng = np.random.default_rng(2026)
    print(f"# snapshot_bench ({machine()})\n")
    print("| keys | bits/key | measured FPR (non-keys probed) | FPR × 2^16 | build | Python set build | ratio | build peak |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    figures = []
    for n in sizes:
        f = filter_figures(n, rng)
        figures.append(f)
        print(f"| {n:,} | {f['bits']:.2f} | {f['fpr']:.2e} ({f['probes']:,}) | {f['fpr'] / FPR_GOAL:.2f} | {f['build_s']:.1f} s | "
              f"{f['set_s']:.2f} s | {f['build_s'] / f['set_s']:.1f}× | {f['peak_mb']:.0f} MiB |")
    million = next(f for f in figures if f["n"] == 1_000_000)
    ns = lookups(million["fuse"], million["keys"], rng)
    print("\nLookups, a batch of 1,000,000 keys (half members) against 1,000,000 keys, 5 interleaved rounds:\n")
    print("| lookup | ns/key | keys/s | vs Python set |")
    print("|---|---:|---:|---:|")
    base = ns["python set (key in set)"]
    for name, values in ns.items():
        print(f"| {name} | {median(values):.1f} {spread(values)} | {1e9 / median(values):,.0f} | {paired_ratio(base, values):.1f}× faster |")
    build_s, load_s, octets = snapshot_build(100_000)
    print(f"\nWhole snapshot of 100,000 works in 100 manifests: build {build_s:.1f} s, load with every check {load_s:.1f} s, "
          f"{octets / 2**20:.1f} MiB of parts (statements are most of it).")
    large = [f for f in figures if f["n"] >= 1_000_000]
    bits_ok = all(f["bits"] <= BITS_GOAL for f in large)
    # the FPR is a sample: allow 3 standard deviations of the count above 2^-16
    fpr_ok = all(f["fpr"] * f["probes"] <= FPR_GOAL * f["probes"] + 3 * (FPR_GOAL * f["probes"]) ** 0.5 for f in figures)
    faster = paired_ratio(base, ns["fuse filter (numpy batch)"]) > 1
    print(f"\ngoals: bits/key <= 18.5 at >= 1M keys {'PASS' if bits_ok else 'MISS'}; "
          f"FPR <= 2^-16 (within sampling noise) {'PASS' if fpr_ok else 'MISS'}; "
          f"batch lookups faster than a Python set {'PASS' if faster else 'MISS'}")


if __name__ == "__main__":
    main()
