"""The dataset filter on a real local Spark (``local[2]``, Debian's OpenJDK 17): row for row what ``notrain
filter`` keeps, on the input test_filter_dask.py holds the Dask engine to.  One Spark session for the
module: a JVM start is slow, so the Spark tests are few."""

from __future__ import annotations

import os
import sys

import pyarrow as pa
import pytest
from pyspark.sql import SparkSession
from services import require
from test_filter_dask import COLUMNS, dataset, filtered_by_the_cli, rows_of, signed_bundle

from notrain.core import State
from notrain.fetch.sources import LocalSource
from notrain.filter import Columns, FilterError
from notrain.filter.engines import loaded, pack
from notrain.filter.engines import spark as spark_engine


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return signed_bundle(tmp_path_factory)


@pytest.fixture(scope="module")
def spark():
    require("java")  # Debian's openjdk-17-jre-headless: skipped without it, a failure under CI
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    session = (SparkSession.builder.master("local[2]").appName("notrain-tests")
               .config("spark.ui.enabled", "false").config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
               .config("spark.sql.shuffle.partitions", "4").config("spark.sql.execution.arrow.maxRecordsPerBatch", "100")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def test_spark_keeps_the_rows_notrain_filter_keeps_with_the_same_reasons(tmp_path, bundle, spark):
    shards, kept, rejected = filtered_by_the_cli(tmp_path, bundle)
    on_spark = spark_engine.filter_dataframe(spark.read.parquet(str(shards)), LocalSource(bundle), columns=COLUMNS, names="strip")
    assert rows_of(on_spark.kept.toArrow()) == kept
    assert rows_of(on_spark.rejected.toArrow()) == rejected


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
