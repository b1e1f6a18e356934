"""Pulling peer logs: each round reads every peer's checkpoint, checks it against the last one stored of that
peer, and re-logs what is new through the very path submissions take (spec/log.md, "Federation").

Per peer, per round (peers run concurrently, each under its own deadline, so one slow or hostile peer
never holds up another, nor this log's own sequencing):

1. the checkpoint must carry the peer's log signature (the configured vkey, whose name is its origin);
2. with a stored checkpoint, the new one must be at least as large and consistent with it, by a proof
   this aggregator builds from the peer's own tiles after hashing them to the new root (:mod:`.tree`).
   Two signed checkpoints that cannot both be true are stored as evidence and the peer is ``forked``:
   nothing more of it is copied until an operator resets it.  Without one, the tiles must hash to the
   root (trust on first use, as any tlog client);
3. entries not yet copied, a bounded number per round, are read bundle by bundle, each bundle proven to
   be in the signed tree, and every ``manifest`` entry's body goes to :meth:`Submissions.submit` with the
   source ``peer <origin> <index>``: the publisher's signature, key set (fetched from the origin itself),
   parts, rollback floor and equivocation rules are checked here exactly as for a submission, and a body
   this log holds already is not logged again.  ``part`` entries, which precede their manifest, are
   logged as observed bytes (:meth:`Submissions.observe`) for it to find.  Other kinds are the peer's own
   observations and statements and are not re-logged (a key set is observed again from its origin when a
   manifest needs it).

A peer that cannot be read or serves what does not verify is refused for the round with a typed error
kept in its state; an entry whose manifest does not verify here is skipped and counted (it may have
expired, or a newer one may be known), never a reason to stop copying the peer.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TypeVar

from ...core import dsse
from ...core.checkpoint import Checkpoint, open_checkpoint, parse_checkpoint
from ...core.errors import NotrainError, PolicyError
from ...core.logentry import LogEntry, Source, parse_entry
from ...core.logerrors import LogEntryError, TileError
from ...core.manifest import MAX_PART_BYTES
from ...core.note import NoteVerifier, parse_note
from ...core.tiles import TILE_WIDTH, TileId, TileReader
from ...fetch.http import Transport
from ..config import PeerConfig
from ..ingest.rounds import every
from ..ingest.submissions import Submissions
from ..storage import ForkEvidence, PeerState, Storage
from .peerlog import PeerError, PeerLog
from .tree import MissingTile, check_bundle, check_consistency, check_root, reader

log = logging.getLogger("notrain.aggregator.federation")
T = TypeVar("T")

MAX_ENTRIES_PER_ROUND = 1024  # a long backlog is caught up over several rounds, between which the log sequences
MAX_TILE_READS = 64  # per check: a few tiles per level of a tree of at most 2^63 entries
PEER_DEADLINE = 120.0  # seconds for one peer's round
MAX_COPIED_BYTES = {"part": MAX_PART_BYTES, "manifest": dsse.MAX_ENVELOPE_BYTES}  # the kinds re-logged, and their bound


@dataclass(frozen=True)
class Peer:
    origin: str
    url: str
    verifier: NoteVerifier
    log: PeerLog

    @classmethod
    def of(cls, config: PeerConfig, client: Transport) -> Peer:
        return cls(config.origin, config.url, NoteVerifier.from_vkey(config.vkey), PeerLog(client, config.url))


class Federation:
    def __init__(
        self,
        storage: Storage,
        client: Transport,
        submissions: Submissions,
        peers: Sequence[PeerConfig],
        *,
        interval: float,
        max_pending: int,
        may_run: Callable[[], bool] = lambda: True,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """``may_run``: whether this process pulls (only the one that sequences, so peers' states have one writer)."""
        self.storage, self.submissions, self.clock, self.may_run = storage, submissions, clock, may_run
        self.peers = [Peer.of(config, client) for config in peers]
        self.interval, self.max_pending = interval, max_pending

    async def states(self) -> list[PeerState]:
        """Every peer configured or stored, by origin: a configured one never pulled yet is ``new``."""
        known = {state.origin: state for state in await self.storage.peers()}
        for peer in self.peers:
            known.setdefault(peer.origin, PeerState(peer.origin, peer.url))
        return sorted(known.values(), key=lambda state: state.origin)

    async def run(self) -> None:
        await every(self.interval, self.pull_all, log, "federation")

    async def pull_all(self) -> list[PeerState]:
        if not self.may_run():
            return []
        results = await asyncio.gather(*(self.pull(peer) for peer in self.peers), return_exceptions=True)
        for peer, result in zip(self.peers, results):
            if isinstance(result, Exception):  # a storage fault, not the peer's: logged, retried next round
                log.error("pulling %s failed: %r", peer.origin, result)
        return [r for r in results if isinstance(r, PeerState)]

    async def pull(self, peer: Peer) -> PeerState:
        """One round for one peer; its new state (refusals included) is stored and returned."""
        stored = await self.storage.peer(peer.origin)
        if stored is not None and stored.status == "forked":
            return stored
        now = self.clock().replace(microsecond=0)
        state = replace(stored or PeerState(peer.origin, peer.url), url=peer.url, checked_at=now)
        try:
            async with asyncio.timeout(PEER_DEADLINE):
                return await self._pull(peer, state)
        except TimeoutError:
            error = PeerError(f"no round within {PEER_DEADLINE:g} s", where=peer.url)
        except NotrainError as refused:
            error = refused
        latest = await self.storage.peer(peer.origin) or state  # the progress saved before the refusal stands
        failed = replace(latest, status="error", error=f"{error.code}: {error.message}"[:1000], checked_at=now)
        if failed.error != (stored.error if stored else None):  # once per change, not once per round
            log.warning("peer %s refused: %s", peer.origin, failed.error)
        await self.storage.save_peer(failed)
        return await self.storage.peer(peer.origin) or failed

    async def _pull(self, peer: Peer, state: PeerState) -> PeerState:
        note = await peer.log.checkpoint()
        new = (await asyncio.to_thread(open_checkpoint, note, peer.origin, peer.verifier)).checkpoint
        tiles: dict[TileId, bytes] = {}
        if state.checkpoint is None:
            await self._check(peer, tiles, functools.partial(check_root, new))
        else:
            old = parse_checkpoint(parse_note(state.checkpoint).text)  # verified when stored (the peer's key may rotate since)
            if new.size < old.size:
                raise PolicyError(f"the checkpoint of size {new.size} is older than the one stored, of size {old.size}",
                                  code="E_PROOF", where="checkpoint")
            fork = await self._check(peer, tiles, functools.partial(check_consistency, old, new))
            if fork is not None:
                evidence = ForkEvidence(peer.origin, state.checkpoint, note, fork.proof, fork.reason, state.checked_at)
                await self.storage.add_evidence(evidence)
                log.error("peer %s forked its log: %s", peer.origin, fork.reason)
                return await self.storage.peer(peer.origin) or state
        state = replace(state, checkpoint=note, size=new.size, status="ok", error=None)
        await self.storage.save_peer(state)
        if await self.storage.pending_count() >= self.max_pending:
            return state  # this log is behind: copy once it has caught up
        return await self._copy(peer, state, new, tiles)

    async def _copy(self, peer: Peer, state: PeerState, checkpoint: Checkpoint, tiles: dict[TileId, bytes]) -> PeerState:
        stop = min(checkpoint.size, state.copied + MAX_ENTRIES_PER_ROUND)
        while state.copied < stop:
            bundle = state.copied // TILE_WIDTH
            entries = await self._check(peer, tiles, functools.partial(check_bundle, checkpoint, bundle))
            tiles = {tile: data for tile, data in tiles.items() if tile.level >= 0}  # a bundle is read once: drop it
            parsed = await asyncio.to_thread(_parse_all, entries)  # up to 16 MiB hashed: off the event loop
            end = min(bundle * TILE_WIDTH + len(entries), stop)
            skipped = 0
            for index in range(state.copied, end):
                skipped += not await self._relog(peer, index, parsed[index % TILE_WIDTH])
            state = replace(state, copied=end, skipped=state.skipped + skipped)
            await self.storage.save_peer(state)
        return state

    async def _relog(self, peer: Peer, index: int, entry: LogEntry | LogEntryError) -> bool:
        """Re-verify and log one entry of the peer; False if it did not verify here (skipped)."""
        try:
            if isinstance(entry, LogEntryError):
                raise entry
            if entry.kind not in MAX_COPIED_BYTES:
                return True
            body = entry.body if entry.body is not None else await self._detached(peer, entry)
            source = Source("peer", origin=peer.origin, index=index)
            if entry.kind == "part":  # bytes that state nothing alone, logged for the manifest after them to find
                await self.submissions.observe("part", body, source, self.clock().replace(microsecond=0))
            else:
                await self.submissions.submit(body, source=source)
        except PeerError:
            raise  # the peer, not the publisher: the round stops here and resumes at this entry
        except NotrainError as error:
            log.info("entry %d of %s not re-logged: %s", index, peer.origin, error)
            return False
        return True

    @staticmethod
    async def _detached(peer: Peer, entry: LogEntry) -> bytes:
        if entry.size > MAX_COPIED_BYTES[entry.kind]:  # no such document is this large: the entry is skipped, unread
            raise PolicyError(f"a {entry.kind} is at most {MAX_COPIED_BYTES[entry.kind]} octets", code="E_SIZE", where="body")
        body = await peer.log.body(entry.sha256, entry.size)
        try:
            return entry.check_body(body)
        except LogEntryError as error:  # the peer serves other bytes than its log commits to
            raise PeerError(error.message, code=error.code, where="body") from None

    async def _check(self, peer: Peer, tiles: dict[TileId, bytes], check: Callable[[TileReader], T]) -> T:
        """Run a pure check of :mod:`.tree` in a worker thread, fetching each tile it asks for and running it again."""
        for _ in range(MAX_TILE_READS):
            try:
                return await asyncio.to_thread(check, reader(tiles))
            except MissingTile as missing:
                tiles[missing.tile] = await peer.log.tile(missing.tile)
        raise TileError(f"a check of the peer's tree needed more than {MAX_TILE_READS} tiles", where=peer.url)


def _parse_all(entries: list[bytes]) -> list[LogEntry | LogEntryError]:
    """Each entry parsed, or why it does not parse (an entry the peer logged is in its tree all the same)."""
    parsed: list[LogEntry | LogEntryError] = []
    for leaf in entries:
        try:
            parsed.append(parse_entry(leaf))
        except LogEntryError as error:
            parsed.append(error)
    return parsed
