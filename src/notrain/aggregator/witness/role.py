"""The witness role: cosign a log's checkpoint only if it is consistent with the last one cosigned.

The decision is core's (:func:`~notrain.core.witnessing.open_request`, then
:func:`~notrain.core.witnessing.check_consistency`); what this adds is the state and its atomicity.
tlog-witness warns of a race in which two requests both pass the check and the smaller one is stored
last, rolling the witness back.  Here the state is replaced by compare-and-swap on the record that was
checked (:meth:`Storage.swap_witnessed`): the loser re-reads the record, is checked again against it, and
so gets the 409 it deserves.  The new record is durable before the cosignature is returned.  A checkpoint
of the size last cosigned with another root is a fork proven by the log's own two signatures: it is kept
as evidence, as tlog-witness allows.

The cosigning key is the witness's own (spec/log.md: a witness key is never used for another role),
an Ed25519 private JWK created on first start, like the log's key but in its own file.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from ...core.checkpoint import SignedCheckpoint
from ...core.note import COSIGNATURE_V1, Note, NoteSigner, NoteVerifier, parse_note
from ...core.witnessing import (
    Witnessed,
    WitnessRefused,
    WitnessRequestError,
    check_consistency,
    cosignature_lines,
    open_request,
    with_cosignatures,
)
from ..log.signer import load_log_signer
from ..storage import ForkEvidence, Storage

log = logging.getLogger("notrain.aggregator.witness")
MAX_SWAPS = 8  # concurrent requests for one log: each lost swap is re-checked; beyond this the caller retries


def load_witness_signer(name: str, key_path: Path, log_key_path: Path) -> NoteSigner:
    """The witness's cosigner, its key created on first start; refused if it is the log's own key file."""
    if key_path.resolve() == log_key_path.resolve():
        raise ValueError("the witness key must not be the log's key (spec/log.md, 'Cosignatures')")
    return load_log_signer(name, key_path, create=True, kind=COSIGNATURE_V1)


class Witness:
    """Cosigns checkpoints of ``logs`` (origin -> the log's note key) with ``signer``, state in ``storage``."""

    def __init__(self, storage: Storage, signer: NoteSigner, logs: Mapping[str, NoteVerifier], *,
                 clock: Callable[[], float] = time.time) -> None:
        self.storage, self.signer, self.logs, self.clock = storage, signer, dict(logs), clock

    async def add_checkpoint(self, body: bytes) -> bytes:
        """The cosignature line(s) for the request ``body``, or :class:`WitnessRefused` with its status."""
        request, signed = await asyncio.to_thread(open_request, body, self.logs)  # signatures: off the event loop
        origin = signed.checkpoint.origin
        for _ in range(MAX_SWAPS):
            latest = await self.storage.witnessed(origin)
            try:
                check_consistency(request, signed, latest)  # at most 64 hashes
            except WitnessRefused as refused:
                if refused.status == 409 and refused.code == "E_PROOF" and latest is not None:
                    await self._keep_fork(latest, signed)
                raise
            lines = cosignature_lines(signed, self.signer, int(self.clock()))
            cosigned = Witnessed(signed.checkpoint.size, signed.checkpoint.root, with_cosignatures(signed.data, [lines]))
            if await self.storage.swap_witnessed(origin, latest, cosigned):
                return lines
        known = await self.storage.witnessed(origin)
        raise WitnessRefused(WitnessRequestError("the witness's record changed under this request", where="old"), 409, known.size if known else 0)

    async def _keep_fork(self, latest: Witnessed, signed: SignedCheckpoint) -> None:
        """Two roots signed by the log for one size: proof of a fork by the log's own signatures, kept as
        the federation keeps a peer's (served at /v1/evidence; the log is marked forked among the peers).
        The new note is kept with the log's signature only: other lines prove nothing, and a requester
        appending different ones must not store the same fork again and again."""
        reason = f"two roots signed for size {latest.size}, seen as its witness"
        log_key = self.logs[signed.checkpoint.origin]
        note = parse_note(signed.data)
        new = Note(note.text, tuple(s for s in note.signatures if (s.name, s.key_id) == (log_key.name, log_key.key_id))).to_bytes()
        await self.storage.add_evidence(ForkEvidence(signed.checkpoint.origin, latest.note, new, (), reason, datetime.now(UTC)))
        log.warning("%s: %s", signed.checkpoint.origin, reason)

    async def latest(self, origin: str) -> bytes | None:
        """The latest checkpoint cosigned for ``origin``, with the cosignature (the monitoring view)."""
        found = await self.storage.witnessed(origin) if origin in self.logs else None
        return found.note if found else None
