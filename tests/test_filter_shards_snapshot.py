"""``notrain filter-shards --snapshot``: a pulled, verified snapshot as the source removes the same samples,
for the same reasons, as the bundle holding the same manifests (the snapshot fixture of test_filter_snapshot)."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
from click.testing import CliRunner
from pictures import encode, picture
from test_filter_batch import WORK
from test_filter_shards import members, write_shard
from test_filter_snapshot import sources  # noqa: F401  (the fixture: a bundle and a snapshot of the same manifests)

from notrain.cli import main

ROWS = [  # art.example opts out of everything but /open/; "Mira Okafor" is a listed name
    ("https://art.example/a.jpg", "a cat"),
    ("https://img.example/b.jpg", "a portrait by Mira Okafor"),
    ("https://art.example/open/c.jpg", "a dog"),
    ("https://img.example/d.jpg", "a sunset"),
    ("https://img.example/e.jpg", "a work"),  # as downloaded, the file was a listed work (its SHA-256 in the index)
]


async def test_a_snapshot_removes_what_the_bundle_removes(sources, tmp_path):  # noqa: F811
    bundle, snapshot = sources
    outcome = {}
    for kind, path in (("bundle", bundle), ("snapshot", snapshot)):
        rows = [{"url": url, "caption": caption, "key": f"{n:09d}", "status": "success", "error_message": None,
                 "sha256": WORK.hex() if n == 4 else None,
                 "image": encode(picture(n), "JPEG", quality=90)} for n, (url, caption) in enumerate(ROWS)]
        shard = write_shard(tmp_path / kind, rows=rows)
        result = CliRunner().invoke(main, ["filter-shards", str(tmp_path / kind), f"--{kind}", str(path), "--json"])
        assert result.exit_code == 0, result.output
        rejected = pq.read_table(tmp_path / kind / "notrain" / "00000.rejected.parquet").to_pylist()
        outcome[kind] = ({row["key"]: row["notrain_reason"] for row in rejected}, members(shard), json.loads(result.stdout)["source"])
    assert outcome["bundle"][0] == outcome["snapshot"][0] == {"000000000": "url", "000000001": "name", "000000004": "work"}
    assert outcome["bundle"][1] == outcome["snapshot"][1] and sorted({n.split(".")[0] for n in outcome["bundle"][1]}) == ["000000002", "000000003"]
    assert outcome["snapshot"][2]["kind"] != outcome["bundle"][2]["kind"] == "local-bundle"


async def test_max_age_refuses_an_old_snapshot_before_any_shard_is_touched(sources, tmp_path):  # noqa: F811
    rows = [{"url": url, "caption": caption, "key": f"{n:09d}", "status": "success", "error_message": None, "sha256": None,
             "image": encode(picture(n), "JPEG", quality=90)} for n, (url, caption) in enumerate(ROWS)]
    shard = write_shard(tmp_path / "shards", rows=rows)
    before = shard.read_bytes()
    result = CliRunner().invoke(main, ["filter-shards", str(tmp_path / "shards"), "--snapshot", str(sources[1]), "--max-age", "1h", "--json"])
    assert result.exit_code == 1 and json.loads(result.stdout)["error"]["code"] == "E_EXPIRED", result.output
    assert shard.read_bytes() == before and not (tmp_path / "shards" / "notrain").exists()
