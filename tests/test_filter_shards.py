"""``notrain filter-shards`` on img2dataset-style shards built here from the example portfolio's real images.

Each shard is a WebDataset tar (``KEY.jpg``, ``KEY.json``, ``KEY.txt``), its parquet index and its stats JSON,
as img2dataset writes them; the source is a real bundle of signed manifests.  Samples are opted out by
each route: the file's SHA-256, a resized and recompressed repost (PDQ), XMP plus:DataMining embedded in
the image, a name in the caption, the SHA-256 img2dataset recorded of the file as downloaded, and (for
a failed download) the URL's origin.
"""

from __future__ import annotations

import fcntl
import io
import json
import tarfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import make_key
from pictures import encode, picture
from PIL import Image
from test_signals_xmp import FORMS, VOCAB, packet

from notrain.cli import main
from notrain.core import MANIFEST_TYPE, dsse, make_keyset
from notrain.core.ijson import dumps
from notrain.fetch.sources import LocalSource, bundle
from notrain.filter import BatchFilter, FilterError
from notrain.filter import shards as filter_shards
from notrain.filter.tars import ShardLimits, read_samples
from notrain.imaging import HASHER, hash_bytes

PORTFOLIO = Path(__file__).resolve().parent.parent / "examples" / "portfolio"
SITE = "https://art.example"
NAME = "Mira Okafor"


def jpeg(image: Image.Image, **options) -> bytes:
    return encode(image.convert("RGB"), "JPEG", quality=90, **options)


def portfolio(name: str) -> Image.Image:
    with Image.open(PORTFOLIO / name) as image:
        return image.convert("RGB")


CLOUDS = (PORTFOLIO / "clouds.jpg").read_bytes()
SUNSET = jpeg(portfolio("sunset.png"))
NO_AI = packet(FORMS["attribute"](VOCAB + "DMI-PROHIBITED-AIMLTRAINING"))


def sample_images() -> dict[str, bytes]:
    """The images a site serves, by file name: which of them a test expects refused, and why, is in EXPECTED."""
    return {
        "clouds.jpg": CLOUDS,  # the work's exact file: sha256
        "sunset-repost.jpg": encode(portfolio("sunset.png").resize((150, 112)), "JPEG", quality=70),  # PDQ
        "portrait-xmp.jpg": jpeg(portfolio("portrait.jpg"), xmp=NO_AI),  # embedded
        "stripes.jpg": jpeg(portfolio("stripes.webp")),  # its caption names the artist
        "shapes.jpg": jpeg(portfolio("shapes.png")),  # kept
        "clouds-small.jpg": jpeg(portfolio("clouds.jpg").resize((96, 72))),  # as downloaded, it was clouds.jpg
        "other.jpg": jpeg(picture(5)),  # kept
    }


CAPTIONS = {"stripes.jpg": f"stripes, a study by {NAME}", "shapes.jpg": "shapes in colour"}
EXPECTED = {"000000000": "work", "000000001": "work", "000000002": "embedded", "000000003": "name", "000000005": "work",
            "000000006": "url"}
KEPT = ["000000004", "000000007", "000000009"]  # the last is a failed download: no sample


def make_bundle(path: Path) -> LocalSource:
    """A site whose every path is opted out, and an artist listing clouds.jpg by SHA-256, sunset by PDQ, and a name."""
    site_key, person = make_key("shards-site"), make_key("shards-person")
    common = {"sequence": 1, "issued": "2026-11-01T00:00:00Z", "expires": "2027-11-01T00:00:00Z", "default": {"train-ai": "n"}}
    site = dumps({"notrain": 1, "publisher": SITE, **common})
    works = [{"sha256": hash_bytes(CLOUDS).sha256.hex()}, {"pdq": hash_bytes(SUNSET).pdq.hex()}]
    artist = dumps({"notrain": 1, "publisher": person.public.did_key, **common, "works": works, "names": [{"name": NAME}],
                    "pdq": {"hasher": HASHER, "threshold": 31}})
    entries = [{"envelope": dsse.sign(site, MANIFEST_TYPE, [site_key]).to_json(), "keyset": make_keyset(SITE, [site_key.public]).to_json()},
               {"envelope": dsse.sign(artist, MANIFEST_TYPE, [person]).to_json()}]
    path.write_bytes(bundle(entries))
    source = LocalSource(path)
    assert len(source.catalog()) == 2, source.rejected
    return source


def index_rows() -> list[dict]:
    """img2dataset's index rows for the samples above plus two failed downloads (key 6 at the opted-out site)."""
    images = sample_images()
    rows = []
    for n, name in enumerate(images):
        key = f"{n if n < 6 else n + 1:09d}"
        downloaded = CLOUDS if name == "clouds-small.jpg" else images[name]
        rows.append({"url": f"https://img.example/{name}", "caption": CAPTIONS.get(name, name.split(".")[0]), "key": key, "status": "success",
                     "error_message": None, "sha256": hash_bytes(downloaded).sha256.hex(), "image": images[name]})
    rows.insert(6, {"url": f"{SITE}/gallery/a.jpg", "caption": "a", "key": "000000006", "status": "failed_to_download",
                    "error_message": "timeout", "sha256": None, "image": None})
    rows.append({"url": "https://img.example/gone.jpg", "caption": "gone", "key": "000000009", "status": "failed_to_download",
                 "error_message": "404", "sha256": None, "image": None})
    return rows


def write_shard(directory: Path, name: str = "00000", rows: list[dict] | None = None) -> Path:
    """A tar, parquet index and stats JSON laid out as img2dataset's webdataset writer does."""
    rows = index_rows() if rows is None else rows
    directory.mkdir(parents=True, exist_ok=True)
    with tarfile.open(directory / f"{name}.tar", "w") as tar:
        for row in rows:
            if row["image"] is None:
                continue
            meta = {k: v for k, v in row.items() if k != "image"}
            for ext, data in (("jpg", row["image"]), ("json", json.dumps(meta, indent=4).encode()), ("txt", row["caption"].encode())):
                add(tar, f"{row['key']}.{ext}", data)
    index = [{k: v for k, v in row.items() if k != "image"} for row in rows]
    pq.write_table(pa.Table.from_pylist(index), directory / f"{name}.parquet")
    successes = sum(row["status"] == "success" for row in rows)
    failures: dict[str, int] = {}
    for row in rows:
        if row["error_message"]:
            failures[row["error_message"]] = failures.get(row["error_message"], 0) + 1
    stats = {"count": len(rows), "successes": successes, "failed_to_download": len(rows) - successes, "failed_to_resize": 0,
             "duration": 1.5, "status_dict": {"success": successes, **failures}}
    (directory / f"{name}_stats.json").write_text(json.dumps(stats, indent=4))
    return directory / f"{name}.tar"


def add(tar: tarfile.TarFile, name: str, data: bytes, **fields) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in fields.items():
        setattr(info, key, value)
    tar.addfile(info, io.BytesIO(data))


def members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}


@pytest.fixture
def source(tmp_path):
    return make_bundle(tmp_path / "bundle.json")


@pytest.mark.parametrize("workers", [1, 2])
def test_every_route_removes_its_sample_and_the_rest_stays_intact(tmp_path, source, workers):
    shard = write_shard(tmp_path / "data")
    before = members(shard)
    report = filter_shards.run(source, BatchFilter(source.catalog()), tmp_path / "data", options=filter_shards.ShardOptions(workers=workers))

    after = members(shard)
    assert sorted({name.split(".")[0] for name in after}) == KEPT[:2]
    assert list(after) == [name for name in before if name.split(".")[0] in KEPT]  # every member of a kept key, in order
    assert all(after[name] == before[name] for name in after)  # byte for byte

    rejected = pq.read_table(tmp_path / "data" / "notrain" / "00000.rejected.parquet").to_pylist()
    assert {row["key"]: row["notrain_reason"] for row in rejected} == EXPECTED
    assert {row["key"] for row in rejected if not row["in_shard"]} == {"000000006"}
    xmp = next(row for row in rejected if row["key"] == "000000002")
    assert json.loads(xmp["notrain_evidence"])[0]["evidence"]["mechanism"] == "xmp-plus-datamining"

    index = pq.read_table(tmp_path / "data" / "00000.parquet")
    assert index.column("key").to_pylist() == KEPT
    assert index.schema.names == list(index_rows()[0])[:-1]
    stats = json.loads((tmp_path / "data" / "00000_stats.json").read_text())
    assert (stats["count"], stats["successes"], stats["failed_to_download"], stats["notrain_removed"]) == (3, 2, 1, 6)
    assert stats["status_dict"] == {"success": 2, "404": 1} and stats["duration"] == 1.5

    assert (report["rows"], report["kept"], report["rejected"], report["samples_removed"]) == (9, 3, 6, 5)
    assert report["by_reason"] == {"embedded": 1, "name": 1, "url": 1, "work": 3}
    assert report["by_mechanism"] == {"notrain": 5, "xmp-plus-datamining": 1}
    assert json.loads((tmp_path / "data" / "notrain" / "notrain-report.json").read_text())["rejected"] == 6


def test_the_parquet_output_format_loses_the_same_rows(tmp_path, source):
    """img2dataset's parquet format: one file, one row per input row, the image in a binary column."""
    directory = tmp_path / "data"
    directory.mkdir()
    rows = [{"key": row["key"], "jpg": row["image"], "txt": row["caption"], **{k: v for k, v in row.items() if k not in ("key", "image")}}
            for row in index_rows()]
    pq.write_table(pa.Table.from_pylist(rows), directory / "00000.parquet")
    (directory / "00000_stats.json").write_text(json.dumps({"count": len(rows), "successes": 7, "failed_to_download": 2}))
    report = filter_shards.run(source, BatchFilter(source.catalog()), directory)
    kept = pq.read_table(directory / "00000.parquet").to_pylist()
    assert [row["key"] for row in kept] == KEPT and kept == [row for row in rows if row["key"] in KEPT]
    rejected = pq.read_table(directory / "notrain" / "00000.rejected.parquet").to_pylist()
    assert {row["key"]: row["notrain_reason"] for row in rejected} == EXPECTED
    assert report["samples_removed"] == 5 and json.loads((directory / "00000_stats.json").read_text())["count"] == 3


def write_files_shard(directory: Path, name: str = "00000") -> Path:
    """img2dataset's files format: the same samples as files in NAME/, with the same index and stats."""
    tar = write_shard(directory, name)
    (directory / name).mkdir()
    for member, data in members(tar).items():
        (directory / name / member).write_bytes(data)
    tar.unlink()
    return directory / name


def test_the_files_output_format_deletes_the_refused_samples_files(tmp_path, source):
    folder = write_files_shard(tmp_path / "data")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    report = filter_shards.run(source, BatchFilter(source.catalog()), tmp_path / "data")
    after = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert after == {name: data for name, data in before.items() if name.split(".")[0] in KEPT}
    assert pq.read_table(tmp_path / "data" / "00000.parquet").column("key").to_pylist() == KEPT
    assert (report["rejected"], report["samples_removed"]) == (6, 5)
    assert {row["key"]: row["notrain_reason"] for row in pq.read_table(tmp_path / "data" / "notrain" / "00000.rejected.parquet").to_pylist()} == EXPECTED


@pytest.mark.parametrize("case", ["symlink", "subdirectory"])
def test_a_files_shard_with_a_link_or_a_subdirectory_is_refused_and_nothing_deleted(tmp_path, source, case):
    folder = write_files_shard(tmp_path / "data")
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(CLOUDS)  # an opted-out work: a removal through the link would delete it
    if case == "symlink":
        (folder / "000000010.jpg").symlink_to(outside)
    else:
        (folder / "000000010").mkdir()
    before = sorted(p.name for p in folder.iterdir())
    with pytest.raises(FilterError) as error:
        filter_shards.run(source, BatchFilter(source.catalog()), tmp_path / "data")
    assert error.value.code == "E_FILTER_INPUT"
    assert sorted(p.name for p in folder.iterdir()) == before and outside.read_bytes() == CLOUDS


def test_a_parquet_shard_with_an_image_over_the_limit_is_refused(tmp_path, source):
    directory = tmp_path / "data"
    directory.mkdir()
    pq.write_table(pa.table({"key": ["000000000"], "jpg": [SUNSET], "url": ["https://img.example/a.jpg"]}), directory / "00000.parquet")
    before = (directory / "00000.parquet").read_bytes()
    options = filter_shards.ShardOptions(limits=ShardLimits(member_bytes=len(SUNSET) - 1))
    with pytest.raises(FilterError) as error:
        filter_shards.run(source, BatchFilter(source.catalog()), directory, options=options)
    assert error.value.code == "E_FILTER_INPUT" and (directory / "00000.parquet").read_bytes() == before
    assert not list(directory.rglob("*.notrain-partial"))


def test_it_agrees_row_for_row_with_notrain_filter_on_what_both_see(tmp_path, source):
    """``notrain filter`` on the index (URL, caption, SHA-256 as downloaded) refuses the same rows for the same
    reasons and evidence; filter-shards refuses, beyond them, only what the images alone show (PDQ, XMP)."""
    write_shard(tmp_path / "data")
    index = tmp_path / "index.parquet"
    index.write_bytes((tmp_path / "data" / "00000.parquet").read_bytes())
    before = CliRunner().invoke(main, ["filter", str(index), "--bundle", str(source.path), "--out", str(tmp_path / "kept.parquet"),
                                       "--caption-col", "caption", "--sha256-col", "sha256"])
    assert before.exit_code == 0, before.output
    by_filter = {row["key"]: (row["notrain_reason"], row["notrain_evidence"]) for row in pq.read_table(tmp_path / "kept.rejected.parquet").to_pylist()}
    filter_shards.run(source, BatchFilter(source.catalog()), tmp_path / "data")
    by_shards = {row["key"]: (row["notrain_reason"], row["notrain_evidence"])
                 for row in pq.read_table(tmp_path / "data" / "notrain" / "00000.rejected.parquet").to_pylist()}
    assert {key: by_shards[key] for key in by_filter} == by_filter
    assert sorted(set(by_shards) - set(by_filter)) == ["000000001", "000000002"]  # the PDQ repost and the XMP


def test_a_second_run_skips_done_shards_and_a_clean_shard_is_not_rewritten(tmp_path, source):
    write_shard(tmp_path / "data")
    rows = [row for row in index_rows() if row["key"] in KEPT]
    clean = write_shard(tmp_path / "data", "00001", rows)
    before = {p.name: p.read_bytes() for p in (tmp_path / "data").iterdir() if p.name.startswith("00001")}
    core = BatchFilter(source.catalog())
    first = filter_shards.run(source, core, tmp_path / "data")
    assert {p.name: p.read_bytes() for p in (tmp_path / "data").iterdir() if p.name.startswith("00001")} == before
    assert [f["samples_removed"] for f in first["files"]] == [5, 0]
    stamp = clean.with_suffix(".tar").stat().st_mtime_ns, (tmp_path / "data" / "00000.tar").stat().st_mtime_ns
    again = filter_shards.run(source, core, tmp_path / "data")
    assert again["shards_skipped"] == 2 and again["rejected"] == first["rejected"] == 6
    assert (clean.stat().st_mtime_ns, (tmp_path / "data" / "00000.tar").stat().st_mtime_ns) == stamp


def test_a_run_stopped_between_renames_is_finished_by_the_next(tmp_path, source, monkeypatch):
    shard = write_shard(tmp_path / "data")
    real_replace, calls = filter_shards.os.replace, []

    def stop_after_the_tar(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the process is stopped after its first rename
        real_replace(src, dst)

    monkeypatch.setattr(filter_shards.os, "replace", stop_after_the_tar)
    with pytest.raises(KeyboardInterrupt):
        filter_shards.run(source, BatchFilter(source.catalog()), tmp_path / "data")
    monkeypatch.setattr(filter_shards.os, "replace", real_replace)
    assert (tmp_path / "data" / "notrain" / "00000.commit").exists()
    report = filter_shards.run(source, BatchFilter(source.catalog()), tmp_path / "data")
    assert report["rejected"] == 6 and report["shards_skipped"] == 0
    assert sorted({n.split(".")[0] for n in members(shard)}) == KEPT[:2]
    assert pq.read_table(tmp_path / "data" / "00000.parquet").column("key").to_pylist() == KEPT
    assert not list((tmp_path / "data").rglob("*.notrain-partial"))


def test_a_second_run_on_the_same_directory_at_once_is_refused(tmp_path, source):
    write_shard(tmp_path / "data")
    (tmp_path / "data" / "notrain").mkdir()
    with open(tmp_path / "data" / "notrain" / ".lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # as a running filter-shards holds it
        with pytest.raises(FilterError) as error:
            filter_shards.run(source, BatchFilter(source.catalog()), tmp_path / "data")
    assert error.value.code == "E_FILTER_INPUT" and "another filter-shards run" in error.value.message
    assert filter_shards.run(source, BatchFilter(source.catalog()), tmp_path / "data")["rejected"] == 6  # released: it runs


def test_the_command(tmp_path, source):
    write_shard(tmp_path / "data")
    result = CliRunner().invoke(main, ["filter-shards", str(tmp_path / "data"), "--bundle", str(source.path), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["notrain-filter-report"] == 1 and report["samples_removed"] == 5 and report["source"]["kind"] == "local-bundle"
    plain = CliRunner().invoke(main, ["filter-shards", str(tmp_path / "data"), "--bundle", str(source.path)])
    assert plain.exit_code == 0 and "1 shard skipped" in plain.output, plain.output


# -- hostile tars -------------------------------------------------------------------------


def hostile(path: Path, build) -> Path:
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        add(tar, "000000000.jpg", SUNSET)
        build(tar)
    return path


CASES = {
    "traversal": lambda tar: add(tar, "../000000001.jpg", b"x"),
    "absolute": lambda tar: add(tar, "/tmp/000000001.jpg", b"x"),
    "backslash": lambda tar: add(tar, "..\\000000001.jpg", b"x"),
    "symlink": lambda tar: add(tar, "000000001.jpg", b"", type=tarfile.SYMTYPE, linkname="/etc/passwd"),
    "hardlink": lambda tar: add(tar, "000000001.jpg", b"", type=tarfile.LNKTYPE, linkname="000000000.jpg"),
    "fifo": lambda tar: add(tar, "000000001.jpg", b"", type=tarfile.FIFOTYPE),
    "split-key": lambda tar: (add(tar, "000000001.txt", b"a"), add(tar, "000000000.txt", b"b")),
    "many-parts": lambda tar: [add(tar, f"000000001.{n}.txt", b"") for n in range(65)],
    "long-name": lambda tar: add(tar, "a" * 1100 + ".jpg", b"x"),  # a pax header carries it
    "device": lambda tar: add(tar, "000000001.jpg", b"", type=tarfile.CHRTYPE),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_members_are_refused_and_the_shard_left_as_it_was(tmp_path, source, case):
    (tmp_path / "data").mkdir()
    shard = hostile(tmp_path / "data" / "00000.tar", CASES[case])
    before = shard.read_bytes()
    with pytest.raises(FilterError) as error:
        filter_shards.run(source, BatchFilter(source.catalog()), tmp_path / "data")
    assert error.value.code == "E_FILTER_INPUT"
    assert shard.read_bytes() == before and not list((tmp_path / "data").rglob("*.notrain-partial"))
    assert not list((tmp_path / "data" / "notrain").glob("00000.*"))


def declared(path: Path, size: int, *, pax_header: bool = False) -> Path:
    """A tar whose (only) member, or its pax header, declares ``size`` bytes that are not there."""
    with open(path, "wb") as file:
        info = tarfile.TarInfo("000000000.jpg")
        info.size = size
        if pax_header:
            info.type = tarfile.XHDTYPE
            info.name = "././@PaxHeader"
        file.write(info.tobuf(tarfile.USTAR_FORMAT) + b"\0" * 1024)
    return path


@pytest.mark.parametrize("pax_header", [False, True])
def test_a_huge_declared_size_is_refused_before_reading(tmp_path, pax_header):
    path = declared(tmp_path / "huge.tar", 2**33 - 1, pax_header=pax_header)  # the largest ustar size field
    with pytest.raises(FilterError) as error:
        list(read_samples(path, ShardLimits()))
    assert error.value.code == "E_FILTER_INPUT" and "bytes" in error.value.message


def test_a_truncated_member_is_refused(tmp_path):
    path = tmp_path / "cut.tar"
    with tarfile.open(path, "w") as tar:
        add(tar, "000000000.jpg", SUNSET)
    path.write_bytes(path.read_bytes()[: 512 + len(SUNSET) // 2])
    with pytest.raises(FilterError) as error:
        list(read_samples(path))
    assert error.value.code == "E_FILTER_INPUT"


def tiny_members(path: Path, samples: int) -> Path:
    """A tar of ``samples`` samples of two 1-byte members each, headers stamped from one template (fast to write)."""
    template = bytearray(tarfile.TarInfo("000000000.txt").tobuf(tarfile.GNU_FORMAT))
    with open(path, "wb") as file:
        for n in range(samples):
            for ext in (b"txt", b"cls"):
                header = bytearray(template)
                header[0:13] = b"%09d." % n + ext
                header[124:136] = b"%011o\0" % 1  # size
                header[148:156] = b" " * 8
                header[148:156] = b"%06o\0 " % sum(header)
                file.write(header + b"a" + bytes(511))
        file.write(bytes(1024))
    return path


def test_tiny_members_up_to_the_limit_are_decided_and_a_100k_member_tar_stops_at_it(tmp_path, source):
    """The member limit bounds the work on a tar of any count: the reader stops one member past it."""
    directory = tmp_path / "data"
    directory.mkdir()
    tiny_members(directory / "00000.tar", 5_000)
    options = filter_shards.ShardOptions(limits=ShardLimits(members=10_000), batch_size=1024)
    report = filter_shards.run(source, BatchFilter(source.catalog()), directory, options=options)
    assert (report["rows"], report["kept"]) == (5_000, 5_000)
    huge = tiny_members(tmp_path / "huge.tar", 50_000)
    with pytest.raises(FilterError) as error:
        list(read_samples(huge, ShardLimits(members=10_000)))
    assert "more than 10000 members" in error.value.message
