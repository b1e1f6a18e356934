"""A snapshot built from a log's own bytes: its tiles, entry bundles and detached bodies, nothing else.

This is what a builder does (spec/snapshot.md, "Which manifests"), the aggregator and an auditor alike:
check that the bundles hash to the checkpoint's root, then walk the entries in log order, verifying each
``manifest`` entry's envelope again with the keys its publisher had at that point of the log (a
``did:key``'s own key; an origin's last logged key set, limited to the keys reached from those trusted
for its previous current manifest, as a verifier's pins are), at the time the entry was observed.  A
manifest with parts is merged with the ``part`` entries logged before it, found by their SHA-256; one
whose parts are not all there, or do not merge, is left out like an entry that does not verify, as a
reader would refuse it (spec/snapshot.md, "Which manifests").  Memory: the key sets, the current
manifest of each publisher and the log index of each part seen, never the whole log: a part's bytes
are read again from its bundle (or as a detached body) when a manifest needs them.
"""

from __future__ import annotations

from collections.abc import Callable

from .errors import NotrainError
from .keys import PublicKey
from .keyset import KeySet, parse_keyset
from .logentry import LogEntry, parse_entry
from .logerrors import TileError
from .manifest import canonical_origin, merge_part
from .snapshot import Built, CurrentManifests, build
from .snapshotparts import Logged
from .tiles import ENTRIES, TILE_WIDTH, TileId, TileReader, decode_bundle, tile_width, verify_tiles
from .verify import Verified, peek_publisher, trusted_keys, verify_manifest

BodyReader = Callable[[bytes], bytes]
"""The detached body with this SHA-256 (a log serves it at ``<prefix>/body/<hex>``)."""


class _Replay:
    """The publishers' trust and current manifests, as the log's entries are read in order."""

    def __init__(self, size: int, read: TileReader, body: BodyReader) -> None:
        self.size, self.read, self.body = size, read, body
        self.keysets: dict[str, KeySet] = {}
        self.pins: dict[str, dict[str, PublicKey]] = {}  # origin -> keys trusted for its current manifest
        self.parts: dict[bytes, int] = {}  # SHA-256 of a part -> the index of its first entry
        self.current = CurrentManifests()

    def visit(self, index: int, data: bytes) -> None:
        entry = parse_entry(data)  # an entry no reader accepts breaks the log: E_LOG_ENTRY
        if entry.kind == "part":
            self.parts.setdefault(entry.sha256, index)
        if entry.kind not in ("keyset", "manifest"):
            return
        # a missing or wrong detached body breaks the log, like a bad tile: raised, never skipped
        body = entry.body if entry.body is not None else entry.check_body(self.body(entry.sha256))
        try:
            if entry.kind == "keyset":
                self._keyset(entry, body)
                return
            verified, keys = self._verified(entry, body)
        except NotrainError:
            return  # not verifiable with what the log held before it: not in the snapshot
        if verified is not None:
            self._offer(index, verified, keys)

    def _keyset(self, entry: LogEntry, body: bytes) -> None:
        origin = canonical_origin(entry.source.url, of_url=True) if entry.source.via == "url" else None
        if origin is not None:
            self.keysets[origin] = parse_keyset(body, origin)

    def _verified(self, entry: LogEntry, body: bytes) -> tuple[Verified | None, dict[str, PublicKey]]:
        publisher = peek_publisher(body)
        if publisher.startswith("did:"):
            keys = trusted_keys(publisher)
        elif publisher in self.keysets:
            keys = trusted_keys(publisher, self.keysets[publisher], self.pins.get(publisher))
        else:
            return None, {}  # an origin manifest with no key set logged before it
        return verify_manifest(body, publisher=publisher, keys=keys, now=entry.observed), keys

    def _offer(self, index: int, verified: Verified, keys: dict[str, PublicKey]) -> None:
        """Offer a verified manifest, with its parts merged, as its publisher's current one.  A part not
        logged before it, or one that does not merge, leaves it out: incomplete, it is not in the snapshot."""
        manifest = verified.manifest
        found = [self.parts.get(bytes.fromhex(reference.sha256)) for reference in manifest.parts]
        if None in found:
            return
        bodies = [self._part(index_, reference.sha256) for index_, reference in zip(found, manifest.parts)]  # type: ignore[arg-type]
        try:
            for number, part in enumerate(bodies):
                manifest = merge_part(manifest, number, part)
        except NotrainError:
            return
        logged = Logged(index, manifest, frozenset(verified.signed_by), frozenset(keys))
        if self.current.offer(logged) and not manifest.publisher.startswith("did:"):
            self.pins[manifest.publisher] = keys

    def _part(self, index: int, sha256: str) -> bytes:
        """The body of the ``part`` entry at ``index``, read again (its bundle, or its detached body); a
        bundle that changed since it was hashed, or a wrong body, breaks the log as in :meth:`visit`."""
        bundle = index // TILE_WIDTH
        width = tile_width(0, bundle, self.size)
        entry = parse_entry(decode_bundle(self.read(TileId(ENTRIES, bundle, width)), width)[index % TILE_WIDTH])
        if entry.sha256.hex() != sha256:
            raise TileError(f"entry {index} changed between two reads of its bundle", where=f"entry {index}")
        return entry.body if entry.body is not None else entry.check_body(self.body(entry.sha256))


def current_from_log(size: int, root: bytes, read: TileReader, body: BodyReader) -> list[Logged]:
    """The current manifest of each publisher among the first ``size`` entries of a log whose root at
    that size is ``root``; ``E_TILE`` if the tiles and bundles do not hash to it."""
    replay = _Replay(size, read, body)
    verify_tiles(size, root, read, replay.visit)
    return list(replay.current.current.values())


def build_from_log(log: str, size: int, root: bytes, read: TileReader, body: BodyReader) -> Built:
    """The snapshot of ``log`` at (``size``, ``root``), from its tiles and bodies alone."""
    return build(current_from_log(size, root, read, body), log=log, size=size, root=root)
