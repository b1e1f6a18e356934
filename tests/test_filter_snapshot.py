"""``notrain filter --snapshot``: a verified snapshot directory as the filter's source (issue 10 §1).

The snapshot is built by core's real builder from the very manifests of the filter's test bundle, logged
with a real signed checkpoint and served by a loopback aggregator stand-in (test_snapshot_client's
SnapshotLog), and fetched by the real ``pull``.  Then the same rows go through the batch core with the
bundle as its source and with the snapshot as its source, and must agree row for row.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections import Counter
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pytest
from click.testing import CliRunner
from conftest import make_key
from sites import Site
from test_filter_batch import HOSTS, NOW, PATHS, SCHEMES, WORK, _rows, make_bundle
from test_filter_cli import read, write
from test_snapshot_client import SnapshotLog

from notrain.cli import main
from notrain.core import State
from notrain.core.errors import NotrainError
from notrain.core.filterreceipt import verify_receipt
from notrain.core.note import NoteSigner
from notrain.fetch.snapshots import pull
from notrain.fetch.sources import LocalSource
from notrain.filter import BatchFilter, Columns
from notrain.filter.sources import SnapshotFilterSource
from notrain.keyfile import save_private_key


@pytest.fixture
async def sources(tmp_path):
    """(bundle path, snapshot directory) holding the same manifests."""
    bundle = tmp_path / "bundle.json"
    make_bundle(bundle)
    envelopes = [json.dumps(entry["envelope"]).encode() for entry in json.loads(bundle.read_bytes())["entries"]]
    site = await Site().start()
    try:
        log = SnapshotLog(site)
        log.publish(*envelopes)
        await pull(site.origin, tmp_path / "snap", log.trust(), now=NOW)
    finally:
        await site.stop()
    return bundle, tmp_path / "snap"


def _cores(bundle, snap, **options) -> tuple[BatchFilter, BatchFilter]:
    source = SnapshotFilterSource(snap, now=NOW)
    by_bundle = BatchFilter(LocalSource(bundle, now=NOW).catalog(), **options)
    return by_bundle, BatchFilter(source.catalog(), prefilter=source.prefilter(), **options)


def _cited(evidence: str | None) -> Counter:
    """What a refusal rests on, whichever source said it: publisher, manifest, sequence, preferences."""
    statements = json.loads(evidence or "[]")
    return Counter((s["evidence"]["publisher"], s["evidence"]["manifest_digest"], s["evidence"]["sequence"], json.dumps(s["prefs"]))
                   for s in statements)


@pytest.mark.parametrize("purpose,unknown_as", [("train-ai", State.ALLOWED), ("search", State.ALLOWED), ("ai-use", State.DISALLOWED)])
async def test_bundle_and_snapshot_agree_row_for_row(sources, purpose, unknown_as):
    by_bundle, by_snapshot = _cores(*sources, purpose=purpose, unknown_as=unknown_as)
    batch = pa.RecordBatch.from_pydict(_rows(600, seed=7 + len(purpose)))
    columns = Columns("url", "caption", "sha256", "pdq")
    expected, got = by_bundle.apply(batch, columns).to_pydict(), by_snapshot.apply(batch, columns).to_pydict()
    assert got["notrain_keep"] == expected["notrain_keep"]
    assert got["notrain_reason"] == expected["notrain_reason"]
    assert [_cited(e) for e in got["notrain_evidence"]] == [_cited(e) for e in expected["notrain_evidence"]]
    assert expected["notrain_keep"].count(False) >= 5  # the rows reach refusals, not only the default


async def test_the_origins_filter_never_misses_an_origin_with_rules(sources):
    """Every hostile spelling of the test hosts: a URL with a URL statement is always a row the probe sends on."""
    bundle, snap = sources
    catalog = LocalSource(bundle, now=NOW).catalog()
    prefilter = SnapshotFilterSource(snap, now=NOW).prefilter()
    urls = [s + h + p for s in SCHEMES for h in HOSTS for p in PATHS]
    sent = prefilter.url_rows(pa.array(urls))
    spoken = [i for i, url in enumerate(urls) if catalog.url_statements(url)]
    assert len(spoken) > 100 and sent[spoken].all()
    plain_without_rules = [i for i, url in enumerate(urls) if url.startswith(("https://other.example/", "http://social.example/"))]
    assert plain_without_rules and not sent[plain_without_rules].any()  # answered by the filter alone


async def test_the_memo_of_probed_origins_is_bounded_and_answers_the_same(sources, monkeypatch):
    prefilter = SnapshotFilterSource(sources[1], now=NOW).prefilter()
    urls = pa.array([s + h + "/x" for s in SCHEMES for h in HOSTS] + [f"https://img{i}.cdn.example/x" for i in range(200)])
    whole = prefilter.url_rows(urls)
    monkeypatch.setattr("notrain.filter.sources.MAX_MEMOISED_ORIGINS", 8)
    bounded = SnapshotFilterSource(sources[1], now=NOW).prefilter()
    pieces = [bounded.url_rows(urls.slice(start, 20)) for start in range(0, len(urls), 20)]
    assert (np.concatenate(pieces) == whole).all() and whole.sum() > 20
    assert len(bounded._seen) <= 8 + 20 < len(prefilter._seen)  # the bound, plus at most one batch's new origins


async def test_rows_without_statements_never_reach_the_exact_path(sources, monkeypatch):
    source = SnapshotFilterSource(sources[1], now=NOW)
    catalog = source.catalog()
    calls = []
    for name in ("url_statements", "text_statements", "content_statements"):
        monkeypatch.setattr(catalog, name, lambda value, name=name: calls.append((name, value)) or [])
    n = 5000
    batch = pa.RecordBatch.from_pydict({"url": [f"https://img{i}.cdn.example:8443/p/{i}.jpg" for i in range(n)],
                                        "caption": [f"a photo of a cat number {i}" for i in range(n)],
                                        "sha256": [f"{i:064x}" for i in range(n)]})
    result = BatchFilter(catalog, prefilter=source.prefilter()).apply(batch, Columns(caption="caption", sha256="sha256"))
    assert result.column("notrain_keep").to_pylist() == [True] * n and calls == []


@pytest.mark.parametrize("kind", [pa.string(), pa.binary(), pa.binary(32), pa.large_string()])
async def test_work_hashes_are_probed_in_the_works_filter_in_any_column_type(sources, kind):
    source = SnapshotFilterSource(sources[1], now=NOW)
    textual = kind in (pa.string(), pa.large_string())
    values = [WORK, b"\x00" * 32, WORK, None] + ([] if kind == pa.binary(32) else [b"short"])
    if textual:
        values = [v.hex().upper() if i == 2 else v.hex() if v is not None else None for i, v in enumerate(values)] + ["zz" * 32]
    batch = pa.RecordBatch.from_arrays([pa.array(["https://x.example/"] * len(values)), pa.array(values, kind)], names=["url", "sha"])
    sent = source.prefilter().work_rows(batch.column("sha"))
    assert sent.tolist() == [True, False, True] + [False] * (len(values) - 3)
    out = BatchFilter(source.catalog(), prefilter=source.prefilter()).apply(batch, Columns(sha256="sha")).to_pydict()
    assert out["notrain_reason"][:3] == ["work", None, "work"]


def _filter(*args):
    return CliRunner().invoke(main, ["filter", *map(str, args)])


async def test_the_cli_gives_the_same_rows_from_either_source_and_cites_the_snapshot(sources, tmp_path):
    bundle, snap = sources
    data = _rows(400, seed=3)
    data["n"] = list(range(400))
    source = write(tmp_path / "in.parquet", data)
    common = ["--caption-col", "caption", "--sha256-col", "sha256", "--pdq-col", "pdq"]
    first = _filter(source, "--bundle", bundle, "--out", tmp_path / "a.parquet", *common)
    save_private_key(tmp_path / "builder.jwk", make_key("snapshot builder"))
    second = _filter(source, "--snapshot", snap, "--out", tmp_path / "b.parquet", *common, "--receipt-key", tmp_path / "builder.jwk", "--json")
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    assert read(tmp_path / "a.parquet") == read(tmp_path / "b.parquet")
    refused = [[(r["n"], r["notrain_reason"]) for r in read(tmp_path / f"{x}.rejected.parquet")] for x in "ab"]
    assert refused[0] == refused[1] and len(refused[0]) > 50
    report = json.loads(second.stdout)
    cited = report["source"]
    assert cited["kind"] == "snapshot" and cited["id"] == hashlib.sha256((snap / "descriptor").read_bytes()).hexdigest()
    assert cited["log"] == "log.test/snapshots" and cited["checkpoint"] == (snap / "checkpoint").read_text()
    assert cited["inclusion"]["proof"] and cited["publishers"] == 5 and "manifests" not in cited
    receipt = verify_receipt((tmp_path / "b.parquet.receipt.json").read_bytes(), now=datetime.now(UTC))
    assert receipt.payload["source"] == {"snapshot": {k: cited[k] for k in ("id", "log", "size", "root")}}
    assert receipt.payload["counts"]["refused"] == len(refused[1]) and receipt.payload["columns"]["pdq"] == "pdq"


@pytest.mark.parametrize("damage,code", [("part", "E_SNAPSHOT_DIGEST"), ("log-key", "E_NOTE_UNKNOWN_KEY"), ("proof", "E_PROOF"),
                                         ("missing", "E_SNAPSHOT_DIGEST")])
async def test_a_snapshot_that_does_not_verify_is_refused(sources, tmp_path, damage, code):
    snap = sources[1]
    source = write(tmp_path / "in.parquet", {"url": ["https://art.example/a"]})
    args = []
    if damage == "part":
        statements = bytearray((snap / "statements").read_bytes())
        statements[10] ^= 1
        (snap / "statements").write_bytes(bytes(statements))
    elif damage == "log-key":
        args = ["--log-key", NoteSigner("log.test/snapshots", make_key("another log")).verifier.to_vkey()]
    elif damage == "proof":
        proof = json.loads((snap / "proof.json").read_text())
        proof["inclusion"][0] = base64.b64encode(b"\x01" * 32).decode()
        (snap / "proof.json").write_text(json.dumps(proof))
    else:
        (snap / "works").unlink()
    result = _filter(source, "--snapshot", snap, "--out", tmp_path / "out.parquet", "--json", *args)
    assert result.exit_code == 1 and json.loads(result.stdout)["error"]["code"] == code, result.output
    assert not (tmp_path / "out.parquet").exists()
    with pytest.raises(NotrainError) as caught:
        SnapshotFilterSource(snap, now=NOW, log_key=args[1] if args else None).catalog()
    assert caught.value.code == code


def test_exactly_one_source(tmp_path):
    source = write(tmp_path / "in.parquet", {"url": ["https://art.example/a"]})
    result = _filter(source, "--out", tmp_path / "out.parquet")
    assert result.exit_code == 2 and "exactly one source" in result.output


async def test_max_age_refuses_a_snapshot_logged_too_long_ago(sources, tmp_path):
    """The snapshot was logged at the fixture's fixed time, before today: an hour is too little, and the
    same E_EXPIRED as ``snapshot pull --max-age``; an age reaching back past it lets the filter run."""
    bundle, snap = sources
    source = write(tmp_path / "in.parquet", {"url": ["https://art.example/a", "https://img.example/b"]})
    old = _filter(source, "--snapshot", snap, "--max-age", "1h", "--out", tmp_path / "old.parquet", "--json")
    assert old.exit_code == 1 and json.loads(old.stdout)["error"]["code"] == "E_EXPIRED", old.output
    assert not (tmp_path / "old.parquet").exists()
    young = _filter(source, "--snapshot", snap, "--max-age", "999999d", "--out", tmp_path / "young.parquet", "--json")
    assert young.exit_code == 0, young.output
    assert [row["url"] for row in read(tmp_path / "young.parquet")] == ["https://img.example/b"]
    with_bundle = _filter(source, "--bundle", bundle, "--max-age", "1h", "--out", tmp_path / "b.parquet")
    assert with_bundle.exit_code == 2 and "go with --snapshot" in with_bundle.output
