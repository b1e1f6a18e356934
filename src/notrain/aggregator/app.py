"""The application factory: ``create_app(config)`` wires the rooms together; nothing here decides.

Startup (cleanup contexts, torn down in reverse): open and migrate storage -> load or create the log key
-> start the sequencer task (it stands by if another process sequences the same database).  Requests are
capped at ``server.max_body_bytes`` and every error is answered as coded JSON by one middleware.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiohttp import web

from ..fetch.addresses import AddressPolicy
from ..fetch.http import HttpClient
from .api import check, errors, log as log_api, v1
from .config import Config
from .ingest.accounts import AccountProofs
from .ingest.crawler import Crawler
from .ingest.origins import Origins
from .ingest.submissions import Accepted, Submissions
from .log.sequencer import LogSequencer
from .log.signer import load_log_signer
from .query import Query
from .state import SERVICE, Service
from .storage import open_storage
from .web import setup as setup_web_page

log = logging.getLogger("notrain.aggregator")
CONFIG = web.AppKey("config", Config)
PRELOAD = web.AppKey("preload", list)


def create_app(config: Config, *, preload: list[bytes] = ()) -> web.Application:
    """``preload``: envelopes submitted at startup, as if posted (the demo's example artist)."""
    app = web.Application(client_max_size=config.server.max_body_bytes, middlewares=[errors.errors_middleware])
    app[CONFIG] = config
    app[PRELOAD] = list(preload)
    app.cleanup_ctx.append(_service)
    log_api.setup(app)
    v1.setup(app)
    check.setup(app)
    app.router.add_get("/healthz", _health)
    setup_web_page(app)
    return app


async def _service(app: web.Application):
    config = app[CONFIG]
    config.data_dir.mkdir(parents=True, exist_ok=True)
    storage = await open_storage(config.storage_url)
    client = HttpClient(user_agent="notrain-aggregator", addresses=AddressPolicy(allow_loopback=config.crawl.allow_loopback))
    try:
        signer = load_log_signer(config.log.origin, config.log_key_path, create=True)
        sequencer = LogSequencer(storage, signer, interval=config.log.checkpoint_interval, batch_max=config.log.batch_max)
        query = await Query(storage).load()

        async def accepted(accepted: Accepted) -> None:
            """Every new manifest: indexed, its origin crawled from then on, its accounts checked."""
            await query.accepted(accepted)
            manifest = accepted.verified.manifest
            if not manifest.is_did_key:
                await crawler.add(manifest.publisher, "submission", check_address=False)
            await accounts.listed(manifest)

        submissions = Submissions(
            storage, signer, max_merge_delay=config.log.max_merge_delay, fetch_keyset=Origins(client).keyset, on_accept=accepted
        )
        crawler = Crawler(storage, client, submissions, interval=config.crawl.interval, addresses=client.addresses)
        accounts = AccountProofs(
            storage, client, recheck_interval=config.accounts.recheck_interval, max_merge_delay=config.log.max_merge_delay
        )
        for origin in config.crawl.origins:
            await crawler.add(origin, "config", check_address=False)
        app[SERVICE] = Service(config, storage, signer, sequencer, submissions, query, crawler, accounts)
        task = asyncio.create_task(sequencer.run(), name="notrain-sequencer")
        ingest = [asyncio.create_task(crawler.run(), name="notrain-crawler"), asyncio.create_task(accounts.run(), name="notrain-accounts")]
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
        "sequencing": service.sequencer.stats.holding,
    }
    return web.json_response(body)
