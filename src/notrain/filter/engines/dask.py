"""The dataset filter on Dask: :func:`filter_dataframe` runs the batch core through ``map_partitions``.

The source's files go to each worker once, in a worker plugin (registered with the scheduler, which also
hands it to workers that join later); a worker process opens the source on its first partition and keeps
it (:func:`notrain.filter.engines.core_for`).  A pandas partition becomes an Arrow table
(``pyarrow.Table.from_pandas``, zero-copy for Arrow-backed columns), is decided in record batches of
``batch_size`` rows, and goes back to pandas with the partition's own index, so divisions stay true.
"""

from __future__ import annotations

import dask.dataframe as dd
import pandas as pd
import pyarrow as pa
from distributed import Client, WorkerPlugin, get_client

from ...core.vocab import TRAIN_AI, State
from ...fetch.sources import ManifestSource
from ..batch import Columns
from . import Filtered, Recipe, core_for, decided, decided_schema, pack

_shipped: dict[str, dict[str, bytes]] = {}  # digest -> the source's files, in each worker process


class ShippedSource(WorkerPlugin):
    """A source's files, sent once to every worker of the cluster (its name makes registering it idempotent)."""

    def __init__(self, digest: str, files: dict[str, bytes]) -> None:
        self.name = f"notrain-source-{digest}"
        self.digest, self.files = digest, files

    def setup(self, worker) -> None:
        _shipped[self.digest] = self.files

    def teardown(self, worker) -> None:
        _shipped.pop(self.digest, None)


def filter_dataframe(df: dd.DataFrame, source: ManifestSource, *, columns: Columns, purpose: str = TRAIN_AI,
                     unknown_as: State = State.ALLOWED, names: str = "drop", client: Client | None = None,
                     batch_size: int = 65536) -> Filtered:
    """Every row of ``df`` decided against ``source`` (a bundle or a snapshot source), lazily, on the
    cluster of ``client`` (default: the current distributed client), as ``notrain filter`` decides it."""
    recipe, files, core = pack(source, purpose=purpose, unknown_as=unknown_as, names=names)
    schema = decided_schema(core, pa.Schema.from_pandas(df._meta, preserve_index=False), columns)
    (client or get_client()).register_plugin(ShippedSource(recipe.digest, files))
    meta = schema.empty_table().to_pandas().set_index(df._meta.index)
    return Filtered(df.map_partitions(_decide, recipe, columns, batch_size, meta=meta), tuple(df.columns))


def _decide(partition: pd.DataFrame, recipe: Recipe, columns: Columns, batch_size: int) -> pd.DataFrame:
    core = core_for(recipe, lambda: _shipped[recipe.digest])
    table = pa.Table.from_pandas(partition, preserve_index=False)
    batches = table.to_batches(batch_size) or [pa.RecordBatch.from_pylist([], schema=table.schema)]
    result = pa.Table.from_batches([decided(core, batch, columns) for batch in batches]).to_pandas()
    result.index = partition.index
    return result
