"""Issue 9's "done when": an offline crawl with a snapshot honours a did:key artist's works and name,
and its report cites the snapshot.

The artist's manifest is logged, a snapshot of the log is built and served at the aggregator's routes
(a core-built log on a loopback site, as in test_snapshot_client), ``notrain snapshot pull`` fetches it,
and then the aggregator is gone: the crawl (``scrapy crawl`` in its own process) has the snapshot
directory as its only source, with no bundle and no route to any aggregator.
"""

from __future__ import annotations

import asyncio
import sys

import pytest
from services import free_port
from sites import Site
from test_aggregator_crawl import assert_the_artist_is_honoured, crawl
from test_example_crawl import load_serve
from test_snapshot_client import SnapshotLog


@pytest.fixture
async def example(tmp_path):
    (tmp_path / "site").mkdir()
    site = await load_serve().Example(free_port(), free_port(), tmp_path / "site").start()
    yield site
    await site.stop()


async def test_a_crawl_with_only_a_snapshot_honours_the_artist_and_cites_the_snapshot(example, tmp_path):
    example.bundle.unlink()  # no other way for the crawl to learn the artist's manifest
    aggregator = await Site().start()
    log = SnapshotLog(aggregator)
    snapshot_id = log.publish(example.artist_envelope)
    pulled = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "notrain.cli", "snapshot", "pull", aggregator.origin, "--log-key", log.vkey, "--out", str(tmp_path / "snap"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(pulled.communicate(), 60)
    assert pulled.returncode == 0 and snapshot_id in out.decode(), err.decode()
    await aggregator.stop()  # from here on, no aggregator answers

    crawl_log, by_image, report = await crawl(example, tmp_path, f"snapshot:{tmp_path / 'snap'}")

    assert_the_artist_is_honoured(example, by_image, crawl_log)  # from the snapshot alone
    # The report cites the snapshot: its id, the log's signed checkpoint and the descriptor's inclusion proof.
    (cited,) = report["snapshot"]
    assert cited["id"] == snapshot_id and cited["log"] == "log.test/snapshots"
    assert cited["checkpoint"] == (tmp_path / "snap" / "checkpoint").read_text()
    assert cited["inclusion"]["index"] == 1 and cited["inclusion"]["size"] == 2 and cited["inclusion"]["proof"]
    (source,) = report["sources"]
    assert source["kind"] == "snapshot" and source["id"] == snapshot_id and source["publishers"] == 1
