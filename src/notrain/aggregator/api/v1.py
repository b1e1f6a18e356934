"""The ``/v1`` JSON API: submit manifests, follow entries to their inclusion proofs, read publishers.

Handlers parse the request, call one function of an ingest or storage room, and shape the answer;
errors are raised as coded exceptions and answered by :mod:`.errors`.  Binary values (hashes, proofs)
are base64 (standard, padded), times are ``YYYY-MM-DDTHH:MM:SSZ``.
"""

from __future__ import annotations

from importlib import resources

from aiohttp import web

from ...core import b64, ijson
from ...core.errors import NotrainError
from ...core.manifest import format_timestamp
from ...core.merkle import consistency_proof, inclusion_proof
from ...core.tiles import TreeReader
from ..ingest.parts import logged_part
from ..log.reader import in_thread
from ..state import SERVICE
from ..storage import Entry, Manifest, Storage
from .errors import ApiError
from .log import IMMUTABLE, SHA256_HEX
from .submission_form import FORM_MEDIA_TYPE, read_submission_form

MANIFEST_MEDIA_TYPES = ("application/vnd.notrain.manifest+json", "application/json")
MAX_ORIGIN_REQUEST = 4096
OPENAPI = resources.files(__package__).joinpath("openapi.json").read_bytes()


async def submit_manifest(request: web.Request) -> web.Response:
    """The envelope alone (its parts, if any, from this log or its origin), or a form with its parts."""
    if request.content_type == FORM_MEDIA_TYPE:
        envelope, parts = await read_submission_form(request)
    elif request.content_type in MANIFEST_MEDIA_TYPES:
        envelope, parts = await request.read(), None
    else:
        raise ApiError(f"send the envelope as {MANIFEST_MEDIA_TYPES[0]}, or with its parts as {FORM_MEDIA_TYPE}", code="E_MEDIA_TYPE",
                       where="Content-Type")
    service = request.app[SERVICE]
    accepted = await service.submissions.submit(envelope, parts=parts)
    entry, manifest = accepted.appended.entry, accepted.verified.manifest
    body = {
        "entry": entry.id,
        "created": accepted.created,
        "publisher": manifest.publisher,
        "sequence": manifest.sequence,
        "payload_sha256": manifest.digest,
        "equivocation": accepted.equivocation,
        "integrate_by": format_timestamp(entry.deadline),
        "receipt": accepted.receipt.decode("utf-8"),
        "status_url": f"/v1/entries/{entry.id}",
        "parts": [part.id for part in accepted.parts],
    }
    return web.json_response(body, status=202 if accepted.created else 200)


async def part(request: web.Request) -> web.Response:
    """A part document this log holds (a ``part`` entry), by its SHA-256: the exact bytes, which a client
    checks against the reference in the signed manifest, so they need no other trust (spec/discovery.md)."""
    digest = request.match_info["sha256"]
    if not SHA256_HEX.fullmatch(digest):
        raise ApiError("a part is named by its SHA-256, 64 lowercase hex digits", where="sha256")
    found = await logged_part(request.app[SERVICE].storage, bytes.fromhex(digest))
    if found is None:
        raise ApiError("no part with this SHA-256 in this log", code="E_NOT_FOUND", where=request.path)
    return web.Response(body=found[0].data, content_type="application/json", headers={"Cache-Control": IMMUTABLE})


async def add_origin(request: web.Request) -> web.Response:
    """Register an origin to crawl: ``{"origin": "https://example.com"}``, canonical, on an address the SSRF guard
    allows.  Answered 202 with when it is crawled next (at once if it is new)."""
    if request.content_type != "application/json":
        raise ApiError("send {\"origin\": ...} as application/json", code="E_MEDIA_TYPE", where="Content-Type")
    data = b""  # read to the end (one read returns what is buffered, maybe one segment), one octet past the limit at most
    while len(data) <= MAX_ORIGIN_REQUEST and (chunk := await request.content.read(MAX_ORIGIN_REQUEST + 1 - len(data))):
        data += chunk
    try:
        document = ijson.loads(data, max_size=MAX_ORIGIN_REQUEST, max_depth=2, what="request")
    except NotrainError as error:
        raise ApiError(f"the body is a small JSON object: {error.message}", where="body") from None
    origin = document.get("origin") if isinstance(document, dict) else None
    if not isinstance(origin, str):
        raise ApiError("the body is {\"origin\": \"https://...\"}", where="origin")
    service = request.app[SERVICE]
    next_crawl = await service.crawler.add(origin, "api")
    body = {"origin": origin, "next_crawl": format_timestamp(next_crawl), "interval": service.config.crawl.interval}
    return web.json_response(body, status=202)


async def entry_status(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    entry = await service.storage.entry(_int(request.match_info["id"], "id"))
    if entry is None:
        raise ApiError("no such entry", code="E_NOT_FOUND", where=request.path)
    return web.json_response(await entry_with_proof(service.storage, entry))


async def entry_with_proof(storage: Storage, entry: Entry) -> dict:
    """An entry's status and, once integrated, the latest checkpoint and its inclusion proof there."""
    body = _entry_json(entry)
    if entry.log_index is not None:
        checkpoint = await storage.checkpoint()
        body["checkpoint"] = checkpoint.note.decode("utf-8")
        body["inclusion_proof"] = await _inclusion(storage, entry.log_index, checkpoint.size)
    return body


async def proof_inclusion(request: web.Request) -> web.Response:
    index, size = _int(request.query.get("index"), "index"), await _size(request)
    if index >= size:
        raise ApiError("index must be below size", where="index")
    return web.json_response({"index": index, "size": size, "proof": await _inclusion(request.app[SERVICE].storage, index, size)})


async def proof_consistency(request: web.Request) -> web.Response:
    old, size = _int(request.query.get("from"), "from"), await _size(request)
    if not 0 < old <= size:
        raise ApiError("from must be between 1 and size", where="from")
    proof = await in_thread(request.app[SERVICE].storage, lambda read: consistency_proof(old, size, TreeReader(size, read).node))
    return web.json_response({"from": old, "size": size, "proof": [b64.std_encode(h) for h in proof]})


async def publisher(request: web.Request) -> web.Response:
    storage = request.app[SERVICE].storage
    name = _publisher_id(request)
    latest = await storage.latest_manifest(name)  # not the highest sequence: a key rotation restarts them
    if latest is None:
        raise ApiError("no manifest of this publisher", code="E_NOT_FOUND", where=name)
    history = await storage.manifest_history(name, 100)
    return web.json_response({"publisher": name, "latest": _manifest_json(latest), "history": [_manifest_json(m) for m in history]})


async def publisher_envelope(request: web.Request) -> web.Response:
    """The latest envelope, exact bytes, with where it is in the log in headers."""
    latest = await request.app[SERVICE].storage.latest_manifest(_publisher_id(request))
    if latest is None:
        raise ApiError("no manifest of this publisher", code="E_NOT_FOUND", where=request.path)
    headers = {"Notrain-Sequence": str(latest.sequence)}
    if latest.log_index is not None:
        headers["Notrain-Log-Index"] = str(latest.log_index)
    return web.Response(body=latest.envelope, content_type="application/vnd.notrain.manifest+json", headers=headers)


async def publishers(request: web.Request) -> web.Response:
    """Publishers whose id starts with ``prefix``; without one, every publisher in pages of 100 (byte order,
    ``next`` is the ``after`` of the following page, null on the last): how a crawler's source lists them all."""
    prefix, after = request.query.get("prefix"), request.query.get("after", "")
    if prefix is not None and "after" in request.query:
        raise ApiError("prefix or after, not both", where="after")
    if len(prefix or "") > 512 or len(after) > 512:
        raise ApiError("prefix and after are at most 512 characters", where="prefix" if prefix else "after")
    storage = request.app[SERVICE].storage
    if prefix is not None:
        return web.json_response({"publishers": await storage.search_publishers(prefix, 100)})
    found = [m.publisher for m in await storage.latest_manifests(after, 100)]
    return web.json_response({"publishers": found, "next": found[-1] if len(found) == 100 else None})


async def equivocations(request: web.Request) -> web.Response:
    return web.json_response({"equivocations": [_manifest_json(m) for m in await request.app[SERVICE].storage.equivocations(100)]})


async def log_info(request: web.Request) -> web.Response:
    """Who this log is: its origin line and the note verifier key that signs its checkpoints and receipts."""
    signer = request.app[SERVICE].signer
    return web.json_response({"origin": signer.name, "vkey": signer.verifier.to_vkey(), "checkpoint": "/log/checkpoint", "tiles": "/log/tile/"})


async def _inclusion(storage: Storage, index: int, size: int) -> list[str]:
    proof = await in_thread(storage, lambda read: inclusion_proof(index, size, TreeReader(size, read).node))
    return [b64.std_encode(h) for h in proof]


async def _size(request: web.Request) -> int:
    checkpoint = await request.app[SERVICE].storage.checkpoint()
    have = checkpoint.size if checkpoint else 0
    size = _int(request.query.get("size", str(have)), "size")
    if not 0 < size <= have:
        raise ApiError(f"size must be between 1 and the checkpoint's {have}", where="size")
    return size


def _publisher_id(request: web.Request) -> str:
    """Publisher ids hold ``/`` and ``:`` (origins, did:key), so they travel as the ``id`` query parameter."""
    value = request.query.get("id", "")
    if not 0 < len(value) <= 512:
        raise ApiError("id is a publisher id (an origin or a did:key)", where="id")
    return value


def _int(value: str | None, name: str) -> int:
    if value is None or not value.isascii() or not value.isdigit() or len(value) > 19 or (len(value) > 1 and value[0] == "0"):
        raise ApiError(f"{name} must be a non-negative decimal integer", where=name)
    return int(value)


def _entry_json(entry: Entry) -> dict:
    return {
        "entry": entry.id,
        "kind": entry.kind,
        "publisher": entry.publisher,
        "leaf_hash": b64.std_encode(entry.leaf_hash),
        "received_at": format_timestamp(entry.received_at),
        "integrate_by": format_timestamp(entry.deadline),
        "log_index": entry.log_index,
        "status": "pending" if entry.log_index is None else "integrated",
    }


def _manifest_json(manifest: Manifest) -> dict:
    return {
        "publisher": manifest.publisher,
        "sequence": manifest.sequence,
        "payload_sha256": manifest.payload_sha256.hex(),
        "received_at": format_timestamp(manifest.received_at),
        "log_index": manifest.log_index,
        "entry": manifest.entry_id,
        "equivocation": manifest.equivocation,
    }


async def openapi(request: web.Request) -> web.Response:
    """The OpenAPI 3.1 document of every /v1 and /log route (tests check it against the routes and real answers)."""
    return web.Response(body=OPENAPI, content_type="application/json", headers={"Cache-Control": "public, max-age=3600"})


def setup(app: web.Application) -> None:
    app.router.add_get("/v1/openapi.json", openapi)
    app.router.add_get("/v1/log", log_info)
    app.router.add_post("/v1/manifests", submit_manifest)
    app.router.add_post("/v1/origins", add_origin)
    app.router.add_get("/v1/parts/{sha256}", part)
    app.router.add_get("/v1/entries/{id}", entry_status)
    app.router.add_get("/v1/proof/inclusion", proof_inclusion)
    app.router.add_get("/v1/proof/consistency", proof_consistency)
    app.router.add_get("/v1/publishers", publishers)
    app.router.add_get("/v1/publisher", publisher)
    app.router.add_get("/v1/publisher/envelope", publisher_envelope)
    app.router.add_get("/v1/equivocations", equivocations)
