"""Dataset filter throughput (issue 10 §6, first step): rows per second per core, batch core vs a per-row loop.

A synthetic LAION-like dataset: ROWS rows of image URL + caption, URLs over ORIGINS origins (Zipf-like, as
image CDNs are), RULE_ORIGINS of which have a manifest with path rules (~1-2 % of rows), 100 people with 10
names each, 3 % of captions non-ASCII, 0.2 % naming someone.  Interleaved in one run (bench/_harness.py):

* batch core: BatchFilter.apply over 65,536-row record batches, URL + caption checks;
* per-row loop: decide(catalog.statements(url=..., text=...)) for each row of a 100,000-row slice: what a
  filter without the column pass would do.

Per core = rows per CPU-second of the process (Arrow kernels may use other threads; CPU time counts them all).
Then `notrain filter` end to end on the same rows written as parquet (read, filter, write kept and refused rows).
Goal: >= 1 M rows/s per core for URL + caption checks.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))
from _harness import interleave, machine, median, paired_ratio, spread

from notrain.core import decide
from notrain.core.catalog import Catalog
from notrain.core.ijson import dumps
from notrain.core.keys import PrivateKey
from notrain.core.manifest import parse_payload
from notrain.filter import BatchFilter, Columns
from notrain.filter.run import Options, filter_file

ROWS = int(os.environ.get("FILTER_BENCH_ROWS", "2000000"))
ORIGINS = 200_000
RULE_ORIGINS = 2_000
PEOPLE, NAMES_EACH = 100, 10
BATCH = 65_536
LOOP_ROWS = 100_000
WORDS = ["a", "photo", "of", "the", "cat", "dog", "red", "blue", "house", "garden", "portrait", "painting", "landscape", "with", "in", "on", "at", "sunset", "vintage", "poster", "illustration", "art", "digital", "print", "canvas", "wall", "modern", "abstract", "woman", "man", "child", "beach", "city", "night"]
ACCENTED = ["café", "naïve", "Zürich", "façade", "Ёлка", "東京の夜"]


def manifest(publisher: str, **members) -> bytes:
    return dumps({"notrain": 1, "publisher": publisher, "sequence": 1, "issued": "2026-11-01T00:00:00Z",
                  "expires": "2027-11-01T00:00:00Z", "default": {"train-ai": "n"}, **members})


def catalog(rng: random.Random) -> tuple[Catalog, list[str]]:
    cat = Catalog()
    for o in range(RULE_ORIGINS):
        paths = [{"pattern": "/public/", "prefs": {"train-ai": "y"}}, {"pattern": "/*.png$", "prefs": {"train-ai": "n"}}]
        cat.add(parse_payload(manifest(f"https://img{o * (ORIGINS // RULE_ORIGINS) + 37}.cdn.example", paths=paths)))
    names = []
    for p in range(PEOPLE):
        did = PrivateKey.from_seed(p.to_bytes(32, "big")).public.did_key
        own = [f"{rng.choice(['mira', 'jo', 'sam', 'lee', 'ana'])} {rng.randrange(10**6):x}artist{p}_{k}" for k in range(NAMES_EACH)]
        names += own
        cat.add(parse_payload(manifest(did, names=[{"name": n} for n in own])))
    return cat, names


def dataset(rng: random.Random, names: list[str]) -> pa.Table:
    np_rng = np.random.default_rng(7)
    origin = np.minimum(np_rng.zipf(1.3, ROWS), ORIGINS) - 1
    origin = (origin * 7919) % ORIGINS  # spread the popular ones over the id space
    urls = [f"https://img{o}.cdn.example/{'public/' if i % 3 == 0 else 'i/'}{i}.{'png' if i % 5 == 0 else 'jpg'}"
            for i, o in enumerate(origin.tolist())]
    captions = []
    for i in range(ROWS):
        words = rng.choices(WORDS, k=8)
        if i % 33 == 0:
            words.append(rng.choice(ACCENTED))
        if i % 500 == 0:
            words.append("by " + rng.choice(names).title())
        captions.append(" ".join(words))
    return pa.table({"url": urls, "caption": captions})


def main() -> None:
    rng = random.Random(1)
    print(f"# filter_bench: {ROWS:,} rows, {ORIGINS:,} origins ({RULE_ORIGINS:,} with rules), {PEOPLE * NAMES_EACH:,} names; {machine()}")
    cat, names = catalog(rng)
    table = dataset(rng, names)
    batches = table.to_batches(max_chunksize=BATCH)
    core = BatchFilter(cat)
    columns = Columns(caption="caption")
    loop_rows = table.slice(0, LOOP_ROWS).to_pylist()
    cpu: dict[str, list[float]] = {"batch core": [], "per-row loop": []}

    def run_core() -> int:
        start = time.process_time()
        refused = sum(len(b) - core.apply(b, columns).column(0).true_count for b in batches)
        cpu["batch core"].append((time.process_time() - start) * 1e9 / ROWS)
        run_core.refused = refused
        return ROWS

    def run_loop() -> int:
        start = time.process_time()
        for row in loop_rows:
            decide(cat.statements(url=row["url"], text=row["caption"]), categories=("train-ai",)).allowed("train-ai")
        cpu["per-row loop"].append((time.process_time() - start) * 1e9 / LOOP_ROWS)
        return LOOP_ROWS

    wall = interleave({"batch core": run_core, "per-row loop": run_loop}, rounds=3)
    ruled = sum(1 for u in table.column("url").to_pylist() if int(u[11:].split(".")[0]) % (ORIGINS // RULE_ORIGINS) == 37)
    print(f"rows from origins with rules: {ruled / ROWS:.1%}; refused {run_core.refused:,} of {ROWS:,} rows ({run_core.refused / ROWS:.1%})\n")
    print("| case | wall ns/row | CPU ns/row | rows/s per core |")
    print("|---|---:|---:|---:|")
    for name in wall:
        print(f"| {name} | {median(wall[name]):,.0f} {spread(wall[name])} | {median(cpu[name]):,.0f} | {1e9 / median(cpu[name]):,.0f} |")
    ratio = paired_ratio(wall["per-row loop"], wall["batch core"])
    print(f"\nbatch core vs per-row loop: {ratio:,.1f}x faster per row (wall, paired rounds)")

    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "in.parquet"
        pq.write_table(table, source, row_group_size=BATCH)
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        counts = filter_file(core, source, Path(tmp) / "out.parquet", Path(tmp) / "out.rejected.parquet", Options(columns))
        elapsed, cpu_s = time.perf_counter() - start_wall, time.process_time() - start_cpu
    print(f"notrain filter end to end (parquet in, kept + refused parquet out): {counts['rows'] / elapsed:,.0f} rows/s wall, "
          f"{counts['rows'] / cpu_s:,.0f} rows per CPU-second")
    per_core = 1e9 / median(cpu["batch core"])
    print(f"\nGOALS: batch core >= 1,000,000 rows/s per core (URL + caption): {'PASS' if per_core >= 1e6 else 'MISS'} ({per_core:,.0f})")


if __name__ == "__main__":
    main()
