"""datadiligence's own clients against bench/_registry.py on loopback (not part of the package).

filter_bench.py runs this with the Python of a separate venv where datadiligence is installed
(``python -m venv /tmp/dd && /tmp/dd/bin/pip install datadiligence``; FILTER_BENCH_DATADILIGENCE=/tmp/dd/bin/python):
datadiligence pulls c2pa-python, cryptography, pillow and requests, which notrain does not need.

    python _datadiligence_client.py bulk BASE_URL URL_FILE ROUNDS      # SpawningAPI: 10,000 URLs a request, 10 at once
    python _datadiligence_client.py headers BASE_URL URL_FILE ROUNDS   # XRobotsTagHeader: one GET per URL

Prints one JSON object: wall and CPU seconds (of this process) per round for each way of calling the client,
and how many URLs it allowed.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("SPAWNING_OPTS_KEY", "loopback")  # the client sends it; the stand-in ignores it

from datadiligence.rules import SpawningAPI, XRobotsTagHeader


def timed(call) -> tuple[float, float, int]:
    start, cpu = time.perf_counter(), time.process_time()
    allowed = call()
    return time.perf_counter() - start, time.process_time() - cpu, sum(allowed)


def main() -> None:
    mode, base, listing, rounds = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
    urls = listing.read_text().splitlines()
    runs: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    allowed = {}
    if mode == "bulk":
        api = SpawningAPI(chunk_size=10_000, max_concurrent_requests=10)
        api.SPAWNING_AI_API_URL = base + "/api/v2/query/urls/"
        cases = {"threads (is_allowed)": lambda: api.is_allowed(urls=urls),
                 "asyncio (is_allowed_async)": lambda: asyncio.run(api.is_allowed_async(urls=urls))}
    else:
        rule = XRobotsTagHeader()
        pool = ThreadPoolExecutor(16)
        cases = {"one at a time": lambda: [rule.is_allowed(url=u) for u in urls],
                 "16 threads": lambda: list(pool.map(lambda u: rule.is_allowed(url=u), urls))}
    for _ in range(rounds):
        for name, call in cases.items():
            seconds, cpu_seconds, allowed[name] = timed(call)
            runs.setdefault(name, []).append(seconds)
            cpu.setdefault(name, []).append(cpu_seconds)
    print(json.dumps({"urls": len(urls), "seconds": runs, "cpu": cpu, "allowed": allowed}))


if __name__ == "__main__":
    main()
