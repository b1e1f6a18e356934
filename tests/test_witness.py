"""The witness role and the log's cosignature collector, in process, on both real storage backends.

The witness's record of a log is compare-and-swapped, so concurrent add-checkpoint requests can never
roll it back (the race tlog-witness describes); a checkpoint smaller than the one cosigned, or a fork, is
refused whatever old size it claims; hostile bodies are refused by their framing before any signature
is checked, at a cost bounded by the limits (counted, never timed).
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3

import pytest
from aggregator_helpers import aggregator_config, did_manifest, integrated, running, submit
from conftest import make_key
from scrapy.utils.test import get_crawler

from notrain.aggregator.storage import Cosignature, open_storage
from notrain.aggregator.witness.role import Witness, load_witness_signer
from notrain.core import merkle
from notrain.core.checkpoint import Checkpoint, sign_checkpoint
from notrain.core.merkle import consistency_proof, leaf_hash, perfect_root, root
from notrain.core.note import COSIGNATURE_V1, NoteSigner, NoteVerifier
from notrain.core.witnessing import (
    MAX_REQUEST_BYTES,
    AddCheckpoint,
    Witnessed,
    WitnessPolicy,
    WitnessRefused,
    verified_cosignatures,
    with_cosignatures,
)
from notrain.scrapy.options import SettingsError
from notrain.scrapy.sources import load_sources

ORIGIN = "log.test/witnessed"
LOG = NoteSigner(ORIGIN, make_key("witnessed log"))
LEAVES = [leaf_hash(b"entry %d" % i) for i in range(64)]


def node(level: int, index: int) -> bytes:
    return perfect_root(LEAVES[index << level : (index + 1) << level])


def checkpoint(size: int, *, leaves: list[bytes] = LEAVES, signer: NoteSigner = LOG) -> bytes:
    return sign_checkpoint(Checkpoint(ORIGIN, size, root(leaves[:size])), signer)


def request(old: int, size: int, **kw) -> bytes:
    proof = consistency_proof(old, size, node) if 0 < old < size else []
    return AddCheckpoint(old, tuple(proof), checkpoint(size, **kw)).to_bytes()


@pytest.fixture(params=["sqlite", "postgres"])
async def storage(request, tmp_path):
    url = f"sqlite:///{tmp_path}/witness.sqlite" if request.param == "sqlite" else await request.getfixturevalue("postgres_cluster").new_database()
    opened = await open_storage(url)
    yield opened
    await opened.close()


@pytest.fixture
def witness(storage):
    return Witness(storage, NoteSigner("witness.test/w", make_key("witness"), COSIGNATURE_V1), {ORIGIN: LOG.verifier}, clock=lambda: 1_800_000_000)


async def refusal(coroutine) -> WitnessRefused:
    with pytest.raises(WitnessRefused) as caught:
        await coroutine
    return caught.value


async def test_a_witness_cosigns_a_growing_log_and_keeps_the_note_it_cosigned(witness, storage):
    lines = await witness.add_checkpoint(request(0, 5))
    policy = WitnessPolicy((witness.signer.verifier,), 1)
    assert policy.open(checkpoint(5) + lines, ORIGIN, LOG.verifier).cosignatures[0].timestamp == 1_800_000_000
    await witness.add_checkpoint(request(5, 9))
    stored = await storage.witnessed(ORIGIN)
    assert (stored.size, stored.root) == (9, root(LEAVES[:9]))
    assert policy.open(stored.note, ORIGIN, LOG.verifier).checkpoint.size == 9  # served at /witness/<sha256>/checkpoint
    assert await witness.latest(ORIGIN) == stored.note and await witness.latest("log.test/other") is None


async def test_a_rollback_or_a_fork_is_refused_whatever_old_size_it_claims(witness, storage):
    await witness.add_checkpoint(request(0, 9))
    assert (await refusal(witness.add_checkpoint(request(5, 5)))).known_size == 9  # its own size as old: 409
    assert (await refusal(witness.add_checkpoint(request(9, 5)))).status == 400  # the cosigned size as old: above the checkpoint's
    forked = [leaf_hash(b"forked")] + LEAVES[1:]
    fork = await refusal(witness.add_checkpoint(AddCheckpoint(9, (), checkpoint(9, leaves=forked)).to_bytes()))
    assert (fork.status, fork.code, fork.known_size) == (409, "E_PROOF", 9)
    [evidence] = await storage.evidence(10)  # the log's two signatures on two roots of size 9, kept
    assert (evidence.origin, evidence.old, evidence.new) == (ORIGIN, (await storage.witnessed(ORIGIN)).note, checkpoint(9, leaves=forked))
    other = NoteSigner("someone.test/else", make_key("someone else")).sign(b"anything\n", 0).line().encode()
    assert (await refusal(witness.add_checkpoint(AddCheckpoint(9, (), checkpoint(9, leaves=forked) + other).to_bytes()))).status == 409
    assert len(await storage.evidence(10)) == 1  # a line appended to the same fork stores nothing new
    grown_fork = AddCheckpoint(9, tuple(consistency_proof(9, 12, node)), checkpoint(12, leaves=forked)).to_bytes()
    assert (await refusal(witness.add_checkpoint(grown_fork))).status == 422
    assert (await storage.witnessed(ORIGIN)).size == 9  # nothing moved


async def test_concurrent_requests_never_roll_the_witness_back(witness, storage):
    """tlog-witness's race: two requests from one old size, checked before either is stored.  The swap
    lets exactly one in; the other is checked again against what was stored and answered 409."""
    await witness.add_checkpoint(request(0, 4))
    for steps in ((2, 16), (16, 2), (3, 3)):
        current = (await storage.witnessed(ORIGIN)).size
        sizes = [current + step for step in steps]
        results = await asyncio.gather(*(witness.add_checkpoint(request(current, s)) for s in sizes), return_exceptions=True)
        won = [s for s, r in zip(sizes, results) if isinstance(r, bytes)]
        lost = [r for r in results if isinstance(r, WitnessRefused)]
        assert len(won) + len(lost) == 2 and len(won) >= 1
        assert all(r.status == 409 for r in lost)
        assert (await storage.witnessed(ORIGIN)).size == max(won)
        if len(won) == 2:  # the same checkpoint twice: the second re-checked against the first's record
            assert won[0] == won[1]


async def test_the_swap_itself_refuses_a_stale_expectation(storage):
    first = Witnessed(3, b"\x01" * 32, b"note 3")
    assert await storage.swap_witnessed(ORIGIN, None, first)
    assert not await storage.swap_witnessed(ORIGIN, None, Witnessed(1, b"\x02" * 32, b"other"))  # someone inserted first
    assert not await storage.swap_witnessed(ORIGIN, Witnessed(3, b"\x09" * 32), Witnessed(5, b"\x03" * 32, b"5"))  # same size, other root
    assert await storage.swap_witnessed(ORIGIN, first, Witnessed(5, b"\x03" * 32, b"note 5"))
    assert await storage.witnessed(ORIGIN) == Witnessed(5, b"\x03" * 32, b"note 5")
    assert await storage.witnessed("log.test/never") is None


async def test_a_log_keeps_each_witnesses_newest_cosignature_only(storage):
    from datetime import UTC, datetime

    now = datetime(2026, 12, 1, tzinfo=UTC)
    await storage.save_cosignature(Cosignature("w1", 9, b"\x09" * 32, b"line 9\n", now))
    await storage.save_cosignature(Cosignature("w1", 4, b"\x04" * 32, b"line 4\n", now))  # late answer about an older tree
    await storage.save_cosignature(Cosignature("w2", 4, b"\x04" * 32, b"line w2\n", now))
    assert [(c.witness, c.size, c.line) for c in await storage.cosignatures()] == [("w1", 9, b"line 9\n"), ("w2", 4, b"line w2\n")]


async def test_hostile_bodies_are_refused_by_their_framing_at_bounded_cost(witness, monkeypatch):
    """No signature is checked and no proof hashed for a body refused by its framing; a proof is never
    hashed beyond the 63 nodes its sizes allow."""
    await witness.add_checkpoint(request(0, 4))
    good = checkpoint(9)
    noisy = with_cosignatures(good, [NoteSigner(f"noise{i}", make_key(f"noise {i}")).sign(b"x").line().encode() for i in range(31)])
    bad_proof = AddCheckpoint(4, tuple(hashlib.sha256(b"%d" % i).digest() for i in range(len(consistency_proof(4, 9, node)))), noisy)
    hashed, verified = [], []
    real_node, real_verify = merkle.node_hash, NoteVerifier.verify
    monkeypatch.setattr(merkle, "node_hash", lambda left, right: hashed.append(1) or real_node(left, right))
    monkeypatch.setattr(NoteVerifier, "verify", lambda self, text, sig: verified.append(1) or real_verify(self, text, sig))
    for body in (b"old 4\n" + b"x" * MAX_REQUEST_BYTES, b"old 4\n" + b"AAAA\n" * 100_000 + b"\n" + good,
                 b"old 4\n" + (b"A" * 43 + b"=\n") * 65 + b"\n" + good, b"\xff" * 4096, b"old 4" + b"\n" * 5000):
        assert (await refusal(witness.add_checkpoint(body))).status == 400
    assert hashed == [] and verified == []
    assert (await refusal(witness.add_checkpoint(bad_proof.to_bytes()))).status == 422
    assert len(verified) == 1 and len(hashed) <= 2 * merkle.MAX_PROOF_HASHES  # one known key among 32 signatures


async def test_unknown_logs_and_other_keys_get_404_and_403(witness):
    stranger = NoteSigner("log.test/stranger", make_key("stranger"))
    unknown = AddCheckpoint(0, (), sign_checkpoint(Checkpoint("log.test/stranger", 1, LEAVES[0]), stranger)).to_bytes()
    assert (await refusal(witness.add_checkpoint(unknown))).status == 404
    impostor = NoteSigner(ORIGIN, make_key("impostor"))
    assert (await refusal(witness.add_checkpoint(request(0, 3, signer=impostor)))).status == 403


def test_the_witness_key_is_never_the_log_key(tmp_path):
    with pytest.raises(ValueError):
        load_witness_signer("w", tmp_path / "log-key.jwk", tmp_path / "log-key.jwk")
    signer = load_witness_signer("aggregator.test/log/witness", tmp_path / "witness-key.jwk", tmp_path / "log-key.jwk")
    assert signer.verifier.kind == COSIGNATURE_V1
    assert load_witness_signer("aggregator.test/log/witness", tmp_path / "witness-key.jwk", tmp_path / "log-key.jwk").verifier == signer.verifier


def test_a_witness_answer_counts_only_its_own_valid_cosignatures():
    w1, w2 = (NoteSigner(f"witness.test/{n}", make_key(n), COSIGNATURE_V1) for n in ("w1", "w2"))
    note = checkpoint(5)
    text = note[: note.index(b"\n\n") + 1]
    answer = w2.sign(text, 7).line().encode() + w1.sign(text, 8).line().encode()
    assert verified_cosignatures(note, answer, w1.verifier) == (w1.sign(text, 8).line().encode(),)
    with pytest.raises(Exception) as caught:
        verified_cosignatures(note, w2.sign(text, 7).line().encode(), w1.verifier)
    assert caught.value.code == "E_NOTE_UNKNOWN_KEY"
    forged = w1.sign(b"another text\n", 8).line().encode()
    with pytest.raises(Exception) as caught:
        verified_cosignatures(note, forged, w1.verifier)
    assert caught.value.code == "E_NOTE_SIGNATURE"


async def test_an_aggregator_witnesses_another_in_process_and_serves_the_cosigned_checkpoint(tmp_path):
    """The log's collector and the witness's routes end to end over loopback: after a submission the
    log's /log/checkpoint carries the witness's cosignature, and a 1-of-1 policy opens it."""
    witness_key = NoteSigner("witness.test/w", make_key("witness in process"), COSIGNATURE_V1)
    log_key = make_key("log in process")
    from notrain.keyfile import save_private_key

    save_private_key(tmp_path / "log-key.jwk", log_key)
    save_private_key(tmp_path / "witness-key.jwk", witness_key._key)
    log_vkey = NoteSigner("aggregator.test/log", log_key).verifier.to_vkey()
    witness_config = aggregator_config(tmp_path / "witness", log={"origin": "witness.test/log"},
                                       witness={"logs": [log_vkey], "name": "witness.test/w", "key_file": str(tmp_path / "witness-key.jwk")})
    async with running(witness_config) as witness_session:
        witness_url = str(witness_session._base_url).rstrip("/") + "/witness"  # the submission prefix
        async with witness_session.get("/witness/vkey") as response:
            assert (await response.text()).strip() == witness_key.verifier.to_vkey()
        log_config = aggregator_config(tmp_path / "log", log={"key_file": str(tmp_path / "log-key.jwk"),
                                                              "witnesses": [f"{witness_url}#{witness_key.verifier.to_vkey()}"]})
        async with running(log_config) as session:
            status, body = await submit(session, did_manifest(make_key("artist in process")))
            assert status == 202, body
            await integrated(session, body["entry"])
            policy = WitnessPolicy((witness_key.verifier,), 1)
            signed = await _cosigned(session, policy, NoteVerifier.from_vkey(log_vkey))
            assert signed.checkpoint.size >= 1
            origin_hash = hashlib.sha256(b"aggregator.test/log").hexdigest()
            async with witness_session.get(f"/witness/{origin_hash}/checkpoint") as response:
                assert response.status == 200
                assert policy.open(await response.read(), "aggregator.test/log", NoteVerifier.from_vkey(log_vkey)).checkpoint.size >= 1
            async with session.get("/metrics") as response:
                assert 'notrain_witness_requests_total{outcome="cosigned",witness="witness.test/w"}' in await response.text()
            await _crawl_sources_require_the_cosignatures(str(session._base_url).rstrip("/"), log_vkey, witness_key.verifier.to_vkey())

            # The log forgets what the witness cosigned: it asks from size 0, is told the witness's size (409), and catches up.
            with sqlite3.connect(tmp_path / "log" / "aggregator.sqlite") as db:
                db.execute("DELETE FROM log_cosignatures")
            assert (await _cosigned(session, policy, NoteVerifier.from_vkey(log_vkey))).checkpoint.size == signed.checkpoint.size
            async with witness_session.get("/metrics") as response:
                assert 'route="/witness/add-checkpoint",status="409"' in await response.text()


async def _crawl_sources_require_the_cosignatures(url: str, log_vkey: str, witness_vkey: str) -> None:
    """NOTRAIN_SOURCES: a dict's own policy, else NOTRAIN_WITNESSES / NOTRAIN_MIN_COSIGNATURES."""
    absent = NoteSigner("witness.test/absent", make_key("absent"), COSIGNATURE_V1).verifier.to_vkey()
    one = {"aggregator": url, "log_key": log_vkey, "witnesses": [witness_vkey], "min_cosignatures": 1}
    sources = await asyncio.to_thread(load_sources, [one], None)
    assert sources.describe()[0]["witnesses"] == ["witness.test/w"]
    with pytest.raises(SettingsError, match="E_NOTE_UNKNOWN_KEY"):
        await asyncio.to_thread(load_sources, [{**one, "witnesses": [witness_vkey, absent], "min_cosignatures": 2}], None)
    strict = get_crawler(settings_dict={"NOTRAIN_WITNESSES": [witness_vkey, absent], "NOTRAIN_MIN_COSIGNATURES": 2})
    with pytest.raises(SettingsError, match="E_NOTE_UNKNOWN_KEY"):
        await asyncio.to_thread(load_sources, [f"aggregator+{url}#{log_vkey}"], strict)
    with pytest.raises(SettingsError, match="give the log's key"):  # a policy never silently dropped
        await asyncio.to_thread(load_sources, [f"aggregator+{url}"], strict)
    lenient = get_crawler(settings_dict={"NOTRAIN_WITNESSES": [witness_vkey], "NOTRAIN_MIN_COSIGNATURES": 1})
    assert (await asyncio.to_thread(load_sources, [f"aggregator+{url}#{log_vkey}"], lenient)).describe()[0]["witnesses"] == ["witness.test/w"]


async def _cosigned(session, policy: WitnessPolicy, log: NoteVerifier, timeout: float = 60.0):
    """Poll the log's checkpoint until it is the latest and cosigned as ``policy`` requires."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        async with session.get("/log/checkpoint") as response:
            note = await response.read()
        try:
            return policy.open(note, log.name, log)
        except Exception:
            if asyncio.get_running_loop().time() > deadline:
                raise
        await asyncio.sleep(0.05)


async def test_an_absent_witness_delays_no_checkpoint_and_is_counted(tmp_path):
    """A witness that never answers (a closed loopback port): entries are integrated and checkpoints signed
    as ever, served without its line; the failure is in the metrics."""
    from services import free_port

    absent = NoteSigner("witness.test/absent", make_key("absent witness"), COSIGNATURE_V1)
    config = aggregator_config(tmp_path / "log", log={"witnesses": [f"http://127.0.0.1:{free_port()}/witness#{absent.verifier.to_vkey()}"],
                                                      "witness_timeout": 1.0})
    async with running(config) as session:
        for n in range(3):
            status, body = await submit(session, did_manifest(make_key(f"artist {n} without witness")))
            assert status == 202, body
            await integrated(session, body["entry"])
        async with session.get("/v1/log") as response:
            log = NoteVerifier.from_vkey((await response.json())["vkey"])
        async with session.get("/log/checkpoint") as response:
            signed = WitnessPolicy((absent.verifier,), 0).open(await response.read(), log.name, log)
        assert signed.checkpoint.size >= 3 and signed.cosignatures == ()

        async def counted() -> bool:
            async with session.get("/metrics") as response:
                return 'notrain_witness_requests_total{outcome="unreachable",witness="witness.test/absent"}' in await response.text()

        deadline = asyncio.get_running_loop().time() + 60
        while not await counted():
            assert asyncio.get_running_loop().time() < deadline, "the failure was never counted"
            await asyncio.sleep(0.1)


@pytest.mark.parametrize("sections, where", [
    ({"log": {"witnesses": [f"http://127.0.0.1:1/witness#{LOG.verifier.to_vkey()}"]}}, "log.witnesses"),  # a log key, not a cosigner's
    ({"log": {"witnesses": ["ftp://w.example/witness#" + NoteSigner("w", make_key("w"), COSIGNATURE_V1).verifier.to_vkey()]}}, "log.witnesses"),
    ({"log": {"witnesses": ["http://w.example/witness"]}}, "log.witnesses"),
    ({"log": {"witnesses": [f"http://w{i}.example/witness#" + NoteSigner(f"w{i}", make_key(f"w{i}"), COSIGNATURE_V1).verifier.to_vkey()
                            for i in range(17)]}}, "log.witnesses"),
    ({"witness": {"logs": [NoteSigner("w", make_key("w"), COSIGNATURE_V1).verifier.to_vkey()]}}, "witness.logs"),  # a cosigner as a log
    ({"witness": {"logs": [LOG.verifier.to_vkey(), NoteSigner(ORIGIN, make_key("second")).verifier.to_vkey()]}}, "witness.logs"),
    ({"witness": {"logs": [LOG.verifier.to_vkey()], "name": "has space"}}, "witness.name"),
])
def test_witness_configuration_is_checked_at_startup(tmp_path, sections, where):
    from notrain.aggregator.config import ConfigError

    with pytest.raises(ConfigError) as caught:
        aggregator_config(tmp_path, **sections)
    assert caught.value.code == "E_CONFIG" and caught.value.where == where


async def test_add_checkpoint_is_rate_limited_per_client_before_its_body_is_read(tmp_path):
    config = aggregator_config(tmp_path, witness={"logs": [LOG.verifier.to_vkey()], "per_minute": 2})
    async with running(config) as api:
        for _ in range(2):
            async with api.post("/witness/add-checkpoint", data=b"not a request") as response:
                assert response.status == 400
        async with api.post("/witness/add-checkpoint", data=request(0, 4)) as response:
            assert response.status == 429  # a valid request too: the bucket is empty
            assert (await response.json())["error"]["code"] == "E_RATE_LIMITED"
            assert 1 <= int(response.headers["Retry-After"]) <= 30  # 2 a minute: a token every 30 s
        async with api.get("/witness/vkey") as response:
            assert response.status == 200  # reads are not limited
