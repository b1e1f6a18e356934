"""The dataset filter on Spark: :func:`filter_dataframe` runs the batch core through ``DataFrame.mapInArrow``.

The source's files travel to the executors once, as one broadcast variable (Spark sends a broadcast to each
executor once and each Python worker reads it from there); a Python worker opens the source on its first
batch and keeps it for every later batch and task (:func:`notrain.filter.engines.core_for`; Spark reuses
its Python workers by default, ``spark.python.worker.reuse``).  Batches arrive as Arrow record batches of
``spark.sql.execution.arrow.maxRecordsPerBatch`` rows and leave as Arrow: no pandas, no per-row Python
beyond what the batch core itself does.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema

from ...core.vocab import TRAIN_AI, State
from ...fetch.sources import ManifestSource
from ..batch import Columns
from . import Filtered, Recipe, core_for, decided, decided_schema, pack


def filter_dataframe(df: DataFrame, source: ManifestSource, *, columns: Columns, purpose: str = TRAIN_AI,
                     unknown_as: State = State.ALLOWED, names: str = "drop") -> Filtered:
    """Every row of ``df`` decided against ``source`` (a :class:`~notrain.fetch.sources.LocalSource` or a
    :class:`~notrain.fetch.snapshot_source.SnapshotSource`), lazily, as ``notrain filter`` decides it."""
    recipe, files, core = pack(source, purpose=purpose, unknown_as=unknown_as, names=names)
    schema = decided_schema(core, to_arrow_schema(df.schema), columns)
    shipped = df.sparkSession.sparkContext.broadcast(files)
    return Filtered(df.mapInArrow(_decider(recipe, shipped, columns), from_arrow_schema(schema)), tuple(df.columns))


def _decider(recipe: Recipe, shipped, columns: Columns):
    """The function each task runs over its partition's batches (``shipped.value`` is read on a cache miss only)."""
    def run(batches):
        core = core_for(recipe, lambda: shipped.value)
        for batch in batches:
            yield decided(core, batch, columns)

    return run
