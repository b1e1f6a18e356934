"""Durability (issue 8 §7): real `notrain serve` processes SIGKILLed during a burst of submissions.

After a restart every submission that got a receipt is in the log (its receipt verifies and names exactly
the entry bytes at its index), the log verifies from its tiles alone, and the new checkpoint is consistent
with the last one seen before the kill; on SQLite and on PostgreSQL.  On PostgreSQL, two processes share
one database: exactly one sequences, both accept, and when the sequencing one is killed the other takes
over and integrates everything.
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass

import aiohttp
from aggregator_helpers import ENVELOPE_TYPE, did_manifest
from conftest import make_key
from serve_process import ServeProcess

from notrain.core.checkpoint import Checkpoint, open_checkpoint
from notrain.core.logentry import parse_entry
from notrain.core.merkle import verify_consistency
from notrain.core.note import NoteVerifier
from notrain.core.receipt import open_receipt
from notrain.core.tiles import TileId, tiles_for, verify_tiles

ORIGIN = "aggregator.test/log"
BURST = 400  # submissions sent
CONCURRENCY = 24  # in flight at once
KILL_AFTER = 150  # receipts received before the SIGKILL


@dataclass(frozen=True)
class Receipted:
    envelope: bytes
    entry: int
    receipt: bytes


async def log_key(session: aiohttp.ClientSession, url: str) -> NoteVerifier:
    async with session.get(url + "/v1/log") as response:
        return NoteVerifier.from_vkey((await response.json())["vkey"])


async def checkpoint(session: aiohttp.ClientSession, url: str, key: NoteVerifier) -> Checkpoint:
    async with session.get(url + "/log/checkpoint") as response:
        return open_checkpoint(await response.read(), ORIGIN, key).checkpoint


async def burst(session: aiohttp.ClientSession, url: str, envelopes: list[bytes], *, on_receipt=None) -> list[Receipted]:
    """Post ``envelopes`` CONCURRENCY at a time; the receipts received (requests that failed are dropped)."""
    queue, receipts = list(reversed(envelopes)), []

    async def worker() -> None:
        while queue:
            envelope = queue.pop()
            try:
                async with session.post(url + "/v1/manifests", data=envelope, headers={"Content-Type": ENVELOPE_TYPE}) as response:
                    if response.status != 202:
                        continue
                    body = await response.json()
            except (aiohttp.ClientError, asyncio.TimeoutError):
                continue  # the process was killed under this request: no receipt, no promise
            receipts.append(Receipted(envelope, body["entry"], body["receipt"].encode()))
            if on_receipt is not None:
                on_receipt(len(receipts))

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return receipts


async def all_integrated(session: aiohttp.ClientSession, url: str, entries: list[int], timeout: float = 120.0) -> dict[int, int]:
    """Entry id -> log index, once every entry is integrated."""
    deadline, found = asyncio.get_running_loop().time() + timeout, {}
    for entry in entries:
        while entry not in found:
            async with session.get(f"{url}/v1/entries/{entry}") as response:
                assert response.status == 200, entry  # a receipted entry is never unknown
                body = await response.json()
            if body["status"] == "integrated":
                found[entry] = body["log_index"]
            elif asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"entry {entry} not integrated in {timeout} s")
            else:
                await asyncio.sleep(0.1)
    return found


async def verify_log(session: aiohttp.ClientSession, url: str, key: NoteVerifier, before: Checkpoint, receipts: list[Receipted],
                     indices: dict[int, int]) -> Checkpoint:
    """The log from its tiles alone, each receipt's entry in it, and consistency with ``before``."""
    size_needed = max(indices.values()) + 1
    for _ in range(600):
        now = await checkpoint(session, url, key)
        if now.size >= size_needed:
            break
        await asyncio.sleep(0.1)
    files: dict[TileId, bytes] = {}
    for tile in tiles_for(now.size):
        async with session.get(f"{url}/log/{tile.path}") as response:
            assert response.status == 200, tile.path
            files[tile] = await response.read()
    entries: dict[int, bytes] = {}
    verify_tiles(now.size, now.root, files.__getitem__, lambda index, entry: entries.__setitem__(index, entry))
    assert len(entries) == now.size
    for receipted in receipts:
        entry = entries[indices[receipted.entry]]
        open_receipt(receipted.receipt, ORIGIN, key).check_entry(entry)  # signed by the log, for exactly these bytes
        assert parse_entry(entry).body == receipted.envelope
    if before.size:
        async with session.get(f"{url}/v1/proof/consistency", params={"from": str(before.size), "size": str(now.size)}) as response:
            proof = [base64.b64decode(h) for h in (await response.json())["proof"]]
        verify_consistency(before.size, now.size, before.root, now.root, proof)
    return now


async def kill_during_burst_then_restart(tmp_path, storage_url: str) -> None:
    # Integrations once a second, so entries are pending when the process dies.
    serve = await ServeProcess(tmp_path / "serve", storage_url=storage_url, log={"checkpoint_interval": 1.0}).start()
    envelopes = [did_manifest(make_key(f"burst {n}")) for n in range(BURST)]
    seen: list[Checkpoint] = []
    try:
        async with aiohttp.ClientSession() as session:
            key = await log_key(session, serve.url)
            seen.append(await checkpoint(session, serve.url, key))

            async def watch_checkpoints() -> None:
                while serve.process.poll() is None:
                    try:
                        seen.append(await checkpoint(session, serve.url, key))
                    except aiohttp.ClientError:
                        return
                    await asyncio.sleep(0.05)

            def kill_at(count: int) -> None:
                if count == KILL_AFTER:
                    serve.kill()

            watcher = asyncio.create_task(watch_checkpoints())
            receipts = await burst(session, serve.url, envelopes, on_receipt=kill_at)
            await watcher
            assert serve.process.returncode == -9
            assert KILL_AFTER <= len(receipts) < BURST  # killed mid-burst: some requests never got an answer
            before = max(seen, key=lambda c: c.size)

            await serve.start()
            assert (await log_key(session, serve.url)).to_vkey() == key.to_vkey()  # the same log key after the restart
            indices = await all_integrated(session, serve.url, [r.entry for r in receipts])
            # Some receipted entries were still pending at the kill: integrated only after the restart.
            assert any(index >= before.size for index in indices.values())
            await verify_log(session, serve.url, key, before, receipts, indices)
    finally:
        serve.kill()


async def test_sigkill_during_a_burst_loses_no_receipted_entry_on_sqlite(tmp_path):
    await kill_during_burst_then_restart(tmp_path, "")


async def test_sigkill_during_a_burst_loses_no_receipted_entry_on_postgresql(tmp_path, postgres_cluster):
    await kill_during_burst_then_restart(tmp_path, await postgres_cluster.new_database())


async def wait_for(condition, timeout: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not reached in {timeout} s")
        await asyncio.sleep(0.1)


async def test_two_processes_on_one_postgresql_database_one_sequences_the_other_takes_over(tmp_path, postgres_cluster):
    url = await postgres_cluster.new_database()
    key_file = tmp_path / "log-key.jwk"  # one log, one key: both processes sign as it
    first = await ServeProcess(tmp_path / "first", storage_url=url, key_file=key_file).start()
    second = None
    try:
        async with aiohttp.ClientSession() as session:
            await wait_for(lambda: _sequencing(session, first, True))
            second = await ServeProcess(tmp_path / "second", storage_url=url, key_file=key_file).start()
            key = await log_key(session, first.url)
            assert (await log_key(session, second.url)).to_vkey() == key.to_vkey()
            assert not (await second.health(session))["sequencing"]  # the lock is taken: it stands by

            envelopes = [did_manifest(make_key(f"shared {n}")) for n in range(120)]
            receipts = [r for part in await asyncio.gather(burst(session, first.url, envelopes[:60]), burst(session, second.url, envelopes[60:]))
                        for r in part]
            assert len(receipts) == 120  # both accept
            indices = await all_integrated(session, second.url, [r.entry for r in receipts])
            assert (await first.health(session))["sequencing"] and not (await second.health(session))["sequencing"]
            before = await checkpoint(session, second.url, key)

            # Entries that only the standby process holds receipts for, then the sequencing process dies.
            more = await burst(session, second.url, [did_manifest(make_key(f"after {n}")) for n in range(40)])
            first.kill()
            await wait_for(lambda: _sequencing(session, second, True))
            more += await burst(session, second.url, [did_manifest(make_key(f"later {n}")) for n in range(40)])
            assert len(more) == 80
            indices |= await all_integrated(session, second.url, [r.entry for r in more])
            assert sorted(indices.values()) == list(range(len(indices)))  # one log, no gap, no index twice
            await verify_log(session, second.url, key, before, receipts + more, indices)
    finally:
        first.kill()
        if second is not None:
            second.kill()


async def _sequencing(session: aiohttp.ClientSession, serve: ServeProcess, expected: bool) -> bool:
    return (await serve.health(session))["sequencing"] is expected

