"""Checks of a peer's log from its own tiles: pure, synchronous, run in a worker thread.

Nothing a peer says about its tree is taken on trust: not its proof endpoints (never asked), not its tiles
(every tile used is hashed up to a root the peer signed).  The checks use core's :class:`TreeReader` and
proof code over a dictionary of the tiles fetched so far; a tile not there yet raises :class:`MissingTile`,
the caller fetches it and runs the check again (:func:`notrain.aggregator.federation.pull`), so no worker
thread ever waits on the network.  A check reads a few tiles per level: re-running it is cheaper than
working out its tile set ahead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ...core.checkpoint import Checkpoint
from ...core.logerrors import ProofError, TileError
from ...core.merkle import EMPTY_ROOT, consistency_proof, leaf_hash, perfect_root, verify_consistency
from ...core.tiles import ENTRIES, TILE_WIDTH, TileId, TileReader, TreeReader, decode_bundle, decode_tile, tile_width


class MissingTile(Exception):
    """The check needs this tile, which has not been fetched yet."""

    def __init__(self, tile: TileId) -> None:
        super().__init__(tile.path)
        self.tile = tile


def reader(tiles: Mapping[TileId, bytes]) -> TileReader:
    def read(tile: TileId) -> bytes:
        if tile not in tiles:
            raise MissingTile(tile)
        return tiles[tile]

    return read


@dataclass(frozen=True)
class Fork:
    """Why two signed checkpoints of one log cannot both be true."""

    proof: tuple[bytes, ...]  # the consistency proof built from the newer tree's tiles (empty: equal sizes)
    reason: str


def check_root(checkpoint: Checkpoint, read: TileReader) -> None:
    """The tiles of the peer's tree hash to the root it signed (``E_TILE`` otherwise: garbage, not a fork)."""
    root = TreeReader(checkpoint.size, read).root() if checkpoint.size else EMPTY_ROOT
    if root != checkpoint.root:
        raise TileError(f"the tiles of size {checkpoint.size} do not hash to the checkpoint's root", where="root")


def check_consistency(old: Checkpoint, new: Checkpoint, read: TileReader) -> Fork | None:
    """None if ``new`` extends ``old``, else the :class:`Fork`.  ``new`` is at least as large, and its
    tiles must hash to its root first (:func:`check_root`): then they are the true nodes of the tree the
    peer signed, the proof built from them is the only one there is, and its failure proves the fork."""
    if new.size < old.size:
        raise ValueError("a consistency check runs from the smaller tree")
    if new.size == old.size:
        return None if new.root == old.root else Fork((), f"two roots signed for size {new.size}")
    check_root(new, read)
    if old.size == 0:  # every tree extends the empty one (whose root check_root checked when it was stored)
        return None
    proof = consistency_proof(old.size, new.size, TreeReader(new.size, read).node)
    try:
        verify_consistency(old.size, new.size, old.root, new.root, proof)
    except ProofError as error:
        return Fork(tuple(proof), f"size {old.size} is not a prefix of size {new.size}: {error.message}")
    return None


def check_bundle(checkpoint: Checkpoint, index: int, read: TileReader) -> list[bytes]:
    """The entries of bundle ``index`` of the tree ``checkpoint`` signed, proven to be in it: their leaf
    hashes are the level-0 tile, each full tile's root is in the tile above, up to a partial tile, and
    partial tiles are what the root is computed from (:func:`check_root`).  ``E_TILE`` otherwise."""
    width = tile_width(0, index, checkpoint.size)
    if width == 0:
        raise TileError(f"bundle {index} is beyond the tree of size {checkpoint.size}", where="bundle")
    entries = decode_bundle(read(TileId(ENTRIES, index, width)), width)
    hashes, level = [leaf_hash(entry) for entry in entries], 0
    while True:
        tile = TileId(level, index, len(hashes))
        if decode_tile(read(tile), tile.width) != hashes:
            raise TileError(f"{tile.path} does not hold the hashes of the level below", where=tile.path)
        if len(hashes) < TILE_WIDTH:
            break
        index, offset = divmod(index, TILE_WIDTH)
        level += 1
        above = TileId(level, index, tile_width(level, index, checkpoint.size))
        row = decode_tile(read(above), above.width)
        if row[offset] != perfect_root(hashes):
            raise TileError(f"{above.path} does not hold the root of the tile below", where=above.path)
        hashes = row
    check_root(checkpoint, read)
    return entries
