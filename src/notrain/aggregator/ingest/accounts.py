"""Account proofs: does each account a publisher lists show the publisher's proof token?

A manifest's ``accounts`` are one direction of a Keyoxide-style proof (the publisher claims the account,
signed); the profile page showing ``notrain:<publisher id>`` is the other (spec/keys.md, "Account
proofs").  For every account of an accepted manifest this room fetches the profile through the
SSRF-guarded client (its first 1 MiB; that is all core looks at), decides with
:func:`notrain.core.accounts.has_proof`, stores the result and re-checks it every
``accounts.recheck_interval``.

Each *result* is logged as an ``account-proof`` entry (spec/log.md): the first one, then every change
(proven <-> not proven), so the log holds when a link between identities held without growing by one
entry per account per day.  A profile that cannot be fetched proves nothing and is not an observation:
it is stored as ``unreachable`` (not logged) and retried at the next re-check.

Statuses stored: ``pending`` (listed, not checked yet), ``proven``, ``missing`` (fetched, no token),
``unreachable``, ``unlisted`` (no longer in the publisher's latest manifest: never fetched again while so).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from ...core import dsse, ijson
from ...core.accounts import MAX_PROFILE_CHARS, has_proof
from ...core.errors import NotrainError
from ...core.logentry import Source, encode_entry
from ...core.manifest import MANIFEST_TYPE, Manifest, format_timestamp, parse_payload
from ...core.merkle import leaf_hash
from ...fetch.http import Transport
from ..storage import AccountProof, NewEntry, Storage
from .rounds import every

log = logging.getLogger("notrain.aggregator.accounts")

MAX_PROFILE_BYTES = MAX_PROFILE_CHARS  # 1 MiB: a UTF-8 character is at least one octet, so nothing core reads is cut
DUE_BATCH = 100
CONCURRENCY = 4
RESULTS = ("proven", "missing")  # the statuses that are observations, and are logged


def observation(publisher: str, account: str, proven: bool, checked: datetime, profile: bytes) -> bytes:
    """The body of an ``account-proof`` log entry (spec/log.md): strict I-JSON, sorted keys."""
    return ijson.dumps({
        "notrain-account-proof": 1,
        "publisher": publisher,
        "account": account,
        "proven": proven,
        "checked": format_timestamp(checked),
        "profile-sha256": hashlib.sha256(profile).hexdigest(),
    })


class AccountProofs:
    def __init__(
        self,
        storage: Storage,
        client: Transport,
        *,
        recheck_interval: float,
        max_merge_delay: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_change: Callable[[str, frozenset[str]], Awaitable[None]] | None = None,
    ) -> None:
        """``on_change(publisher, proven account URLs)`` is awaited whenever a result changes, so the query
        index can apply spec/keys.md's "Works of a proven account" (``Catalog.set_proven_accounts``)."""
        self.storage, self.client, self.clock, self.on_change = storage, client, clock, on_change
        self.recheck = timedelta(seconds=recheck_interval)
        self.max_merge_delay = timedelta(seconds=max_merge_delay)
        self._slots = asyncio.Semaphore(CONCURRENCY)

    async def listed(self, manifest: Manifest) -> None:
        """Schedule a check, now, of every account of a newly accepted manifest not being checked already."""
        if not manifest.accounts:
            return  # most manifests list none: no storage round trip for them
        known = {p.account_url for p in await self.storage.account_proofs(manifest.publisher) if p.status != "unlisted"}
        now = self.clock().replace(microsecond=0)
        for account in manifest.accounts:
            if account.url not in known:
                await self.storage.put_account_proof(AccountProof(manifest.publisher, account.url, "pending", now, now))

    async def run(self, poll: float = 1.0) -> None:
        """Check due proofs until cancelled."""
        await every(poll, self.check_due, log, "account proof")

    async def check_due(self) -> list[AccountProof]:
        due = await self.storage.due_account_proofs(self.clock(), DUE_BATCH)
        return list(await asyncio.gather(*(self._check_one(p) for p in due)))

    async def _check_one(self, proof: AccountProof) -> AccountProof:
        async with self._slots:
            return await self.check(proof)

    async def check(self, proof: AccountProof) -> AccountProof:
        """Check one account now, store the result, log it if it is a new result."""
        now = self.clock().replace(microsecond=0)
        status, profile, source = await self._status(proof)
        checked = AccountProof(proof.publisher, proof.account_url, status, now, now + self.recheck)
        if status in RESULTS and status != proof.status:
            body = observation(proof.publisher, proof.account_url, status == "proven", now, profile)
            leaf = encode_entry("account-proof", Source("url", url=source), now, body)
            digest = hashlib.sha256(body).digest()
            await self.storage.append(NewEntry(leaf, leaf_hash(leaf), "account-proof", proof.publisher, now, now + self.max_merge_delay, digest))
        await self.storage.put_account_proof(checked)
        if self.on_change is not None and (status == "proven") != (proof.status == "proven"):
            await self.on_change(proof.publisher, await self.proven(proof.publisher))
        return checked

    async def proven(self, publisher: str) -> frozenset[str]:
        """The account URLs of ``publisher`` whose proof held at their last check."""
        return frozenset(p.account_url for p in await self.storage.account_proofs(publisher) if p.status == "proven")

    async def _status(self, proof: AccountProof) -> tuple[str, bytes, str]:
        """(status, profile bytes, URL they were read from)."""
        if not await self._still_listed(proof):
            return "unlisted", b"", proof.account_url
        fetched = await self.client.get(proof.account_url, max_bytes=MAX_PROFILE_BYTES, truncate=True)
        if not fetched.ok:
            log.info("profile %s of %s unreachable: %s", proof.account_url, proof.publisher, fetched.failure or fetched.status)
            return "unreachable", b"", proof.account_url
        text = fetched.body.decode("utf-8", errors="replace")
        proven = await asyncio.to_thread(has_proof, text, proof.publisher)
        return ("proven" if proven else "missing"), fetched.body, fetched.final_url

    async def _still_listed(self, proof: AccountProof) -> bool:
        latest = await self.storage.latest_manifest(proof.publisher)
        if latest is None:
            return False
        manifest = await asyncio.to_thread(_payload, latest.envelope)
        return manifest is not None and any(account.url == proof.account_url for account in manifest.accounts)


def _payload(envelope: bytes) -> Manifest | None:
    """The manifest inside stored envelope bytes (verified when ingest accepted them)."""
    try:
        parsed = dsse.parse(envelope)
        return parse_payload(parsed.payload) if parsed.payload_type == MANIFEST_TYPE else None
    except NotrainError:
        return None
