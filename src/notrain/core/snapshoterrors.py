"""Errors of snapshots (spec/snapshot.md): a descriptor or part that is malformed, or a part whose
bytes are not the ones its descriptor names.  A separate module so that the filter, the part
encodings and the descriptor code share one class without importing each other."""

from __future__ import annotations

from .errors import NotrainError


class SnapshotError(NotrainError):
    """A snapshot descriptor or part cannot be trusted (``E_SNAPSHOT``, or ``E_SNAPSHOT_DIGEST``)."""

    code = "E_SNAPSHOT"
