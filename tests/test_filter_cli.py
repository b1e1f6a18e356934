"""``notrain filter`` on real parquet, CSV and JSONL files written here, against a real signed bundle."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from test_filter_batch import WORK, make_bundle

from notrain.cli import main

ROWS = {
    "url": ["https://art.example/a", "https://x.example/b", "https://art.example/open/c", "https://y.example/d", "https://z.example/e"],
    "caption": ["cat", "by Mira Okafor", "dog", "sunset", "janedoe art"],
    "sha256": [None, None, None, WORK.hex(), None],
    "n": [1, 2, 3, 4, 5],
}


def write(path, rows=ROWS):
    table = pa.table(rows)
    if path.suffix == ".parquet":
        pq.write_table(table, path)
    elif path.suffix == ".csv":
        pcsv.write_csv(table, path)
    else:
        path.write_text("".join(json.dumps(row) + "\n" for row in table.to_pylist()))
    return path


def read(path):
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pylist()
    if path.suffix == ".csv":
        return pcsv.read_csv(path, convert_options=pcsv.ConvertOptions(strings_can_be_null=True)).to_pylist()
    return [json.loads(line) for line in path.read_text().splitlines()]


def filter_(*args):
    return CliRunner().invoke(main, ["filter", *map(str, args)])


@pytest.fixture
def bundle(tmp_path):
    make_bundle(tmp_path / "bundle.json")
    return tmp_path / "bundle.json"


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_each_format_keeps_refuses_and_reports(tmp_path, bundle, suffix):
    source = write(tmp_path / f"in{suffix}")
    out = tmp_path / f"out{suffix}"
    result = filter_(source, "--bundle", bundle, "--out", out, "--caption-col", "caption", "--sha256-col", "sha256")
    assert result.exit_code == 0, result.output
    assert [row["n"] for row in read(out)] == [3]  # art.example allows /open/
    refused = read(tmp_path / f"out.rejected{suffix}")
    assert [(row["n"], row["notrain_reason"]) for row in refused] == [(1, "url"), (2, "name"), (4, "work"), (5, "name")]
    evidence = json.loads(refused[1]["notrain_evidence"])
    assert evidence[0]["evidence"]["rule"] == "/names/0" and evidence[0]["evidence"]["detail"] == "name 'mira okafor'"
    report = json.loads((tmp_path / f"out{suffix}.report.json").read_text())
    assert (report["rows"], report["kept"], report["rejected"]) == (5, 1, 4)
    assert report["by_reason"] == {"name": 2, "url": 1, "work": 1} and report["by_mechanism"] == {"notrain": 4}
    assert report["source"]["kind"] == "local-bundle" and len(report["source"]["sha256"]) == 64
    assert report["purpose"] == "train-ai" and report["unknown_as"] == "allowed"


def test_names_strip_keeps_the_row_without_the_name(tmp_path, bundle):
    source = write(tmp_path / "in.parquet")
    result = filter_(source, "--bundle", bundle, "--out", tmp_path / "out.parquet", "--caption-col", "caption", "--names", "strip")
    assert result.exit_code == 0, result.output
    assert [(row["n"], row["caption"]) for row in read(tmp_path / "out.parquet")] == [(2, "by"), (3, "dog"), (4, "sunset"), (5, "")]
    assert "2 captions stripped" in result.output


def test_purpose_and_unknown_policy(tmp_path, bundle):
    source = write(tmp_path / "in.csv")
    result = filter_(source, "--bundle", bundle, "--out", tmp_path / "out.csv", "--purpose", "search", "--unknown", "disallowed")
    assert result.exit_code == 0, result.output
    assert read(tmp_path / "out.csv") == []  # nothing states search=y for any row
    assert {row["notrain_reason"] for row in read(tmp_path / "out.rejected.csv")} == {"unknown"}


def test_a_directory_of_shards_resumes(tmp_path, bundle):
    shards = tmp_path / "shards"
    shards.mkdir()
    for i, suffix in enumerate([".parquet", ".csv", ".jsonl"]):
        write(shards / f"part-{i}{suffix}")
    (shards / "README.txt").write_text("not a shard")
    out = tmp_path / "out"
    first = filter_(shards, "--bundle", bundle, "--out", out, "--caption-col", "caption", "--json")
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert (report["rows"], report["kept"], report["shards_skipped"]) == (15, 6, 0)
    # a crash mid-shard leaves no marker (and maybe a partial file): only that shard runs again
    (out / "part-1.csv.done").unlink()
    (out / "part-1.csv").write_text("torn")
    before = (out / "part-0.parquet").stat().st_mtime_ns
    again = filter_(shards, "--bundle", bundle, "--out", out, "--caption-col", "caption", "--json")
    assert again.exit_code == 0, again.output
    report = json.loads(again.stdout)
    assert report["shards_skipped"] == 2 and report["rows"] == 15 and report["by_reason"] == json.loads(first.stdout)["by_reason"]
    assert (out / "part-0.parquet").stat().st_mtime_ns == before
    assert read(out / "part-1.csv") == read(out / "part-2.jsonl") and not list(out.glob("*.partial"))


@pytest.mark.parametrize("case,code", [
    ("missing-column", "E_FILTER_COLUMN"), ("jsonl-missing-column", "E_FILTER_COLUMN"), ("corrupt", "E_FILTER_INPUT"), ("extension", "E_FILTER_INPUT"),
    ("bundle", "E_SOURCE"), ("exists", "E_EXISTS"), ("empty-dir", "E_FILTER_INPUT"), ("out-format", "E_FILTER_OPTION"),
])
def test_typed_errors(tmp_path, bundle, case, code):
    source = write(tmp_path / "in.parquet")
    args, out = ["--caption-col", "caption"], tmp_path / "out.parquet"
    if case == "missing-column":
        args = ["--caption-col", "text"]
    elif case == "jsonl-missing-column":  # an explicit JSON schema would read it as all nulls, and keep every row
        source = write(tmp_path / "in.jsonl", {"link": ROWS["url"], "caption": ROWS["caption"]})
        out = tmp_path / "out.jsonl"
    elif case == "corrupt":
        source.write_bytes(b"PAR1 not really")
    elif case == "extension":
        source = tmp_path / "in.xlsx"
        source.write_bytes(b"x")
    elif case == "bundle":
        bundle.write_text("{}")
    elif case == "exists":
        (tmp_path / "out.parquet").write_bytes(b"")
    elif case == "out-format":
        out = tmp_path / "out.csv"
    else:
        source = tmp_path / "empty"
        source.mkdir()
    result = filter_(source, "--bundle", bundle, "--out", out, *args)
    assert result.exit_code == 1 and f"error: {code}" in result.output, result.output
    assert not list(tmp_path.glob("*.partial"))


def test_memory_stays_flat_on_a_big_file(tmp_path, bundle):
    """Peak memory filtering 1.2 M rows is within 60 MB of filtering 150 k (the bigger CSV is ~100 MB)."""
    def peak(rows: int) -> int:
        path = tmp_path / f"big-{rows}.csv"
        with pcsv.CSVWriter(path, pa.schema([("url", pa.string()), ("caption", pa.string())])) as writer:
            for start in range(0, rows, 50_000):
                index = range(start, min(start + 50_000, rows))
                writer.write_table(pa.table({"url": [f"https://img{i % 9973}.cdn.example/{i}.jpg" for i in index],
                                             "caption": [f"a photo of a cat number {i} by someone" for i in index]}))
        script = textwrap.dedent(f"""
            import resource, sys
            from notrain.cli import main
            try:
                main(["filter", {str(path)!r}, "--bundle", {str(bundle)!r}, "--out", {str(tmp_path / f"out-{rows}.csv")!r},
                      "--caption-col", "caption", "--batch-size", "20000"])
            except SystemExit as exit:
                assert not exit.code, exit.code
            print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        """)
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
        assert f"kept {rows} of {rows} rows" in done.stdout
        return int(done.stdout.split()[-1]) * 1024
    small, big = peak(150_000), peak(1_200_000)
    assert (tmp_path / "big-1200000.csv").stat().st_size > 90_000_000
    assert big - small < 60_000_000, (small, big)  # 8 times the rows; reading it whole would add over 100 MB
