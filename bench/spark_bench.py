"""The dataset filter on Spark local[2] vs the single-process CLI (issue 10 §6, last baseline).

filter_bench.py's synthetic LAION-like rows (URL + caption; URLs over 200,000 origins, Zipf 1.3; 2,000
origins with path rules; names in 0.2 % of captions), written as 8 parquet shards, against a real signed
bundle of the same manifests.  Interleaved rounds (bench/_harness.py), wall time from start to the last
file written, each side loading and verifying the bundle itself:

* `notrain filter` in one process (a subprocess of this script): the shards in, kept + refused parquet out;
* Spark `local[2]` (its JVM started once, before the rounds): `filter_dataframe` over `spark.read.parquet`,
  the decided rows persisted, kept and refused rows written as parquet.  Arrow batches of 65,536 rows,
  as the CLI's;
* Spark's floor: the same read, an identity `mapInArrow` and one parquet write of every row, no
  decisions: what Spark costs here before the filter does anything.

Spark's figure includes its scheduling, the JVM <-> Python Arrow transfer and its parquet I/O: the ratio
says what two cores buy end to end, not the batch core's own speed (filter_bench.py has that).
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROWS = int(os.environ.get("SPARK_BENCH_ROWS", "1000000"))
os.environ["FILTER_BENCH_ROWS"] = str(ROWS)  # filter_bench builds its dataset at this size
sys.path.insert(0, str(Path(__file__).parent))
import pyarrow.parquet as pq
from _harness import interleave, machine, median, paired_ratio, spread
from filter_bench import NAMES_EACH, ORIGINS, PEOPLE, RULE_ORIGINS, dataset, manifest

from notrain.core import MANIFEST_TYPE, dsse, make_keyset
from notrain.core.keys import PrivateKey
from notrain.fetch.sources import LocalSource, bundle
from notrain.filter import Columns

SHARDS = 8


def signed_bundle(path: Path, rng: random.Random) -> list[str]:
    """filter_bench's manifests, signed (sites with their key sets, people with did:key); the names."""
    entries, names = [], []
    paths = [{"pattern": "/public/", "prefs": {"train-ai": "y"}}, {"pattern": "/*.png$", "prefs": {"train-ai": "n"}}]
    for o in range(RULE_ORIGINS):
        site, key = f"https://img{o * (ORIGINS // RULE_ORIGINS) + 37}.cdn.example", PrivateKey.from_seed(b"site%28d" % o)
        entries.append({"envelope": dsse.sign(manifest(site, paths=paths), MANIFEST_TYPE, [key]).to_json(),
                        "keyset": make_keyset(site, [key.public]).to_json()})
    for p in range(PEOPLE):
        key = PrivateKey.from_seed(b"person%26d" % p)
        own = [f"{rng.choice(['mira', 'jo', 'sam'])} {rng.randrange(10**6):x}artist{p}_{k}" for k in range(NAMES_EACH)]
        names += own
        entries.append({"envelope": dsse.sign(manifest(key.public.did_key, names=[{"name": n} for n in own]), MANIFEST_TYPE, [key]).to_json()})
    path.write_bytes(bundle(entries))
    return names


def main() -> None:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark import StorageLevel
    from pyspark.sql import SparkSession

    from notrain.filter.engines.spark import filter_dataframe

    print(f"# spark_bench: {ROWS:,} rows in {SHARDS} parquet shards, {ORIGINS:,} origins ({RULE_ORIGINS:,} with rules), "
          f"{PEOPLE * NAMES_EACH:,} names; {machine()}")
    spark = (SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false").config("spark.driver.host", "127.0.0.1")
             .config("spark.driver.bindAddress", "127.0.0.1").config("spark.driver.memory", "2g")
             .config("spark.sql.execution.arrow.maxRecordsPerBatch", "65536").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    notrain = str(Path(sys.executable).with_name("notrain"))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rng = random.Random(1)
        names = signed_bundle(work / "bundle.json", rng)
        table = dataset(rng, names)
        (work / "in").mkdir()
        step = -(-ROWS // SHARDS)
        for k in range(SHARDS):
            pq.write_table(table.slice(k * step, step), work / "in" / f"part-{k}.parquet", row_group_size=65536)
        counts = {}

        def cli() -> int:
            shutil.rmtree(work / "cli", ignore_errors=True)
            subprocess.run([notrain, "filter", str(work / "in"), "--bundle", str(work / "bundle.json"), "--out", str(work / "cli"),
                            "--caption-col", "caption"], check=True, capture_output=True)
            counts["cli"] = sum(pq.read_metadata(p).num_rows for p in (work / "cli").glob("part-?.parquet"))
            return ROWS

        def on_spark() -> int:
            shutil.rmtree(work / "spark", ignore_errors=True)
            filtered = filter_dataframe(spark.read.parquet(str(work / "in")), LocalSource(work / "bundle.json"), columns=Columns(caption="caption"))
            filtered.decided.persist(StorageLevel.MEMORY_AND_DISK)
            filtered.kept.write.parquet(str(work / "spark" / "kept"))
            filtered.rejected.write.parquet(str(work / "spark" / "rejected"))
            filtered.decided.unpersist()
            counts["spark"] = pq.read_table(work / "spark" / "kept").num_rows
            return ROWS

        def spark_floor() -> int:
            shutil.rmtree(work / "floor", ignore_errors=True)
            frame = spark.read.parquet(str(work / "in"))
            frame.mapInArrow(lambda batches: batches, frame.schema).write.parquet(str(work / "floor"))
            return ROWS

        wall = interleave({"notrain filter, 1 process": cli, "Spark local[2]": on_spark, "Spark floor": spark_floor}, rounds=3)
    spark.stop()
    assert counts["cli"] == counts["spark"], counts
    print(f"kept {counts['cli']:,} of {ROWS:,} rows on both\n")
    print("| case | wall ns/row | rows/s |")
    print("|---|---:|---:|")
    for name, values in wall.items():
        print(f"| {name} | {median(values):,.0f} {spread(values)} | {1e9 / median(values):,.0f} |")
    ratio = paired_ratio(wall["notrain filter, 1 process"], wall["Spark local[2]"])
    floor = paired_ratio(wall["Spark local[2]"], wall["Spark floor"])
    print(f"\nSpark local[2] vs the single-process CLI: {ratio:.2f}x the rows per second (wall, paired rounds)")
    print(f"Spark local[2] vs its floor (same read and write, no decisions): {floor:.2f}x the time")


if __name__ == "__main__":
    main()
