"""Processes sharing one database answer alike: two real `notrain serve` processes on one throwaway
PostgreSQL database, and two query indexes over one SQLite database for account proofs.

Each process answers checks from its own in-memory index; what one process accepts reaches the other's
index once the entry is integrated and the other's next look at the log comes (``Query.follow``), with
parts merged from the log.  No timing is asserted: the test polls with a generous deadline.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import aiohttp
from aggregator_helpers import did_manifest, submit
from conftest import make_key
from serve_process import ServeProcess
from test_aggregator_accounts import PROFILE, RECHECK, Clock, profiles, publish  # noqa: F401 - profiles is a fixture
from test_aggregator_parts import form, part_document, post_form, reference, sha

from notrain.aggregator.ingest.accounts import AccountProofs
from notrain.aggregator.ingest.submissions import Submissions
from notrain.aggregator.log.sequencer import LogSequencer
from notrain.aggregator.query import CheckItem, Query
from notrain.aggregator.storage import open_storage
from notrain.core.note import NoteSigner
from notrain.fetch.addresses import AddressPolicy
from notrain.fetch.http import HttpClient


async def disallowed(session: aiohttp.ClientSession, url: str, digest: str) -> dict | None:
    async with session.get(url + "/v1/check", params={"sha256": digest, "purpose": "train-ai"}) as response:
        answer = (await response.json())["decision"]["train-ai"]
    return answer if answer["state"] == "disallowed" else None


async def eventually(session, url: str, digest: str, timeout: float = 60.0) -> dict:
    deadline = asyncio.get_running_loop().time() + timeout
    while (answer := await disallowed(session, url, digest)) is None:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{url} does not answer {digest} in {timeout} s")
        await asyncio.sleep(0.1)
    return answer


async def test_what_one_process_accepts_the_other_answers_with_its_parts(tmp_path, postgres_cluster):
    url = await postgres_cluster.new_database()
    key_file = tmp_path / "log-key.jwk"  # one log, one key
    first = await ServeProcess(tmp_path / "first", storage_url=url, key_file=key_file).start()
    second = None
    try:
        second = await ServeProcess(tmp_path / "second", storage_url=url, key_file=key_file).start()
        artist, other = make_key("process artist"), make_key("process other")
        part = part_document(artist.public.did_key, [sha("in a part")])
        async with aiohttp.ClientSession() as session:
            assert await disallowed(session, second.url, sha("in a part")) is None  # loaded at startup without it

            async with aiohttp.ClientSession(base_url=first.url) as to_first:
                status, body = await post_form(to_first, form(did_manifest(artist, parts=[reference(part)]), [part]))
            assert status == 202, body
            cited = (await eventually(session, second.url, sha("in a part")))["because"][0]
            assert cited["entry"] == body["entry"] and cited["part"]["entry"] == body["parts"][0]
            assert cited["log_index"] is not None and cited["part"]["log_index"] == cited["log_index"] - 1

            async with aiohttp.ClientSession(base_url=second.url) as to_second:  # and the other way round
                status, body = await submit(to_second, did_manifest(other, works=[{"sha256": sha("by the second")}]))
            assert status == 202, body
            assert (await eventually(session, first.url, sha("by the second")))["because"][0]["entry"] == body["entry"]
    finally:
        first.kill()
        if second is not None:
            second.kill()


async def test_an_index_follows_account_proofs_another_process_checked(tmp_path, profiles):
    """Two query indexes over one database, as two processes have: only the first runs the account checker;
    the second learns each result from its ``account-proof`` entry once integrated (``Query.catch_up``)."""
    storage = await open_storage(f"sqlite:///{tmp_path / 'aggregator.sqlite'}")
    client = HttpClient(timeout=5.0, ssl=profiles.tls.client_context(), addresses=AddressPolicy(allow_loopback=True))
    try:
        clock, signer = Clock(), NoteSigner("aggregator.test/log", make_key("log"))
        checking, following = await Query(storage).load(), await Query(storage).load()
        submissions = Submissions(storage, signer, max_merge_delay=60, fetch_keyset=None, clock=lambda: clock.now, on_accept=checking.accepted)
        checker = AccountProofs(storage, client, recheck_interval=RECHECK, max_merge_delay=60, clock=clock, on_change=checking.proven_accounts)
        sequencer = LogSequencer(storage, signer, interval=0.05, batch_max=1024)
        account, artist = profiles.origin + PROFILE, make_key("artist")
        upload = CheckItem(url=account + "/works/heron.png")

        async def seen_by_the_follower() -> str:
            async with storage.sequencer() as held:
                await sequencer.integrate_once(held)
            await following.catch_up()
            [answer] = await following.check([upload], ("train-ai",))
            return answer["decision"]["train-ai"]["state"]

        profiles.serve(PROFILE, f"notrain:{artist.public.did_key}")
        await publish(submissions, checker, artist, [account])
        assert await seen_by_the_follower() == "unknown"  # its manifest, indexed from the log; the account not checked yet
        assert artist.public.did_key in following.catalog
        await checker.check_due()
        assert await seen_by_the_follower() == "disallowed"

        profiles.serve(PROFILE, "gone")
        clock.now += timedelta(seconds=RECHECK)
        await checker.check_due()
        assert await seen_by_the_follower() == "unknown"
    finally:
        await client.close()
        await storage.close()
