"""The sequencer outlives a storage fault: a failed round is logged and retried, never the end of the log."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from conftest import make_key

from notrain.aggregator.log.sequencer import LogSequencer
from notrain.aggregator.storage import NewEntry, open_storage
from notrain.core.merkle import leaf_hash
from notrain.core.note import NoteSigner


class FailsOnce:
    """The real SQLite storage, whose sequencer's first ``pending`` read fails as a dropped connection would."""

    def __init__(self, storage) -> None:
        self._storage, self.faults = storage, 1

    def __getattr__(self, name):
        return getattr(self._storage, name)

    @asynccontextmanager
    async def sequencer(self):
        async with self._storage.sequencer() as real:
            outer = self

            class Faulty:
                async def pending(self, limit):
                    if outer.faults:
                        outer.faults -= 1
                        raise ConnectionResetError("storage went away")
                    return await real.pending(limit)

                async def integrate(self, *args):
                    return await real.integrate(*args)

            yield Faulty()


async def test_a_storage_fault_does_not_end_sequencing(tmp_path, caplog):
    storage = await open_storage(f"sqlite:///{tmp_path / 'log.sqlite'}")
    try:
        now = datetime.now(UTC)
        for i in range(5):
            leaf = b"entry %d" % i
            await storage.append(NewEntry(leaf, leaf_hash(leaf), "manifest", None, now, now + timedelta(minutes=1)))
        faulty = FailsOnce(storage)
        sequencer = LogSequencer(faulty, NoteSigner("test.example/log", make_key("log")), interval=0.01, batch_max=100,
                                 standby_interval=0.01)
        task = asyncio.create_task(sequencer.run())
        try:
            for _ in range(500):
                checkpoint = await storage.checkpoint()
                if checkpoint is not None and checkpoint.size == 5:
                    break
                await asyncio.sleep(0.01)
        finally:
            task.cancel()
        assert faulty.faults == 0 and checkpoint is not None and checkpoint.size == 5
        assert "the sequencer failed; retrying" in caplog.text
    finally:
        await storage.close()
