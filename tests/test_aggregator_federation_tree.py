"""The pure checks federation runs on a peer's tiles (notrain.aggregator.federation.tree), on real trees built
with core's integration: extensions verify, rewritten histories are forks, altered tiles are garbage (E_TILE,
never a fork), and the work for the largest tree is bounded."""

from __future__ import annotations

import hashlib

import pytest

from notrain.aggregator.federation.pull import MAX_TILE_READS
from notrain.aggregator.federation.tree import MissingTile, check_bundle, check_consistency, check_root, reader
from notrain.core.checkpoint import Checkpoint
from notrain.core.logerrors import ProofError, TileError
from notrain.core.merkle import MAX_TREE_SIZE, verify_consistency
from notrain.core.tiles import ENTRIES, TILE_WIDTH, TileId, TreeReader, integrate, tile_width

ORIGIN = "peer.test/log"


def grow(tiles: dict, size: int, entries: list[bytes]) -> Checkpoint:
    """Append to the tree whose tiles ``tiles`` holds (older partial tiles stay, as a log serves them)."""
    result = integrate(size, entries, tiles.__getitem__)
    tiles.update(result.tiles)
    return Checkpoint(ORIGIN, result.size, result.root)


def entries(first: int, count: int, tag: bytes = b"") -> list[bytes]:
    return [b"entry %d%s" % (i, tag) for i in range(first, first + count)]


def test_a_growing_log_is_consistent_and_every_bundle_proves_into_it():
    tiles: dict = {}
    checkpoints = [grow(tiles, 0, entries(0, 1))]
    for size in (3, 256, 300, 700):  # 700: two full level-0 tiles, a level-1 tile above them
        checkpoints.append(grow(tiles, checkpoints[-1].size, entries(checkpoints[-1].size, size - checkpoints[-1].size)))
    read = reader(tiles)
    for i, old in enumerate(checkpoints):
        for new in checkpoints[i:]:
            assert check_consistency(old, new, read) is None
    last = checkpoints[-1]
    check_root(last, read)
    found = [e for index in range((last.size + TILE_WIDTH - 1) // TILE_WIDTH) for e in check_bundle(last, index, read)]
    assert found == entries(0, last.size)


def test_a_rewritten_history_is_a_fork_with_the_failing_proof():
    first, second = {}, {}
    old = grow(first, 0, entries(0, 300))
    new = grow(second, 0, entries(0, 150) + entries(150, 350, b" rewritten"))
    fork = check_consistency(old, new, reader(second))
    assert fork is not None and "not a prefix" in fork.reason and fork.proof
    with pytest.raises(ProofError):
        verify_consistency(old.size, new.size, old.root, new.root, list(fork.proof))
    twin = grow({}, 0, entries(0, 300, b" other"))
    assert check_consistency(old, twin, reader(first)).proof == ()  # one size, two roots: no proof needed


def test_tiles_that_do_not_hash_to_the_signed_root_are_garbage_not_a_fork():
    tiles: dict = {}
    old = grow(tiles, 0, entries(0, 10))
    new = grow(tiles, old.size, entries(10, 290))
    altered = dict(tiles)
    altered[TileId(0, 1, 44)] = bytes(32) + tiles[TileId(0, 1, 44)][32:]
    with pytest.raises(TileError, match="do not hash to the checkpoint's root"):
        check_consistency(old, new, reader(altered))
    with pytest.raises(TileError):
        check_root(Checkpoint(ORIGIN, new.size, bytes(32)), reader(tiles))
    with pytest.raises(TileError):  # from the empty tree too, the new tiles must hash to the new root
        check_consistency(Checkpoint(ORIGIN, 0, hashlib.sha256(b"").digest()), new, reader(altered))


@pytest.mark.parametrize("altered", ["entry", "level-0 tile", "up to the top tile"])
def test_a_bundle_not_in_the_signed_tree_is_refused(altered):
    tiles: dict = {}
    checkpoint = grow(tiles, 0, entries(0, 700))
    forged = dict(tiles)
    bundle = entries(0, TILE_WIDTH)
    bundle[7] = b"a forged entry"
    forged[TileId(ENTRIES, 0)] = b"".join(len(e).to_bytes(2, "big") + e for e in bundle)
    if altered != "entry":  # rehash the forgery upwards as far as the forger dares
        leaves = [hashlib.sha256(b"\x00" + e).digest() for e in bundle]
        forged[TileId(0, 0)] = b"".join(leaves)
        if altered != "level-0 tile":
            level1 = TreeReader(checkpoint.size, reader(forged)).node(8, 0)
            width = tile_width(1, 0, checkpoint.size)
            forged[TileId(1, 0, width)] = level1 + tiles[TileId(1, 0, width)][32:]
    with pytest.raises(TileError):
        check_bundle(checkpoint, 0, reader(forged))
    assert check_bundle(checkpoint, 1, reader(tiles)) == entries(TILE_WIDTH, TILE_WIDTH)


def test_a_check_names_the_tile_it_misses():
    tiles: dict = {}
    checkpoint = grow(tiles, 0, entries(0, 5))
    with pytest.raises(MissingTile) as missing:
        check_bundle(checkpoint, 0, reader({}))
    assert missing.value.tile == TileId(ENTRIES, 0, 5)


def test_the_largest_tree_needs_few_tiles_to_check():
    """The worst case within the limits: consistency between two trees near 2^63 entries, every tile made up
    (each its own hashes, served lazily): the checks read far fewer tiles than a round allows."""
    served: set[TileId] = set()

    def read(tile: TileId) -> bytes:
        served.add(tile)
        return b"".join(hashlib.sha256(b"%d/%d/%d/%d" % (tile.level, tile.index, tile.width, i)).digest() for i in range(tile.width))

    new_size = MAX_TREE_SIZE
    new = Checkpoint(ORIGIN, new_size, TreeReader(new_size, read).root())
    old = Checkpoint(ORIGIN, 2**62, bytes(32))  # (from an odd size, core's 63-hash cap refuses the 64 hashes such a proof has)
    fork = check_consistency(old, new, read)
    assert fork is not None and len(fork.proof) <= 63
    assert len(served) <= MAX_TILE_READS // 2
    served.clear()
    with pytest.raises(TileError):  # made-up tiles do not hold the entries' hashes
        check_bundle(new, new_size // TILE_WIDTH, read)
    assert len(served) <= MAX_TILE_READS // 2
