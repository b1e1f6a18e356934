"""Reading stored tiles from pure code that runs in a worker thread.

core's tree code takes a synchronous ``read(TileId) -> bytes``; storage is async.  The hashing runs in a
thread (never on the event loop) and each read it needs is sent back to the loop and awaited there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from ...core.logerrors import TileError
from ...core.tiles import ENTRIES, TileId
from ..storage import Storage

T = TypeVar("T")


async def read_tile(storage: Storage, tile: TileId) -> bytes:
    if tile.level == ENTRIES:
        data = await storage.entry_bundle(tile.index, tile.width)
    else:
        data = await storage.tile(tile.level, tile.index, tile.width)
    if data is None:
        raise TileError(f"{tile.path} is missing from storage", where=tile.path)
    return data


async def in_thread(storage: Storage, work: Callable[[Callable[[TileId], bytes]], T]) -> T:
    """Run ``work(read)`` in a worker thread, ``read`` fetching tiles through this event loop."""
    loop = asyncio.get_running_loop()

    def read(tile: TileId) -> bytes:
        return asyncio.run_coroutine_threadsafe(read_tile(storage, tile), loop).result()

    return await asyncio.to_thread(work, read)
