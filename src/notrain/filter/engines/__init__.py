"""Distributed engines for the dataset filter: the batch core run by Spark and Dask workers.

Both engines run :func:`decided` — :meth:`~notrain.filter.BatchFilter.apply` plus the caption cut of
``names="strip"`` — on the record batches of a distributed data frame, so a row's decision is the one
``notrain filter`` gives it.  What they share lives here:

* :func:`pack` reads the manifest source's files (a bundle file, or a snapshot directory) into bytes once on
  the driver, with a :class:`Recipe` naming them by digest and saying how to open them; the engine ships the
  bytes to each worker once (a Spark broadcast, a Dask worker plugin);
* :func:`core_for` opens the source on a worker and builds its :class:`~notrain.filter.BatchFilter` once per
  process (cached by recipe): the source is re-verified there from the shipped bytes, with the driver's
  clock (``now``), so every worker holds exactly the catalog the driver checked.

Manifests are verified again on each worker rather than trusted as pickled objects, for the same reason a
source never trusts whoever assembled its file: a worker holds what the signatures say, nothing else.
"""

from __future__ import annotations

import hashlib
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ...core.vocab import State
from ...fetch.sources import LocalSource, ManifestSource
from ..batch import CAPTION, EVIDENCE, KEEP, REASON, BatchFilter, Columns, FilterError
from ..sources import SnapshotFilterSource

_KINDS = {"bundle": LocalSource, "snapshot": SnapshotFilterSource}  # the sources an engine can ship
MAX_CACHED = 4  # sources held per worker process; a job uses one, a long-lived worker may see a few
_loaded: list[Recipe] = []  # the recipes this process opened a source for, in order
_cores: dict[Recipe, BatchFilter] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Recipe:
    """How a worker opens a shipped source and filters with it: small, hashable, sent with every task."""

    kind: str
    root: str  # the bundle's file name or the snapshot's directory name
    digest: str  # SHA-256 over the shipped files' names and bytes
    settings: tuple[tuple[str, Any], ...]
    purpose: str
    unknown_as: State
    names: str


def pack(source: ManifestSource, *, purpose: str, unknown_as: State, names: str) -> tuple[Recipe, dict[str, bytes], BatchFilter]:
    """The recipe, the files to ship (paths relative to the source's parent) and the driver's own filter.

    The driver opens the source and builds the filter itself first, so a source that cannot be read or an
    option out of range is refused with its typed error before any task starts."""
    if isinstance(source, LocalSource):
        kind, root, settings = "bundle", source.path, (("now", source.now),)
    elif isinstance(source, SnapshotFilterSource):
        kind, root, settings = "snapshot", source.directory.path, (("log_key", source.directory.log_key), ("now", source.directory.now))
    else:
        raise FilterError(f"an engine ships a bundle or a snapshot directory, not a {type(source).__name__}", code="E_FILTER_OPTION")
    core = _core(source, purpose, unknown_as, names)
    root = Path(root)
    paths = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
    files = {str(p.relative_to(root.parent)): p.read_bytes() for p in paths}
    digest = hashlib.sha256()
    for name, data in files.items():
        digest.update(b"%d:%s%d:" % (len(name.encode()), name.encode(), len(data)) + data)
    return Recipe(kind, root.name, digest.hexdigest(), settings, purpose, unknown_as, names), files, core


def core_for(recipe: Recipe, files: Callable[[], dict[str, bytes]]) -> BatchFilter:
    """This process's filter for ``recipe``, opened from ``files()`` the first time only."""
    core = _cores.get(recipe)
    if core is not None:
        return core
    with _lock:  # a Dask worker runs tasks in threads: one of them opens the source, the others wait for it
        core = _cores.get(recipe)
        if core is None:
            core = _open(recipe, files())
            if len(_cores) >= MAX_CACHED:
                _cores.pop(next(iter(_cores)))
            _cores[recipe] = core
            _loaded.append(recipe)
    return core


def loaded() -> list[Recipe]:
    """The recipes this process has opened a source for, in order: each once in a healthy worker."""
    return list(_loaded)


def _open(recipe: Recipe, files: dict[str, bytes]) -> BatchFilter:
    """The files written to a temporary directory, the source opened and verified there, the directory removed."""
    with tempfile.TemporaryDirectory(prefix="notrain-source-") as scratch:
        for name, data in files.items():
            path = Path(scratch, name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        source = _KINDS[recipe.kind](Path(scratch, recipe.root), **dict(recipe.settings))
        return _core(source, recipe.purpose, recipe.unknown_as, recipe.names)


def _core(source: ManifestSource, purpose: str, unknown_as: State, names: str) -> BatchFilter:
    """The batch core over ``source``, with a snapshot's own bulk probes (as ``notrain filter`` builds it)."""
    prefilter = source.prefilter() if isinstance(source, SnapshotFilterSource) else None
    return BatchFilter(source.catalog(), purpose=purpose, unknown_as=unknown_as, names=names, prefilter=prefilter)


def decided(core: BatchFilter, batch: pa.RecordBatch, columns: Columns) -> pa.RecordBatch:
    """``batch``'s columns, the caption cut where ``names="strip"`` kept a row without its names, then the
    decision columns ``notrain_keep``, ``notrain_reason`` and ``notrain_evidence``."""
    decision = core.apply(batch, columns)
    if CAPTION in decision.schema.names:
        index = batch.schema.get_field_index(columns.caption)
        caption = pc.coalesce(decision.column(CAPTION), batch.column(index)).cast(batch.schema.field(index).type)
        batch = batch.set_column(index, batch.schema.field(index), caption)
    return pa.RecordBatch.from_arrays([*batch.columns, *(decision.column(c) for c in (KEEP, REASON, EVIDENCE))],
                                      names=[*batch.schema.names, KEEP, REASON, EVIDENCE])


def decided_schema(core: BatchFilter, schema: pa.Schema, columns: Columns) -> pa.Schema:
    """The schema :func:`decided` gives batches of ``schema``, from an empty batch: a missing or mistyped
    column is refused here, on the driver, with the batch core's own error."""
    return decided(core, pa.RecordBatch.from_pylist([], schema=schema), columns).schema


@dataclass(frozen=True)
class Filtered:
    """An engine's result: ``decided`` holds every row; ``kept`` and ``rejected`` are the two files of
    ``notrain filter`` (kept: the input's columns; rejected: with reason and evidence).  Each is a lazy
    query over ``decided``: persist or cache it first when you write both."""

    decided: Any  # a pyspark.sql.DataFrame or a dask.dataframe.DataFrame
    input_columns: tuple[str, ...]

    @property
    def kept(self):
        return self.decided[self.decided[KEEP]][list(self.input_columns)]

    @property
    def rejected(self):
        return self.decided[~self.decided[KEEP]][[*self.input_columns, REASON, EVIDENCE]]
