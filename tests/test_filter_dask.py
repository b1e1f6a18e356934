"""The dataset filter on a real Dask cluster (LocalCluster: 2 worker processes on 127.0.0.1), and the
generated input on which both engines (here and test_filter_spark.py) must keep the rows ``notrain filter``
keeps, with the same reasons and evidence."""

from __future__ import annotations

import json
import random
from pathlib import Path

import dask.dataframe as dd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from distributed import Client, LocalCluster
from sites import Site
from test_filter_batch import CAPTIONS, HOSTS, NAMES, NOW, PATHS, SCHEMES, SITES, WORK, make_bundle
from test_snapshot_client import SnapshotLog

from notrain.cli import main
from notrain.core import State
from notrain.core.errors import NotrainError
from notrain.fetch.snapshots import pull
from notrain.fetch.sources import LocalSource
from notrain.filter import BatchFilter, Columns, FilterError
from notrain.filter.engines import dask as dask_engine
from notrain.filter.engines import loaded, pack
from notrain.filter.sources import SnapshotFilterSource

COLUMNS = Columns(url="url", caption="caption", sha256="sha256")
WORDS = ["a", "photo", "of", "sunset", "portrait", "by", "cat", "poster", "art"]


def dataset(count: int, seed: int) -> pa.Table:
    """Rows with an id: URLs over many origins (most without a manifest, some of the bundle's sites with
    and without path rules, some spelled oddly or null), captions with and without opted-out names, and a
    sha256 column holding the bundle's work, other hashes and malformed ones."""
    rng = random.Random(seed)
    urls, captions, hashes = [], [], []
    for i in range(count):
        kind = rng.random()
        if kind < 0.6:
            urls.append(f"https://img{rng.randrange(2000)}.cdn.example/{rng.choice(['p', 'open'])}/{i}.jpg")
        elif kind < 0.8:
            urls.append(rng.choice(SITES) + rng.choice(["/open/", "/open/secret", "/x.png", "/a/b.jpg", "/open/c.png"]) + str(i))
        elif kind < 0.98:
            urls.append(rng.choice(SCHEMES) + rng.choice(HOSTS) + rng.choice(PATHS))
        else:
            urls.append(None)
        words = rng.choices(WORDS, k=rng.randrange(1, 6))
        if rng.random() < 0.15:
            words.insert(rng.randrange(len(words) + 1), rng.choice(NAMES))
        captions.append(rng.choice(CAPTIONS) if rng.random() < 0.1 else " ".join(words))
        hashes.append(rng.choice([None, None, None, WORK.hex(), WORK.hex().upper(), f"{rng.getrandbits(256):064x}", "zz" * 32]))
    return pa.table({"id": list(range(count)), "url": urls, "caption": captions, "sha256": hashes})


def write_shards(directory, table: pa.Table, shards: int):
    directory.mkdir()
    step = -(-table.num_rows // shards)
    for k in range(shards):
        pq.write_table(table.slice(k * step, step), directory / f"part-{k}.parquet")
    return directory


def rows_of(table: pa.Table) -> list[dict]:
    return sorted(table.to_pylist(), key=lambda row: row["id"])


def dask_rows(frame: dd.DataFrame) -> list[dict]:
    return rows_of(pa.Table.from_pandas(frame.compute(), preserve_index=False))


def signed_bundle(tmp_path_factory):
    path = tmp_path_factory.mktemp("bundle") / "bundle.json"
    make_bundle(path)
    return path


def filtered_by_the_cli(tmp_path, bundle) -> tuple[Path, list[dict], list[dict]]:
    """The agreement input as parquet shards, and ``notrain filter --names strip``'s kept and refused rows."""
    table = dataset(4000, 7)
    shards = write_shards(tmp_path / "in", table, 4)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["filter", str(shards), "--bundle", str(bundle), "--out", str(out), "--caption-col", "caption",
                                       "--sha256-col", "sha256", "--names", "strip"])
    assert result.exit_code == 0, result.output
    kept = rows_of(pa.concat_tables(pq.read_table(p) for p in sorted(out.glob("part-?.parquet"))))
    rejected = rows_of(pa.concat_tables(pq.read_table(p) for p in sorted(out.glob("part-?.rejected.parquet"))))
    captions = table.column("caption").to_pylist()
    assert {row["notrain_reason"] for row in rejected} >= {"url", "work", "name"} and len(kept) > 1000
    assert any(row["caption"] != captions[row["id"]] for row in kept)  # some kept without their names
    return shards, kept, rejected


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return signed_bundle(tmp_path_factory)


@pytest.fixture(scope="module")
def client():
    with LocalCluster(n_workers=2, threads_per_worker=2, processes=True, host="127.0.0.1", dashboard_address=None) as cluster, \
            Client(cluster) as client:
        yield client


def test_dask_keeps_the_rows_notrain_filter_keeps_with_the_same_reasons(tmp_path, bundle, client):
    shards, kept, rejected = filtered_by_the_cli(tmp_path, bundle)
    on_dask = dask_engine.filter_dataframe(dd.read_parquet(shards), LocalSource(bundle), columns=COLUMNS, names="strip")
    assert dask_rows(on_dask.kept) == kept
    assert dask_rows(on_dask.rejected) == rejected


def test_each_worker_opens_the_source_once_whatever_the_partitions(tmp_path, bundle, client):
    shards = write_shards(tmp_path / "in", dataset(1200, 1), 12)
    source = LocalSource(bundle)
    filtered = dask_engine.filter_dataframe(dd.read_parquet(shards), source, columns=COLUMNS, batch_size=50)
    kept, rejected = dask_rows(filtered.kept), dask_rows(filtered.rejected)
    assert len(kept) + len(rejected) == 1200 and kept and rejected
    recipe = pack(source, purpose="train-ai", unknown_as=State.ALLOWED, names="drop")[0]
    opened = [recipes.count(recipe) for recipes in client.run(loaded).values()]
    assert sum(opened) >= 1 and max(opened) == 1, opened  # 24 batches in 12 partitions, computed twice


def test_the_index_and_columns_of_each_partition_are_kept(bundle, client):
    table = dataset(300, 2)
    frame = dd.from_pandas(table.to_pandas().set_index("id", drop=False), npartitions=3)
    decided = dask_engine.filter_dataframe(frame, LocalSource(bundle), columns=COLUMNS, names="strip").decided
    assert decided.known_divisions
    result = decided.compute()
    assert list(result.index) == list(range(300)) and list(result.columns[:4]) == ["id", "url", "caption", "sha256"]
    assert set(result["notrain_reason"].dropna()) >= {"url", "name-stripped"}


@pytest.fixture
async def snapshot(bundle, tmp_path):
    """A snapshot directory of the bundle's manifests, logged, served on loopback and pulled for real."""
    site = await Site().start()
    try:
        log = SnapshotLog(site)
        log.publish(*(json.dumps(entry["envelope"]).encode() for entry in json.loads(bundle.read_bytes())["entries"]))
        await pull(site.origin, tmp_path / "snap", log.trust(), now=NOW)
    finally:
        await site.stop()
    return tmp_path / "snap"


def test_a_snapshot_directory_is_shipped_and_decides_as_on_the_driver(snapshot, client):
    source = SnapshotFilterSource(snapshot)
    table = dataset(900, 4)
    frame = dd.from_pandas(table.to_pandas(), npartitions=3)
    decided = pa.Table.from_pandas(dask_engine.filter_dataframe(frame, source, columns=COLUMNS).decided.compute(), preserve_index=False)
    here = BatchFilter(source.catalog(), prefilter=source.prefilter()).apply(table.combine_chunks().to_batches()[0], COLUMNS)
    assert decided.select(here.schema.names).to_pydict() == here.to_pydict()
    assert here.column("notrain_keep").false_count > 100 and len(list(snapshot.iterdir())) > 1


def test_bad_columns_and_options_are_refused_on_the_driver(bundle, client):
    frame = dd.from_pandas(dataset(10, 3).to_pandas(), npartitions=1)
    with pytest.raises(FilterError) as missing:
        dask_engine.filter_dataframe(frame, LocalSource(bundle), columns=Columns(url="link"))
    assert missing.value.code == "E_FILTER_COLUMN"
    with pytest.raises(FilterError) as mistyped:
        dask_engine.filter_dataframe(frame, LocalSource(bundle), columns=Columns(url="id"))
    assert mistyped.value.code == "E_FILTER_COLUMN"
    with pytest.raises(FilterError) as names:
        dask_engine.filter_dataframe(frame, LocalSource(bundle), columns=COLUMNS, names="blur")
    assert names.value.code == "E_FILTER_OPTION"


def test_a_source_that_cannot_be_shipped_or_read_is_refused(tmp_path, bundle):
    class Remote:
        def catalog(self):
            return LocalSource(bundle).catalog()

    with pytest.raises(FilterError) as refused:
        pack(Remote(), purpose="train-ai", unknown_as=State.ALLOWED, names="drop")
    assert refused.value.code == "E_FILTER_OPTION"
    (tmp_path / "torn.json").write_bytes(bundle.read_bytes()[:100])
    with pytest.raises(NotrainError) as unreadable:  # refused on the driver, before anything is shipped
        pack(LocalSource(tmp_path / "torn.json"), purpose="train-ai", unknown_as=State.ALLOWED, names="drop")
    assert unreadable.value.code == "E_JSON"
