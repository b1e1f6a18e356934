"""A manifest's parts: obtained, checked against the signed index by core, and logged before the manifest.

The aggregator accepts a manifest with parts only whole (spec/fetching.md, "Parts": fail-closed, like a
crawler): every part is obtained and merged by :func:`notrain.core.manifest.merge_part` (``E_PART_DIGEST``,
the part's own rules) before anything is appended, so a refused manifest leaves nothing in the log.  Then
each part is logged as a ``part`` entry (deduplicated by its SHA-256, like every entry) ahead of the
``manifest`` entry, which is where every reader looks for it (spec/log.md, "Parts in the log").

Where a part comes from, first that applies:

1. uploaded with the envelope (``POST /v1/manifests`` as ``multipart/form-data``): positional, part *i*
   for reference *i*, logged with the source ``submission``;
2. this aggregator's own log, found by SHA-256 (a manifest crawled again, a resubmission, a peer's
   manifest whose ``part`` entries were copied first), read back from the entry's bytes;
3. for an origin publisher, its origin: fetched through :func:`notrain.fetch.manifests.fetch_parts` (the
   SSRF-guarded client, the manifest's origin only, a few at a time, each read no further than its
   declared size, under the caller's one deadline), logged with the URL it was read from.

A ``did:key`` publisher has no origin to fetch from, and the aggregator never follows a part URL to a
host the publisher chose, so its parts are uploaded or already logged; otherwise ``E_REQUEST``.
Merging parses up to 64 MiB of parts, so it runs in a worker thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from ...core.errors import NotrainError
from ...core.logentry import Source, parse_entry
from ...core.manifest import Manifest, merge_part
from ...core.verify import Verified
from ...fetch.http import Fetched
from ..storage import Entry, Storage
from ..storage import Manifest as StoredManifest

PARTS_DEADLINE = 60.0  # seconds for all the parts fetched for one manifest, as a crawler's manifest deadline
PartsFetcher = Callable[[Manifest, list[int]], Awaitable[dict[int, Fetched]]]
"""Fetch the parts with these indices from the manifest's origin (:func:`notrain.fetch.manifests.fetch_parts`
bound to a client and the manifest's URL); raises :class:`notrain.fetch.manifests.Unreachable`."""


class PartsError(NotrainError):
    """A submission whose parts the aggregator cannot obtain as sent."""

    code = "E_REQUEST"


@dataclass(frozen=True)
class ObservedPart:
    """A part's exact bytes and where they were observed (the source of its ``part`` entry)."""

    data: bytes
    source: Source


async def logged_part(storage: Storage, sha256: bytes) -> tuple[ObservedPart, Entry] | None:
    """The part with this SHA-256 if this log holds it (pending or sequenced), with its entry."""
    entry = await storage.entry_by_key(sha256)
    if entry is None or entry.kind != "part":
        return None
    parsed = parse_entry(entry.leaf)
    data = parsed.body if parsed.body is not None else await storage.body(sha256)
    if data is None:  # storage keeps a detached body with its entry: a fault, never the publisher's doing
        raise LookupError(f"the body of part {sha256.hex()} is missing from storage")
    return ObservedPart(parsed.check_body(data), parsed.source), entry


async def load_parts(
    storage: Storage, verified: Verified, *, uploaded: Sequence[bytes] | None = None, fetch: PartsFetcher | None = None,
    deadline: float = PARTS_DEADLINE,
) -> tuple[Verified, list[ObservedPart]]:
    """``verified`` with every part merged in index order, and the parts to log, in that order.  The parts
    fetched share one ``deadline``: each request's own timeout alone would let 256 slow parts hold a
    submission open for many minutes."""
    references = verified.manifest.parts
    if uploaded is not None and len(uploaded) != len(references):
        raise PartsError(f"send one part per reference of the manifest ({len(references)}), in its order, not {len(uploaded)}",
                         where="/parts")
    if not references:
        return verified, []
    if uploaded is not None:
        observed = [ObservedPart(data, Source("submission")) for data in uploaded]
    else:
        logged = {index: await logged_part(storage, bytes.fromhex(reference.sha256)) for index, reference in enumerate(references)}
        missing = [index for index, found in logged.items() if found is None]
        if missing and fetch is None:
            raise PartsError(f"part {missing[0]} is not in this log: upload the parts with the envelope (multipart/form-data)",
                             where=f"/parts/{missing[0]}")
        try:
            async with asyncio.timeout(deadline):
                fetched = await fetch(verified.manifest, missing) if missing and fetch is not None else {}
        except TimeoutError:
            raise PartsError(f"deadline: the parts were not fetched within {deadline:g} s", where="/parts") from None
        observed = [found[0] if found is not None else _read_at(fetched[index]) for index, found in logged.items()]
    merged = await asyncio.to_thread(_merged, verified.manifest, [part.data for part in observed])
    return Verified(merged, verified.signed_by, verified.envelope_digest), observed


async def merged_from_log(storage: Storage, manifest: Manifest, stored: StoredManifest) -> tuple[Manifest, tuple[Entry, ...]] | None:
    """``manifest`` (parsed from the ``stored`` bytes) with its parts merged from this log, and each part's
    entry; None if a part is not logged before the manifest's entry or does not merge: left out, as a
    snapshot leaves it out (spec/log.md, "Parts in the log")."""
    if not manifest.parts:
        return manifest, ()
    found = []
    for reference in manifest.parts:
        logged = await logged_part(storage, bytes.fromhex(reference.sha256))
        if logged is None or not _before(logged[1], stored):
            return None
        found.append(logged)
    try:
        merged = await asyncio.to_thread(_merged, manifest, [part.data for part, _ in found])
    except NotrainError:
        return None
    return merged, tuple(entry for _, entry in found)


def _read_at(fetched: Fetched) -> ObservedPart:
    """A fetched part, observed at the URL it was finally read from."""
    return ObservedPart(fetched.body, Source("url", url=fetched.final_url))


def _before(part: Entry, stored: StoredManifest) -> bool:
    """Whether the part's entry is (or will be) before the manifest's in the log: by log index once both
    are integrated, else integrated before a pending one, else by entry id (the sequencer integrates
    pending entries oldest first)."""
    if part.log_index is not None and stored.log_index is not None:
        return part.log_index < stored.log_index
    return part.log_index is not None or (stored.log_index is None and part.id < stored.entry_id)


def _merged(manifest: Manifest, parts: list[bytes]) -> Manifest:
    for index, data in enumerate(parts):
        manifest = merge_part(manifest, index, data)
    return manifest
