"""Filtering receipts (issue 10 §5): ``notrain filter --receipt-key`` signs one, ``notrain receipt verify``
checks it and re-hashes the files; core's rules are run by the conformance vectors (spec/vectors/receipts.json)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import make_key
from test_filter_cli import write

from notrain.cli import main
from notrain.core import dsse
from notrain.core.errors import NotrainError
from notrain.core.filterreceipt import RECEIPT_TYPE, FileDigest, check_files, check_payload, list_digest, sign_receipt, verify_receipt
from notrain.keyfile import save_private_key

VECTORS = Path(__file__).resolve().parent.parent / "spec" / "vectors"
BUILDER = make_key("dataset builder")
NOW = datetime(2026, 12, 2, tzinfo=UTC)


def cli(*args):
    return CliRunner().invoke(main, [*map(str, args)])


@pytest.fixture
def key_file(tmp_path):
    save_private_key(tmp_path / "builder.jwk", BUILDER)
    return tmp_path / "builder.jwk"


@pytest.fixture
def bundle(tmp_path):
    from test_filter_batch import make_bundle

    make_bundle(tmp_path / "bundle.json")
    return tmp_path / "bundle.json"


def test_a_filter_run_signs_a_receipt_that_verifies_with_its_files(tmp_path, bundle, key_file):
    source = write(tmp_path / "in.csv")
    out = tmp_path / "out.csv"
    result = cli("filter", source, "--bundle", bundle, "--out", out, "--caption-col", "caption", "--receipt-key", key_file, "--json")
    assert result.exit_code == 0, result.output
    receipt = tmp_path / "out.csv.receipt.json"
    assert json.loads(result.stdout)["receipt"] == str(receipt)
    doc = json.loads(dsse.parse(receipt.read_bytes()).payload)
    assert doc["builder"] == BUILDER.public.did_key and doc["source"] == {"bundle": {"sha256": hashlib.sha256(bundle.read_bytes()).hexdigest()}}
    assert doc["input"]["files"] == [{"name": "in.csv", "size": source.stat().st_size, "sha256": hashlib.sha256(source.read_bytes()).hexdigest()}]
    assert doc["output"]["files"][0]["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert doc["counts"] == {"rows": 5, "kept": 2, "refused": 3, "stripped": 0, "by_reason": {"name": 2, "url": 1}}
    assert doc["columns"] == {"url": "url", "caption": "caption"} and (doc["purpose"], doc["unknown"], doc["names"]) == ("train-ai", "allowed", "drop")
    checked = cli("receipt", "verify", receipt, "--input", source, "--output", out, "--builder", BUILDER.public.did_key, "--json")
    assert checked.exit_code == 0, checked.output
    assert json.loads(checked.stdout)["checked"] == {"input": True, "output": True}
    # one changed octet in the kept rows, or another input file: the receipt no longer holds
    out.write_bytes(out.read_bytes().replace(b"open", b"opeN"))
    for args in (["--output", out], ["--input", write(tmp_path / "other.csv", {"url": ["https://x.example/"]})]):
        refused = cli("receipt", "verify", receipt, *args, "--json")
        assert refused.exit_code == 1 and json.loads(refused.stdout)["error"]["code"] == "E_RECEIPT_FILES", refused.output
    wrong = cli("receipt", "verify", receipt, "--builder", make_key("someone else").public.did_key, "--json")
    assert json.loads(wrong.stdout)["error"]["code"] == "E_PUBLISHER_MISMATCH"


def test_a_directory_of_shards_is_named_shard_by_shard(tmp_path, bundle, key_file):
    shards = tmp_path / "shards"
    shards.mkdir()
    for i, suffix in enumerate([".parquet", ".jsonl"]):
        write(shards / f"part-{i}{suffix}")
    out = tmp_path / "out"
    result = cli("filter", shards, "--bundle", bundle, "--out", out, "--receipt-key", key_file)
    assert result.exit_code == 0, result.output
    receipt = tmp_path / "out.receipt.json"
    doc = json.loads(dsse.parse(receipt.read_bytes()).payload)
    assert [f["name"] for f in doc["input"]["files"]] == ["part-0.parquet", "part-1.jsonl"] == [f["name"] for f in doc["output"]["files"]]
    assert cli("receipt", "verify", receipt, "--input", shards, "--output", out).exit_code == 0
    (shards / "part-2.csv").write_text("url\nhttps://x.example/\n")  # a shard the receipt does not cover
    assert "E_RECEIPT_FILES" in cli("receipt", "verify", receipt, "--input", shards).output
    again = cli("filter", shards, "--bundle", bundle, "--out", out, "--receipt-key", key_file)
    assert again.exit_code == 1 and "E_EXISTS" in again.output


def test_list_digest_is_sha256_of_the_lines():
    files = [FileDigest("a.parquet", 3, b"\x01" * 32), FileDigest("b ü.csv", 0, b"\x02" * 32)]
    text = f"{'01' * 32} 3 a.parquet\n{'02' * 32} 0 b ü.csv\n"
    assert list_digest(files) == hashlib.sha256(text.encode()).digest()
    with pytest.raises(NotrainError) as caught:
        check_files(files, files[:1], "input")
    assert caught.value.code == "E_RECEIPT_FILES"


def _doc(**members) -> dict:
    files = {"sha256": list_digest([FileDigest("in.parquet", 1, bytes(32))]).hex(), "files": [{"name": "in.parquet", "size": 1, "sha256": "00" * 32}]}
    return {"notrain-filtering-receipt": 1, "builder": BUILDER.public.did_key, "time": "2026-12-01T00:00:00Z", "tool": "notrain 0.1.0",
            "purpose": "train-ai", "unknown": "allowed", "names": "drop", "columns": {"url": "url"}, "source": {"bundle": {"sha256": "ab" * 32}},
            "input": files, "output": files, "counts": {"rows": 3, "kept": 2, "refused": 1, "stripped": 0, "by_reason": {"url+name": 1}}, **members}


def test_signing_refuses_what_a_verifier_would_refuse():
    assert verify_receipt(sign_receipt(_doc(), BUILDER), now=NOW).payload == _doc()
    for bad, code in [(_doc(counts={"rows": 3, "kept": 2, "refused": 1, "stripped": 0, "by_reason": {"name+url": 1}}), "E_FIELD_VALUE"),
                      (_doc(builder=make_key("other").public.did_key), "E_PUBLISHER_MISMATCH")]:
        with pytest.raises(NotrainError) as caught:
            sign_receipt(bad, BUILDER)
        assert caught.value.code == code
    undecodable = _doc()
    undecodable["input"] = {**undecodable["input"], "files": [{**undecodable["input"]["files"][0], "name": "in\udcff.parquet"}]}
    with pytest.raises(NotrainError) as caught:
        sign_receipt(undecodable, BUILDER)
    assert caught.value.code == "E_FIELD_VALUE"
    future = sign_receipt(_doc(time="2026-12-02T00:05:01Z"), BUILDER)
    with pytest.raises(NotrainError) as caught:
        verify_receipt(future, now=NOW)
    assert caught.value.code == "E_NOT_YET_VALID"
    assert verify_receipt(future, now=NOW + timedelta(seconds=1)).payload["time"] == "2026-12-02T00:05:01Z"
    manifest_type = dsse.sign(dsse.parse(future).payload, "application/vnd.notrain.manifest+json", [BUILDER]).to_bytes()
    with pytest.raises(NotrainError) as caught:
        verify_receipt(manifest_type, now=NOW)
    assert caught.value.code == "E_PAYLOAD_TYPE" and RECEIPT_TYPE.endswith("filtering-receipt+json")


def test_columns_are_checked_in_the_specs_order_whatever_the_documents():
    """spec/receipt.md checks an object's members in the order it lists them, so two implementations
    name the same member however the document orders its own."""
    with pytest.raises(NotrainError) as caught:
        check_payload(_doc(columns={"pdq": "", "url": ""}))
    assert (caught.value.code, caught.value.where) == ("E_FIELD_VALUE", "/columns/url")


def test_the_largest_receipt_verifies_within_its_limits():
    """Worst input within the limits: 1,024 files of 255-character names in each list, under 1 MiB."""
    names = sorted(f"{i:04d}" + "x" * 251 for i in range(1024))
    files = [FileDigest(name, 2**53 - 1, hashlib.sha256(name.encode()).digest()) for name in names]
    listed = {"sha256": list_digest(files).hex(), "files": [f.to_json() for f in files]}
    envelope = sign_receipt(_doc(input=listed, output=listed), BUILDER)
    assert len(dsse.parse(envelope).payload) < dsse.MAX_PAYLOAD_BYTES
    assert len(verify_receipt(envelope, now=NOW).files("output")) == 1024


def test_vectors_are_fresh():
    result = subprocess.run([sys.executable, str(VECTORS / "generate_receipts.py"), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("case", json.loads((VECTORS / "receipts.json").read_text(encoding="utf-8"))["vectors"], ids=lambda c: c["id"])
def test_vector(case):
    envelope = case["receipt"].encode()
    context = case["context"]
    try:
        verified = verify_receipt(envelope, now=datetime.fromisoformat(context["now"].replace("Z", "+00:00")), builder=context.get("builder"))
        for which in ("input", "output"):
            if which in context:
                found = [FileDigest(name, len(bytes.fromhex(data)), hashlib.sha256(bytes.fromhex(data)).digest())
                         for name, data in context[which].items()]
                check_files(verified.files(which), found, which)
        outcome = {"valid": True, "builder": verified.builder, "payload_sha256": verified.digest}
    except NotrainError as error:
        outcome = {"valid": False, "error": error.code}
    assert outcome == case["expect"]
