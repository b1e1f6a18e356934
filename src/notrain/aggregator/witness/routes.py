"""The witness's HTTP face (C2SP tlog-witness), under the prefix ``/witness``:

* ``POST /witness/add-checkpoint``: the body of spec/log.md "Witnesses"; 200 with the cosignature line(s)
  (``text/plain``: tlog-witness names no type); 409 with the witness's size in ``text/x.tlog.size``; 400,
  403, 404 and 422 as coded JSON, the status being the one tlog-witness assigns;
* ``GET /witness/vkey``: the cosigner's verifier key, for operators of logs and clients to configure;
* ``GET /witness/<hex SHA-256 of an origin>/checkpoint``: the latest checkpoint cosigned for that log.

Anyone may POST a checkpoint, and each costs a signature check, so a client over ``[witness] per_minute``
(a token bucket per address, as for the writes of :mod:`..limits`, but its own: a log asks about once a
checkpoint) gets 429 ``E_RATE_LIMITED`` before its body is read.  The body is refused before it is read
when its declared length is over the limit, and read at most to the limit otherwise (the application's
own cap is far larger), so a hostile body costs little.
"""

from __future__ import annotations

import hashlib
import math
import re

from aiohttp import web

from ...core.errors import NotrainError
from ...core.witnessing import MAX_REQUEST_BYTES, WitnessRefused, WitnessRequestError
from ..api.errors import ApiError, error_response
from ..limits import TokenBuckets, client_key
from .role import Witness

WITNESS = web.AppKey("witness", Witness)
RATE = web.AppKey("witness_rate", TokenBuckets)
ORIGIN_HASH = re.compile(r"[0-9a-f]{64}")
FRESH = "no-store"


async def add_checkpoint(request: web.Request) -> web.Response:
    wait = request.app[RATE].take(client_key(request.remote))
    if wait > 0:
        error = NotrainError("too many add-checkpoint requests from this address", code="E_RATE_LIMITED", where=request.path)
        return error_response(error, headers={"Retry-After": str(max(1, math.ceil(wait)))})
    try:
        body = await _body(request)
        lines = await request.app[WITNESS].add_checkpoint(body)
    except WitnessRefused as refused:
        if refused.status == 409:
            return web.Response(body=f"{refused.known_size}\n".encode(), status=409, headers={"Content-Type": "text/x.tlog.size"})
        return web.json_response({"error": refused.to_json()}, status=refused.status)
    return web.Response(body=lines, content_type="text/plain", charset="utf-8", headers={"Cache-Control": FRESH})


async def _body(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_REQUEST_BYTES:
        raise WitnessRefused(WitnessRequestError(f"an add-checkpoint body is at most {MAX_REQUEST_BYTES} octets", where="body"), 400)
    body = bytearray()
    while len(body) <= MAX_REQUEST_BYTES:
        chunk = await request.content.read(64 * 1024)
        if not chunk:
            return bytes(body)
        body += chunk
    raise WitnessRefused(WitnessRequestError(f"an add-checkpoint body is at most {MAX_REQUEST_BYTES} octets", where="body"), 400)


async def vkey(request: web.Request) -> web.Response:
    return web.Response(text=request.app[WITNESS].signer.verifier.to_vkey() + "\n", headers={"Cache-Control": "public, max-age=300"})


async def latest(request: web.Request) -> web.Response:
    digest, witness = request.match_info["origin_sha256"], request.app[WITNESS]
    origin = next((o for o in witness.logs if hashlib.sha256(o.encode()).hexdigest() == digest), None) if ORIGIN_HASH.fullmatch(digest) else None
    note = await witness.latest(origin) if origin else None
    if note is None:
        raise ApiError("this witness has cosigned no checkpoint of such a log", code="E_NOT_FOUND", where=request.path)
    return web.Response(body=note, content_type="text/plain", charset="utf-8", headers={"Cache-Control": "public, max-age=2"})


def setup(app: web.Application, per_minute: int) -> None:
    app[RATE] = TokenBuckets(per_minute)
    app.router.add_post("/witness/add-checkpoint", add_checkpoint)
    app.router.add_get("/witness/vkey", vkey)
    app.router.add_get("/witness/{origin_sha256}/checkpoint", latest)
