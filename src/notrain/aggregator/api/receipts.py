"""Filtering receipts in the log (spec/receipt.md, "Logging"): ``POST /v1/receipts`` and ``GET /v1/receipts/<sha256>``.

A dataset builder submits the receipt envelope its filter run signed; core verifies it (its own
payload type, the builder's did:key, every member) in a worker thread, and it is logged as a
``filtering-receipt`` entry with source ``submission`` holding the exact octets, once per digest.  The
answer is the log's signed promise to integrate it, as for a manifest.  The lookup is by the SHA-256 of
those octets, which the builder knows without asking: the entry's status and, once integrated, its
inclusion proof at the latest checkpoint.  The write is rate-limited and pushed back like a manifest's
(:mod:`..limits`).
"""

from __future__ import annotations

import asyncio
import hashlib
import re

from aiohttp import web

from ...core import dsse
from ...core.errors import PolicyError
from ...core.filterreceipt import RECEIPT_TYPE, verify_receipt
from ...core.logentry import Source
from ...core.manifest import format_timestamp
from ..state import SERVICE
from .errors import ApiError
from .v1 import entry_with_proof

KIND = "filtering-receipt"
MEDIA_TYPES = (RECEIPT_TYPE, "application/json")
_SHA256 = re.compile(r"\A[0-9a-f]{64}\Z")


async def submit(request: web.Request) -> web.Response:
    if request.content_type not in MEDIA_TYPES:
        raise ApiError(f"send the receipt envelope as {RECEIPT_TYPE}", code="E_MEDIA_TYPE", where="Content-Type")
    data = await request.read()
    if len(data) > dsse.MAX_ENVELOPE_BYTES:
        raise PolicyError(f"an envelope is at most {dsse.MAX_ENVELOPE_BYTES} octets", code="E_SIZE", where="envelope")
    submissions = request.app[SERVICE].submissions
    now = submissions.clock().replace(microsecond=0)
    verified = await asyncio.to_thread(verify_receipt, data, now=now)
    appended = await submissions.observe(KIND, data, Source("submission"), now, verified.builder)
    entry, digest = appended.entry, hashlib.sha256(data).hexdigest()
    body = {
        "entry": entry.id,
        "created": appended.created,
        "builder": verified.builder,
        "sha256": digest,
        "payload_sha256": verified.digest,
        "integrate_by": format_timestamp(entry.deadline),
        "receipt": submissions.receipt(appended).decode("utf-8"),
        "status_url": f"/v1/receipts/{digest}",
    }
    return web.json_response(body, status=202 if appended.created else 200)


async def lookup(request: web.Request) -> web.Response:
    digest = request.match_info["sha256"]
    if not _SHA256.match(digest):
        raise ApiError("a receipt is looked up by the SHA-256 of its envelope, 64 lowercase hex digits", where="sha256")
    storage = request.app[SERVICE].storage
    entry = await storage.entry_by_key(bytes.fromhex(digest))
    if entry is None or entry.kind != KIND:
        raise ApiError("no filtering receipt with this SHA-256 here", code="E_NOT_FOUND", where=request.path)
    return web.json_response(await entry_with_proof(storage, entry))


def setup(app: web.Application) -> None:
    app.router.add_post("/v1/receipts", submit)
    app.router.add_get("/v1/receipts/{sha256}", lookup)
