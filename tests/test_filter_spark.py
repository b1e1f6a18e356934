"""The dataset filter on a real local Spark (``local[2]``, Debian's OpenJDK 17), and the engines' row-for-row
agreement with ``notrain filter`` on one generated input.  One Spark session for the module: a JVM start
is slow, so the Spark tests are few."""

from __future__ import annotations

import os
import sys

import dask.dataframe as dd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from distributed import Client, LocalCluster
from pyspark.sql import SparkSession
from test_filter_dask import COLUMNS, dask_rows, dataset, rows_of, signed_bundle, write_shards

from notrain.cli import main
from notrain.core import State
from notrain.fetch.sources import LocalSource
from notrain.filter import Columns, FilterError
from notrain.filter.engines import dask as dask_engine
from notrain.filter.engines import loaded, pack
from notrain.filter.engines import spark as spark_engine


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return signed_bundle(tmp_path_factory)


@pytest.fixture(scope="module")
def spark():
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    session = (SparkSession.builder.master("local[2]").appName("notrain-tests")
               .config("spark.ui.enabled", "false").config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
               .config("spark.sql.shuffle.partitions", "4").config("spark.sql.execution.arrow.maxRecordsPerBatch", "100")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def test_cli_spark_and_dask_keep_the_same_rows_with_the_same_reasons(tmp_path, bundle, spark):
    table = dataset(4000, 7)
    shards = write_shards(tmp_path / "in", table, 4)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["filter", str(shards), "--bundle", str(bundle), "--out", str(out), "--caption-col", "caption",
                                       "--sha256-col", "sha256", "--names", "strip"])
    assert result.exit_code == 0, result.output
    cli_kept = rows_of(pa.concat_tables(pq.read_table(p) for p in sorted(out.glob("part-?.parquet"))))
    cli_rejected = rows_of(pa.concat_tables(pq.read_table(p) for p in sorted(out.glob("part-?.rejected.parquet"))))
    reasons = {row["notrain_reason"] for row in cli_rejected}
    captions = table.column("caption").to_pylist()
    assert reasons >= {"url", "work", "name"} and len(cli_kept) > 1000
    assert any(row["caption"] != captions[row["id"]] for row in cli_kept)  # some kept without their names

    on_spark = spark_engine.filter_dataframe(spark.read.parquet(str(shards)), LocalSource(bundle), columns=COLUMNS, names="strip")
    assert rows_of(on_spark.kept.toArrow()) == cli_kept
    assert rows_of(on_spark.rejected.toArrow()) == cli_rejected

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None) as cluster, Client(cluster):
        on_dask = dask_engine.filter_dataframe(dd.read_parquet(shards), LocalSource(bundle), columns=COLUMNS, names="strip")
        assert dask_rows(on_dask.kept) == cli_kept
        assert dask_rows(on_dask.rejected) == cli_rejected


def test_each_python_worker_opens_the_source_once_for_all_its_batches(tmp_path, bundle, spark):
    """The engine's own per-task function, with each batch's output replaced by which process ran it and
    how many sources that process has opened so far."""
    source = LocalSource(bundle)
    recipe, files, _ = pack(source, purpose="train-ai", unknown_as=State.ALLOWED, names="drop")
    shipped = spark.sparkContext.broadcast(files)
    decide = spark_engine._decider(recipe, shipped, COLUMNS)

    def witness(batches):
        for out in decide(batches):
            yield pa.record_batch({"pid": [os.getpid()], "opened": [loaded().count(recipe)], "rows": [out.num_rows]})

    frame = spark.createDataFrame(dataset(2400, 8)).repartition(8)
    seen = frame.mapInArrow(witness, "pid long, opened long, rows long").toArrow().to_pylist()
    assert sum(row["rows"] for row in seen) == 2400 and len(seen) >= 24  # 8 tasks of 100-row batches
    assert {row["opened"] for row in seen} == {1}
    assert len({row["pid"] for row in seen}) < len(seen)


def test_bad_columns_are_refused_on_the_driver(bundle, spark):
    frame = spark.createDataFrame(dataset(10, 9))
    with pytest.raises(FilterError) as missing:
        spark_engine.filter_dataframe(frame, LocalSource(bundle), columns=Columns(url="link"))
    assert missing.value.code == "E_FILTER_COLUMN"
