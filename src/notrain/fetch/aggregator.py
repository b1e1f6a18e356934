"""A manifest source that asks a live aggregator, trusting it for nothing but availability.

The aggregator hands over each publisher's latest envelope as the exact bytes the publisher signed
(``/v1/publisher/envelope``), listed page by page (``/v1/publishers?after=``).  Every signature is
verified here, as for a local bundle: a did:key manifest by the DID's own key, an origin's manifest by
the key set fetched from the origin itself through the SSRF-guarded client.  A manifest's parts come from
the aggregator too (``/v1/parts/<sha256>``), each checked against its signed reference, and a manifest
is taken only with all of them.  An aggregator can therefore withhold a manifest, never forge or alter one.

With the log's verifier key (``log_key``, a signed-note vkey) it cannot withhold silently either: the
checkpoint must carry the log's signature, and each envelope is accepted only with an inclusion proof
against it (the entry is read from its tlog-tiles entry bundle, so its bytes are the envelope's), so what
the crawl honoured is in a public, append-only log.  :meth:`AggregatorSource.describe` cites that
checkpoint in the compliance report.  With ``witnesses`` (cosigner vkeys) and ``min_cosignatures`` *k*,
the checkpoint must also carry valid cosignatures by *k* distinct ones of them (spec/log.md, "Witnesses"),
so the log cannot show this crawl a history it does not show those witnesses.

Loading happens once, when the catalog is first asked for, in a thread of its own with its own event
loop (the caller may be running one: Scrapy's reactor, at crawl start).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

import aiohttp

from ..core import b64, dsse, ijson
from ..core.catalog import Catalog
from ..core.checkpoint import SignedCheckpoint
from ..core.errors import NotrainError
from ..core.keyset import MAX_KEYSET_BYTES, parse_keyset
from ..core.logentry import parse_entry
from ..core.manifest import Manifest, merge_part
from ..core.merkle import leaf_hash, verify_inclusion
from ..core.note import NoteVerifier
from ..core.tiles import ENTRIES, MAX_BUNDLE_BYTES, TILE_WIDTH, TileId, decode_bundle, tile_width
from ..core.verify import trusted_keys, verify_manifest
from ..core.witnessing import WitnessPolicy
from .http import HttpClient
from .manifests import KEYSET_PATH, MAX_CATALOGUE_BYTES
from .sources import Rejected, SourceError

SCHEME_PREFIX = "aggregator+"  # NOTRAIN_SOURCES spelling: aggregator+https://host[#vkey]
MAX_PUBLISHERS = 100_000  # a hostile aggregator could list without end; raise it for a large deployment
MAX_PAGE_BYTES = 1024 * 1024
MAX_CHECKPOINT_BYTES = 16 * 1024
MAX_PROOF_BYTES = 64 * 1024
CONCURRENCY = 8


def parse_source(spec: str, *, witnesses: tuple[str, ...] = (), min_cosignatures: int = 0) -> AggregatorSource:
    """``aggregator+URL`` or ``aggregator+URL#VKEY`` (the log's verifier key) as a source, with a witness
    policy (which requiring any cosignature needs the log key: without one there is no checkpoint to check)."""
    if not spec.startswith(SCHEME_PREFIX):
        raise SourceError(f"an aggregator source is spelled {SCHEME_PREFIX}URL[#VKEY]", where=spec[:100])
    url, _, vkey = spec[len(SCHEME_PREFIX):].partition("#")
    return AggregatorSource(url, log_key=vkey or None, witnesses=witnesses, min_cosignatures=min_cosignatures)


@dataclass
class AggregatorSource:
    """The latest manifests of every publisher an aggregator at ``url`` holds, verified here."""

    url: str
    log_key: str | None = None
    witnesses: tuple[str, ...] = ()
    min_cosignatures: int = 0
    max_publishers: int = MAX_PUBLISHERS
    timeout: float = 30.0
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    rejected: list[Rejected] = field(default_factory=list)
    _catalog: Catalog | None = None
    _checkpoint: SignedCheckpoint | None = None
    _log_index: dict[str, int | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SourceError("an aggregator is an http(s) URL", where=self.url[:100])
        self.url = self.url.rstrip("/")
        self._verifier = NoteVerifier.from_vkey(self.log_key) if self.log_key else None
        self._policy = WitnessPolicy.from_vkeys(tuple(self.witnesses), self.min_cosignatures)
        if self.min_cosignatures and self._verifier is None:
            raise SourceError("cosignatures are required on a log's checkpoint: give the log's key too", where="witnesses")

    def catalog(self) -> Catalog:
        if self._catalog is None:
            with ThreadPoolExecutor(1, thread_name_prefix="notrain-aggregator-source") as pool:
                self._catalog = pool.submit(asyncio.run, self.load()).result()
        return self._catalog

    def describe(self) -> dict:
        catalog = self.catalog()
        checkpoint = self._checkpoint
        return {
            "kind": "aggregator",
            "url": self.url,
            "log": self._verifier.name if self._verifier else None,
            "checkpoint": checkpoint.data.decode("utf-8") if checkpoint else None,
            "witnesses": sorted({v.name for v in checkpoint.cosignatures}) if checkpoint else [],
            "size": checkpoint.checkpoint.size if checkpoint else None,
            "manifests": [
                {"publisher": m.publisher, "sequence": m.sequence, "digest": m.digest, "log_index": self._log_index.get(m.publisher),
                 "works": len(m.works), "names": len(m.names)}
                for m in catalog.manifests()
            ],
            "rejected": [r.__dict__ for r in self.rejected],
        }

    async def load(self) -> Catalog:
        """Download, verify and index every publisher's latest manifest.  An aggregator that cannot be
        read at all, or whose checkpoint is not signed by ``log_key``, is an error (:class:`SourceError`);
        a publisher whose manifest does not verify is left out and listed in ``rejected``."""
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with aiohttp.ClientSession(timeout=timeout) as session, HttpClient(user_agent="notrain") as origins:
            reader = _Reader(self, session, origins)
            if self._verifier is not None:
                note = await reader.get("/log/checkpoint", MAX_CHECKPOINT_BYTES)
                try:
                    self._checkpoint = self._policy.open(note, self._verifier.name, self._verifier)
                except NotrainError as error:
                    raise SourceError(f"{self.url}: the checkpoint does not verify: {error}", where="/log/checkpoint") from None
            publishers = await reader.publishers()
            gate = asyncio.Semaphore(CONCURRENCY)

            async def one(index: int, publisher: str) -> Manifest | None:
                async with gate:
                    try:
                        return await reader.manifest(publisher)
                    except NotrainError as error:
                        self.rejected.append(Rejected(index, publisher, f"{error.code}: {error.message}"))
                        return None

            found = await asyncio.gather(*(one(i, p) for i, p in enumerate(publishers)))
        catalog = Catalog()
        for index, manifest in enumerate(found):
            try:
                if manifest is not None:
                    catalog.add(manifest)
            except NotrainError as error:  # the same publisher listed twice
                self.rejected.append(Rejected(index, manifest.publisher, f"{error.code}: {error.message}"))
        return catalog


class _Reader:
    """The HTTP side of one load: the aggregator's routes, and origins' key sets."""

    def __init__(self, source: AggregatorSource, session: aiohttp.ClientSession, origins: HttpClient) -> None:
        self.source, self.session, self.origins = source, session, origins
        self._bundles: dict[int, list[bytes]] = {}

    async def get(self, path: str, max_bytes: int, **params: str) -> bytes:
        url = self.source.url + path
        try:
            async with self.session.get(url, params=params, allow_redirects=False) as response:
                if response.status != 200:
                    raise SourceError(f"{url}: HTTP {response.status}", where=path)
                body = bytearray()
                async for chunk in response.content.iter_chunked(64 * 1024):
                    body += chunk
                    if len(body) > max_bytes:
                        raise SourceError(f"{url}: more than {max_bytes} octets", where=path)
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            raise SourceError(f"{url}: {type(error).__name__}: {error}"[:300], where=path) from None
        return bytes(body)

    async def publishers(self) -> list[str]:
        found: list[str] = []
        after: str | None = None
        while True:
            params = {} if after is None else {"after": after}
            page = ijson.loads(await self.get("/v1/publishers", MAX_PAGE_BYTES, **params), max_size=MAX_PAGE_BYTES, what="publishers")
            names, after = (page.get("publishers"), page.get("next")) if isinstance(page, dict) else (None, None)
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise SourceError("/v1/publishers: not a list of publishers", where="/v1/publishers")
            found.extend(names)
            if len(found) > self.source.max_publishers:
                raise SourceError(f"more than {self.source.max_publishers} publishers", where="/v1/publishers")
            if not isinstance(after, str) or not names:
                return found

    async def manifest(self, publisher: str) -> Manifest:
        envelope = await self.get("/v1/publisher/envelope", dsse.MAX_ENVELOPE_BYTES, id=publisher)
        if publisher.startswith("did:"):
            keys = trusted_keys(publisher)
        else:
            fetched = await self.origins.get(publisher + KEYSET_PATH, max_bytes=MAX_KEYSET_BYTES)
            if not fetched.ok:
                raise SourceError(f"no key set from {publisher}: {fetched.failure or fetched.status}", where=publisher + KEYSET_PATH)
            keys = trusted_keys(publisher, await asyncio.to_thread(parse_keyset, fetched.body, publisher))
        now = self.source.now
        verified = await asyncio.to_thread(verify_manifest, envelope, publisher=publisher, keys=keys, now=now)
        self.source._log_index[publisher] = await self._included(publisher, envelope)
        manifest = verified.manifest
        if sum(reference.size for reference in manifest.parts) > MAX_CATALOGUE_BYTES:
            raise SourceError(f"the parts of {publisher}'s manifest exceed {MAX_CATALOGUE_BYTES} octets", where=publisher)
        for index, reference in enumerate(manifest.parts):  # the signed reference binds the bytes: E_PART_DIGEST
            data = await self.get(f"/v1/parts/{reference.sha256}", reference.size)
            manifest = await asyncio.to_thread(merge_part, manifest, index, data)
        return manifest

    async def _included(self, publisher: str, envelope: bytes) -> int | None:
        """The envelope's log index, proven included in the verified checkpoint (when there is a log key)."""
        checkpoint = self.source._checkpoint
        if checkpoint is None:
            return None
        status = await self._entry_of(publisher)
        index, size = status.get("log_index"), checkpoint.checkpoint.size
        if not isinstance(index, int) or not 0 <= index < size:
            raise SourceError("the manifest is not yet in the log's checkpoint", code="E_SOURCE", where=publisher)
        leaf = (await self._bundle(index // TILE_WIDTH, size))[index % TILE_WIDTH]
        entry = parse_entry(leaf)
        if entry.kind != "manifest":
            raise SourceError("the log entry is not a manifest", where=publisher)
        entry.check_body(envelope)  # the entry commits to exactly these bytes
        proof_doc = ijson.loads(await self.get("/v1/proof/inclusion", MAX_PROOF_BYTES, index=str(index), size=str(size)),
                                max_size=MAX_PROOF_BYTES, what="proof")
        proof = [b64.std_decode(h, where="proof") for h in proof_doc.get("proof", ())] if isinstance(proof_doc, dict) else []
        verify_inclusion(index, size, leaf_hash(leaf), proof, checkpoint.checkpoint.root)
        return index

    async def _entry_of(self, publisher: str) -> dict:
        doc = ijson.loads(await self.get("/v1/publisher", MAX_PAGE_BYTES, id=publisher), max_size=MAX_PAGE_BYTES, max_depth=8, what="publisher")
        latest = doc.get("latest") if isinstance(doc, dict) else None
        return latest if isinstance(latest, dict) else {}

    async def _bundle(self, tile: int, size: int) -> list[bytes]:
        if tile not in self._bundles:
            tile_id = TileId(ENTRIES, tile, tile_width(0, tile, size))
            self._bundles[tile] = decode_bundle(await self.get("/log/" + tile_id.path, MAX_BUNDLE_BYTES), tile_id.width)
        return self._bundles[tile]
