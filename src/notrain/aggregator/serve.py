"""Running the service: ``notrain serve`` (a config file or the defaults) and ``notrain serve --demo``.

Logs are one JSON object per line on stderr (time, level, logger, message), so an operator's collector
reads them as they are; nothing secret is ever logged (the log key's *public* verifier key is, once).
SIGINT and SIGTERM shut down gracefully: requests in flight finish, the sequencer stops between batches.
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from aiohttp import web

from .app import create_app
from .config import Config, StorageConfig
from .demo import demo_envelopes


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created)),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def demo_config(config: Config) -> Config:
    """The demo: a fresh temporary data directory (SQLite in it), loopback origins allowed for local example sites."""
    data_dir = Path(tempfile.mkdtemp(prefix="notrain-demo-"))
    return replace(config, data_dir=data_dir, storage=StorageConfig(), crawl=replace(config.crawl, allow_loopback=True))


def run(config: Config, *, demo: bool = False) -> None:
    configure_logging()
    preload = demo_envelopes() if demo else []
    if demo:
        config = demo_config(config)
    app = create_app(config, preload=preload)
    host, port = config.server.host, config.server.port

    def announce(_message: str) -> None:
        print(f"notrain aggregator: http://{host}:{port}/  (data in {config.data_dir}; Ctrl-C to stop)", flush=True)

    web.run_app(app, host=host, port=port, print=announce, access_log=None, shutdown_timeout=10)
