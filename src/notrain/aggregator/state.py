"""What every handler shares, behind one typed application key (no module globals)."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from ..core.note import NoteSigner
from .config import Config
from .federation.pull import Federation
from .ingest.accounts import AccountProofs
from .ingest.crawler import Crawler
from .ingest.submissions import Submissions
from .log.sequencer import LogSequencer
from .query import Query
from .snapshots import SnapshotBuilder
from .storage import Storage


@dataclass
class Service:
    config: Config
    storage: Storage
    signer: NoteSigner
    sequencer: LogSequencer
    submissions: Submissions
    query: Query  # the index every check is answered from
    crawler: Crawler | None = None  # the origins registry (None only in services built without ingest)
    accounts: AccountProofs | None = None
    snapshots: SnapshotBuilder | None = None  # None only in services built without it
    federation: Federation | None = None  # None only in services built without it


SERVICE = web.AppKey("service", Service)
