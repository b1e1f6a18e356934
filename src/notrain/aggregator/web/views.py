"""The page's routes: home, publisher search, a publisher's manifest and history, the log, its peers, and two checks.

Each handler reads what it shows from storage or the query index (never a second copy of either), and
answers a bad request with an HTML page that says what to fix.  Rows shown are capped (:data:`RECENT`,
:data:`LISTED`); the manifest is parsed and summarised in a worker thread, since a payload may hold
100,000 works.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import UTC, datetime

from aiohttp import web

from ... import render as summary_render
from ...core import dsse
from ...core.manifest import Manifest as ParsedManifest
from ...core.manifest import parse_payload
from ...core.vocab import CATEGORIES
from ..query import CheckItem
from ..state import SERVICE
from ..storage import Manifest
from .pages import STATIC, error_page, render, static_handler
from .upload import FIELD, MAX_UPLOAD_BYTES, ImageHasher, UploadError, read_image

RECENT = 20  # entries on the home page
LISTED = 100  # rows on every other list
WORKS_SHOWN = 50  # works listed on a publisher's page; the rest are counted, as `notrain show` does
MAX_ID_CHARS = 512  # as the /v1 API

HASHER = web.AppKey("image_hasher", ImageHasher)


async def home(request: web.Request) -> web.Response:
    storage = request.app[SERVICE].storage
    recent = await storage.recent_entries(RECENT)
    equivocations = await storage.equivocations(LISTED)
    return render(
        "home.html",
        log=await _log_state(request),
        recent=recent,
        equivocations=_by_statement(equivocations),
        upload_mib=MAX_UPLOAD_BYTES // (1024 * 1024),
        field=FIELD,
    )


async def search(request: web.Request) -> web.Response:
    prefix = request.query.get("prefix", "")
    if len(prefix) > MAX_ID_CHARS:
        return error_page(400, "Search too long", f"A publisher id is at most {MAX_ID_CHARS} characters.")
    found = await request.app[SERVICE].storage.search_publishers(prefix, LISTED)
    return render("search.html", prefix=prefix, found=found, most=LISTED)


async def publisher(request: web.Request) -> web.Response:
    name = request.query.get("id", "")
    if not 0 < len(name) <= MAX_ID_CHARS:
        return error_page(400, "No publisher given", "Give a publisher id: an origin (https://…) or a did:key.")
    storage = request.app[SERVICE].storage
    latest = await storage.latest_manifest(name)
    if latest is None:
        return error_page(404, "Publisher not found", f"This aggregator holds no manifest of {name}.")
    history = await storage.manifest_history(name, LISTED)
    summary = await asyncio.to_thread(_summary, latest, request.app[SERVICE].query.catalog.get(name))
    return render("publisher.html", name=name, latest=latest, summary=summary, history=history, most=LISTED, works_shown=WORKS_SHOWN)


async def log_page(request: web.Request) -> web.Response:
    recent = await request.app[SERVICE].storage.recent_entries(LISTED)
    return render("log.html", log=await _log_state(request), recent=recent)


async def peers_page(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    peers = await service.federation.states() if service.federation is not None else await service.storage.peers()
    return render("peers.html", peers=peers, forks=await service.storage.evidence(LISTED))


async def check_url_or_text(request: web.Request) -> web.Response:
    """A URL (path rules of its own origin's manifest) or a caption (publishers' names in it)."""
    url, text = request.query.get("url", "").strip(), request.query.get("text", "").strip()
    if bool(url) == bool(text):
        return error_page(400, "Nothing to check", "Type the address of a page or an image, or a caption, to check.")
    # aiohttp refuses a request line over 8190 bytes, so either is within the query's limits (8192 and 65536 characters).
    item, kind = (CheckItem(url=url), "url") if url else (CheckItem(text=text), "text")
    [answer] = await request.app[SERVICE].query.check([item], CATEGORIES)
    return render("check.html", subject=url or text, kind=kind, answers=[(kind.upper() if url else "Caption", answer)], purposes=CATEGORIES)


async def check_image(request: web.Request) -> web.Response:
    """The uploaded image by its exact bytes (SHA-256) and by its look (PDQ); the file is never stored."""
    hasher = request.app[HASHER]
    try:
        async with hasher.slot():
            hashed = await hasher.hash(await read_image(request))
    except UploadError as error:
        return error_page(error.status, "Image not checked", error.message)
    items = [("This exact file (SHA-256)", CheckItem(sha256=hashed.sha256)), ("Copies that look the same (PDQ)", CheckItem(pdq=hashed.pdq, quality=hashed.quality))]
    answers = await request.app[SERVICE].query.check([item for _, item in items], CATEGORIES)
    labelled = [(label, answer) for (label, _), answer in zip(items, answers, strict=True)]
    return render("check.html", subject=hashed.sha256.hex(), kind="image", answers=labelled, purposes=CATEGORIES, quality=hashed.quality)


async def _log_state(request: web.Request) -> dict:
    service = request.app[SERVICE]
    checkpoint = await service.storage.checkpoint()
    return {
        "origin": service.signer.name,
        "vkey": service.signer.verifier.to_vkey(),
        "size": checkpoint.size if checkpoint else 0,
        "note": checkpoint.note.decode("utf-8") if checkpoint else None,
        "pending": await service.storage.pending_count(),
        "now": datetime.now(UTC).replace(microsecond=0),
    }


def _summary(stored: Manifest, indexed: ParsedManifest | None) -> dict:
    """`notrain show`'s summary of a stored envelope, which ingest verified when it arrived; with the
    works, paths and names of its parts when the query index holds it (merged from the log)."""
    envelope = dsse.parse(stored.envelope)
    manifest = parse_payload(envelope.payload)
    if indexed is not None and indexed.digest == manifest.digest:
        manifest = indexed
    summary = summary_render.summary(manifest, envelope.signatures, datetime.now(UTC))
    return summary | {"verified": True}


def _by_statement(flagged: list[Manifest]) -> list[tuple[str, int, list[Manifest]]]:
    """Equivocations grouped as (publisher, sequence, the conflicting manifests)."""
    groups: dict[tuple[str, int], list[Manifest]] = defaultdict(list)
    for manifest in flagged:
        groups[manifest.publisher, manifest.sequence].append(manifest)
    return [(publisher, sequence, found) for (publisher, sequence), found in groups.items()]


def setup(app: web.Application) -> None:
    app[HASHER] = ImageHasher()
    app.router.add_get("/", home)
    app.router.add_get("/search", search)
    app.router.add_get("/publisher", publisher)
    app.router.add_get("/log", log_page)
    app.router.add_get("/peers", peers_page)
    app.router.add_get("/check", check_url_or_text)
    app.router.add_post("/check/image", check_image)
    for path, (name, media_type) in STATIC.items():
        app.router.add_get(path, static_handler(name, media_type))
