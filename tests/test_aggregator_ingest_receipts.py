"""A did:key submission's receipt is signed with its verification, before the append (off the event loop):
it must be exactly the receipt of the entry storage holds, also when storage returns an earlier entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aggregator_helpers import did_manifest
from conftest import make_key

from notrain.aggregator.ingest.submissions import Submissions
from notrain.aggregator.storage import open_storage
from notrain.core.logentry import parse_entry
from notrain.core.note import NoteSigner
from notrain.core.receipt import make_receipt, open_receipt

ORIGIN = "aggregator.test/log"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 12, 0, 0, 250_000, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def test_a_receipt_is_the_stored_entrys_also_for_a_resubmission_later(tmp_path):
    storage = await open_storage(f"sqlite:///{tmp_path / 'aggregator.sqlite'}")
    log, clock = NoteSigner(ORIGIN, make_key("log")), Clock()
    submissions = Submissions(storage, log, max_merge_delay=60.5, fetch_keyset=None, clock=clock)
    try:
        envelope = did_manifest(make_key("artist"))
        first = await submissions.submit(envelope)
        clock.now += timedelta(seconds=30)
        again = await submissions.submit(envelope)
        other = await submissions.submit(did_manifest(make_key("another artist")))
    finally:
        await storage.close()
    assert first.created and not again.created and other.created
    assert again.appended.entry.id == first.appended.entry.id and again.receipt == first.receipt
    for accepted, received in ((first, datetime(2026, 12, 1, 12, tzinfo=UTC)), (other, datetime(2026, 12, 1, 12, 0, 30, tzinfo=UTC))):
        stored = accepted.appended.entry
        assert accepted.receipt == make_receipt(log, stored.leaf, stored.received_at, stored.deadline)
        receipt = open_receipt(accepted.receipt, ORIGIN, log.verifier)
        receipt.check_entry(stored.leaf)
        assert (receipt.time, receipt.integrate_by) == (received, received + timedelta(seconds=60))
        assert parse_entry(stored.leaf).observed == received
