"""Snapshots built from this aggregator's own log, stored as files, logged, and served (spec/snapshot.md).

After the log grows (checked every ``snapshots.interval`` seconds, by the process that sequences the log),
the builder reads the log prefix of the current checkpoint back from storage exactly as a client would read
it (tiles, entry bundles, detached bodies), verifies every manifest again with the key sets logged before
it (:mod:`notrain.core.snapshotlog`), and builds the snapshot, all in a worker thread.  So what is served is
what anyone rebuilds from the log, not a view of the database.  The descriptor is then appended to the log
as an entry of kind ``snapshot`` whose source is the URL it is served at.

Parts live as files under ``<data_dir>/snapshots/<id>/``, not in the database: they are immutable and
named by the descriptor's digest, up to gigabytes each, so files are served with ``sendfile`` (or by any
static server or CDN) and need no migration on either backend; the log entry is what binds them.  A
snapshot directory is written under a temporary name and renamed, so a crash never leaves half a snapshot;
``latest`` names the newest.  Growth that is only this builder's own ``snapshot`` entries does not trigger
a rebuild (else every snapshot would cause the next).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ..core.logentry import Source, encode_entry
from ..core.merkle import leaf_hash
from ..core.snapshot import PART_NAMES, Built, parse_descriptor
from ..core.snapshotdelta import make as make_delta
from ..core.snapshotlog import build_from_log
from .log.reader import in_thread
from .storage import NewEntry, Storage

log = logging.getLogger("notrain.aggregator.snapshots")
SNAPSHOT_ID = re.compile(r"[0-9a-f]{64}")  # lowercase hex SHA-256 of the descriptor


@dataclass(frozen=True)
class Stored:
    """A snapshot on disk: its id, the descriptor's octets, and the log entry that carries it."""

    id: str
    descriptor: bytes
    entry_id: int

    @property
    def size(self) -> int:
        return parse_descriptor(self.descriptor).size


class SnapshotFiles:
    """``<directory>/<id>/{descriptor,entry,works,origins,statements,pdq,delta-<older id>}`` and ``<directory>/latest``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, snapshot_id: str, name: str) -> Path | None:
        """The file of a part or of the descriptor, if this snapshot is stored; None for any other name."""
        if not SNAPSHOT_ID.fullmatch(snapshot_id) or name not in ("descriptor", *PART_NAMES):
            return None
        path = self.directory / snapshot_id / name
        return path if path.is_file() else None

    def latest(self) -> Stored | None:
        try:
            snapshot_id = (self.directory / "latest").read_text("ascii").strip()
            return self.read(snapshot_id)
        except (OSError, ValueError):
            return None

    def read(self, snapshot_id: str) -> Stored | None:
        folder = self.directory / snapshot_id
        if not SNAPSHOT_ID.fullmatch(snapshot_id) or not folder.is_dir():
            return None
        return Stored(snapshot_id, (folder / "descriptor").read_bytes(), int((folder / "entry").read_text("ascii")))

    def delta(self, snapshot_id: str, previous_id: str) -> Path | None:
        """Blocking: the delta from ``previous_id`` to ``snapshot_id`` (spec/snapshot.md, "Deltas"), made
        from the two stored snapshots on first request and kept beside the newer one; None unless both
        are stored."""
        new, old = self.read(snapshot_id), self.read(previous_id)
        if new is None or old is None or new.id == old.id:
            return None
        path = self.directory / new.id / f"delta-{old.id}"
        if not path.is_file():
            statements = [(self.directory / id_ / "statements").read_bytes() for id_ in (old.id, new.id)]
            _replace_bytes(path, make_delta(old.descriptor, statements[0], new.descriptor, statements[1]))
        return path

    def write(self, built: Built, entry_id: int) -> Stored:
        """Blocking: call from a worker thread."""
        snapshot_id = hashlib.sha256(built.descriptor).hexdigest()
        folder = self.directory / snapshot_id
        if not folder.is_dir():
            temporary = self.directory / f".{snapshot_id}.{os.getpid()}"
            shutil.rmtree(temporary, ignore_errors=True)
            temporary.mkdir(parents=True)
            for name, data in (("descriptor", built.descriptor), *built.parts.items()):
                (temporary / name).write_bytes(data)
            (temporary / "entry").write_text(str(entry_id), "ascii")
            os.replace(temporary, folder)
        _replace_text(self.directory / "latest", snapshot_id)
        return Stored(snapshot_id, built.descriptor, entry_id)


def _replace_text(path: Path, text: str) -> None:
    _replace_bytes(path, text.encode("ascii"))


def _replace_bytes(path: Path, data: bytes) -> None:
    """Written under a temporary name, then renamed: a reader sees the old file or the whole new one."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    temporary.write_bytes(data)
    os.replace(temporary, path)


class SnapshotBuilder:
    def __init__(self, storage: Storage, log_origin: str, directory: Path, *, public_url: str, interval: float,
                 max_merge_delay: float, may_build: Callable[[], bool] = lambda: True,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        """``public_url``: where this aggregator is reached (the logged source of each descriptor);
        ``may_build``: whether this process sequences the log (only that one builds)."""
        self.storage, self.log_origin, self.files = storage, log_origin, SnapshotFiles(directory)
        self.public_url, self.interval, self.may_build, self.clock = public_url.rstrip("/"), interval, may_build, clock
        self.max_merge_delay = timedelta(seconds=max_merge_delay)
        self._lock = asyncio.Lock()
        self.latest: Stored | None = None  # what /snapshot/latest serves, kept in memory: no disk read per request

    async def run(self) -> None:
        self.latest = await asyncio.to_thread(self.files.latest)
        while True:
            await asyncio.sleep(self.interval)
            if self.may_build():
                try:
                    await self.build_once()
                except Exception:  # a failed build is retried at the next tick; serving goes on
                    log.exception("snapshot build failed")

    async def build_once(self) -> Stored | None:
        """Build, store and log the snapshot of the current checkpoint, unless the log has not grown since
        the last one (but for that snapshot's own entry).  Returns the new snapshot, or None."""
        async with self._lock:
            checkpoint = await self.storage.checkpoint()
            latest = self.latest = await asyncio.to_thread(self.files.latest)
            if checkpoint is None or checkpoint.size == 0 or not await self._grew(latest, checkpoint.size):
                return None
            size, root = checkpoint.size, checkpoint.root
            loop = asyncio.get_running_loop()

            def body(sha256: bytes) -> bytes:
                data = asyncio.run_coroutine_threadsafe(self.storage.body(sha256), loop).result()
                if data is None:
                    raise LookupError(f"the detached body {sha256.hex()} is missing from storage")
                return data

            built = await in_thread(self.storage, lambda read: build_from_log(self.log_origin, size, root, read, body))
            entry_id = await self._log(built)
            stored = self.latest = await asyncio.to_thread(self.files.write, built, entry_id)
            log.info("snapshot %s at tree size %d", stored.id, size)
            return stored

    async def _grew(self, latest: Stored | None, size: int) -> bool:
        if latest is None:
            return True
        built_at = latest.size
        if size != built_at + 1:
            return size > built_at
        entry = await self.storage.entry(latest.entry_id)
        return entry is None or entry.log_index != built_at  # the one new entry is not this snapshot's own

    async def _log(self, built: Built) -> int:
        snapshot_id = hashlib.sha256(built.descriptor).hexdigest()
        now = self.clock().replace(microsecond=0)
        source = Source("url", url=f"{self.public_url}/snapshot/{snapshot_id}/descriptor")
        leaf = encode_entry("snapshot", source, now, built.descriptor)  # a descriptor (<= 4 KiB) is always inline
        entry = NewEntry(leaf, leaf_hash(leaf), "snapshot", None, now, now + self.max_merge_delay,
                         hashlib.sha256(built.descriptor).digest())
        return (await self.storage.append(entry)).entry.id
