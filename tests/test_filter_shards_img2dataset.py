"""A real img2dataset run against a local image site on 127.0.0.1, then ``notrain filter-shards`` (issue 10 §2).

img2dataset (its own process, one worker, a few threads) downloads a small URL/caption list from a
threading http.server serving real images: some opted out by their exact file (SHA-256), by a resized
and recompressed repost (PDQ), by XMP plus:DataMining inside the file, or by a name in the caption;
others fine, and one URL that fails.  It keeps the files as downloaded (``disable_all_reencoding``:
re-encoding would strip the XMP), in each of its webdataset, parquet and files formats.  filter-shards must then
leave no opted-out image in any shard, every other sample exactly as img2dataset wrote it, and each
parquet index and stats file consistent with what its shard holds (a tar as WebDataset itself reads it).
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import tarfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import webdataset
from click.testing import CliRunner
from test_filter_shards import CAPTIONS, make_bundle, sample_images

from notrain.cli import main

REFUSED = {"clouds.jpg", "sunset-repost.jpg", "portrait-xmp.jpg", "stripes.jpg"}
KEPT = {"shapes.jpg", "other.jpg", "clouds-small.jpg"}  # clouds-small is a new file here: nothing lists it


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def image_site(tmp_path):
    """The images on http://127.0.0.1:PORT/, served by threads until the test ends."""
    root = tmp_path / "site"
    root.mkdir()
    for name, data in sample_images().items():
        (root / name).write_bytes(data)
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()
    server.server_close()


def img2dataset(url_list: Path, output: Path, output_format: str) -> None:
    """img2dataset's own entry point, in its own process, as a dataset builder runs it."""
    options = {"url_list": str(url_list), "output_folder": str(output), "input_format": "parquet", "url_col": "url", "caption_col": "caption",
               "output_format": output_format, "processes_count": 1, "thread_count": 4, "number_sample_per_shard": 4, "timeout": 10,
               "disable_all_reencoding": True, "compute_hash": "sha256", "enable_wandb": False}
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(NO_ALBUMENTATIONS_UPDATE="1", WANDB_MODE="disabled", no_proxy="127.0.0.1")
    done = subprocess.run([sys.executable, "-c", f"from img2dataset import download; download(**{options!r})"], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-4000:]


def read_dataset(directory: Path, output_format: str) -> dict[str, tuple[str, bytes]]:
    """url -> (key, image bytes) of every sample, read by WebDataset itself (or from the parquet format's rows)."""
    found = {}
    if output_format == "parquet":
        for path in sorted(directory.glob("*.parquet")):
            found |= {row["url"]: (row["key"], row["jpg"]) for row in pq.read_table(path).to_pylist() if row["jpg"] is not None}
        return found
    if output_format == "files":
        for meta in sorted(directory.glob("*/*.json")):
            if meta.parent.with_suffix(".parquet").exists():  # a shard's folder, not notrain's work directory
                found[json.loads(meta.read_text())["url"]] = (meta.stem, meta.with_suffix(".jpg").read_bytes())
        return found
    for tar in sorted(directory.glob("*.tar")):
        for sample in webdataset.WebDataset(str(tar), shardshuffle=False, empty_check=False):
            meta = json.loads(sample["json"])
            assert meta["key"] == sample["__key__"] and sample["txt"].decode() == meta["caption"]
            found[meta["url"]] = (sample["__key__"], sample["jpg"])
    return found


@pytest.mark.parametrize("output_format", ["webdataset", "parquet", "files"])
def test_img2dataset_then_filter_shards_keeps_no_opted_out_image(tmp_path, image_site, output_format):
    base, root = image_site
    bundle = make_bundle(tmp_path / "bundle.json").path
    names = sorted(sample_images())
    urls = [f"{base}/{name}" for name in names] + [f"{base}/missing.jpg"]
    captions = [CAPTIONS.get(name, name.split(".")[0]) for name in names] + ["missing"]
    pq.write_table(pa.table({"url": urls, "caption": captions}), tmp_path / "urls.parquet")
    output = tmp_path / "dataset"
    img2dataset(tmp_path / "urls.parquet", output, output_format)
    downloaded = read_dataset(output, output_format)
    assert set(downloaded) == set(urls[:-1])  # everything but the missing file, byte for byte as served
    assert all(data == (root / url.rsplit("/", 1)[1]).read_bytes() for url, (_, data) in downloaded.items())

    result = CliRunner().invoke(main, ["filter-shards", str(output), "--bundle", str(bundle), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)

    kept = read_dataset(output, output_format)
    assert {url.rsplit("/", 1)[1] for url in kept} == KEPT
    assert all(kept[url] == downloaded[url] for url in kept)  # the rest intact: same key, same bytes
    assert (report["rows"], report["rejected"], report["samples_removed"]) == (len(urls), len(REFUSED), len(REFUSED))
    assert report["by_reason"] == {"work": 2, "embedded": 1, "name": 1}
    rejected = pa.concat_tables(pq.read_table(p) for p in sorted((output / "notrain").glob("*.rejected.parquet")))
    assert {url.rsplit("/", 1)[1] for url in rejected.column("url").to_pylist()} == REFUSED

    for path in sorted(output.glob("*.parquet")):  # each index and stats file says what its shard holds
        index = pq.read_table(path).to_pylist()
        if output_format == "parquet":
            keys = {row["key"] for row in index if row["jpg"] is not None}
        elif output_format == "files":
            keys = {file.name.split(".")[0] for file in path.with_suffix("").iterdir()}
        else:
            with tarfile.open(path.with_suffix(".tar")) as archive:
                keys = {m.name.split(".")[0] for m in archive.getmembers()}
        assert {row["key"] for row in index if row["status"] == "success"} == keys
        assert not {row["url"] for row in index} & {f"{base}/{name}" for name in REFUSED}
        stats = json.loads(path.with_name(f"{path.stem}_stats.json").read_text())
        assert stats["count"] == len(index) and stats["successes"] == len(keys) == stats["status_dict"].get("success", 0)
        assert stats["failed_to_download"] == sum(row["status"] == "failed_to_download" for row in index)
