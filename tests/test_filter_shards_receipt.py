"""``notrain filter-shards --receipt-key``: a filtering receipt of a run that rewrites its shards in place.

The receipt's input is every file of the shards before the run, its output the same files after; it is
checked as ``notrain receipt verify`` checks one, against the rewritten shards and a copy of the originals.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from conftest import make_key
from test_filter_shards import make_bundle, write_files_shard, write_shard

from notrain.cli import main
from notrain.core.errors import NotrainError
from notrain.core.filterreceipt import check_files, verify_receipt
from notrain.filter.receipts import check_output, hash_file
from notrain.keyfile import save_private_key

SHARD_FILES = ["00000.parquet", "00000.tar", "00000_stats.json", "00001.parquet", "00001.tar", "00001_stats.json"]


@pytest.fixture
def setup(tmp_path):
    bundle = make_bundle(tmp_path / "bundle.json").path
    save_private_key(tmp_path / "builder.jwk", make_key("shard builder"))
    return bundle, tmp_path / "builder.jwk"


def _shards(tmp_path, setup, *args):
    bundle, key = setup
    return CliRunner().invoke(main, ["filter-shards", str(tmp_path / "data"), "--bundle", str(bundle), "--receipt-key", str(key), "--json", *args])


def test_the_receipt_names_the_shards_before_and_after_and_verifies_against_them(tmp_path, setup):
    write_shard(tmp_path / "data", "00000")
    write_shard(tmp_path / "data", "00001")
    shutil.copytree(tmp_path / "data", tmp_path / "original")
    result = _shards(tmp_path, setup)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    data = (tmp_path / "data.receipt.json").read_bytes()
    assert report["receipt"] == str(tmp_path / "data.receipt.json")

    receipt = verify_receipt(data, now=datetime.now(UTC))
    inputs, outputs = receipt.files("input"), receipt.files("output")
    assert [f.name for f in inputs] == [f.name for f in outputs] == SHARD_FILES
    check_output(outputs, tmp_path / "data")  # the rewritten shards are the kept files
    check_files(inputs, [hash_file(tmp_path / "original" / name) for name in SHARD_FILES], "input")  # the originals the input
    assert {f.name for f in inputs if f not in outputs} == set(SHARD_FILES)  # each shard lost samples: every file changed
    doc = receipt.payload
    assert doc["source"] == {"bundle": {"sha256": hashlib.sha256(setup[0].read_bytes()).hexdigest()}}
    assert doc["columns"] == {"url": "url", "caption": "caption", "sha256": "sha256"}
    assert doc["counts"] == {"rows": report["rows"], "kept": report["kept"], "refused": report["rejected"], "stripped": 0,
                             "by_reason": report["by_reason"]} and report["rejected"] == 12

    checked = CliRunner().invoke(main, ["receipt", "verify", str(tmp_path / "data.receipt.json"), "--input", str(tmp_path / "original"),
                                        "--output", str(tmp_path / "data"), "--json"])
    assert checked.exit_code == 0 and json.loads(checked.stdout)["checked"] == {"input": True, "output": True}, checked.output
    (tmp_path / "original" / "00002.tar").write_bytes((tmp_path / "original" / "00001.tar").read_bytes())  # a shard the run did not read
    extra = CliRunner().invoke(main, ["receipt", "verify", str(tmp_path / "data.receipt.json"), "--input", str(tmp_path / "original"), "--json"])
    error = json.loads(extra.stdout)["error"]
    assert extra.exit_code == 1 and error["code"] == "E_RECEIPT_FILES" and "00002.tar" in error["message"], extra.output
    (tmp_path / "data" / "00001.tar").write_bytes((tmp_path / "original" / "00001.tar").read_bytes())  # a shard put back
    with pytest.raises(NotrainError) as caught:
        check_output(outputs, tmp_path / "data")
    assert caught.value.code == "E_RECEIPT_FILES" and "00001.tar" in caught.value.message


def test_a_files_format_shard_is_refused_before_anything_is_touched(tmp_path, setup):
    folder = write_files_shard(tmp_path / "data")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    result = _shards(tmp_path, setup)
    assert result.exit_code == 1 and json.loads(result.stdout)["error"]["code"] == "E_FILTER_INPUT", result.output
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert not (tmp_path / "data" / "notrain").exists() and not (tmp_path / "data.receipt.json").exists()
