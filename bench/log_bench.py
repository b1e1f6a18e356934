"""What do the transparency-log core functions cost beyond the hashing they must do?

Run:  .venv/bin/python bench/log_bench.py        (about 30 s, no network)

Part 1, integrating entries into tiles.
  entries:  N = 65,536 log entries of 1,200 bytes (a typical manifest envelope),
            appended in batches of 256 (the aggregator's sequencer batches) to a
            log that already holds 1,000 entries, tiles kept in a dict.
  baseline: ``hashlib.sha256`` of the same entry bytes, one by one: a log must
            hash every entry at least once.
  subject:  ``tiles.integrate(size, batch, read)``: leaf hashes, bundle
            encoding, tile hashes of every level, the new root.
  goals:    throughput >= 0.3 x the baseline's, and >= 10,000 entries/s (the
            aggregator's goal is 1,000 entries/s including storage, so the pure
            part should take at most a tenth of that budget).

Part 2, verifying proofs in a tree of 300,000 entries.
  baseline: as many SHA-256 calls over 65-byte inputs as the proof needs (the
            irreducible work: one hash per proof hash, plus the leaf).
  subjects: ``merkle.verify_inclusion`` and ``merkle.verify_consistency``, and
            ``checkpoint.open_checkpoint`` against a bare Ed25519 verify.
  goals:    proof verification >= 0.5 x the baseline's throughput; opening a
            checkpoint >= 0.8 x a bare Ed25519 verify.

Part 3, checking a whole log from its tiles (``tiles.verify_tiles``) against
hashing every entry once: printed for context.
"""

from __future__ import annotations

import hashlib
import random
import sys

import _harness as h

from notrain.core import PrivateKey
from notrain.core.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from notrain.core.merkle import consistency_proof, inclusion_proof, leaf_hash, verify_consistency, verify_inclusion
from notrain.core.note import NoteSigner
from notrain.core.tiles import TreeReader, integrate, verify_tiles

ORIGIN = "bench.example/log"
BATCH = 256


def build(entries: list[bytes]) -> tuple[dict, bytes]:
    tiles: dict = {}
    size, root = 0, b""
    for start in range(0, len(entries), 4096):
        result = integrate(size, entries[start : start + 4096], tiles.__getitem__)
        tiles.update(result.tiles)
        size, root = result.size, result.root
    return tiles, root


def part1(rng: random.Random) -> tuple[float, float]:
    prefix = [rng.randbytes(1200) for _ in range(1000)]
    new = [rng.randbytes(1200) for _ in range(65536)]
    base_tiles, _ = build(prefix)

    def subject() -> int:
        tiles, size = dict(base_tiles), len(prefix)
        for start in range(0, len(new), BATCH):
            result = integrate(size, new[start : start + BATCH], tiles.__getitem__)
            tiles.update(result.tiles)
            size = result.size
        return len(new)

    def baseline() -> int:
        sha = hashlib.sha256
        for entry in new:
            sha(entry).digest()
        return len(new)

    res = h.interleave({"sha256": baseline, "integrate": subject}, rounds=5)
    ratio = 1 / h.paired_ratio(res["integrate"], res["sha256"])
    rate = 1e9 / h.median(res["integrate"])
    print("\nPart 1: integrating 65,536 entries of 1,200 bytes, batches of 256")
    print(h.table(["case", "per entry", "entries/s", "noise"], [
        [name, f"{h.median(v) / 1000:.2f} µs", f"{1e9 / h.median(v):,.0f}", h.spread(v)] for name, v in res.items()]))
    print(f"integrate throughput / sha256 throughput: {ratio:.2f}")
    return ratio, rate


def part2(rng: random.Random) -> tuple[float, float, float]:
    size = 300_000
    entries = [rng.randbytes(64) for _ in range(size)]
    tiles, root = build(entries)
    reader = TreeReader(size, tiles.__getitem__)
    picks = rng.sample(range(size), 200)
    inclusions = [(i, leaf_hash(entries[i]), inclusion_proof(i, size, reader.node)) for i in picks]
    olds = sorted(rng.sample(range(1, size), 200))
    old_roots = {m: build(entries[:m])[1] for m in olds[:20]}
    consistencies = [(m, old_roots[m], consistency_proof(m, size, reader.node)) for m in old_roots]
    hashes_incl = sum(len(p) + 1 for _, _, p in inclusions)
    hashes_cons = sum(2 * len(p) for _, _, p in consistencies)
    block = bytes(65)

    def hashing(count: int):
        def run() -> int:
            sha = hashlib.sha256
            for _ in range(count):
                sha(block).digest()
            return 1
        return run

    def incl() -> int:
        for i, leaf, proof in inclusions:
            verify_inclusion(i, size, leaf, proof, root)
        return 1

    def cons() -> int:
        for m, old, proof in consistencies:
            verify_consistency(m, size, old, root, proof)
        return 1

    log = NoteSigner(ORIGIN, PrivateKey.from_seed(hashlib.sha256(b"bench log").digest()))
    note = sign_checkpoint(Checkpoint(ORIGIN, size, root), log)
    body = Checkpoint(ORIGIN, size, root).body().encode()
    signature = note[note.rindex(b" ") + 1 : -1]
    import base64

    raw_sig = base64.b64decode(signature)[4:]
    public = log.verifier.public

    def bare_ed25519() -> int:
        for _ in range(50):
            public.verify(raw_sig, body)
        return 50

    def open_cp() -> int:
        for _ in range(50):
            open_checkpoint(note, ORIGIN, log.verifier)
        return 50

    res = h.interleave({"hash (incl.)": hashing(hashes_incl), "verify_inclusion": incl,
                        "hash (cons.)": hashing(hashes_cons), "verify_consistency": cons,
                        "bare Ed25519": bare_ed25519, "open_checkpoint": open_cp}, rounds=9)
    r_incl = 1 / h.paired_ratio(res["verify_inclusion"], res["hash (incl.)"])
    r_cons = 1 / h.paired_ratio(res["verify_consistency"], res["hash (cons.)"])
    r_cp = 1 / h.paired_ratio(res["open_checkpoint"], res["bare Ed25519"])
    print(f"\nPart 2: a tree of {size:,}; 200 inclusion proofs ({hashes_incl / 200:.1f} hashes each), "
          f"20 consistency proofs ({hashes_cons / 20:.1f} hashes each)")
    per = {"hash (incl.)": 200, "verify_inclusion": 200, "hash (cons.)": 20, "verify_consistency": 20, "bare Ed25519": 1, "open_checkpoint": 1}
    print(h.table(["case", "per proof / note", "per second", "noise"], [
        [name, f"{h.median(v) / per[name] / 1000:.2f} µs", f"{per[name] * 1e9 / h.median(v):,.0f}", h.spread(v)] for name, v in res.items()]))
    print(f"verify_inclusion / hashing: {r_incl:.2f}; verify_consistency / hashing: {r_cons:.2f}; open_checkpoint / Ed25519: {r_cp:.2f}")
    return r_incl, r_cons, r_cp


def part3(rng: random.Random) -> None:
    entries = [rng.randbytes(1200) for _ in range(65536 + 123)]
    tiles, root = build(entries)

    def whole() -> int:
        verify_tiles(len(entries), root, tiles.__getitem__)
        return len(entries)

    def hashing() -> int:
        for entry in entries:
            hashlib.sha256(entry).digest()
        return len(entries)

    res = h.interleave({"sha256": hashing, "verify_tiles": whole}, rounds=3)
    print(f"\nPart 3: checking a log of {len(entries):,} entries from its tiles: "
          f"{h.median(res['verify_tiles']) / 1000:.2f} µs per entry, "
          f"{1 / h.paired_ratio(res['verify_tiles'], res['sha256']):.2f} x the sha256 throughput")


def main() -> int:
    print(h.machine())
    rng = random.Random(2026)
    ratio, rate = part1(rng)
    r_incl, r_cons, r_cp = part2(rng)
    part3(rng)
    goals = [
        (f"integrate >= 0.3 x sha256 ({ratio:.2f})", ratio >= 0.3),
        (f"integrate >= 10,000 entries/s ({rate:,.0f})", rate >= 10_000),
        (f"verify_inclusion >= 0.5 x hashing ({r_incl:.2f})", r_incl >= 0.5),
        (f"verify_consistency >= 0.5 x hashing ({r_cons:.2f})", r_cons >= 0.5),
        (f"open_checkpoint >= 0.8 x Ed25519 ({r_cp:.2f})", r_cp >= 0.8),
    ]
    print("\n" + "; ".join(f"{name}: {h.verdict(ok)}" for name, ok in goals))
    return 0


if __name__ == "__main__":
    sys.exit(main())
