"""Prometheus metrics at ``/metrics``: requests, submissions, the log's progress, and federation.

Each application gets its own ``CollectorRegistry`` (never prometheus-client's global one), so several
aggregators in one process, as in the tests, count separately.  Labels have bounded values only: the
route's pattern (not the path), a known method, the status, an error code from spec/errors.md.  The log's
size, pending entries, whether this process sequences and each peer's status are read from storage when
scraped, so they are right whichever process of a shared database did the work.  Peer labels are the
origins of the peers configured or stored, a bounded set.
"""

from __future__ import annotations

import time

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from ..core.errors import NotrainError
from .federation.pull import Federation, Peer
from .ingest.crawler import Crawled, Crawler
from .limits import WRITE_GUARD
from .log.sequencer import LogSequencer
from .state import SERVICE
from .storage import Origin, PeerState, Sequencer
from .storage.base import PEER_STATUSES

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"})
SUBMISSION_ROUTES = frozenset({("POST", "/v1/manifests"), ("POST", "/v1/origins"), ("POST", "/v1/receipts")})
BATCH_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("notrain_http_requests", "HTTP requests answered", ["route", "method", "status"], registry=r)
        self.latency = Histogram("notrain_http_request_duration_seconds", "Time to answer a request", ["route"], registry=r)
        self.submissions = Counter(
            "notrain_submissions", "Submissions by outcome: accepted, or the refusal's error code", ["route", "outcome"], registry=r
        )
        self.log_size = Gauge("notrain_log_size", "Entries in the latest checkpoint", registry=r)
        self.pending = Gauge("notrain_log_pending_entries", "Entries receipted but not yet integrated", registry=r)
        self.holding = Gauge("notrain_log_sequencing", "1 if this process holds the sequencer lock, else 0 (standby)", registry=r)
        self.batch_size = Histogram("notrain_log_integration_entries", "Entries per integration", buckets=BATCH_BUCKETS, registry=r)
        self.batch_seconds = Histogram("notrain_log_integration_seconds", "Time to integrate one batch", registry=r)
        self.crawls = Counter("notrain_crawls", "Origin crawls by outcome (accepted, unchanged, absent, bare, failed)", ["outcome"], registry=r)
        self.peer_rounds = Counter("notrain_federation_rounds", "Rounds of each peer by outcome: its status after (ok, error, forked), "
                                   "or failed (a fault of this aggregator)", ["peer", "outcome"], registry=r)
        self.peer_entries = Counter("notrain_federation_entries", "Peer entries handled: copied (verified; manifests and parts re-logged), "
                                    "or skipped (did not verify here)", ["peer", "outcome"], registry=r)
        self.peer_status = Gauge("notrain_federation_peer_status", "1 for each peer's current status (new, ok, error, forked), else 0",
                                 ["peer", "status"], registry=r)
        self.rate_limited_clients = Gauge("notrain_rate_limit_clients", "Client addresses in the rate limit table", registry=r)
        # (route, method, status) -> its request counter and latency histogram: ``labels()`` takes a lock and
        # builds a key each time, a third of what measuring a request cost.  Labels are bounded, so is this.
        self._answered: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def answered(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one answer and its time."""
        key = (route, method, status)
        children = self._answered.get(key)
        if children is None:
            children = self._answered[key] = (self.requests.labels(route, method, str(status)), self.latency.labels(route))
        children[0].inc()
        children[1].observe(seconds)

    def refused(self, route: str, code: str) -> None:
        self.submissions.labels(route, code).inc()


METRICS = web.AppKey("metrics", Metrics)


class MeasuredSequencer(LogSequencer):
    """The log's sequencer, timing each batch it integrates into the metrics."""

    def __init__(self, *args, metrics: Metrics, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.metrics = metrics

    async def integrate_once(self, sequencer: Sequencer) -> int:
        start = time.perf_counter()
        count = await super().integrate_once(sequencer)
        if count:
            self.metrics.batch_size.observe(count)
            self.metrics.batch_seconds.observe(time.perf_counter() - start)
        return count


class MeasuredCrawler(Crawler):
    """The origin crawler, counting each crawl's outcome into the metrics."""

    def __init__(self, *args, metrics: Metrics, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.metrics = metrics

    async def crawl(self, origin: Origin) -> Crawled:
        crawled = await super().crawl(origin)
        self.metrics.crawls.labels(crawled.outcome).inc()
        return crawled


class MeasuredFederation(Federation):
    """Federation, counting each peer's rounds by outcome and the entries each round copied or skipped."""

    def __init__(self, *args, metrics: Metrics, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.metrics = metrics

    async def pull(self, peer: Peer) -> PeerState:
        before = await self.storage.peer(peer.origin) or PeerState(peer.origin, peer.url)
        try:
            after = await super().pull(peer)
        except Exception:
            self.metrics.peer_rounds.labels(peer.origin, "failed").inc()
            raise
        self.metrics.peer_rounds.labels(peer.origin, after.status).inc()
        skipped = max(0, after.skipped - before.skipped)  # max: an operator's reset between reads starts the peer over
        self.metrics.peer_entries.labels(peer.origin, "copied").inc(max(0, after.copied - before.copied - skipped))
        self.metrics.peer_entries.labels(peer.origin, "skipped").inc(skipped)
        return after


def _route(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def measure_requests(request: web.Request, handler) -> web.StreamResponse:
    """Outermost: counts every answer by route pattern, method and status, and times it."""
    start, status = time.perf_counter(), 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as http:
        status = http.status
        raise
    finally:
        method = request.method if request.method in METHODS else "OTHER"
        request.app[METRICS].answered(_route(request), method, status, time.perf_counter() - start)


@web.middleware
async def count_submissions(request: web.Request, handler) -> web.StreamResponse:
    """Innermost: the outcome of each submission, by the code its handler raised."""
    route = _route(request)
    if (request.method, route) not in SUBMISSION_ROUTES:
        return await handler(request)
    metrics = request.app[METRICS]
    try:
        response = await handler(request)
    except NotrainError as error:
        metrics.refused(route, error.code)
        raise
    except web.HTTPException as http:
        metrics.refused(route, {413: "E_SIZE", 415: "E_MEDIA_TYPE"}.get(http.status, "E_REQUEST"))
        raise
    except Exception:
        metrics.refused(route, "E_INTERNAL")
        raise
    metrics.submissions.labels(route, "accepted").inc()
    return response


async def metrics_page(request: web.Request) -> web.Response:
    metrics, service = request.app[METRICS], request.app[SERVICE]
    checkpoint = await service.storage.checkpoint()
    metrics.log_size.set(checkpoint.size if checkpoint else 0)
    metrics.pending.set(await service.storage.pending_count())
    metrics.holding.set(1 if service.sequencer.holding else 0)
    metrics.rate_limited_clients.set(len(request.app[WRITE_GUARD].buckets))
    if service.federation is not None:
        metrics.peer_status.clear()  # a peer forgotten by an operator's reset is not shown with its old status
        for state in await service.federation.states():
            for status in PEER_STATUSES:
                metrics.peer_status.labels(state.origin, status).set(1 if state.status == status else 0)
    return web.Response(body=generate_latest(metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})


def setup(app: web.Application) -> Metrics:
    app[METRICS] = metrics = Metrics()
    app.router.add_get("/metrics", metrics_page)
    return metrics
