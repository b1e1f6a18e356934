"""The one writer of the log: pending entries -> tiles and bundles -> a signed checkpoint, atomically.

Every ``interval`` seconds the sequencer takes up to ``batch_max`` pending entries (oldest first), lets
:func:`notrain.core.tiles.integrate` compute the changed tiles and the new root, signs the checkpoint and
hands everything to :meth:`Sequencer.integrate`, which stores it in one transaction compare-and-swapped
on the previous checkpoint.  A crash at any point leaves either the old checkpoint with its tiles or the
new one with its tiles: receipted entries are pending, never lost, and are integrated after a restart.

Only one process sequences a database at a time (the storage's lock: ``flock`` on SQLite, an advisory lock
on PostgreSQL).  A process that finds the lock taken stays on standby and tries again every
``standby_interval``, so when the sequencing process dies another one takes over.  Hashing a batch runs in
a worker thread, never on the event loop; the thread reads the tiles it needs back through the loop.
"""

from __future__ import annotations

import asyncio
import logging

from ...core.checkpoint import Checkpoint as CheckpointBody
from ...core.checkpoint import sign_checkpoint
from ...core.merkle import EMPTY_ROOT
from ...core.note import NoteSigner
from ...core.tiles import ENTRIES, integrate
from ..storage import Checkpoint, CheckpointConflict, Sequencer, SequencerBusy, Storage
from .reader import in_thread

log = logging.getLogger("notrain.aggregator.log")


class LogSequencer:
    def __init__(self, storage: Storage, signer: NoteSigner, *, interval: float, batch_max: int, standby_interval: float = 5.0):
        self.storage, self.signer = storage, signer
        self.interval, self.batch_max, self.standby_interval = interval, batch_max, standby_interval
        self.holding = False  # whether this process holds the sequencer lock now (health, metrics, snapshots)

    async def run(self) -> None:
        """Sequence forever (until cancelled), or stand by while another process holds the lock."""
        while True:
            try:
                async with self.storage.sequencer() as sequencer:
                    self.holding = True
                    log.info("sequencing the log as %s", self.signer.name)
                    await self._hold(sequencer)
            except SequencerBusy:
                pass  # another process sequences: stand by
            except Exception:  # a storage fault (a dropped connection...) must not end sequencing for good
                log.exception("the sequencer failed; retrying")
            finally:
                self.holding = False
            await asyncio.sleep(self.standby_interval)

    async def _hold(self, sequencer: Sequencer) -> None:
        while True:
            try:
                while await self.integrate_once(sequencer) == self.batch_max:
                    pass  # a full batch: more may be waiting, don't sleep
            except CheckpointConflict:
                # Someone else wrote the checkpoint: never overwrite it; re-read on the next tick.
                log.error("the stored checkpoint changed under the sequencer; re-reading")
            await asyncio.sleep(self.interval)

    async def integrate_once(self, sequencer: Sequencer) -> int:
        """Integrate one batch; return how many entries it held."""
        expected = await self.storage.checkpoint()
        if expected is None:
            expected = await self._start(sequencer)
        pending = await sequencer.pending(self.batch_max)
        if not pending:
            return 0
        leaves = [entry.leaf for entry in pending]
        done = await in_thread(self.storage, lambda read: integrate(expected.size, leaves, read))
        note = sign_checkpoint(CheckpointBody(self.signer.name, done.size, done.root), self.signer)
        tiles = {(t.level, t.index, t.width): data for t, data in done.tiles.items() if t.level != ENTRIES}
        bundles = {(t.index, t.width): data for t, data in done.tiles.items() if t.level == ENTRIES}
        await sequencer.integrate(expected, [entry.id for entry in pending], tiles, bundles, Checkpoint(done.size, done.root, note))
        return len(pending)

    async def _start(self, sequencer: Sequencer) -> Checkpoint:
        """A new log publishes its empty checkpoint first, so clients always have one to start from."""
        note = sign_checkpoint(CheckpointBody(self.signer.name, 0, EMPTY_ROOT), self.signer)
        empty = Checkpoint(0, EMPTY_ROOT, note)
        await sequencer.integrate(None, [], {}, {}, empty)
        return empty
