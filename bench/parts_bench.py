"""How long a manifest with slow parts holds its origin: parts one at a time
(the fetcher before issue 7, the baseline) against ``PART_CONCURRENCY`` at a time.

    python bench/parts_bench.py [--parts 8] [--delay 0.5] [--rounds 3]

A real aiohttp site on 127.0.0.1 serves a signed manifest whose parts each
answer after ``--delay`` seconds; both fetchers run round after round,
alternating which goes first, and the ratio is the median of per-round ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import statistics
import time
from datetime import datetime, timezone

from aiohttp import web

from notrain.core import MANIFEST_TYPE, PrivateKey, dsse, make_keyset
from notrain.core.ijson import dumps
from notrain.fetch import manifests
from notrain.fetch.http import HttpClient
from notrain.fetch.manifests import FetchPolicy, ManifestFetcher, Status

os.environ["NOTRAIN_ALLOW_LOOPBACK"] = "1"  # the bench site is on 127.0.0.1
KEY = PrivateKey.from_seed(hashlib.sha256(b"parts bench").digest())


async def serve(parts: int, delay: float) -> tuple[web.AppRunner, str]:
    files: dict[str, bytes] = {}

    async def handle(request: web.Request) -> web.Response:
        body = files.get(request.path)
        if body is None:
            return web.Response(status=404)
        if request.path.startswith("/parts/"):
            await asyncio.sleep(delay)
        return web.Response(body=body)

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    origin = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    refs = []
    for i in range(parts):
        body = dumps({"notrain-part": 1, "publisher": origin, "sequence": 1, "works": [{"sha256": f"{i:02x}" * 32}]})
        files[f"/parts/{i}.json"] = body
        refs.append({"sha256": hashlib.sha256(body).hexdigest(), "size": len(body), "url": f"/parts/{i}.json"})
    payload = json.dumps({"notrain": 1, "publisher": origin, "sequence": 1, "issued": "2026-01-01T00:00:00Z",
                          "expires": "2027-01-01T00:00:00Z", "parts": refs}).encode()
    files["/.well-known/notrain.json"] = dsse.sign(payload, MANIFEST_TYPE, [KEY]).to_bytes()
    files["/.well-known/notrain-keys.json"] = dumps(make_keyset(origin, [KEY.public]).to_json())
    return runner, origin


async def load_once(origin: str, concurrency: int) -> float:
    manifests.PART_CONCURRENCY = concurrency
    async with HttpClient(timeout=30) as client:
        fetcher = ManifestFetcher(client, FetchPolicy(), now=lambda: datetime(2026, 6, 1, tzinfo=timezone.utc))
        start = time.perf_counter()
        state = await fetcher.state(origin)
        elapsed = time.perf_counter() - start
    assert state.status is Status.VERIFIED, state.error
    return elapsed


async def main(parts: int, delay: float, rounds: int) -> None:
    runner, origin = await serve(parts, delay)
    default = manifests.PART_CONCURRENCY
    try:
        sequential, concurrent = [], []
        for r in range(rounds):
            pair = [(sequential, 1), (concurrent, default)]
            for results, concurrency in pair if r % 2 == 0 else pair[::-1]:
                results.append(await load_once(origin, concurrency))
    finally:
        manifests.PART_CONCURRENCY = default
        await runner.cleanup()
    ratio = statistics.median(s / c for s, c in zip(sequential, concurrent))
    print(f"{parts} parts, each answering after {delay:g} s, median of {rounds} rounds")
    print(f"  one at a time (baseline): {statistics.median(sequential):6.2f} s")
    print(f"  {default} at a time:           {statistics.median(concurrent):6.2f} s")
    print(f"  speed-up: {ratio:.1f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", type=int, default=8)
    parser.add_argument("--delay", type=float, default=0.5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.parts, args.delay, args.rounds))
