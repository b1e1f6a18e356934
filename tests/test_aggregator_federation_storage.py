"""The storage contract for federation (peers and fork evidence, migration 0005) on both real backends, and the
operator's `notrain peer-reset`."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from test_aggregator_storage import storage, url  # noqa: F401 (fixtures: SQLite file and PostgreSQL database)

from notrain.aggregator.config import load
from notrain.aggregator.storage import ForkEvidence, PeerState, open_storage
from notrain.cli import main

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
NOTE_1 = "peer.test/log\n4\nAAAA\n\n\u2014 peer.test/log sig1\n".encode()
NOTE_2 = "peer.test/log\n7\nBBBB\n\n\u2014 peer.test/log sig2\n".encode()


def state(**changes) -> PeerState:
    values = {"origin": "peer.test/log", "url": "https://peer.test", "checkpoint": NOTE_1, "size": 4, "copied": 2,
              "status": "ok", "skipped": 1, "checked_at": T0}
    return PeerState(**(values | changes))


def fork(new: bytes = NOTE_2, origin: str = "peer.test/log", at: datetime = T0) -> ForkEvidence:
    return ForkEvidence(origin, NOTE_1, new, (b"\x01" * 32, b"\x02" * 32), "size 4 is not a prefix of size 7", at)


async def test_a_peer_state_is_saved_replaced_and_listed(storage):  # noqa: F811
    assert await storage.peer("peer.test/log") is None and await storage.peers() == []
    await storage.save_peer(state())
    assert await storage.peer("peer.test/log") == state()
    later = state(checkpoint=NOTE_2, size=7, copied=7, status="error", error="E_SOURCE: HTTP 503", checked_at=T0 + timedelta(seconds=5))
    await storage.save_peer(later)
    await storage.save_peer(state(origin="another.test/log", checkpoint=None, size=0, copied=0, status="new", skipped=0, checked_at=None))
    assert [p.origin for p in await storage.peers()] == ["another.test/log", "peer.test/log"]
    assert await storage.peer("peer.test/log") == later


async def test_evidence_is_stored_once_verbatim_and_the_peer_stays_forked(storage):  # noqa: F811
    await storage.save_peer(state())
    assert await storage.add_evidence(fork()) is True
    assert await storage.add_evidence(fork()) is False  # the same two notes: one piece of evidence
    forked = await storage.peer("peer.test/log")
    assert forked.status == "forked" and forked.error == fork().reason and forked.checkpoint == NOTE_1
    await storage.save_peer(state(checkpoint=NOTE_2, size=7, status="ok"))  # a later round cannot undo a fork
    assert await storage.peer("peer.test/log") == forked
    third = fork(new=NOTE_2 + b"\xe2\x80\x94 witness.test x\n", at=T0 + timedelta(seconds=1))
    assert await storage.add_evidence(third) is True
    assert await storage.evidence(10) == [third, fork()]  # newest first, notes and proof exactly as given
    assert await storage.evidence(1) == [third]


async def test_evidence_of_a_peer_never_saved_marks_it_forked(storage):  # noqa: F811
    await storage.add_evidence(fork(origin="unknown.test/log"))
    found = await storage.peer("unknown.test/log")
    assert found.status == "forked" and found.checkpoint is None and found.error == fork().reason


async def test_only_an_operator_reset_clears_a_fork_and_the_evidence_stays(storage):  # noqa: F811
    await storage.save_peer(state())
    await storage.add_evidence(fork())
    await storage.reset_peer("peer.test/log")
    assert await storage.peer("peer.test/log") is None and await storage.evidence(10) == [fork()]
    await storage.save_peer(state(status="new", checkpoint=None, size=0, copied=0))
    assert (await storage.peer("peer.test/log")).status == "new"


def test_a_peer_state_is_checked():
    with pytest.raises(ValueError):
        state(status="fine")
    with pytest.raises(ValueError):
        state(copied=5)  # beyond its size


async def test_notrain_peer_reset_forgets_a_forked_peer_and_keeps_the_evidence(tmp_path):
    config = tmp_path / "notrain.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n')
    (tmp_path / "data").mkdir()
    opened = await open_storage(load(config).storage_url)
    try:
        await opened.save_peer(state())
        await opened.add_evidence(fork())
    finally:
        await opened.close()

    def cli(*args: str):
        return CliRunner().invoke(main, ["peer-reset", *args, "--config", str(config), "--json"])

    done = await asyncio.to_thread(cli, "peer.test/log")
    assert done.exit_code == 0 and json.loads(done.stdout) == {"ok": True, "origin": "peer.test/log", "status": "forked", "size": 4, "copied": 2}
    unknown = await asyncio.to_thread(cli, "peer.test/log")
    assert unknown.exit_code != 0 and json.loads(unknown.stdout)["error"]["code"] == "E_NOT_FOUND"
    opened = await open_storage(load(config).storage_url)
    try:
        assert await opened.peer("peer.test/log") is None and await opened.evidence(10) == [fork()]
    finally:
        await opened.close()
