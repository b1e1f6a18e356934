"""What do federation's checks of a peer's tiles cost beyond checking the whole log once?

Run:  .venv/bin/python bench/federation_bench.py        (about 20 s, no network)

The log: N = 65,792 entries of 1,200 bytes (a typical manifest envelope), built with core's integration:
257 full bundles and level-0 tiles, a full level-1 tile and a partial one of width 1 beside it, and a
partial level-2 tile: every bundle's proof climbs at least one level.

Part 1, copying every entry of a peer.
  baseline: ``tiles.verify_tiles(size, root, read)``: core's check of a whole log from its tiles (every
            entry hashed into its tile, every full tile into the one above, the root recomputed).
  subject:  ``federation.tree.check_bundle`` for every bundle, as a federating aggregator proves each
            bundle it copies into the signed tree (each bundle's chain up to a partial tile, then the root).
  goal:     at least 0.5 x the baseline's throughput (proving bundle by bundle may re-hash the path above
            each bundle and the root, never the whole log again).

Part 2, one round's checkpoint check: ``check_consistency`` from a tree of N/2 to N (root from the tiles,
proof built from them, verified), against ``check_root`` alone: printed for context (both are per round,
not per entry).
"""

from __future__ import annotations

import random
import sys

import _harness as h

from notrain.aggregator.federation.tree import check_bundle, check_consistency, check_root
from notrain.core.checkpoint import Checkpoint
from notrain.core.tiles import TILE_WIDTH, integrate, verify_tiles

ORIGIN = "peer.example/log"
SIZE = 257 * TILE_WIDTH


def build(entries: list[bytes], tiles: dict, size: int = 0) -> Checkpoint:
    root = b""
    for start in range(0, len(entries), 4096):
        result = integrate(size, entries[start : start + 4096], tiles.__getitem__)
        tiles.update(result.tiles)
        size, root = result.size, result.root
    return Checkpoint(ORIGIN, size, root)


def main() -> int:
    rng = random.Random(9)
    entries = [rng.randbytes(1200) for _ in range(SIZE)]
    tiles: dict = {}
    half = build(entries[: SIZE // 2], tiles)
    full = build(entries[SIZE // 2 :], tiles, half.size)
    read = tiles.__getitem__

    def whole_log() -> int:
        verify_tiles(full.size, full.root, read)
        return full.size

    def bundles() -> int:
        for index in range((full.size + TILE_WIDTH - 1) // TILE_WIDTH):
            check_bundle(full, index, read)
        return full.size

    res = h.interleave({"verify_tiles": whole_log, "check_bundle x 257": bundles}, rounds=5)
    ratio = 1 / h.paired_ratio(res["check_bundle x 257"], res["verify_tiles"])
    print(h.machine())
    print(f"\nPart 1: proving {full.size:,} entries of 1,200 bytes into the signed tree")
    print(h.table(["case", "per entry", "entries/s", "noise"], [
        [name, f"{h.median(v) / 1000:.2f} µs", f"{1e9 / h.median(v):,.0f}", h.spread(v)] for name, v in res.items()]))
    print(f"check_bundle throughput / verify_tiles throughput: {ratio:.2f}")

    def consistency() -> int:
        for _ in range(20):
            assert check_consistency(half, full, read) is None
        return 20

    def root_only() -> int:
        for _ in range(20):
            check_root(full, read)
        return 20

    res2 = h.interleave({"check_root": root_only, "check_consistency": consistency}, rounds=7)
    print(f"\nPart 2: a round's checkpoint check, {half.size:,} -> {full.size:,} entries")
    print(h.table(["case", "per check", "noise"], [[name, f"{h.median(v) / 1000:.0f} µs", h.spread(v)] for name, v in res2.items()]))
    print(f"check_consistency / check_root time: {h.paired_ratio(res2['check_consistency'], res2['check_root']):.2f}")
    print(f"\ngoals: check_bundle throughput >= 0.5 x verify_tiles: {'PASS' if ratio >= 0.5 else 'MISS'} ({ratio:.2f})")
    return 0 if ratio >= 0.5 else 1


if __name__ == "__main__":
    sys.exit(main())
