"""Entries submitted and integrated per second through a real ``notrain serve`` process, against the raw
rate of its storage doing the same appends and integrations, in the same run.

Run:  .venv/bin/python bench/log_integration_bench.py [--batch 2000] [--rounds 5]   (~5 min on 2 cores, loopback)

One batch = ``--batch`` signed did:key manifest envelopes (about 700 bytes each, signed before timing).
  subject:  a ``notrain serve --config`` process on SQLite (checkpoint every 0.25 s, batches of up to 1,024
            entries): the envelopes POSTed to /v1/manifests 64 at a time over loopback (each verified with
            Ed25519, appended durably, answered with a signed receipt), timed until /log/checkpoint covers
            them all.
  baseline: the same storage backend opened in this process: the same number of log entries appended
            concurrently, then integrated the way the sequencer does it (core's tile computation, a
            signed checkpoint, one ``Sequencer.integrate`` per 1,024 entries): the storage's raw rate,
            without HTTP, verification, receipts or the sequencer's timer.
  context:  a bare aiohttp process answering each POST with a small JSON body and nothing else, driven by
            the same client: the ceiling of HTTP alone on this machine.
  goal:     >= 1,000 entries/s through the service on SQLite (issue 8; Tessera does ~2,900/s on 12 cores).
With PostgreSQL installed (Debian's binaries), the same pair runs on a throwaway cluster (fsync off), for
context.  The client runs on the same 2 shared cores as the server: its HTTP work is part of the figure.
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import hashlib
import json
import signal
import socket
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import _harness as h
import aiohttp

from notrain.aggregator.storage import Checkpoint, NewEntry, open_storage
from notrain.core import dsse
from notrain.core.checkpoint import Checkpoint as CheckpointBody
from notrain.core.checkpoint import parse_checkpoint, sign_checkpoint
from notrain.core.keys import PrivateKey
from notrain.core.logentry import Source, encode_entry
from notrain.core.manifest import MANIFEST_TYPE
from notrain.core.merkle import leaf_hash
from notrain.core.note import NoteSigner
from notrain.core.tiles import ENTRIES, integrate

CONCURRENCY = 64
SEQUENCER_BATCH = 1024
NOW = datetime(2026, 12, 2, tzinfo=UTC)


def envelopes(start: int, count: int) -> list[bytes]:
    made = []
    for n in range(start, start + count):
        key = PrivateKey.from_seed(hashlib.sha256(f"bench artist {n}".encode()).digest())
        doc = {"notrain": 1, "publisher": key.public.did_key, "sequence": 1, "issued": "2026-11-01T00:00:00Z",
               "expires": "2027-11-01T00:00:00Z", "default": {"train-ai": "n"}}
        made.append(dsse.sign(json.dumps(doc).encode(), MANIFEST_TYPE, [key]).to_bytes())
    return made


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A server process on a free loopback port, and a client session to it once /readyz answers."""

    def __init__(self, loop: asyncio.AbstractEventLoop, work: list[bytes], command: list[str]) -> None:
        self.loop, self.work, self.port = loop, work, free_port()
        self.process = subprocess.Popen([sys.executable, *command, str(self.port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{self.port}"
        self.session = loop.run_until_complete(self._connect())

    async def _connect(self) -> aiohttp.ClientSession:
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY))
        for _ in range(600):
            try:
                async with session.get(self.url + "/readyz") as response:
                    if response.status == 200:
                        return session
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.process.args} did not become ready")

    def close(self) -> None:
        self.loop.run_until_complete(self.session.close())
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(30)


class Service(Server):
    """A ``notrain serve`` process (its config names the port given as the last argument)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, directory: Path, storage_url: str, work: list[bytes]) -> None:
        directory.mkdir(parents=True)
        config = directory / "notrain.toml"
        config.write_text(
            f'data_dir = "{directory / "data"}"\n[storage]\nurl = "{storage_url}"\n'
            '[log]\norigin = "bench.test/log"\ncheckpoint_interval = 0.25\nbatch_max = 1024\nmax_pending = 1000000\n'
            "[submissions]\nper_minute = 100000\n"
        )
        super().__init__(loop, work, ["-m", "notrain.cli", "serve", "--config", str(config), "--port"])
        self.size = 0

    def batch(self, count: int) -> int:
        return self.loop.run_until_complete(self._submit_and_wait(count))

    async def _submit_and_wait(self, count: int) -> int:
        todo = [self.work.pop() for _ in range(count)]

        async def worker() -> None:
            while todo:
                envelope = todo.pop()
                async with self.session.post(self.url + "/v1/manifests", data=envelope,
                                             headers={"Content-Type": "application/vnd.notrain.manifest+json"}) as response:
                    if response.status != 202:
                        raise RuntimeError(f"submission refused: {response.status} {await response.text()}")

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        self.size += count
        while True:
            async with self.session.get(self.url + "/log/checkpoint") as response:
                if parse_checkpoint((await response.text()).split("\n\n")[0] + "\n").size >= self.size:
                    return count
            await asyncio.sleep(0.01)

BARE_SERVER = """
import sys
from aiohttp import web
async def accept(request):
    await request.read()
    return web.json_response({"entry": 1, "receipt": "x" * 300}, status=202)
app = web.Application()
app.router.add_post("/v1/manifests", accept)
app.router.add_get("/readyz", lambda request: web.json_response({}))
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


class BareHttp(Server):
    """A bare aiohttp process: the same POSTs, answered at once (no verification, storage or log)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, work: list[bytes]) -> None:
        super().__init__(loop, work, ["-c", BARE_SERVER])

    def batch(self, count: int) -> int:
        todo = self.work[:count]

        async def worker() -> None:
            while todo:
                async with self.session.post(self.url + "/v1/manifests", data=todo.pop()) as response:
                    await response.read()

        async def run() -> int:
            await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
            return count

        return self.loop.run_until_complete(run())


class RawStorage:
    """The storage backend alone: appends, then integrations as the sequencer computes and stores them."""

    def __init__(self, loop: asyncio.AbstractEventLoop, url: str, work: list[bytes]) -> None:
        self.loop, self.work = loop, work
        self.storage = loop.run_until_complete(open_storage(url))
        self.signer = NoteSigner("bench.test/raw", PrivateKey.generate())
        self.tiles: dict = {}  # every tile and bundle this run wrote (the log starts empty), read back by core

    def batch(self, count: int) -> int:
        return self.loop.run_until_complete(self._append_and_integrate(count))

    async def _append_and_integrate(self, count: int) -> int:
        leaves = [encode_entry("manifest", Source("submission"), NOW, self.work.pop()) for _ in range(count)]
        new = [NewEntry(leaf, leaf_hash(leaf), "manifest", None, NOW, NOW + timedelta(seconds=60), hashlib.sha256(leaf).digest())
               for leaf in leaves]
        await asyncio.gather(*(self.storage.append(e) for e in new))
        async with self.storage.sequencer() as sequencer:
            while True:
                expected = await self.storage.checkpoint()
                pending = await sequencer.pending(SEQUENCER_BATCH)
                if not pending:
                    return count
                size = expected.size if expected else 0
                done = await asyncio.to_thread(integrate, size, [e.leaf for e in pending], self.tiles.__getitem__)
                note = sign_checkpoint(CheckpointBody(self.signer.name, done.size, done.root), self.signer)
                tiles = {(t.level, t.index, t.width): d for t, d in done.tiles.items() if t.level != ENTRIES}
                bundles = {(t.index, t.width): d for t, d in done.tiles.items() if t.level == ENTRIES}
                await sequencer.integrate(expected, [e.id for e in pending], tiles, bundles, Checkpoint(done.size, done.root, note))
                self.tiles.update(done.tiles)

    def close(self) -> None:
        self.loop.run_until_complete(self.storage.close())


def pair(loop, directory: Path, url_service: str, url_raw: str, *, batch: int, rounds: int, label: str) -> tuple[float, float, float]:
    total = batch * (rounds + 1)
    print(f"{label}: signing {2 * total:,} envelopes ...", flush=True)
    work = envelopes(0, 2 * total)
    service = Service(loop, directory / f"service-{label}", url_service, work[:total])
    raw = RawStorage(loop, url_raw, work[total:])
    bare = BareHttp(loop, work[total:])
    try:
        cases = {"service": lambda: service.batch(batch), "raw": lambda: raw.batch(batch), "bare": lambda: bare.batch(batch)}
        results = h.interleave(cases, rounds=rounds)
    finally:
        for running in (service, raw, bare):
            running.close()
    rate, raw_rate = 1e9 / h.median(results["service"]), 1e9 / h.median(results["raw"])
    ratio = h.paired_ratio(results["raw"], results["service"])  # ns per entry: raw / service = service rate / raw rate
    rows = [["service: POST /v1/manifests until checkpointed", f"{rate:,.0f}", h.spread(results["service"])],
            ["raw: storage append + integrate (core tiles)", f"{raw_rate:,.0f}", h.spread(results["raw"])],
            ["context: bare aiohttp POST handler", f"{1e9 / h.median(results['bare']):,.0f}", h.spread(results["bare"])]]
    print(h.table([f"{label}, {batch:,} entries a round, {rounds} rounds", "entries/s", "noise"], rows))
    bare_ratio = h.paired_ratio(results["bare"], results["service"])
    print(f"service / raw storage: {ratio:.2f}; service / bare HTTP: {bare_ratio:.2f}\n")
    return rate, raw_rate, ratio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"log_integration_bench: {h.machine()}\n")
    loop = asyncio.new_event_loop()
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        rate, _, _ = pair(loop, directory, f"sqlite:///{directory}/service.sqlite", f"sqlite:///{directory}/raw.sqlite",
                          batch=args.batch, rounds=args.rounds, label="SQLite")
        cluster = postgres_cluster()
        if cluster is not None:
            try:
                urls = [loop.run_until_complete(cluster.new_database()) for _ in range(2)]
                pair(loop, directory, urls[0], urls[1], batch=args.batch, rounds=args.rounds, label="PostgreSQL")
            finally:
                cluster.stop()
    loop.close()
    print(f"GOAL >= 1,000 entries/s submitted and integrated through the service on SQLite: {rate:,.0f}/s -> {h.verdict(rate >= 1000)}")
    return 0


def postgres_cluster():
    """The tests' throwaway cluster (tests/postgres.py) when Debian's PostgreSQL is installed, else None."""
    if not glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        print("PostgreSQL is not installed: SQLite only\n")
        return None
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from postgres import PostgresCluster

    return PostgresCluster()


if __name__ == "__main__":
    sys.exit(main())
