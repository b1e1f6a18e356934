"""The application factory: ``create_app(config)`` wires the rooms together; nothing here decides.

Startup (cleanup contexts, torn down in reverse): open and migrate storage -> load or create the log key
-> start the sequencer task (it stands by if another process sequences the same database), the snapshot
builder and the federation rounds (both run only in the sequencing process) -> witnessing, when configured
(:mod:`.witness`).  Requests are
capped at ``server.max_body_bytes`` and every error is answered as coded JSON by one middleware.
Middlewares, outermost first: metrics (every answer counted and timed), coded errors, the write guard
(rate limit and pushback, :mod:`.limits`), submission outcomes.  Every response carries
:data:`SECURITY_HEADERS`.  ``/healthz`` says the process is alive; ``/readyz`` says it can take writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math

from aiohttp import web

from ..fetch.addresses import AddressPolicy
from ..fetch.http import HttpClient
from ..fetch.manifests import fetch_parts
from .api import check, errors, v1
from .api import log as log_api
from .api import peers as peers_api
from .api import receipts as receipts_api
from .api import snapshots as snapshots_api
from .config import Config
from .ingest.accounts import AccountProofs
from .ingest.origins import fetch_keyset
from .ingest.submissions import Accepted, Submissions
from .limits import WRITE_GUARD, Pushback, TokenBuckets, WriteGuard, guard_writes
from .log.signer import load_log_signer
from .metrics import METRICS, MeasuredCrawler, MeasuredFederation, MeasuredSequencer, count_submissions, measure_requests
from .metrics import setup as setup_metrics
from .query import Query
from .snapshots import SnapshotBuilder
from .state import SERVICE, Service
from .storage import open_storage
from .web import setup as setup_web_page
from .witness.service import setup as setup_witnessing

log = logging.getLogger("notrain.aggregator")
CONFIG = web.AppKey("config", Config)
PRELOAD = web.AppKey("preload", list)
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


def create_app(config: Config, *, preload: list[bytes] = ()) -> web.Application:
    """``preload``: envelopes submitted at startup, as if posted (the demo's example artist)."""
    middlewares = [measure_requests, errors.errors_middleware, guard_writes, count_submissions]
    app = web.Application(client_max_size=config.server.max_body_bytes, middlewares=middlewares)
    app[CONFIG] = config
    metrics = setup_metrics(app)
    retry_after = max(1, math.ceil(config.log.checkpoint_interval))
    buckets = TokenBuckets(config.submissions.per_minute)
    app[WRITE_GUARD] = WriteGuard(buckets, None, retry_after, on_refused=metrics.refused)
    app.on_response_prepare.append(_security_headers)
    app[PRELOAD] = list(preload)
    app.cleanup_ctx.append(_service)
    log_api.setup(app)
    v1.setup(app)
    check.setup(app)
    snapshots_api.setup(app)
    receipts_api.setup(app)
    setup_witnessing(app, config)
    peers_api.setup(app)
    app.router.add_get("/healthz", _health)
    app.router.add_get("/readyz", _ready)
    setup_web_page(app)
    return app


async def _service(app: web.Application):
    config = app[CONFIG]
    config.data_dir.mkdir(parents=True, exist_ok=True)
    storage = await open_storage(config.storage_url)
    client = HttpClient(user_agent="notrain-aggregator", addresses=AddressPolicy(allow_loopback=config.crawl.allow_loopback))
    try:
        signer = load_log_signer(config.log.origin, config.log_key_path, create=True)
        sequencer = MeasuredSequencer(
            storage, signer, interval=config.log.checkpoint_interval, batch_max=config.log.batch_max, metrics=app[METRICS]
        )

        async def log_size() -> int:
            checkpoint = await storage.checkpoint()
            return checkpoint.size if checkpoint else 0

        app[WRITE_GUARD].pushback = Pushback(
            storage.pending_count, log_size, max_pending=config.log.max_pending, max_stall=config.log.max_merge_delay
        )
        query = await Query(storage).load()

        async def accepted(accepted: Accepted) -> None:
            """Every new manifest: indexed, its origin crawled from then on, its accounts checked."""
            await query.accepted(accepted)
            manifest = accepted.verified.manifest
            if not manifest.is_did_key:
                await crawler.add(manifest.publisher, "submission", check_address=False)
            await accounts.listed(manifest)

        submissions = Submissions(
            storage, signer, max_merge_delay=config.log.max_merge_delay, fetch_keyset=functools.partial(fetch_keyset, client), on_accept=accepted,
            fetch_parts=functools.partial(fetch_parts, client),
        )
        crawler = MeasuredCrawler(
            storage, client, submissions, interval=config.crawl.interval, addresses=client.addresses, metrics=app[METRICS]
        )
        accounts = AccountProofs(
            storage,
            client,
            recheck_interval=config.accounts.recheck_interval,
            max_merge_delay=config.log.max_merge_delay,
            on_change=query.proven_accounts,
        )
        for origin in config.crawl.origins:
            await crawler.add(origin, "config", check_address=False)
        snapshots = SnapshotBuilder(
            storage, signer.name, config.data_dir / "snapshots", public_url=config.public_url, interval=config.snapshots.interval,
            max_merge_delay=config.log.max_merge_delay, may_build=lambda: sequencer.holding,
        )
        federation = MeasuredFederation(storage, client, submissions, config.peers, interval=config.federation.interval,
                                        max_pending=config.log.max_pending, may_run=lambda: sequencer.holding, metrics=app[METRICS])
        app[SERVICE] = Service(config, storage, signer, sequencer, submissions, query, crawler, accounts, snapshots, federation)
        task = asyncio.create_task(sequencer.run(), name="notrain-sequencer")
        ingest = [asyncio.create_task(crawler.run(), name="notrain-crawler"), asyncio.create_task(accounts.run(), name="notrain-accounts"),
                  asyncio.create_task(snapshots.run(), name="notrain-snapshots"), asyncio.create_task(federation.run(), name="notrain-federation")]
        ingest.append(asyncio.create_task(query.follow(config.log.checkpoint_interval), name="notrain-query"))  # other processes' entries
        log.info("log %s, verifier key %s", signer.name, signer.verifier.to_vkey())
        for envelope in app[PRELOAD]:
            accepted = await submissions.submit(envelope)
            log.info("loaded %s sequence %d", accepted.verified.manifest.publisher, accepted.verified.manifest.sequence)
        try:
            yield
        finally:
            for running in (*ingest, task):
                running.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await running
    finally:
        await client.close()
        await storage.close()


async def _health(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    checkpoint = await service.storage.checkpoint()
    body = {
        "status": "ok",
        "log": service.signer.name,
        "size": checkpoint.size if checkpoint else 0,
        "pending": await service.storage.pending_count(),
        "sequencing": service.sequencer.holding,
    }
    return web.json_response(body)


async def _ready(request: web.Request) -> web.Response:
    """Ready for writes: storage answers, the log has a checkpoint, and no pushback (the log keeps up)."""
    service = request.app[SERVICE]
    try:
        async with asyncio.timeout(5):
            checkpoint = await service.storage.checkpoint()
            behind = await request.app[WRITE_GUARD].pushback.reason()
        reasons = [text for text in ("no checkpoint yet" if checkpoint is None else None, behind) if text]
    except Exception as error:  # any storage fault means not ready, whatever its kind
        log.warning("readiness check failed: %s", type(error).__name__)
        reasons = ["storage does not answer"]
    return web.json_response({"ready": not reasons, "reasons": reasons}, status=503 if reasons else 200)


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """On every answer, static files and errors included; a handler's own value (the page's CSP) stays."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
