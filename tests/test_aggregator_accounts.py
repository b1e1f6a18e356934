"""Account proofs checked by the aggregator against a real profile page (HTTPS on 127.0.0.1, tests/sites.py).

The re-check schedule is driven by an injected clock; every observation is read back from the log
entries it appended and from storage.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from aggregator_helpers import did_manifest
from conftest import make_key
from sites import LocalCA, Site

from notrain.aggregator.ingest.accounts import MAX_PROFILE_BYTES, AccountProofs, observation
from notrain.aggregator.ingest.submissions import Submissions
from notrain.aggregator.query import CheckItem, Query
from notrain.aggregator.storage import open_storage
from notrain.core import ijson
from notrain.core.logentry import parse_entry
from notrain.core.note import NoteSigner
from notrain.fetch.addresses import AddressPolicy
from notrain.fetch.http import HttpClient

RECHECK = 86400
START = datetime(2026, 12, 1, tzinfo=UTC)
PROFILE = "/profile/artist"


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def profiles(tmp_path):
    site = await Site(tls=LocalCA(tmp_path)).start()
    yield site
    await site.stop()


@pytest.fixture
async def world(tmp_path, profiles):
    """Storage, a submissions room, the account checker with its clock, and an HTTPS client trusting the test CA."""
    storage = await open_storage(f"sqlite:///{tmp_path / 'aggregator.sqlite'}")
    client = HttpClient(timeout=5.0, ssl=profiles.tls.client_context(), addresses=AddressPolicy(allow_loopback=True))
    clock = Clock()
    submissions = Submissions(storage, NoteSigner("aggregator.test/log", make_key("log")), max_merge_delay=60, fetch_keyset=None,
                              clock=lambda: clock.now)
    checker = AccountProofs(storage, client, recheck_interval=RECHECK, max_merge_delay=60, clock=clock, on_change=changes_seen)
    yield storage, submissions, checker, clock
    await client.close()
    await storage.close()


CHANGES: list[tuple[str, frozenset[str]]] = []


async def changes_seen(publisher: str, proven: frozenset[str]) -> None:
    CHANGES.append((publisher, proven))


@pytest.fixture(autouse=True)
def fresh_changes():
    CHANGES.clear()


async def observations(storage) -> list[dict]:
    async with storage.sequencer() as sequencer:
        entries = await sequencer.pending(1000)
    return [json.loads(parse_entry(e.leaf).body) for e in entries if e.kind == "account-proof"]


async def publish(submissions, checker, key, accounts, sequence: int = 1):
    accepted = await submissions.submit(did_manifest(key, sequence=sequence, accounts=[{"url": url} for url in accounts]))
    await checker.listed(accepted.verified.manifest)
    return accepted.verified.manifest.publisher


async def test_a_proof_that_holds_then_is_removed_is_logged_both_times(world, profiles):
    storage, submissions, checker, clock = world
    account = profiles.origin + PROFILE
    artist = make_key("artist")
    profiles.serve(PROFILE, f"<p>I draw birds. (notrain:{artist.public.did_key})</p>", Content_Type="text/html")
    publisher = await publish(submissions, checker, artist, [account])
    assert [p.status for p in await storage.account_proofs(publisher)] == ["pending"]

    [checked] = await checker.check_due()
    assert (checked.status, checked.next_check_at) == ("proven", START + timedelta(seconds=RECHECK))
    [logged] = await observations(storage)
    assert logged == {"notrain-account-proof": 1, "publisher": publisher, "account": account, "proven": True,
                      "checked": "2026-12-01T00:00:00Z", "profile-sha256": logged["profile-sha256"]}
    assert len(logged["profile-sha256"]) == 64

    clock.now += timedelta(seconds=RECHECK - 1)
    assert await checker.check_due() == []  # not due yet
    clock.now += timedelta(seconds=1)
    [checked] = await checker.check_due()
    assert checked.status == "proven" and len(await observations(storage)) == 1  # unchanged: nothing new logged

    profiles.serve(PROFILE, "<p>I draw birds.</p>")  # the token is gone
    clock.now += timedelta(seconds=RECHECK)
    [checked] = await checker.check_due()
    assert checked.status == "missing"
    assert [(o["proven"], o["checked"]) for o in await observations(storage)] == [
        (True, "2026-12-01T00:00:00Z"), (False, "2026-12-03T00:00:00Z")]
    assert profiles.hits[PROFILE] == 3
    assert CHANGES == [(publisher, frozenset({account})), (publisher, frozenset())]  # what the query index follows


async def test_the_query_index_covers_a_proven_accounts_uploads_only_while_the_proof_holds(tmp_path, profiles):
    """spec/keys.md: URLs under a proven account get its publisher's default; a removed proof takes that back."""
    storage = await open_storage(f"sqlite:///{tmp_path / 'aggregator.sqlite'}")
    client = HttpClient(timeout=5.0, ssl=profiles.tls.client_context(), addresses=AddressPolicy(allow_loopback=True))
    try:
        clock = Clock()
        query = await Query(storage).load()
        submissions = Submissions(storage, NoteSigner("aggregator.test/log", make_key("log")), max_merge_delay=60,
                                  fetch_keyset=None, clock=lambda: clock.now, on_accept=query.accepted)
        checker = AccountProofs(storage, client, recheck_interval=RECHECK, max_merge_delay=60, clock=clock,
                                on_change=query.proven_accounts)
        account, artist = profiles.origin + PROFILE, make_key("artist")
        upload = CheckItem(url=account + "/works/heron.png")

        async def train_ai() -> str:
            [answer] = await query.check([upload], ("train-ai",))
            return answer["decision"]["train-ai"]["state"]

        profiles.serve(PROFILE, f"notrain:{artist.public.did_key}")
        await publish(submissions, checker, artist, [account])
        assert await train_ai() == "unknown"  # listed, not yet checked: proves nothing
        await checker.check_due()
        assert await train_ai() == "disallowed"
        assert (await (await Query(storage).load()).check([upload], ("train-ai",)))[0]["decision"]["train-ai"]["state"] == "disallowed"

        profiles.serve(PROFILE, "gone")
        clock.now += timedelta(seconds=RECHECK)
        await checker.check_due()
        assert await train_ai() == "unknown"
    finally:
        await client.close()
        await storage.close()


async def test_a_token_of_another_publisher_or_a_longer_id_proves_nothing(world, profiles):
    storage, submissions, checker, _ = world
    artist, other = make_key("artist"), make_key("other")
    profiles.serve(PROFILE, f"notrain:{other.public.did_key} notrain:{artist.public.did_key}x")
    await publish(submissions, checker, artist, [profiles.origin + PROFILE])
    [checked] = await checker.check_due()
    assert checked.status == "missing" and [o["proven"] for o in await observations(storage)] == [False]


async def test_only_the_first_mebibyte_of_a_profile_is_read(world, profiles):
    _, submissions, checker, _ = world
    artist = make_key("artist")
    token = f"notrain:{artist.public.did_key}"
    early, late = "/early", "/late"
    profiles.serve(early, " " * (MAX_PROFILE_BYTES - len(token)) + token + " " * MAX_PROFILE_BYTES)
    profiles.serve(late, " " * MAX_PROFILE_BYTES + token)
    await publish(submissions, checker, artist, [profiles.origin + early, profiles.origin + late])
    status = {p.account_url.removeprefix(profiles.origin): p.status for p in await checker.check_due()}
    assert status == {early: "proven", late: "missing"}


async def test_an_unreachable_profile_is_not_an_observation_and_an_unlisted_account_is_not_fetched(world, profiles):
    storage, submissions, checker, clock = world
    artist = make_key("artist")
    profiles.serve(PROFILE, "busy", status=503)
    publisher = await publish(submissions, checker, artist, [profiles.origin + PROFILE])
    [checked] = await checker.check_due()
    assert checked.status == "unreachable" and await observations(storage) == []

    await publish(submissions, checker, artist, [], sequence=2)  # the account is no longer listed
    clock.now += timedelta(seconds=RECHECK)
    [checked] = await checker.check_due()
    assert checked.status == "unlisted" and profiles.hits[PROFILE] == 1

    profiles.serve(PROFILE, f"notrain:{publisher}")
    await publish(submissions, checker, artist, [profiles.origin + PROFILE], sequence=3)  # listed again: checked at once
    [checked] = await checker.check_due()
    assert checked.status == "proven" and [o["proven"] for o in await observations(storage)] == [True]


def test_the_observation_is_strict_i_json_with_a_fixed_shape():
    body = observation("did:key:z6Mk", "https://a.example/u", True, START, b"profile")
    assert ijson.loads(body, max_size=4096) == {
        "notrain-account-proof": 1, "publisher": "did:key:z6Mk", "account": "https://a.example/u", "proven": True,
        "checked": "2026-12-01T00:00:00Z", "profile-sha256": hashlib.sha256(b"profile").hexdigest()}
    assert list(json.loads(body)) == sorted(json.loads(body))  # one spelling: sorted keys
