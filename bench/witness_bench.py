"""What does witnessing cost beyond the signatures it cannot avoid?

Run:  .venv/bin/python bench/witness_bench.py        (about 20 s, no network)

Part 1, a witness's decision (``core.witnessing``): an add-checkpoint request for a log of 100,000
  entries growing by 1,000 (a consistency proof of 11 hashes), its checkpoint note carrying the log's
  signature and 8 other witnesses' cosignatures.
  baseline: one Ed25519 verify of the checkpoint text and one Ed25519 sign (the irreducible work of a
            witness: the log's signature, its own cosignature).
  subject:  ``open_request`` + ``check_consistency`` + ``cosignature_lines``; also on the same
            checkpoint carrying the log's signature only (``decision_plain``).
  goal:     >= 0.7 x the baseline's throughput.

Part 2, a client's k-of-n policy: ``WitnessPolicy.open`` of the same note requiring 3 of 3 witnesses,
  against 4 bare Ed25519 verifies (the log's and 3 cosignatures).  Goal: >= 0.8 x.

Part 3, context: the whole role (``Witness.add_checkpoint``) on a real SQLite file, the record
  compare-and-swapped and fsynced before answering, 200 requests in a row, against part 1's subject.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import sys
import tempfile
import time

import _harness as h

from notrain.aggregator.storage import open_storage
from notrain.aggregator.witness.role import Witness
from notrain.core import PrivateKey
from notrain.core.checkpoint import Checkpoint, cosign, sign_checkpoint
from notrain.core.merkle import CompactRange, consistency_proof, leaf_hash, node_hash
from notrain.core.note import COSIGNATURE_V1, NoteSigner
from notrain.core.witnessing import AddCheckpoint, Witnessed, WitnessPolicy, check_consistency, cosignature_lines, open_request

ORIGIN = "bench.example/log"
OLD, NEW = 100_000, 101_000
REPEAT = 200


def key(name: str) -> PrivateKey:
    return PrivateKey.from_seed(hashlib.sha256(name.encode()).digest())


@functools.cache
def node(level: int, index: int) -> bytes:
    """A tree of made-up leaves, each inner node the hash of its two children, computed once."""
    if level == 0:
        return leaf_hash(b"%d" % index)
    return node_hash(node(level - 1, 2 * index), node(level - 1, 2 * index + 1))


def main() -> int:
    log, me = NoteSigner(ORIGIN, key("log")), NoteSigner("bench.example/witness", key("witness"), COSIGNATURE_V1)
    others = [NoteSigner(f"bench.example/w{i}", key(f"w{i}"), COSIGNATURE_V1) for i in range(8)]
    old_root, new_root = CompactRange.at(OLD, node).root(), CompactRange.at(NEW, node).root()
    note = sign_checkpoint(Checkpoint(ORIGIN, NEW, new_root), log)
    for i, other in enumerate(others):
        note = cosign(note, other, 1_800_000_000 + i)
    proof = tuple(consistency_proof(OLD, NEW, node))
    body = AddCheckpoint(OLD, proof, note).to_bytes()
    plain = AddCheckpoint(OLD, proof, sign_checkpoint(Checkpoint(ORIGIN, NEW, new_root), log)).to_bytes()  # the log's signature only
    latest, logs = Witnessed(OLD, old_root), {ORIGIN: log.verifier}
    text = note[: note.index(b"\n\n") + 1]
    raw_log, raw_me = key("log"), key("witness")
    signature = raw_log.sign(text)
    policy = WitnessPolicy(tuple(o.verifier for o in others[:3]), 3)
    cosignatures = [raw_log.sign(text) for _ in range(3)]

    def decide(request_body: bytes) -> int:
        for _ in range(REPEAT):
            request, signed = open_request(request_body, logs)
            check_consistency(request, signed, latest)
            cosignature_lines(signed, me, 1_800_000_100)
        return REPEAT

    def bare_witness() -> int:
        for _ in range(REPEAT):
            log.verifier.public.verify(signature, text)
            raw_me.sign(text)
        return REPEAT

    def client() -> int:
        for _ in range(REPEAT):
            policy.open(note, ORIGIN, log.verifier)
        return REPEAT

    def bare_client() -> int:
        for _ in range(REPEAT):
            log.verifier.public.verify(signature, text)
            for sig in cosignatures:
                log.verifier.public.verify(sig, text)
        return REPEAT

    print(h.machine())
    signatures = note.count("\n\u2014".encode())
    print(f"proof of {len(proof)} hashes, note of {signatures} signatures, {REPEAT} operations a batch")
    cases = {"decision": lambda: decide(body), "decision_plain": lambda: decide(plain), "bare_witness": bare_witness,
             "client": client, "bare_client": bare_client}
    timings = h.interleave(cases, rounds=7)
    passes = []
    for subject, base, goal in (("decision", "bare_witness", 0.7), ("decision_plain", "bare_witness", 0.7), ("client", "bare_client", 0.8)):
        ratio = 1 / h.paired_ratio(timings[subject], timings[base])
        passes.append(ratio >= goal)
        print(f"{subject}: {h.median(timings[subject]) / 1000:.0f} µs vs {h.median(timings[base]) / 1000:.0f} µs "
              f"-> throughput ratio {ratio:.2f} {h.spread(timings[subject])} (goal >= {goal}: {'PASS' if ratio >= goal else 'MISS'})")
    print(f"role on SQLite, durable compare-and-swap: {asyncio.run(_role(log, me, node)):.0f} µs per request "
          f"(decision alone {h.median(timings['decision']) / 1000:.0f} µs)")
    return 0 if all(passes) else 1


async def _role(log: NoteSigner, me: NoteSigner, node) -> float:
    """Median µs per add-checkpoint on a growing log, state in a fresh SQLite file."""
    with tempfile.TemporaryDirectory() as directory:
        storage = await open_storage(f"sqlite:///{directory}/witness.sqlite")
        try:
            witness = Witness(storage, me, {ORIGIN: log.verifier})
            size = OLD
            await witness.add_checkpoint(AddCheckpoint(0, (), sign_checkpoint(Checkpoint(ORIGIN, size, CompactRange.at(size, node).root()), log)).to_bytes())
            times = []
            for _ in range(REPEAT):
                new = size + 256
                body = AddCheckpoint(size, tuple(consistency_proof(size, new, node)),
                                     sign_checkpoint(Checkpoint(ORIGIN, new, CompactRange.at(new, node).root()), log)).to_bytes()
                start = time.perf_counter_ns()
                await witness.add_checkpoint(body)
                times.append((time.perf_counter_ns() - start) / 1000)
                size = new
            return h.median(times)
        finally:
            await storage.close()


if __name__ == "__main__":
    sys.exit(main())
