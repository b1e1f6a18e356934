"""The dataset filter with a snapshot as its source vs a bundle's catalog (issue 10 §1), and what a receipt costs.

The same synthetic LAION-like rows and manifests as filter_bench.py (URL + caption; FILTER_BENCH_ROWS rows,
default 1 M here), and a SHA-256 column (1 row in 1,000 a listed work).  The snapshot is built from those
manifests by core's builder and loaded as ``notrain filter --snapshot`` loads it; interleaved in one run
(bench/_harness.py), per 65,536-row batch:

* URL + caption: ``BatchFilter.apply`` with the bundle's catalog (host probe, ``is_in``) vs with the snapshot
  (each distinct origin of the batch hashed and probed in the ``origins`` fuse filter, memoised);
* SHA-256 column: the catalog's ``is_in`` over all work digests vs the snapshot's ``works`` filter probe.

Then the receipt's extra pass: SHA-256 of the input parquet file and signing, against reading the file.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("FILTER_BENCH_ROWS", "1000000")
from _harness import interleave, machine, median, paired_ratio, spread
from filter_bench import BATCH, ROWS, catalog, dataset

from notrain.core.catalog import Catalog
from notrain.core.keys import PrivateKey
from notrain.core.manifest import parse_payload
from notrain.core.snapshot import Logged, build, load
from notrain.fetch.snapshot_source import SnapshotCatalog
from notrain.filter import BatchFilter, Columns
from notrain.filter.receipts import hash_file
from notrain.filter.sources import SnapshotPrefilter, SnapshotRules

WORKS = 100_000
NOW = datetime(2026, 12, 2, tzinfo=UTC)


def with_works(cat: Catalog, rng: random.Random) -> list[bytes]:
    """WORKS works listed by did:key artists, 10,000 each (a manifest is at most 1 MiB); their digests."""
    digests = [rng.randbytes(32) for _ in range(WORKS)]
    for a in range(0, WORKS, 10_000):
        artist = PrivateKey.from_seed(b"\xa5" * 28 + a.to_bytes(4, "big")).public.did_key
        works = ",".join(f'{{"sha256":"{d.hex()}"}}' for d in digests[a:a + 10_000])
        cat.add(parse_payload(('{"notrain":1,"publisher":"' + artist + '","sequence":1,"issued":"2026-11-01T00:00:00Z",'
                               '"expires":"2027-11-01T00:00:00Z","default":{"train-ai":"n"},"works":[' + works + "]}").encode()))
    return digests


def main() -> None:
    rng = random.Random(1)
    cat, names = catalog(rng)
    digests = with_works(cat, rng)
    table = dataset(rng, names)
    hashes = [digests[i % WORKS].hex() if i % 1000 == 0 else rng.randbytes(32).hex() for i in range(ROWS)]
    table = table.append_column("sha256", pa.array(hashes, pa.string()))
    batches = table.to_batches(max_chunksize=BATCH)
    start = time.process_time()
    built = build([Logged(i, m, frozenset(), frozenset()) for i, m in enumerate(cat.manifests())], log="bench.example/log",
                  size=len(cat), root=bytes(32))
    snapshot = load(built.descriptor, built.parts, full=True)
    loaded = time.process_time() - start
    print(f"# filter_snapshot_bench: {ROWS:,} rows, {len(cat):,} manifests, {WORKS:,} works; {machine()}")
    print(f"snapshot built and loaded (filters rebuilt) in {loaded:.1f} CPU-s; parts: "
          + ", ".join(f"{k} {len(v):,} B" for k, v in built.parts.items()))

    by_bundle = BatchFilter(cat)
    rules = SnapshotRules(SnapshotCatalog(snapshot, now=NOW), now=NOW)
    by_snapshot = BatchFilter(rules, prefilter=SnapshotPrefilter(snapshot))
    url_caption, sha = Columns(caption="caption"), Columns(sha256="sha256")
    answers: dict[str, list] = {}

    def case(name: str, core: BatchFilter, columns: Columns):
        def run() -> int:
            answers[name] = [core.apply(b, columns).column(0) for b in batches]
            return ROWS
        return run

    cases = {"bundle URL + caption": case("bundle URL + caption", by_bundle, url_caption),
             "snapshot URL + caption": case("snapshot URL + caption", by_snapshot, url_caption),
             "bundle SHA-256": case("bundle SHA-256", by_bundle, sha),
             "snapshot SHA-256": case("snapshot SHA-256", by_snapshot, sha)}
    wall = interleave(cases, rounds=3)
    for kind in ("URL + caption", "SHA-256"):
        same = all(a.equals(b) for a, b in zip(answers[f"bundle {kind}"], answers[f"snapshot {kind}"]))
        refused = sum(len(a) - a.true_count for a in answers[f"snapshot {kind}"])
        print(f"{kind}: same decisions from both sources: {same}; refused {refused:,}")
    print("\n| case | wall ns/row | rows/s |")
    print("|---|---:|---:|")
    for name in wall:
        print(f"| {name} | {median(wall[name]):,.0f} {spread(wall[name])} | {1e9 / median(wall[name]):,.0f} |")
    for kind in ("URL + caption", "SHA-256"):
        print(f"snapshot / bundle, {kind}: {paired_ratio(wall[f'snapshot {kind}'], wall[f'bundle {kind}']):.2f} (time per row, paired rounds)")

    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "in.parquet"
        pq.write_table(table, source, row_group_size=BATCH)
        size = source.stat().st_size

        def read() -> int:
            with open(source, "rb") as file:
                while file.read(1 << 20):
                    pass
            return size

        def hashed() -> int:
            hash_file(source)
            return size

        def decoded() -> int:
            pq.read_table(source, columns=["url", "caption"])
            return size

        io = interleave({"read the file": read, "SHA-256 of the file (receipt)": hashed, "parquet decode (url, caption)": decoded}, rounds=5)
    print(f"\ninput file {size / 1e6:,.0f} MB: read {1e3 / median(io['read the file']):,.0f} MB/s, SHA-256 "
          f"{1e3 / median(io['SHA-256 of the file (receipt)']):,.0f} MB/s, parquet decode {1e3 / median(io['parquet decode (url, caption)']):,.0f} MB/s; "
          f"receipt hashing / decoding the file: {paired_ratio(io['SHA-256 of the file (receipt)'], io['parquet decode (url, caption)']):.2f}")


if __name__ == "__main__":
    main()
