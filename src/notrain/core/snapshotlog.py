"""A snapshot built from a log's own bytes: its tiles, entry bundles and detached bodies, nothing else.

This is what a builder does (spec/snapshot.md, "Which manifests"), the aggregator and an auditor alike:
check that the bundles hash to the checkpoint's root, then walk the entries in log order, verifying each
``manifest`` entry's envelope again with the keys its publisher had at that point of the log (a
``did:key``'s own key; an origin's last logged key set, limited to the keys reached from those trusted
for its previous current manifest, as a verifier's pins are), at the time the entry was observed.  An
entry that does not verify is left out, as a reader would refuse it.  Memory: the key sets and the
current manifest of each publisher, never the whole log.
"""

from __future__ import annotations

from collections.abc import Callable

from .errors import NotrainError
from .keys import PublicKey
from .keyset import KeySet, parse_keyset
from .logentry import LogEntry, parse_entry
from .manifest import canonical_origin
from .snapshot import Built, CurrentManifests, build
from .snapshotparts import Logged
from .tiles import TileReader, verify_tiles
from .verify import peek_publisher, trusted_keys, verify_manifest

BodyReader = Callable[[bytes], bytes]
"""The detached body with this SHA-256 (a log serves it at ``<prefix>/body/<hex>``)."""


class _Replay:
    """The publishers' trust and current manifests, as the log's entries are read in order."""

    def __init__(self, body: BodyReader) -> None:
        self.body = body
        self.keysets: dict[str, KeySet] = {}
        self.pins: dict[str, dict[str, PublicKey]] = {}  # origin -> keys trusted for its current manifest
        self.current = CurrentManifests()

    def visit(self, index: int, data: bytes) -> None:
        entry = parse_entry(data)  # an entry no reader accepts breaks the log: E_LOG_ENTRY
        if entry.kind not in ("keyset", "manifest"):
            return
        # a missing or wrong detached body breaks the log, like a bad tile: raised, never skipped
        body = entry.body if entry.body is not None else entry.check_body(self.body(entry.sha256))
        try:
            if entry.kind == "keyset":
                self._keyset(entry, body)
            else:
                self._manifest(index, entry, body)
        except NotrainError:
            return  # not verifiable with what the log held before it: not in the snapshot

    def _keyset(self, entry: LogEntry, body: bytes) -> None:
        origin = canonical_origin(entry.source.url, of_url=True) if entry.source.via == "url" else None
        if origin is not None:
            self.keysets[origin] = parse_keyset(body, origin)

    def _manifest(self, index: int, entry: LogEntry, body: bytes) -> None:
        publisher = peek_publisher(body)
        if publisher.startswith("did:"):
            keys = trusted_keys(publisher)
        elif publisher in self.keysets:
            keys = trusted_keys(publisher, self.keysets[publisher], self.pins.get(publisher))
        else:
            return  # an origin manifest with no key set logged before it
        verified = verify_manifest(body, publisher=publisher, keys=keys, now=entry.observed)
        logged = Logged(index, verified.manifest, frozenset(verified.signed_by), frozenset(keys))
        if self.current.offer(logged) and not publisher.startswith("did:"):
            self.pins[publisher] = keys


def current_from_log(size: int, root: bytes, read: TileReader, body: BodyReader) -> list[Logged]:
    """The current manifest of each publisher among the first ``size`` entries of a log whose root at
    that size is ``root``; ``E_TILE`` if the tiles and bundles do not hash to it."""
    replay = _Replay(body)
    verify_tiles(size, root, read, replay.visit)
    return list(replay.current.current.values())


def build_from_log(log: str, size: int, root: bytes, read: TileReader, body: BodyReader) -> Built:
    """The snapshot of ``log`` at (``size``, ``root``), from its tiles and bodies alone."""
    return build(current_from_log(size, root, read, body), log=log, size=size, root=root)
