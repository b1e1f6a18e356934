"""Numbered, forward-only schema migrations, one SQL file per step and backend (``NNNN_name.sql``).

The two backends keep separate files because their types differ (BLOB/BYTEA, identity columns), not their
shape: a migration always lands in both directories with the same number.  The ``schema_version`` table
(one row per applied step) is created by the backend before the first step, so every step is plain DDL.
"""

from __future__ import annotations

from importlib.resources import files


def load(dialect: str) -> list[tuple[int, str]]:
    """(version, SQL) of every migration of ``dialect`` ("sqlite" or "postgres"), in order."""
    steps = []
    for item in files(__name__).joinpath(dialect).iterdir():
        if item.name.endswith(".sql"):
            steps.append((int(item.name.split("_", 1)[0]), item.read_text(encoding="utf-8")))
    steps.sort()
    if [v for v, _ in steps] != list(range(1, len(steps) + 1)):
        raise RuntimeError(f"{dialect} migrations are not numbered 1..n")
    return steps


def latest(dialect: str) -> int:
    return len(load(dialect))
