"""The log's side of witnessing: ask each configured witness to cosign the latest checkpoint.

A round runs every ``interval`` seconds in the sequencing process, beside the sequencer and never in its
way: it reads the stored checkpoint, and asks every witness whose newest stored cosignature is not on it
(and whose back-off has passed), all at once, the whole round bounded by ``timeout``.  Each request
carries a consistency proof from the size that witness cosigned last (stored; 0 the first time); a 409
names the witness's size, and the request is made once more from there.  A cosignature is verified with
the witness's key before it is stored (:meth:`Storage.save_cosignature`), and the log's
``/log/checkpoint`` serves it appended while that checkpoint is the latest.

A failure (unreachable, refused, a bad answer) is logged, counted by ``on_result`` (the metrics'
``notrain_witness_requests{witness, outcome}``) and retried after a back-off that doubles up to
:data:`MAX_BACKOFF` seconds, so a dead witness costs one short request a minute.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp

from ...core.errors import NotrainError
from ...core.merkle import consistency_proof
from ...core.note import NoteVerifier
from ...core.tiles import TreeReader
from ...core.witnessing import MAX_RESPONSE_BYTES, AddCheckpoint, verified_cosignatures
from ..log.reader import in_thread
from ..storage import Checkpoint, Cosignature, Storage

log = logging.getLogger("notrain.aggregator.witness")
MAX_BACKOFF = 60.0
MAX_SIZE_ANSWER = 32  # a 409's body: a decimal size and a newline


@dataclass(frozen=True)
class WitnessEndpoint:
    url: str  # the submission prefix: requests go to <url>/add-checkpoint
    key: NoteVerifier


class WitnessFailure(Exception):
    """A witness did not cosign; ``outcome`` is the metric's label."""

    def __init__(self, outcome: str, message: str) -> None:
        super().__init__(message)
        self.outcome = outcome


class CosignatureCollector:
    def __init__(self, storage: Storage, witnesses: Sequence[WitnessEndpoint], *, interval: float, timeout: float,
                 may_run: Callable[[], bool] = lambda: True, on_result: Callable[[str, str], None] = lambda witness, outcome: None) -> None:
        self.storage, self.witnesses = storage, list(witnesses)
        self.interval, self.timeout, self.may_run, self.on_result = interval, timeout, may_run, on_result
        self._retry_at: dict[str, float] = {}
        self._failures: dict[str, int] = {}

    async def run(self) -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as session:
            while True:
                if self.may_run():
                    try:
                        await self.round(session)
                    except Exception:  # a storage fault: the next round tries again
                        log.exception("collecting cosignatures failed")
                await asyncio.sleep(self.interval)

    async def round(self, session: aiohttp.ClientSession) -> None:
        """Ask every witness that has not cosigned the latest checkpoint and is not backing off."""
        checkpoint = await self.storage.checkpoint()
        if checkpoint is None:
            return
        stored = {c.witness: c for c in await self.storage.cosignatures()}
        now = time.monotonic()
        due = [w for w in self.witnesses if not _on(stored.get(w.key.to_vkey()), checkpoint) and self._retry_at.get(w.key.to_vkey(), 0) <= now]
        if not due:
            return
        tasks = [asyncio.create_task(self._ask(session, w, checkpoint, stored.get(w.key.to_vkey()))) for w in due]
        _, late = await asyncio.wait(tasks, timeout=self.timeout)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
        for witness, task in zip(due, tasks):
            error = None if task in late else task.exception()
            self._record(witness, "timeout" if task in late else getattr(error, "outcome", "error") if error else "cosigned", error)

    def _record(self, witness: WitnessEndpoint, outcome: str, error: BaseException | None) -> None:
        key = witness.key.to_vkey()
        self.on_result(witness.key.name, outcome)
        if outcome == "cosigned":
            self._failures.pop(key, None)
            self._retry_at.pop(key, None)
            return
        failures = self._failures[key] = self._failures.get(key, 0) + 1
        self._retry_at[key] = time.monotonic() + min(MAX_BACKOFF, self.interval * 2 ** min(failures, 20))  # no float overflow after days
        log.warning("witness %s did not cosign (%s): %s", witness.key.name, outcome, error or "no answer in time")

    async def _ask(self, session: aiohttp.ClientSession, witness: WitnessEndpoint, checkpoint: Checkpoint, last: Cosignature | None) -> None:
        old = last.size if last else 0
        for attempt in range(2):
            status, body = await self._post(session, witness, await self._request(old, checkpoint))
            if status == 200:
                try:
                    lines = await asyncio.to_thread(verified_cosignatures, checkpoint.note, body, witness.key)  # notes parsed, signatures checked
                except NotrainError as error:
                    raise WitnessFailure("bad-answer", str(error)) from None
                await self.storage.save_cosignature(Cosignature(witness.key.to_vkey(), checkpoint.size, checkpoint.root, b"".join(lines),
                                                                datetime.now(UTC)))
                return
            if status != 409 or attempt:
                raise WitnessFailure(f"http-{status}" if status in (400, 403, 404, 409, 422) else "http-other", body[:300].decode("utf-8", "replace"))
            known = _size(body)
            if known is None or known == old or known > checkpoint.size:  # no size, the same one, or a tree we never had
                raise WitnessFailure("conflict", f"the witness knows size {known}; this log is at {checkpoint.size}")
            old = known

    async def _request(self, old: int, checkpoint: Checkpoint) -> bytes:
        proof: list[bytes] = []
        if 0 < old < checkpoint.size:
            size = checkpoint.size
            proof = await in_thread(self.storage, lambda read: consistency_proof(old, size, TreeReader(size, read).node))
        return AddCheckpoint(old, tuple(proof), checkpoint.note).to_bytes()

    async def _post(self, session: aiohttp.ClientSession, witness: WitnessEndpoint, body: bytes) -> tuple[int, bytes]:
        try:
            async with session.post(witness.url + "/add-checkpoint", data=body, allow_redirects=False) as response:
                answer = bytearray()
                async for chunk in response.content.iter_chunked(16 * 1024):
                    answer += chunk
                    if len(answer) > MAX_RESPONSE_BYTES:
                        raise WitnessFailure("bad-answer", f"an answer over {MAX_RESPONSE_BYTES} octets")
                return response.status, bytes(answer)
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            raise WitnessFailure("unreachable", f"{type(error).__name__}: {error}"[:300]) from None


def _on(cosignature: Cosignature | None, checkpoint: Checkpoint) -> bool:
    return cosignature is not None and (cosignature.size, cosignature.root) == (checkpoint.size, checkpoint.root)


def _size(body: bytes) -> int | None:
    """A 409's ``text/x.tlog.size`` body: decimal digits and a newline."""
    return int(body[:-1]) if len(body) <= MAX_SIZE_ANSWER and body.endswith(b"\n") and body[:-1].isdigit() else None
