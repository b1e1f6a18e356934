"""One peer's log, read as C2SP tlog-tiles over HTTP: every read through the SSRF-guarded client (loopback only
where the operator allowed it, as for crawls) and bounded by what the read can legitimately be.

A refusal is a :class:`PeerError` with a code from spec/errors.md: ``E_SOURCE`` for a peer that cannot be
read (network, HTTP status), ``E_SIZE`` for an answer over its bound.  A partial tile the peer has pruned
since its full tile exists is cut from the full one, as tlog-tiles lets a client do.
"""

from __future__ import annotations

from ...core.errors import NotrainError
from ...core.merkle import HASH_SIZE
from ...core.tiles import ENTRIES, MAX_BUNDLE_BYTES, TILE_WIDTH, TileId
from ...fetch.http import Fetched, Transport
from ..log.reader import partial_of

MAX_CHECKPOINT_BYTES = 16 * 1024  # a checkpoint with 32 signatures is far below this (a signed note may be 128 KiB)


class PeerError(NotrainError):
    """A peer log that cannot be read, or whose answer is refused."""

    code = "E_SOURCE"


class PeerLog:
    def __init__(self, client: Transport, url: str) -> None:
        self.client, self.url = client, url.rstrip("/")

    async def checkpoint(self) -> bytes:
        return _ok(await self._fetch("/log/checkpoint", MAX_CHECKPOINT_BYTES))

    async def tile(self, tile: TileId) -> bytes:
        """A hash tile (exactly 32 x width octets at most) or entry bundle (at most 256 entries of 64 KiB)."""
        fetched = await self._fetch("/log/" + tile.path, _bound(tile))
        if fetched.status == 404 and tile.width < TILE_WIDTH:
            full = TileId(tile.level, tile.index)
            return partial_of(tile, _ok(await self._fetch("/log/" + full.path, _bound(full))))
        return _ok(fetched)

    async def body(self, sha256: bytes, max_bytes: int) -> bytes:
        """A detached body (spec/log.md, "Log entries"); the caller checks it against its entry."""
        return _ok(await self._fetch(f"/log/body/{sha256.hex()}", max_bytes))

    async def _fetch(self, path: str, max_bytes: int) -> Fetched:
        fetched = await self.client.get(self.url + path, max_bytes=max_bytes)
        if fetched.failure == "too large":
            raise PeerError(f"{path}: more than {max_bytes} octets", code="E_SIZE", where=fetched.url)
        return fetched


def _ok(fetched: Fetched) -> bytes:
    if not fetched.ok:
        raise PeerError(f"{fetched.url}: {fetched.failure or f'HTTP {fetched.status}'}", where=fetched.url)
    return fetched.body


def _bound(tile: TileId) -> int:
    return MAX_BUNDLE_BYTES if tile.level == ENTRIES else tile.width * HASH_SIZE
