"""Typed errors of the transparency-log code, one class per concern.

Each class's ``code`` is its default entry in the "Log" section of
``spec/errors.md``; a note whose signature fails still raises :class:`NoteError`,
with the more precise code ``E_NOTE_SIGNATURE`` or ``E_NOTE_UNKNOWN_KEY``.
"""

from __future__ import annotations

from .errors import NotrainError


class LogError(NotrainError):
    """Something about a transparency log (proof, tile, note, entry) cannot be trusted."""

    code = "E_LOG"


class ProofError(LogError):
    """An inclusion or consistency proof is malformed or does not verify."""

    code = "E_PROOF"


class TileError(LogError):
    """A tile, an entry bundle or a tile path is malformed or disagrees with the tree."""

    code = "E_TILE"


class NoteError(LogError):
    """A signed note or verifier key is malformed, or its signatures do not verify."""

    code = "E_NOTE"


class CheckpointError(LogError):
    """A checkpoint body is malformed or is for another log."""

    code = "E_CHECKPOINT"


class LogEntryError(LogError):
    """A log entry does not follow the notrain entry format."""

    code = "E_LOG_ENTRY"


class ReceiptError(LogError):
    """A receipt is malformed, for another log, or for another entry."""

    code = "E_RECEIPT"
