"""The query index: every publisher's latest accepted manifest, answering "may I use this?" with ``decide()``.

The index is a core :class:`~notrain.core.catalog.Catalog` (path rules per origin, works by SHA-256 and
PDQ through :mod:`notrain.core.pdqindex`, names), so an answer here is the very decision a crawler with
the same manifests reaches: one decision function, never a second copy.  It is built at startup from
storage (each publisher's latest manifest, parsed from the exact envelope bytes ingest verified) and
updated by :meth:`Query.accepted`, which ingest calls for every new submission, and by
:meth:`Query.follow`, which reads the log as it grows and indexes what other processes sharing the
database appended (so every process answers alike a checkpoint interval or two after an entry is
accepted, on either backend; polling the log size needs no listener per backend and also learns the
log index of this process's own entries).  What it holds is what ``GET /v1/publisher/envelope`` serves: the manifest that set the publisher's rollback floor (after a key
rotation that may carry a lower sequence than a thief's), never an equivocating second one.

Threads.  Matching a batch of 10,000 items, or a PDQ query over millions of works, is CPU work, so it runs
in a worker thread; so do catalog updates (a manifest of 100,000 works, then the PDQ index rebuilt).  One
lock keeps them apart.  A small batch of URLs and captions (microseconds each) is answered on the event
loop when the lock is free, which saves the thread hop that would dominate a single check.

A manifest with parts is indexed with every part merged (ingest accepts it only whole; at startup the
parts are read back from their ``part`` entries, and one whose parts are not all there is left out, as a
snapshot leaves it out).

Evidence cites each manifest's publisher, sequence, payload digest, log entry and log index, and, for a
statement from a part, that part's entry and log index too; an index is null until the sequencer
integrates the entry, and is looked up again once the log has grown.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from ..core import dsse
from ..core.catalog import Catalog, ContentHash
from ..core.decision import Statement, decide
from ..core.errors import NotrainError
from ..core.manifest import MANIFEST_TYPE, Manifest, parse_payload
from ..core.names import MAX_CAPTION_CHARS
from ..core.pdqindex import MIN_QUERY_QUALITY, PDQ_BYTES
from ..core.vocab import CATEGORIES, State
from .ingest.parts import merged_from_log
from .ingest.rounds import every
from .ingest.submissions import Accepted
from .storage import MAX_READ, Entry, Storage
from .storage import Manifest as StoredManifest

log = logging.getLogger("notrain.aggregator.query")

MAX_ITEMS = 10_000  # items per check: the API's batch limit
MAX_URL_CHARS = 8192
MAX_TEXT_CHARS = MAX_CAPTION_CHARS  # the part of a caption names are looked for in (spec/limits.md)
MAX_MEMOISED_ANSWERS = 65_536
INLINE_ITEMS = 16  # a batch this small of URLs and captions is matched on the event loop
LOAD_PAGE = 1000  # manifests read from storage at a time when the index is built


class CheckError(NotrainError):
    """One item of a check cannot be answered as asked."""

    code = "E_REQUEST"


@dataclass(frozen=True)
class CheckItem:
    """One thing to check: exactly one of a URL, a file's SHA-256, an image's PDQ hash (with its
    quality, 100 when unknown, as spec/matching.md says) or a caption."""

    url: str | None = None
    sha256: bytes | None = None
    pdq: bytes | None = None
    quality: int = 100
    text: str | None = None

    def __post_init__(self) -> None:
        if (self.url is not None) + (self.sha256 is not None) + (self.pdq is not None) + (self.text is not None) != 1:
            raise CheckError("an item is exactly one of url, sha256, pdq or text", where="item")
        if self.url is not None and not 0 < len(self.url) <= MAX_URL_CHARS:
            raise CheckError(f"url is 1 to {MAX_URL_CHARS} characters", where="url")
        if self.text is not None and len(self.text) > MAX_TEXT_CHARS:
            raise CheckError(f"text is at most {MAX_TEXT_CHARS} characters", where="text")
        if self.sha256 is not None and len(self.sha256) != 32:
            raise CheckError("sha256 is 32 octets", where="sha256")
        if self.pdq is not None and len(self.pdq) != PDQ_BYTES:
            raise CheckError(f"pdq is {PDQ_BYTES} octets", where="pdq")
        if not (type(self.quality) is int and 0 <= self.quality <= 100):
            raise CheckError("quality is an integer from 0 to 100", where="quality")

    @classmethod
    def of_url(cls, url: str) -> CheckItem:
        """A URL item, the common item of a big batch, built without the general checks of ``__init__``
        (a third of its cost): the same limit on the URL, the other members at their defaults."""
        if not 0 < len(url) <= MAX_URL_CHARS:
            raise CheckError(f"url is 1 to {MAX_URL_CHARS} characters", where="url")
        item = object.__new__(cls)
        object.__setattr__(item, "url", url)  # frozen: the class defaults stand for the other fields
        return item

    @property
    def inline(self) -> bool:
        """Cheap enough to match on the event loop (no hash lookup across every work)."""
        return self.url is not None or self.text is not None


@dataclass(frozen=True)
class CitedPart:
    """Where one part of a manifest the index holds is in the log."""

    sha256: str
    entry: int
    log_index: int | None


@dataclass(frozen=True)
class Cited:
    """Where a manifest the index holds, and each of its parts, is in the log."""

    sequence: int
    digest: str
    entry: int
    log_index: int | None
    parts: tuple[CitedPart, ...] = ()

    def integrated(self, entry: Entry) -> Cited:
        """This citation once ``entry`` (the manifest's or a part's) has its log index."""
        parts = tuple(CitedPart(p.sha256, p.entry, entry.log_index if p.entry == entry.id else p.log_index) for p in self.parts)
        return Cited(self.sequence, self.digest, self.entry, entry.log_index if self.entry == entry.id else self.log_index, parts)


def check_purposes(purposes: Iterable[str]) -> tuple[str, ...]:
    """The purposes asked about: categories of the vocabulary, each once, in the order given."""
    chosen = tuple(dict.fromkeys(purposes))
    unknown = [p for p in chosen if p not in CATEGORIES]
    if unknown or not chosen:
        raise CheckError(f"purposes are some of {', '.join(CATEGORIES)}", where="purposes")
    return chosen


class Query:
    """The in-memory index and the ``check`` everyone answers from (the API and the web page)."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.catalog = Catalog()
        self._lock = threading.Lock()  # the catalog is touched by one thread at a time
        self._cited: dict[str, Cited] = {}
        self._pending: dict[int, str] = {}  # entry id -> publisher, for cited entries (manifests, parts) with no log index yet
        self._seen_size = 0  # the log entries below this size have been looked at (catch_up)
        self._catching_up = asyncio.Lock()
        # Answers by the statements they were decided from: a manifest's URL statements are built once per
        # rule (core.catalog.OriginRules), so the URLs under one rule share one answer, decided once.
        self._memo: dict[tuple, tuple[list[Statement], dict]] = {}

    async def load(self) -> Query:
        """Build the index from every publisher's latest stored manifest."""
        checkpoint = await self.storage.checkpoint()  # before the manifests: what is integrated later is looked up
        self._seen_size = checkpoint.size if checkpoint else 0
        after = ""
        while page := await self.storage.latest_manifests(after, LOAD_PAGE):
            await self._install_stored(page)
            after = page[-1].publisher
        for manifest in [m for m in self.catalog.manifests() if m.accounts]:
            await self._reload_proofs(manifest.publisher)
        await asyncio.to_thread(self._warm)
        log.info("query index: %d publishers", len(self.catalog))
        return self

    async def _install_stored(self, stored: list[StoredManifest]) -> None:
        """Index stored manifests, parsed from their exact bytes, with their parts read back from the log."""
        parsed = await asyncio.to_thread(lambda: [(_parse(manifest), manifest) for manifest in stored])
        found = []
        for manifest, row in parsed:
            complete = await merged_from_log(self.storage, manifest, row) if manifest is not None else None
            if complete is not None:
                found.append((complete[0], row, complete[1]))
            elif manifest is not None:
                log.warning("manifest %d of %s left out of the query index: a part is not logged before it", row.id, row.publisher)
        await asyncio.to_thread(self._install_all, found)

    async def follow(self, interval: float) -> None:
        """Until cancelled, every ``interval`` seconds: :meth:`catch_up` with the log."""
        await every(interval, self.catch_up, log, "query index")

    async def _reload_proofs(self, publisher: str) -> None:
        proofs = await self.storage.account_proofs(publisher)
        await self.proven_accounts(publisher, frozenset(p.account_url for p in proofs if p.status == "proven"))

    async def proven_accounts(self, publisher: str, accounts: frozenset[str]) -> None:
        """The account-proof checker's hook: URLs under a publisher's proven accounts are covered by its
        default preferences (spec/keys.md, "Account proofs"), from now until a re-check finds the proof gone."""
        await asyncio.to_thread(self._set_proven, publisher, accounts)

    def _set_proven(self, publisher: str, accounts: frozenset[str]) -> None:
        with self._lock:
            self.catalog.set_proven_accounts(publisher, accounts)
            self._memo.clear()

    async def accepted(self, accepted: Accepted) -> None:
        """Ingest's hook after a submission is stored: index it if storage now holds it as its publisher's
        latest (storage decides: after a key rotation the latest may have a lower sequence)."""
        stored, manifest = accepted.appended.manifest, accepted.verified.manifest
        if stored is None or accepted.equivocation:
            return
        # The append says whether it set the floor; a storage read answers only for one that did not say.
        latest = stored if accepted.appended.latest else await self.storage.latest_manifest(stored.publisher)
        if latest is None or latest.id != stored.id:
            return
        found = [(manifest, latest, accepted.parts)]
        if len(manifest.works) + len(manifest.names) <= INLINE_ITEMS and self._lock.acquire(blocking=False):
            try:  # cheap enough for the event loop, and nobody is matching right now
                self._install(found)
            finally:
                self._lock.release()
        else:
            await asyncio.to_thread(self._install_all, found)
        await self._settle(stored.publisher)

    async def _settle(self, publisher: str) -> None:
        """Look up the log index of a just-cited entry that the sequencer integrated before it was cited:
        a catch-up may have read past it meanwhile.  (Cited first, then read: one of the two sees it.)"""
        cited = self._cited.get(publisher)
        waiting = [] if cited is None else [e for e in (cited.entry, *(part.entry for part in cited.parts)) if e in self._pending]
        for entry_id in waiting:
            entry = await self.storage.entry(entry_id)
            cited = self._cited.get(publisher)
            if entry is not None and entry.log_index is not None and cited is not None and self._pending.pop(entry_id, None):
                self._cited[publisher] = cited.integrated(entry)
                self._memo.clear()

    def _install_all(self, found: list[tuple[Manifest, StoredManifest, tuple[Entry, ...]]]) -> None:
        with self._lock:
            self._install(found)

    def _install(self, found: list[tuple[Manifest, StoredManifest, tuple[Entry, ...]]]) -> None:
        """Index each (manifest with its parts merged, stored, part entries), the lock held."""
        for manifest, stored, parts in found:
            cited = self._cited.get(stored.publisher)
            if cited is not None and cited.entry > stored.entry_id:
                continue  # one appended later was installed while this one waited for the lock
            current = self.catalog.get(manifest.publisher)
            if current is None or current.digest != manifest.digest:
                self.catalog.remove(manifest.publisher)
                self.catalog.add(manifest)
            self._cite(stored, manifest, parts)
        self._memo.clear()

    def _cite(self, stored: StoredManifest, manifest: Manifest, parts: tuple[Entry, ...]) -> None:
        replaced = self._cited.get(stored.publisher)
        if replaced is not None:
            for entry in (replaced.entry, *(part.entry for part in replaced.parts)):
                self._pending.pop(entry, None)
        cited_parts = tuple(CitedPart(reference.sha256, entry.id, entry.log_index) for reference, entry in zip(manifest.parts, parts))
        self._cited[stored.publisher] = Cited(stored.sequence, stored.payload_sha256.hex(), stored.entry_id, stored.log_index, cited_parts)
        for entry, log_index in ((stored.entry_id, stored.log_index), *((part.entry, part.log_index) for part in cited_parts)):
            if log_index is None:
                self._pending[entry] = stored.publisher

    def _warm(self) -> None:
        """Build the PDQ index now rather than in the first PDQ query.  After a change the next PDQ query
        brings it up to date, in its worker thread (PDQ items are never matched on the event loop)."""
        with self._lock:
            self.catalog.content_statements(ContentHash(pdq=bytes(PDQ_BYTES)))

    # -- answering ---------------------------------------------------------------------

    async def check(self, items: list[CheckItem], purposes: tuple[str, ...] = CATEGORIES) -> list[dict]:
        """One answer per item, in order: the decision per purpose with its evidence, or ``{"error": ...}``.
        Answers are shared between items and calls: read them, never change them.

        At most :data:`MAX_ITEMS` items.  A PDQ hash of quality below 50 is refused (``E_PDQ_QUALITY``):
        it is never matched perceptually, so "no statement" would be a false answer.
        """
        if len(items) > MAX_ITEMS:
            raise CheckError(f"at most {MAX_ITEMS} items per check", where="items")
        purposes = check_purposes(purposes)
        await self._refresh_pending()
        if len(items) <= INLINE_ITEMS and all(item.inline for item in items) and self._lock.acquire(blocking=False):
            try:
                return self._answer(items, purposes)
            finally:
                self._lock.release()
        return await asyncio.to_thread(self._answer_locked, items, purposes)

    def _answer_locked(self, items: list[CheckItem], purposes: tuple[str, ...]) -> list[dict]:
        with self._lock:
            return self._answer(items, purposes)

    def _answer(self, items: list[CheckItem], purposes: tuple[str, ...]) -> list[dict]:
        nothing = {"decision": {p: {"state": State.UNKNOWN.value, "allowed": True, "because": []} for p in purposes}}
        answers = []
        for item in items:
            if item.pdq is not None and item.quality < MIN_QUERY_QUALITY:
                error = CheckError(f"a PDQ hash of quality below {MIN_QUERY_QUALITY} is never matched", code="E_PDQ_QUALITY", where="quality")
                answers.append({"error": error.to_json()})
                continue
            statements = self._statements(item)
            if not statements:  # the common answer, shared: nothing is said about most things
                answers.append(nothing)
            elif item.url is None:  # works and names: their statements are new objects each time
                answers.append(self._decided(statements, purposes))
            else:
                key = (purposes, *map(id, statements))
                known = self._memo.get(key)
                if known is None:
                    if len(self._memo) >= MAX_MEMOISED_ANSWERS:
                        self._memo.clear()
                    known = self._memo[key] = (statements, self._decided(statements, purposes))  # keeps the ids theirs
                answers.append(known[1])
        return answers

    def _decided(self, statements: list[Statement], purposes: tuple[str, ...]) -> dict:
        decision = decide(statements, categories=purposes)
        return {"decision": {
            p: {"state": decision.state(p).value, "allowed": decision.allowed(p), "because": [self._evidence(s) for s in decision.outcomes[p].because]}
            for p in purposes
        }}

    def _statements(self, item: CheckItem) -> list[Statement]:
        if item.url is not None:
            return self.catalog.url_statements(item.url)
        if item.text is not None:
            return self.catalog.text_statements(item.text)
        return self.catalog.content_statements(ContentHash(sha256=item.sha256, pdq=item.pdq, pdq_quality=item.quality))

    def _evidence(self, statement: Statement) -> dict:
        evidence = statement.evidence
        cited = self._cited.get(evidence.publisher or "")
        current = cited is not None and cited.digest == evidence.manifest_digest
        answer = {
            "publisher": evidence.publisher,
            "sequence": evidence.sequence,
            "payload_sha256": evidence.manifest_digest,
            "entry": cited.entry if current else None,
            "log_index": cited.log_index if current else None,
            "rule": evidence.rule,
            "detail": evidence.detail,
            "prefs": {c: s.value for c, s in statement.prefs.items()},
        }
        if cited is not None and current and evidence.rule.startswith("/parts/"):  # a statement of part i: cite its entry too
            number = int(evidence.rule.split("/", 3)[2])
            part = cited.parts[number]
            answer["part"] = {"index": number, "sha256": part.sha256, "entry": part.entry, "log_index": part.log_index}
        return answer

    async def _refresh_pending(self) -> None:
        """Before an answer that would cite an entry with no log index yet, catch up with the log."""
        if self._pending:
            await self.catch_up()

    async def catch_up(self) -> None:
        """Read the part of the log integrated since the last look, once (1,000 entries a read): learn the
        log index of cited entries, index the latest manifest of each publisher with a new ``manifest``
        entry that this index does not cite (one another process appended to the storage they share), and
        read again the account proofs of each publisher with a new ``account-proof`` entry (another
        process's checker may have made it).  So processes sharing one database answer alike once an
        entry is integrated (the sequencer's ``log.checkpoint_interval``) and the next look has come
        (:meth:`follow`)."""
        async with self._catching_up:
            checkpoint = await self.storage.checkpoint()
            size = checkpoint.size if checkpoint else 0
            while self._seen_size < size:
                stop = min(size, self._seen_size + MAX_READ)
                appended_elsewhere, proofs_observed = set(), set()
                for entry in await self.storage.entries(self._seen_size, stop):
                    publisher = self._pending.pop(entry.id, None)
                    cited = self._cited.get(publisher) if publisher is not None else None
                    if publisher is not None and cited is not None:
                        self._cited[publisher] = cited.integrated(entry)
                    elif entry.kind == "manifest" and entry.publisher is not None:
                        appended_elsewhere.add(entry.publisher)
                    elif entry.kind == "account-proof" and entry.publisher is not None:
                        proofs_observed.add(entry.publisher)
                for publisher in sorted(appended_elsewhere):
                    latest = await self.storage.latest_manifest(publisher)
                    known = self._cited.get(publisher)
                    if latest is not None and (known is None or known.entry < latest.entry_id):
                        await self._install_stored([latest])
                        proofs_observed.add(publisher)
                for publisher in sorted(proofs_observed):
                    await self._reload_proofs(publisher)
                self._seen_size = stop
                self._memo.clear()


def _parse(stored: StoredManifest) -> Manifest | None:
    """The manifest inside stored envelope bytes.  Ingest verified them on arrival; what is parsed here
    is the payload those signatures covered, so nothing is re-verified.  A manifest that no longer
    parses (a stricter parser after an upgrade) is left out and logged, never fatal."""
    try:
        envelope = dsse.parse(stored.envelope)
        if envelope.payload_type != MANIFEST_TYPE:
            raise CheckError("not a manifest envelope", where="payloadType")
        return parse_payload(envelope.payload)
    except NotrainError as error:
        log.warning("stored manifest %d of %s left out of the query index: %s", stored.id, stored.publisher, error)
        return None
