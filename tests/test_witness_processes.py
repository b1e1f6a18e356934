"""Two real `notrain serve` processes on 127.0.0.1: aggregator B witnesses aggregator A's log.

A asks B to cosign each new checkpoint and serves its checkpoint with B's cosignature; a client pull
that requires 1 of 1 witnesses passes (`notrain snapshot pull --witness --min-cosignatures 1`), one that
requires 2 of 2 fails with E_NOTE_UNKNOWN_KEY.  B refuses a rollback, a fork (kept as evidence) and
hostile bodies with the statuses of C2SP tlog-witness.  (A log told the witness's size by a 409 and
catching up from it: tests/test_witness.py, in process.)
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import subprocess
import sys

import aiohttp
import pytest
from aggregator_helpers import did_manifest
from conftest import make_key
from serve_process import ServeProcess

from notrain.core.checkpoint import Checkpoint, sign_checkpoint
from notrain.core.errors import NotrainError
from notrain.core.note import COSIGNATURE_V1, NoteSigner, NoteVerifier
from notrain.core.witnessing import AddCheckpoint, WitnessPolicy
from notrain.fetch import snapshots
from notrain.fetch.snapshots import Trust
from notrain.keyfile import save_private_key

A_ORIGIN = "aggregator.test/log"
LOG_KEY, WITNESS_KEY = make_key("witnessed aggregator"), make_key("witnessing aggregator")
LOG = NoteSigner(A_ORIGIN, LOG_KEY)
WITNESS = NoteSigner("witness.test/w", WITNESS_KEY, COSIGNATURE_V1)
OTHER_WITNESS = NoteSigner("witness.test/absent", make_key("absent witness"), COSIGNATURE_V1)


def a_process(directory, witness_url: str) -> ServeProcess:
    """The witnessed aggregator: its log key saved beside its directory, B as its witness."""
    return ServeProcess(directory, key_file=directory.parent / "log-key.jwk", snapshots={"interval": 0.3},
                        log={"witnesses": [f"{witness_url}/witness#{WITNESS.verifier.to_vkey()}"], "witness_timeout": 5.0})


async def until(probe, what: str, timeout: float = 90.0):
    """Poll ``probe`` (an async callable) until it returns something true; its last error on timeout."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            found = await probe()
            if found:
                return found
            error = None
        except Exception as caught:  # noqa: BLE001 - kept for the message, the poll goes on
            error = caught
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s ({error!r})")
        await asyncio.sleep(0.1)


def pull(url: str, out, *witnesses: str, minimum: int) -> subprocess.CompletedProcess:
    args = [sys.executable, "-m", "notrain.cli", "snapshot", "pull", url, "--log-key", LOG.verifier.to_vkey(), "--out", str(out),
            "--min-cosignatures", str(minimum)]
    for vkey in witnesses:
        args += ["--witness", vkey]
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)


async def test_one_aggregator_witnesses_another(tmp_path):
    save_private_key(tmp_path / "log-key.jwk", LOG_KEY)
    save_private_key(tmp_path / "witness-key.jwk", WITNESS_KEY)
    b = ServeProcess(tmp_path / "b", log={"origin": "witness.test/log"},
                     witness={"logs": [LOG.verifier.to_vkey()], "name": WITNESS.name, "key_file": str(tmp_path / "witness-key.jwk")})
    a = a_process(tmp_path / "a", b.url)
    await b.start()
    try:
        await a.start()
        async with aiohttp.ClientSession() as session:
            async with session.get(b.url + "/witness/vkey") as response:
                assert (await response.text()) == WITNESS.verifier.to_vkey() + "\n"
            async with session.post(a.url + "/v1/manifests", data=did_manifest(make_key("witnessed artist")),
                                    headers={"Content-Type": "application/vnd.notrain.manifest+json"}) as response:
                assert response.status == 202

            async def snapshot_cosigned() -> int | None:
                async with session.get(a.url + "/v1/snapshot") as response:
                    index = (await response.json()).get("log_index") if response.status == 200 else None
                async with session.get(a.url + "/log/checkpoint") as response:
                    signed = WitnessPolicy((WITNESS.verifier,), 1).open(await response.read(), A_ORIGIN, LOG.verifier)
                return signed.checkpoint.size if isinstance(index, int) and index < signed.checkpoint.size else None

            size = await until(snapshot_cosigned, "A's snapshot in a checkpoint cosigned by B")
            passed = await asyncio.to_thread(pull, a.url, tmp_path / "snap", WITNESS.verifier.to_vkey(), minimum=1)
            assert passed.returncode == 0, passed.stderr
            assert "cosigned by witness.test/w" in passed.stdout
            two = Trust(LOG.verifier.to_vkey(), (WITNESS.verifier.to_vkey(), OTHER_WITNESS.verifier.to_vkey()), 2)
            with pytest.raises(NotrainError) as refused:
                await snapshots.pull(a.url, tmp_path / "snap2", two)
            assert refused.value.code == "E_NOTE_UNKNOWN_KEY" and not (tmp_path / "snap2").exists()

            await _witness_refuses_rollbacks_forks_and_garbage(session, b.url, size)

    finally:
        a.stop()
        b.stop()


async def _witness_refuses_rollbacks_forks_and_garbage(session: aiohttp.ClientSession, witness_url: str, size: int) -> None:
    """Checkpoints signed with A's own key, as a log that turned rogue (or stole its key) would."""
    url = witness_url + "/witness/add-checkpoint"
    monitor = f"{witness_url}/witness/{hashlib.sha256(A_ORIGIN.encode()).hexdigest()}/checkpoint"
    async with session.get(monitor) as response:
        before = await response.read()

    async def post(body: bytes) -> tuple[int, str, bytes]:
        async with session.post(url, data=body) as response:
            return response.status, response.headers.get("Content-Type", ""), await response.read()

    smaller = sign_checkpoint(Checkpoint(A_ORIGIN, 1, hashlib.sha256(b"rolled back").digest()), LOG)
    assert await post(AddCheckpoint(1, (), smaller).to_bytes()) == (409, "text/x.tlog.size", f"{size}\n".encode())
    assert (await post(AddCheckpoint(size, (), smaller).to_bytes()))[0] == 400
    fork = sign_checkpoint(Checkpoint(A_ORIGIN, size, hashlib.sha256(b"forked").digest()), LOG)
    assert (await post(AddCheckpoint(size, (), fork).to_bytes()))[:2] == (409, "text/x.tlog.size")
    async with session.get(witness_url + "/v1/evidence") as response:
        [kept] = (await response.json())["forks"]
    assert kept["origin"] == A_ORIGIN
    grown = sign_checkpoint(Checkpoint(A_ORIGIN, size + 5, hashlib.sha256(b"grown").digest()), LOG)
    status, _, body = await post(AddCheckpoint(size, tuple(hashlib.sha256(b"%d" % i).digest() for i in range(3)), grown).to_bytes())
    assert status == 422 and b"E_PROOF" in body
    for garbage in (b"old 0\n\n" + b"\x00" * (1024 * 1024), b"x" * 4096, b"old 1\n" + base64.b64encode(bytes(32)) * 100 + b"\n\n" + grown):
        status, _, body = await post(garbage)
        assert status == 400 and b"E_WITNESS_REQUEST" in body
    stranger = NoteSigner("stranger.test/log", make_key("stranger"))
    assert (await post(AddCheckpoint(0, (), sign_checkpoint(Checkpoint("stranger.test/log", 0, hashlib.sha256().digest()), stranger)).to_bytes()))[0] == 404
    impostor = sign_checkpoint(Checkpoint(A_ORIGIN, size + 5, hashlib.sha256(b"grown").digest()), NoteSigner(A_ORIGIN, make_key("impostor")))
    assert (await post(AddCheckpoint(size, (), impostor).to_bytes()))[0] == 403
    async with session.get(monitor) as response:
        assert await response.read() == before  # nothing moved the witness
    assert NoteVerifier.from_vkey(WITNESS.verifier.to_vkey()) == WITNESS.verifier
