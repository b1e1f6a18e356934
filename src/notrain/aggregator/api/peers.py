"""Federation as seen from outside: ``/v1/peers`` (each peer log's state) and ``/v1/evidence`` (forks caught).

Evidence is served verbatim: both signed checkpoints exactly as the peer served them, so anyone holding
the peer's vkey can check the two signatures and see that no consistency proof joins the two trees
(the failed proof, built from the peer's own tiles, is given too).
"""

from __future__ import annotations

from aiohttp import web

from ...core import b64
from ...core.manifest import format_timestamp
from ..state import SERVICE
from ..storage import ForkEvidence, PeerState

MAX_EVIDENCE = 100


def peer_json(state: PeerState) -> dict:
    return {
        "origin": state.origin,
        "url": state.url,
        "status": state.status,
        "error": state.error,
        "size": state.size,
        "copied": state.copied,
        "skipped": state.skipped,
        "checkpoint": None if state.checkpoint is None else state.checkpoint.decode("utf-8"),
        "checked_at": None if state.checked_at is None else format_timestamp(state.checked_at),
    }


def evidence_json(found: ForkEvidence) -> dict:
    return {
        "origin": found.origin,
        "old": found.old.decode("utf-8"),
        "new": found.new.decode("utf-8"),
        "proof": [b64.std_encode(h) for h in found.proof],
        "reason": found.reason,
        "found_at": format_timestamp(found.found_at),
    }


async def peers(request: web.Request) -> web.Response:
    federation = request.app[SERVICE].federation
    states = await federation.states() if federation is not None else await request.app[SERVICE].storage.peers()
    return web.json_response({"peers": [peer_json(state) for state in states]})


async def evidence(request: web.Request) -> web.Response:
    found = await request.app[SERVICE].storage.evidence(MAX_EVIDENCE)
    return web.json_response({"forks": [evidence_json(e) for e in found]})


def setup(app: web.Application) -> None:
    app.router.add_get("/v1/peers", peers)
    app.router.add_get("/v1/evidence", evidence)
