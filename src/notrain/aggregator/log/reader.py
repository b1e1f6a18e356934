"""Reading stored tiles from pure code that runs in a worker thread.

core's tree code takes a synchronous ``read(TileId) -> bytes``; storage is async.  The hashing runs in a
thread (never on the event loop) and each read it needs is sent back to the loop and awaited there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from ...core.logerrors import TileError
from ...core.merkle import HASH_SIZE
from ...core.tiles import ENTRIES, TILE_WIDTH, TileId, decode_bundle, encode_bundle
from ..storage import Storage

T = TypeVar("T")


async def read_tile(storage: Storage, tile: TileId) -> bytes:
    """The tile's bytes; a partial tile pruned since its full tile was stored is cut from the full one
    (tlog-tiles: a partial tile is a prefix of the full tile at the same coordinates), so proofs at an
    older tree size keep working."""
    data = await _stored(storage, tile)
    if data is None and tile.width < TILE_WIDTH:
        full = await _stored(storage, TileId(tile.level, tile.index))
        if full is not None:
            data = partial_of(tile, full)
    if data is None:
        raise TileError(f"{tile.path} is missing from storage", where=tile.path)
    return data


async def _stored(storage: Storage, tile: TileId) -> bytes | None:
    if tile.level == ENTRIES:
        return await storage.entry_bundle(tile.index, tile.width)
    return await storage.tile(tile.level, tile.index, tile.width)


def partial_of(tile: TileId, full: bytes) -> bytes:
    """The partial ``tile`` cut from the full tile or bundle at its coordinates (a partial one is its prefix)."""
    if tile.level == ENTRIES:
        return encode_bundle(decode_bundle(full, TILE_WIDTH)[: tile.width])
    return full[: tile.width * HASH_SIZE]


async def in_thread(storage: Storage, work: Callable[[Callable[[TileId], bytes]], T]) -> T:
    """Run ``work(read)`` in a worker thread, ``read`` fetching tiles through this event loop."""
    loop = asyncio.get_running_loop()

    def read(tile: TileId) -> bytes:
        return asyncio.run_coroutine_threadsafe(read_tile(storage, tile), loop).result()

    return await asyncio.to_thread(work, read)
