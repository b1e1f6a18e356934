"""Wiring witnessing into the application from its configuration: the witness role (``[witness]``: its
routes, its key, created on first start and logged with its vkey) and the collector of this log's
cosignatures (``[log] witnesses``, a task that runs only while this process sequences).  Both start after
the service (storage, sequencer) and stop before it."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiohttp import web
from prometheus_client import Counter

from ...core.note import NoteVerifier
from ..config import Config, witness_url
from ..metrics import METRICS
from ..state import SERVICE
from . import routes
from .collector import CosignatureCollector, WitnessEndpoint
from .role import Witness, load_witness_signer

log = logging.getLogger("notrain.aggregator.witness")


def setup(app: web.Application, config: Config) -> None:
    if config.witness.logs:
        routes.setup(app, config.witness.per_minute)
    if config.witness.logs or config.log.witnesses:

        async def running(app: web.Application):
            task = _start(app, config)
            try:
                yield
            finally:
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

        app.cleanup_ctx.append(running)


def _start(app: web.Application, config: Config) -> asyncio.Task | None:
    service = app[SERVICE]
    if config.witness.logs:
        signer = load_witness_signer(config.witness_name, config.witness_key_path, config.log_key_path)
        logs = {v.name: v for v in map(NoteVerifier.from_vkey, config.witness.logs)}
        app[routes.WITNESS] = Witness(service.storage, signer, logs)
        log.info("witness of %s, cosigner key %s", ", ".join(sorted(logs)), signer.verifier.to_vkey())
    if not config.log.witnesses:
        return None
    results = Counter("notrain_witness_requests", "Checkpoints submitted to this log's witnesses, by witness and outcome",
                      ["witness", "outcome"], registry=app[METRICS].registry)
    collector = CosignatureCollector(
        service.storage, [WitnessEndpoint(*witness_url(spec)) for spec in config.log.witnesses],
        interval=config.log.checkpoint_interval, timeout=config.log.witness_timeout,
        may_run=lambda: service.sequencer.holding, on_result=lambda witness, outcome: results.labels(witness, outcome).inc(),
    )
    return asyncio.create_task(collector.run(), name="notrain-witnesses")
