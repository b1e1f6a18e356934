"""Serving snapshots (spec/snapshot.md): ``/snapshot/latest``, ``/snapshot/<id>/descriptor``,
``/snapshot/<id>/<part>``, ``/snapshot/<id>/delta/<older id>`` and ``/v1/snapshot``.

The descriptor and parts are the stored files' exact octets; under an id they never change
(``immutable``), so any static server or CDN can mirror them.  ``latest`` moves when a new snapshot is
built, so it is cached briefly.  ``/v1/snapshot`` says where the latest one is in the log: its
descriptor's entry, and that entry's log index once integrated (then a client asks
``/v1/entries/<entry>`` or ``/v1/proof/inclusion`` for the proof).
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from ...core import b64
from ...core.snapshot import parse_descriptor
from ..snapshots import SNAPSHOT_ID, SnapshotBuilder, Stored
from ..state import SERVICE
from .errors import ApiError
from .log import IMMUTABLE

LATEST_CACHE = "public, max-age=30"
DESCRIPTOR_TYPE = "text/plain"


def _builder(request: web.Request) -> SnapshotBuilder:
    builder = request.app[SERVICE].snapshots
    if builder is None:
        raise ApiError("this aggregator builds no snapshots", code="E_NOT_FOUND", where=request.path)
    return builder


def _latest(request: web.Request) -> Stored:
    stored = _builder(request).latest
    if stored is None:
        raise ApiError("no snapshot built yet", code="E_NOT_FOUND", where=request.path)
    return stored


async def latest(request: web.Request) -> web.Response:
    stored = _latest(request)
    return web.Response(body=stored.descriptor, content_type=DESCRIPTOR_TYPE, charset="us-ascii",
                        headers={"Cache-Control": LATEST_CACHE, "Notrain-Snapshot-Id": stored.id})


async def part(request: web.Request) -> web.StreamResponse:
    """The descriptor or a part, exact octets, sent from its file."""
    name = request.match_info["name"]
    path = _builder(request).files.path(request.match_info["id"], name)
    if path is None:
        raise ApiError("no such snapshot or part", code="E_NOT_FOUND", where=request.path)
    content_type = DESCRIPTOR_TYPE if name == "descriptor" else "application/octet-stream"
    return web.FileResponse(path, headers={"Cache-Control": IMMUTABLE, "Content-Type": content_type})


async def delta(request: web.Request) -> web.StreamResponse:
    """The delta from an older stored snapshot to the latest (made once, then kept): a client holding the
    older one pulls only the publishers that changed."""
    files = _builder(request).files
    new, old = request.match_info["id"], request.match_info["previous"]
    latest = _builder(request).latest
    if latest is None or new != latest.id or not SNAPSHOT_ID.fullmatch(old):  # to the latest only: at most one delta per snapshot held
        raise ApiError("not a snapshot id: 64 lowercase hex digits", code="E_NOT_FOUND", where=request.path)
    path = await asyncio.to_thread(files.delta, new, old)
    if path is None:
        raise ApiError("no delta between these snapshots here", code="E_NOT_FOUND", where=request.path)
    return web.FileResponse(path, headers={"Cache-Control": IMMUTABLE, "Content-Type": DESCRIPTOR_TYPE})


async def describe(request: web.Request) -> web.Response:
    stored = _latest(request)
    descriptor = parse_descriptor(stored.descriptor)
    entry = await request.app[SERVICE].storage.entry(stored.entry_id)
    base = f"/snapshot/{stored.id}"
    body = {
        "id": stored.id,
        "log": descriptor.log,
        "size": descriptor.size,
        "root": b64.std_encode(descriptor.root),
        "descriptor": f"{base}/descriptor",
        "entry": stored.entry_id,
        "log_index": None if entry is None else entry.log_index,
        "parts": {name: {"url": f"{base}/{name}", "size": octets, "sha256": digest.hex()} for name, octets, digest in descriptor.parts},
    }
    return web.json_response(body, headers={"Cache-Control": LATEST_CACHE})


def setup(app: web.Application) -> None:
    app.router.add_get("/snapshot/latest", latest)
    app.router.add_get("/snapshot/{id}/{name}", part)
    app.router.add_get("/snapshot/{id}/delta/{previous}", delta)
    app.router.add_get("/v1/snapshot", describe)
