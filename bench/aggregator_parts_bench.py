"""A catalogue in parts at the aggregator: accepting it, and another process catching up with it, against
the verification and merging no one can skip.

    python bench/aggregator_parts_bench.py [--works 100000] [--parts 4] [--rounds 5]

Subjects, on real SQLite storage in a temporary directory:

* **accept**: ``Submissions.submit(envelope, parts=...)`` (a did:key artist's manifest uploaded with its
  parts, as ``POST /v1/manifests`` does with a form): verify, merge every part, log the parts and the
  manifest, then index the merged manifest (the query index's hook);
* **catch up**: ``Query.catch_up`` in a second index over the same database, once the sequencer has
  integrated the entries: what another process sharing the database does to answer alike (the manifest
  read back, its parts read back from their ``part`` entries, merged and indexed).

Baseline, in the same process and round: core's ``verify_manifest``, ``merge_part`` for every part and
``Catalog.add`` on the same bytes.  Each round submits the next sequence of the artist's catalogue (new
bytes, so nothing is deduplicated); the ratio is the median of the per-round ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from _harness import machine, median, paired_ratio, spread

from notrain.aggregator.ingest.submissions import Submissions
from notrain.aggregator.log.sequencer import LogSequencer
from notrain.aggregator.query import Query
from notrain.aggregator.storage import open_storage
from notrain.core import MANIFEST_TYPE, PrivateKey, dsse
from notrain.core.catalog import Catalog
from notrain.core.ijson import dumps
from notrain.core.manifest import merge_part
from notrain.core.note import NoteSigner
from notrain.core.verify import trusted_keys, verify_manifest

KEY = PrivateKey.from_seed(hashlib.sha256(b"aggregator parts bench").digest())
PUBLISHER = KEY.public.did_key
GOAL = 0.3  # issue 8 §9's goal for ingest against its bare cryptography, kept for catalogues in parts


def catalogue(sequence: int, works: int, parts: int) -> tuple[bytes, list[bytes]]:
    per_part = works // parts
    bodies = [dumps({"notrain-part": 1, "publisher": PUBLISHER, "sequence": sequence,
                     "works": [{"sha256": hashlib.sha256(f"{sequence} {p} {w}".encode()).hexdigest()} for w in range(per_part)]})
              for p in range(parts)]
    payload = json.dumps({"notrain": 1, "publisher": PUBLISHER, "sequence": sequence, "issued": "2026-11-01T00:00:00Z",
                          "expires": "2027-11-01T00:00:00Z", "default": {"train-ai": "n"},
                          "parts": [{"sha256": hashlib.sha256(b).hexdigest(), "size": len(b)} for b in bodies]}).encode()
    return dsse.sign(payload, MANIFEST_TYPE, [KEY]).to_bytes(), bodies


def baseline(envelope: bytes, bodies: list[bytes], catalog: Catalog) -> None:
    manifest = verify_manifest(envelope, publisher=PUBLISHER, keys=trusted_keys(PUBLISHER), now=datetime.now(UTC)).manifest
    for index, body in enumerate(bodies):
        manifest = merge_part(manifest, index, body)
    catalog.remove(PUBLISHER)
    catalog.add(manifest)


async def main(works: int, parts: int, rounds: int) -> None:
    signer = NoteSigner("bench.example/log", KEY)
    with tempfile.TemporaryDirectory() as directory:
        storage = await open_storage(f"sqlite:///{Path(directory) / 'bench.sqlite'}")
        try:
            query, other = await Query(storage).load(), await Query(storage).load()
            submissions = Submissions(storage, signer, max_merge_delay=60, fetch_keyset=None, on_accept=query.accepted)
            sequencer = LogSequencer(storage, signer, interval=0.05, batch_max=1024)
            timings: dict[str, list[float]] = {"baseline": [], "accept": [], "catch up": []}
            catalog = Catalog()
            print(f"building {rounds + 1} catalogues of {works} works in {parts} parts ...")
            documents = [catalogue(sequence, works, parts) for sequence in range(1, rounds + 2)]
            for number, (envelope, bodies) in enumerate(documents):
                steps = [("baseline", lambda: asyncio.to_thread(baseline, envelope, bodies, catalog)),
                         ("accept", lambda: submissions.submit(envelope, parts=bodies))]
                for name, step in steps if number % 2 == 0 else steps[::-1]:
                    start = time.perf_counter()
                    await step()
                    timings[name].append(time.perf_counter() - start)
                async with storage.sequencer() as held:
                    await sequencer.integrate_once(held)
                start = time.perf_counter()
                await other.catch_up()
                timings["catch up"].append(time.perf_counter() - start)
                assert len(other.catalog.get(PUBLISHER).works) == works // parts * parts
        finally:
            await storage.close()
    for name in timings:
        timings[name] = timings[name][1:]  # the first round warms caches
    print(f"{works} works in {parts} parts, did:key, SQLite; median of {rounds} rounds; {machine()}")
    print(f"  baseline (verify + merge + index): {median(timings['baseline']) * 1000:8.1f} ms {spread(timings['baseline'])}")
    ratios = {}
    for name in ("accept", "catch up"):
        ratios[name] = paired_ratio(timings["baseline"], timings[name])
        print(f"  {name:<33} {median(timings[name]) * 1000:8.1f} ms {spread(timings[name])}  ratio {ratios[name]:.2f} of the baseline's rate")
    verdicts = [f"{name} >= {GOAL} of the baseline's rate: {'PASS' if ratio >= GOAL else 'MISS'}" for name, ratio in ratios.items()]
    print("goals: " + "; ".join(verdicts))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--works", type=int, default=100_000)
    parser.add_argument("--parts", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.works, args.parts, args.rounds))
