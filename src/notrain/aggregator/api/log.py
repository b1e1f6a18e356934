"""The log as C2SP tlog-tiles: ``/log/checkpoint``, ``/log/tile/<L>/<N>[.p/<W>]``, ``/log/tile/entries/...``,
and beside it ``/log/body/<sha256>``: the bodies of entries too large to hold them (spec/log.md, "Log entries").

Everything here is a plain GET of stored bytes, so the same files can be mirrored by any static web
server or CDN.  Full tiles and bundles never change (``immutable``, a year); partial ones and the
checkpoint change as the log grows (a few seconds).  Routing is by path only; a path that is not the one
canonical spelling of a tile is a 404, as tlog-tiles asks.  A body is named by its digest, so it never
changes either.  Nothing here signs anything: the checkpoint is served with the cosignature lines of
the witnesses that cosigned exactly it appended (spec/log.md, "Witnesses").
"""

from __future__ import annotations

import re

from aiohttp import web

from ...core.logerrors import TileError
from ...core.tiles import ENTRIES, TILE_WIDTH, parse_tile_path
from ...core.witnessing import with_cosignatures
from ..state import SERVICE
from .errors import ApiError

IMMUTABLE = "public, max-age=31536000, immutable"
FRESH = "public, max-age=2"
SHA256_HEX = re.compile(r"[0-9a-f]{64}")  # the one spelling an entry's sha256 line has


async def checkpoint(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    stored = await service.storage.checkpoint()
    if stored is None:
        raise ApiError("the log has no checkpoint yet", code="E_UNAVAILABLE", where="checkpoint")
    cosignatures = await service.storage.cosignatures() if service.config.log.witnesses else []  # no read when none are asked
    cosigned = [c.line for c in cosignatures if (c.size, c.root) == (stored.size, stored.root)]
    note = with_cosignatures(stored.note, cosigned) if cosigned else stored.note
    return web.Response(body=note, content_type="text/plain", charset="utf-8", headers={"Cache-Control": FRESH})


async def tile(request: web.Request) -> web.Response:
    try:
        tile_id = parse_tile_path("tile/" + request.match_info["path"])
    except TileError:
        raise ApiError("not a tile path", code="E_NOT_FOUND", where=request.path) from None
    storage = request.app[SERVICE].storage
    if tile_id.level == ENTRIES:
        data = await storage.entry_bundle(tile_id.index, tile_id.width)
    else:
        data = await storage.tile(tile_id.level, tile_id.index, tile_id.width)
    if data is None:
        raise ApiError("no such tile in this log", code="E_NOT_FOUND", where=request.path)
    cache = IMMUTABLE if tile_id.width == TILE_WIDTH else FRESH
    return web.Response(body=data, content_type="application/octet-stream", headers={"Cache-Control": cache})


async def body(request: web.Request) -> web.Response:
    digest = request.match_info["sha256"]
    if not SHA256_HEX.fullmatch(digest):
        raise ApiError("not a body path: 64 lowercase hex digits", code="E_NOT_FOUND", where=request.path)
    data = await request.app[SERVICE].storage.body(bytes.fromhex(digest))
    if data is None:
        raise ApiError("no detached body with this digest", code="E_NOT_FOUND", where=request.path)
    return web.Response(body=data, content_type="application/octet-stream", headers={"Cache-Control": IMMUTABLE})


def setup(app: web.Application) -> None:
    app.router.add_get("/log/checkpoint", checkpoint)
    app.router.add_get("/log/tile/{path:.+}", tile)
    app.router.add_get("/log/body/{sha256}", body)
