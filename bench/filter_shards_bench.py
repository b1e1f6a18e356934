"""filter-shards throughput (issue 10 §2): samples per second, against reading the tars alone and hashing alone.

One img2dataset-style shard of SAMPLES samples (a 256×256 JPEG, its .json and .txt; 5 % of images are
works of the source, 5 % of captions name an artist, 2 % carry XMP plus:DataMining), its parquet index and
stats.  Interleaved in one run (bench/_harness.py):

* read tars: the tar read sample by sample through the bounded reader (filter/tars.py), nothing decided;
* read + hash: the same, plus SHA-256 and PDQ of each image (notrain.imaging.hash_bytes): what any
  check by the image itself must pay;
* filter-shards: the whole shard run (hash, XMP and C2PA readers, the batch core, the tar, index and stats
  rewritten), on a fresh copy of the shard each round (the copy is timed too: a few MB);
* filter-shards, 2 workers: the same with ``--workers 2`` (spawning the two processes is timed too).

Per-sample figures are wall time (the run is single-threaded); the ratios are paired per round.
"""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).parent))
from _harness import interleave, machine, median, paired_ratio, spread, table

from notrain.core.catalog import Catalog
from notrain.core.ijson import dumps
from notrain.core.manifest import parse_payload
from notrain.filter import BatchFilter, shards
from notrain.filter.tars import read_samples
from notrain.imaging import HASHER, hash_bytes

SAMPLES = int(os.environ.get("SHARDS_BENCH_SAMPLES", "300"))
ROUNDS = int(os.environ.get("SHARDS_BENCH_ROUNDS", "5"))
XMP = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
       b'<rdf:Description xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/" '
       b'plus:DataMining="http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-AIMLTRAINING"/></rdf:RDF></x:xmpmeta>')


def image(rng: random.Random) -> Image.Image:
    picture = Image.new("RGB", (256, 256), tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(picture)
    for _ in range(10):
        x, y = rng.randrange(200), rng.randrange(200)
        draw.ellipse((x, y, x + rng.randrange(20, 120), y + rng.randrange(20, 120)), fill=tuple(rng.randrange(256) for _ in range(3)))
    return picture


def build(directory: Path) -> Catalog:
    """The shard, and a catalog of one artist listing 5 % of its images by SHA-256 or PDQ and a name."""
    rng = random.Random(7)
    works, rows = [], []
    with tarfile.open(directory / "00000.tar", "w") as tar:
        for n in range(SAMPLES):
            buffer = io.BytesIO()
            image(rng).save(buffer, "JPEG", quality=90, **({"xmp": XMP} if n % 50 == 7 else {}))
            data = buffer.getvalue()
            if n % 20 == 3:
                works.append({"sha256": hash_bytes(data).sha256.hex()} if n % 40 == 3 else {"pdq": hash_bytes(data).pdq.hex()})
            key = f"{n:09d}"
            caption = f"a picture by Ada Example {n}" if n % 20 == 11 else f"a picture {n}"
            meta = {"url": f"https://img{n % 97}.example/{key}.jpg", "caption": caption, "key": key, "status": "success",
                    "error_message": None, "sha256": hash_bytes(data).sha256.hex()}
            rows.append(meta)
            for ext, body in (("jpg", data), ("json", json.dumps(meta).encode()), ("txt", caption.encode())):
                info = tarfile.TarInfo(f"{key}.{ext}")
                info.size = len(body)
                tar.addfile(info, io.BytesIO(body))
    pq.write_table(pa.Table.from_pylist(rows), directory / "00000.parquet")
    (directory / "00000_stats.json").write_text(json.dumps({"count": SAMPLES, "successes": SAMPLES, "status_dict": {"success": SAMPLES}}))
    catalog = Catalog()
    catalog.add(parse_payload(dumps({"notrain": 1, "publisher": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
                                     "sequence": 1, "issued": "2026-11-01T00:00:00Z", "expires": "2027-11-01T00:00:00Z",
                                     "default": {"train-ai": "n"}, "works": works, "names": [{"name": "Ada Example"}],
                                     "pdq": {"hasher": HASHER, "threshold": 31}})))
    return catalog


class _Source:
    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def catalog(self) -> Catalog:
        return self._catalog

    def describe(self) -> dict:
        return {"kind": "bench"}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        original, work = Path(tmp) / "original", Path(tmp) / "run"
        original.mkdir()
        catalog = build(original)
        source, core = _Source(catalog), BatchFilter(catalog)

        def read_only() -> int:
            return sum(1 for _ in read_samples(original / "00000.tar"))

        def read_and_hash() -> int:
            for sample in read_samples(original / "00000.tar"):
                for _, data in sample.images():
                    hash_bytes(data)
            return SAMPLES

        def filter_shards(workers: int):
            def run() -> int:
                shutil.rmtree(work, ignore_errors=True)
                shutil.copytree(original, work)
                report = shards.run(source, core, work, options=shards.ShardOptions(workers=workers))
                assert report["rows"] == SAMPLES and report["rejected"] > 0
                return SAMPLES
            return run

        results = interleave({"read tars": read_only, "read + hash": read_and_hash, "filter-shards": filter_shards(1),
                              "filter-shards, 2 workers": filter_shards(2)}, rounds=ROUNDS)
        refused = json.loads((work / "notrain" / "notrain-report.json").read_text())
        print(f"filter_shards_bench: {SAMPLES} samples (256x256 JPEG), {ROUNDS} rounds; {machine()}")
        print(f"refused {refused['rejected']} of {refused['rows']}: {refused['by_reason']}")
        rows = [[name, f"{median(ns) / 1e3:,.0f}", f"{1e9 / median(ns):,.0f}", spread(ns)] for name, ns in results.items()]
        print(table(["case", "µs/sample", "samples/s", "spread"], rows))
        print(f"filter-shards / read tars: {paired_ratio(results['filter-shards'], results['read tars']):.1f}x the time; "
              f"filter-shards / read + hash: {paired_ratio(results['filter-shards'], results['read + hash']):.2f}x; "
              f"1 worker / 2 workers: {paired_ratio(results['filter-shards'], results['filter-shards, 2 workers']):.2f}x")


if __name__ == "__main__":
    main()
