"""The aggregator's query API and ingest against bare baselines measured in the same run.

Run:  .venv/bin/python bench/aggregator_bench.py        (about a minute; temporary directories, loopback only)

The aggregator (``create_app``, SQLite) and a bare aiohttp server each run in a process of their own; the
load comes from this process, over 127.0.0.1.  The aggregator's index holds 10,000 origin manifests
(a default and two path rules each) and 1,000 did:key artists (10 works with PDQ hashes and a name each),
submitted through ingest in process before it starts (not timed).

1. single check   subject:  ``GET /v1/check?url=...&purpose=train-ai`` (a URL under a disallowed path of
                            one of the origins), ApacheBench (``ab``, from apache2-utils) with 64
                            keep-alive connections for 2 s;
                  baseline: a bare aiohttp handler answering a constant JSON object of the same size,
                            same clients;  goal: subject >= 0.5 x baseline's requests/s (issue 8).
2. batch          ``POST /v1/check`` of 10,000 URLs (a third of them disallowed), the body encoded once:
                  median time from send to the parsed answer;  goal: <= 100 ms.  For where the time
                  goes, also ``Query.check`` of the same items in process (no HTTP, no JSON), and the
                  request's and answer's sizes.  Then the common case: 10,000 URLs, 9 in 10 of origins
                  no manifest speaks for.
3. ingest         subject:  ``POST /v1/manifests`` of 1,000 signed did:key manifests (distinct artists),
                            16 concurrent clients: verify, store durably, sign a receipt;
                  baseline: bare Ed25519 verification of the same signatures (keys already loaded),
                            in this process;  goal: subject >= 0.3 x baseline's manifests/s (issue 8).
Rounds alternate subject and baseline; figures are medians of the rounds.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import random
import re
import shutil
import socket
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import _harness as h
import aiohttp

from notrain.core import dsse
from notrain.core.keys import PrivateKey, PublicKey
from notrain.core.manifest import MANIFEST_TYPE

ORIGINS, ARTISTS, WORKS = 10_000, 1_000, 10
CLIENTS, SECONDS, ROUNDS = 64, 2.0, 3
BATCH = 10_000
INGEST, INGEST_CLIENTS = 1_000, 16
NOW = datetime.now(UTC).replace(microsecond=0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def manifest(publisher: str, key: PrivateKey, **members) -> bytes:
    doc = {"notrain": 1, "publisher": publisher, "sequence": 1, "issued": (NOW - timedelta(days=1)).isoformat().replace("+00:00", "Z"),
           "expires": (NOW + timedelta(days=300)).isoformat().replace("+00:00", "Z"), **members}
    return dsse.sign(json.dumps(doc).encode(), MANIFEST_TYPE, [key]).to_bytes()


async def fill(data_dir: Path) -> None:
    """Submit the index's manifests through ingest, in process (setup, not measured); each origin's key set
    is handed over rather than fetched (the origins are not real)."""
    from notrain.aggregator.ingest.origins import ObservedKeyset
    from notrain.aggregator.ingest.submissions import Submissions
    from notrain.aggregator.storage import open_storage
    from notrain.core.keyset import make_keyset, parse_keyset
    from notrain.core.note import NoteSigner

    rng = random.Random(1)
    site_key = PrivateKey.generate()

    async def keyset(origin: str):
        data = json.dumps(make_keyset(origin, [site_key.public]).to_json()).encode()
        return ObservedKeyset(data, parse_keyset(data, origin), origin + "/.well-known/notrain-keys.json")

    storage = await open_storage(f"sqlite:///{data_dir}/aggregator.sqlite")
    ingest = Submissions(storage, NoteSigner("bench.example/log", PrivateKey.generate()), max_merge_delay=60, fetch_keyset=keyset)
    rules = [{"pattern": "/private/", "prefs": {"train-ai": "n"}}, {"pattern": "/drafts/*.png", "prefs": {"ai-use": "n"}}]
    envelopes = [manifest(f"https://site{i}.example", site_key, default={"train-ai": "y"}, paths=rules) for i in range(ORIGINS)]
    for _ in range(ARTISTS):
        key = PrivateKey.generate()
        works = [{"sha256": rng.randbytes(32).hex(), "pdq": rng.randbytes(32).hex()} for _ in range(WORKS)]
        envelopes.append(manifest(key.public.did_key, key, default={"train-ai": "n"}, pdq={"hasher": "bench"}, works=works,
                                  names=[{"name": f"Artist {rng.randrange(10**9)}"}]))
    for start in range(0, len(envelopes), 500):
        await asyncio.gather(*(ingest.submit(e) for e in envelopes[start : start + 500]))
    await storage.close()


def serve_aggregator(data_dir: str, port: int) -> None:
    from aiohttp import web

    from notrain.aggregator.app import create_app
    from notrain.aggregator.config import from_dict

    config = from_dict({"data_dir": data_dir, "log": {"origin": "bench.example/log"}, "submissions": {"per_minute": 100_000},
                        "server": {"host": "127.0.0.1", "port": port}})
    web.run_app(create_app(config), host="127.0.0.1", port=port, access_log=None, print=None)


def serve_bare(port: int, body: bytes) -> None:
    from aiohttp import web

    async def handle(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/v1/check", handle)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


async def wait_up(url: str) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(600):
            try:
                async with session.get(url) as response:
                    if response.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


async def hammer(url: str, seconds: float) -> float:
    """Requests/s of ApacheBench (C, so the load generator is not the bottleneck): CLIENTS keep-alive
    connections asking ``url`` for ``seconds``."""
    ab = await asyncio.create_subprocess_exec(
        shutil.which("ab") or "ab", "-q", "-k", "-c", str(CLIENTS), "-t", str(seconds), "-n", "10000000", url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await ab.communicate()
    found = re.search(rb"Requests per second:\s+([0-9.]+)", out)
    failed = re.search(rb"Non-2xx responses:\s+([0-9]+)", out)
    if found is None or failed is not None:
        raise SystemExit(f"ab failed on {url}: {(out + err).decode()[-500:]}")
    return float(found.group(1))


async def single_checks(aggregator: str, bare: str) -> tuple[list[float], list[float]]:
    query = "/v1/check?url=https%3A%2F%2Fsite7.example%2Fprivate%2Fa.png&purpose=train-ai"
    subject, baseline = [], []
    for r in range(ROUNDS + 1):
        order = [(aggregator, subject), (bare, baseline)]
        for base, into in order if r % 2 else order[::-1]:
            rate = await hammer(base + query, SECONDS)
            if r:  # the first round warms both up
                into.append(rate)
    return subject, baseline


def batch_items() -> list[dict]:
    return [{"url": f"https://site{i % ORIGINS}.example/{'private' if i % 3 == 0 else 'public'}/{i}.png"} for i in range(BATCH)]


def unlisted_items() -> list[dict]:
    """What a crawl or a dataset mostly asks about: URLs of origins no manifest speaks for (1 in 10 listed)."""
    return [{"url": f"https://{'site' if i % 10 == 0 else 'other'}{i}.example/img/{i}.png"} for i in range(BATCH)]


async def batch_check(aggregator: str, items: list[dict]) -> tuple[list[float], int, int, int]:
    """Times of POSTing ``items``, the disallowed answers, and the request's and the answer's sizes."""
    body = json.dumps({"items": items, "purposes": ["train-ai"]}).encode()
    times, disallowed, answered = [], 0, 0
    async with aiohttp.ClientSession(aggregator) as session:
        for r in range(ROUNDS * 2 + 1):
            start = time.perf_counter()
            async with session.post("/v1/check", data=body, headers={"Content-Type": "application/json"}) as response:
                raw = await response.read()
                answer = json.loads(raw)
            elapsed = time.perf_counter() - start
            if r:
                times.append(elapsed)
            disallowed = sum(1 for a in answer["results"] if a["decision"]["train-ai"]["state"] == "disallowed")
            answered = len(raw)
    return times, disallowed, len(body), answered


async def in_process_batch(data_dir: Path) -> list[float]:
    """``Query.check`` of the same 10,000 URLs without HTTP: the matching and decide() share of the time."""
    from notrain.aggregator.query import CheckItem, Query
    from notrain.aggregator.storage import open_storage

    storage = await open_storage(f"sqlite:///{data_dir}/aggregator.sqlite")
    try:
        query = await Query(storage).load()
        items = [CheckItem(url=item["url"]) for item in batch_items()]
        times = []
        for _ in range(ROUNDS * 2):
            start = time.perf_counter()
            await query.check(items, ("train-ai",))
            times.append(time.perf_counter() - start)
        return times
    finally:
        await storage.close()


def ingest_envelopes() -> list[tuple[bytes, PublicKey, bytes, bytes]]:
    """(envelope, key, signature, PAE) of INGEST distinct artists' manifests."""
    made = []
    for _ in range(INGEST):
        key = PrivateKey.generate()
        envelope = manifest(key.public.did_key, key, default={"train-ai": "n"}, names=[{"name": "Someone"}])
        parsed = dsse.parse(envelope)
        made.append((envelope, key.public, parsed.signatures[0].sig, dsse.pae(MANIFEST_TYPE, parsed.payload)))
    return made


async def ingest(aggregator: str, envelopes: list[bytes]) -> float:
    queue = list(envelopes)
    async with aiohttp.ClientSession(aggregator, connector=aiohttp.TCPConnector(limit=INGEST_CLIENTS)) as session:

        async def client() -> None:
            while queue:
                envelope = queue.pop()
                async with session.post("/v1/manifests", data=envelope, headers={"Content-Type": MANIFEST_TYPE}) as response:
                    body = await response.json()
                    assert response.status == 202, body

        start = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(INGEST_CLIENTS)))
        return len(envelopes) / (time.perf_counter() - start)


def bare_verify(made: list[tuple[bytes, PublicKey, bytes, bytes]]) -> float:
    start = time.perf_counter()
    for _, key, signature, message in made:
        assert key.verify(signature, message)
    return len(made) / (time.perf_counter() - start)


async def main() -> None:
    print(f"aggregator_bench: {h.machine()}, load average {os.getloadavg()[0]:.1f} (others share these cores)", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="notrain-aggregator-bench."))
    data_dir = workdir / "aggregator"
    data_dir.mkdir()
    await fill(data_dir)
    sample = json.dumps({"decision": {"train-ai": {"state": "disallowed", "allowed": False, "because": [
        {"publisher": "https://site1.example", "sequence": 1, "payload_sha256": "0" * 64, "entry": 1, "log_index": 0,
         "rule": "/paths/0", "detail": "", "prefs": {"train-ai": "disallowed"}}]}}}).encode()
    ports = free_port(), free_port()
    context = multiprocessing.get_context("spawn")
    servers = [context.Process(target=serve_aggregator, args=(str(data_dir), ports[0]), daemon=True),
               context.Process(target=serve_bare, args=(ports[1], sample), daemon=True)]
    for server in servers:
        server.start()
    aggregator, bare = (f"http://127.0.0.1:{p}" for p in ports)
    try:
        await wait_up(aggregator + "/healthz")
        await wait_up(bare + "/v1/check")
        subject, baseline = await single_checks(aggregator, bare)
        ratio = statistics.median(s / b for s, b in zip(subject, baseline))
        print(f"\n1. single check: {statistics.median(subject):,.0f}/s vs bare handler {statistics.median(baseline):,.0f}/s"
              f" ({CLIENTS} clients): ratio {ratio:.2f} (goal >= 0.5) {h.verdict(ratio >= 0.5)}")

        times, disallowed, sent, received = await batch_check(aggregator, batch_items())
        took = statistics.median(times) * 1000
        assert disallowed == len(range(0, BATCH, 3)), disallowed
        local = statistics.median(await in_process_batch(data_dir)) * 1000
        print(f"2. batch of {BATCH:,} URLs over HTTP: {took:.0f} ms (median of {len(times)}; {disallowed:,} disallowed);"
              f" goal <= 100 ms: {100 / took:.2f} x the goal's speed {h.verdict(took <= 100)}")
        print(f"   request {sent / 1e6:.2f} MB, answer {received / 1e6:.2f} MB;"
              f" of which Query.check in process (matching + decide(), no HTTP or JSON): {local:.0f} ms")
        times, disallowed, sent, received = await batch_check(aggregator, unlisted_items())
        took = statistics.median(times) * 1000
        print(f"   9 in 10 of origins without a manifest: {took:.0f} ms ({disallowed:,} disallowed; request {sent / 1e6:.2f} MB,"
              f" answer {received / 1e6:.2f} MB) {h.verdict(took <= 100)}")

        made = ingest_envelopes()
        half = INGEST // 2
        rates, bases = [], []
        for part in (made[:half], made[half:]):
            bases.append(bare_verify(part))
            rates.append(await ingest(aggregator, [m[0] for m in part]))
        ratio = statistics.median(r / b for r, b in zip(rates, bases))
        print(f"3. ingest: {statistics.median(rates):,.0f} manifests/s ({INGEST_CLIENTS} clients, HTTP, verified, stored durably,"
              f" receipted) vs bare Ed25519 verify {statistics.median(bases):,.0f}/s: ratio {ratio:.3f} (goal >= 0.3) {h.verdict(ratio >= 0.3)}")
    finally:
        for server in servers:
            server.terminate()
            server.join(10)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
