"""``notrain filter-shards``: img2dataset's downloaded shards, checked by the images themselves.

``notrain filter`` decides rows before download, from URLs, captions and any
hashes the dataset lists.  After a download the files are there, so what
only they tell can be checked too: each sample's image is hashed (SHA-256 and
PDQ, :mod:`notrain.imaging`) against the works of the source, its embedded XMP
``plus:DataMining`` and C2PA/CAWG training-mining assertions are read
(:mod:`notrain.signals`), and the SHA-256 img2dataset recorded of the file *as
downloaded* (its ``--compute_hash`` column, since a resized copy hashes
differently) is looked up as well.  The sample's URL (``KEY.json``) and caption
(``KEY.txt``) go through the same :class:`~notrain.filter.BatchFilter` as in
``notrain filter``, with the image's statements as its per-row extra, so one
decision procedure decides everything.

A refused sample is removed: every member of its key from the tar, its row
from the parquet index, and its status from the ``_stats.json`` counts; index
rows without a sample (failed downloads) are decided by their URL, caption and
hash and dropped the same way.  In img2dataset's parquet output format a row
is a sample (its image in a binary column) and a refused row leaves the file;
in its files format a key's files in the shard's directory are a sample, and
a refused sample's files are deleted.
A shard's new files are written under
temporary names, then a commit marker listing them is written, then they are
renamed over the originals and the marker becomes the shard's ``.done``
marker: a run that stops anywhere either redoes the shard from its (untouched)
files or finishes the renames the marker lists, and a done shard is skipped.
A shard where nothing is refused is left byte for byte as it was.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import multiprocessing
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..core.catalog import ContentHash
from ..core.decision import Statement
from ..fetch.sources import ManifestSource
from ..imaging import ImageError, hash_bytes
from ..signals.c2pa import c2pa_statements
from ..signals.xmp import xmp_statements
from .batch import EVIDENCE, KEEP, REASON, BatchFilter, Columns, FilterError
from .run import NoProgress, count_rows, new_counts, report_of, write_report
from .sampledir import read_directory
from .tars import Sample, ShardLimits, TarWriter, read_samples

PARTIAL = ".notrain-partial"
MAX_STATS_BYTES = 2**20
MAX_META_BYTES = 2**20  # a sample's .json metadata; larger is read as none
MAX_INDEX_BYTES = 256 * 2**20  # img2dataset's index of 10,000 rows is about 1 MiB
REJECTED_SCHEMA = pa.schema([("key", pa.string()), ("url", pa.string()), ("caption", pa.string()), ("sha256", pa.string()),
                             ("pdq", pa.string()), ("in_shard", pa.bool_()), (REASON, pa.string()), (EVIDENCE, pa.string())])
_SAMPLE_COLUMNS = Columns(url="url", caption="caption", sha256="sha256", pdq="pdq")


@dataclass
class ShardOptions:
    sha256_col: str = "sha256"  # img2dataset's --compute_hash column: the file's SHA-256 as downloaded
    batch_size: int = 64  # samples decided together
    workers: int = 1  # processes hashing and reading images (decoding and PDQ are most of a sample's cost)
    limits: ShardLimits = field(default_factory=ShardLimits)


IMAGE_COLUMNS = ("jpg", "png", "webp")  # img2dataset's --encode_format: the image column of its parquet format


@dataclass(frozen=True)
class Shard:
    """One img2dataset shard: its data (``NAME.tar`` in the webdataset format, the directory ``NAME/`` in the
    files format; ``NAME.parquet``, images inside, in the parquet format), its index ``NAME.parquet`` (the
    data itself in the parquet format) and its ``NAME_stats.json``; index and stats only when they exist."""

    data: Path

    @property
    def name(self) -> str:
        return self.data.stem

    @property
    def index(self) -> Path:
        return self.data.with_suffix(".parquet")

    @property
    def stats(self) -> Path:
        return self.data.with_name(f"{self.name}_stats.json")


def shards_in(directory: Path) -> list[Shard]:
    """Every ``NAME.tar``; every directory ``NAME/`` with a ``NAME.parquet`` beside it (the files format);
    every other ``.parquet`` with an image column (the parquet format)."""
    paths = sorted(directory.iterdir()) if directory.is_dir() else []
    taken = {p.stem for p in paths if p.suffix == ".tar" and p.is_file()} | {p.name for p in paths if p.is_dir()}
    shards = [Shard(p) for p in paths
              if (p.is_file() and p.suffix == ".tar") or (p.is_dir() and not p.is_symlink() and p.with_suffix(".parquet").is_file())
              or (p.is_file() and p.suffix == ".parquet" and p.stem not in taken and _image_column(p))]
    if not shards:
        raise FilterError(f"no img2dataset shard (tar, files or parquet format) in {directory}", code="E_FILTER_INPUT", where=str(directory))
    return shards


def run(source: ManifestSource, core: BatchFilter, directory: Path, *, work: Path | None = None, options: ShardOptions | None = None,
        progress_factory=None) -> dict:
    """Check every shard of ``directory``; rejected samples, markers and the report go to ``work``
    (default ``DIRECTORY/notrain``, which no ``*.tar``/``*.parquet`` glob of the dataset sees)."""
    options = options or ShardOptions()
    shards = shards_in(directory)
    work = work or directory / "notrain"
    work.mkdir(parents=True, exist_ok=True)
    files, skipped = [], 0
    with _only_run(work), (progress_factory(sum(s.data.stat().st_size for s in shards)) if progress_factory else NoProgress()) as progress, \
            _images_reader(options.workers) as read_images:
        for shard in shards:
            done = work / f"{shard.name}.done"
            if done.exists():
                skipped += 1
                counts = json.loads(done.read_text())["counts"]
            else:
                counts = _filter_shard(_Decider(core, read_images, options.sha256_col), shard, work, options)
            progress.update(shard.data.stat().st_size)
            files.append({"input": str(shard.data), "rejected": str(work / f"{shard.name}.rejected.parquet"), **counts})
    doc = report_of(source, core, files, skipped)
    doc["samples_removed"] = sum(f["samples_removed"] for f in files)
    return write_report(work / "notrain-report.json", doc)


def _filter_shard(decider: _Decider, shard: Shard, work: Path, options: ShardOptions) -> dict:
    """Decide one shard and replace its files (see the module docstring for the order of writes)."""
    commit = work / f"{shard.name}.commit"
    if not commit.exists():
        _write_partials(decider, shard, work, options, commit)
    doc = json.loads(commit.read_text())
    for name in doc["renames"]:
        final = Path(name)
        partial = final.with_name(final.name + PARTIAL)
        if partial.exists():
            os.replace(partial, final)
    for name in doc["deletes"]:
        Path(name).unlink(missing_ok=True)
    os.replace(commit, work / f"{shard.name}.done")
    return doc["counts"]


def _write_partials(decider: _Decider, shard: Shard, work: Path, options: ShardOptions, commit: Path) -> None:
    """The shard's new files and its rejected list under temporary names, then the commit marker naming them."""
    rejected_path = work / f"{shard.name}.rejected.parquet"
    partials = {path: path.with_name(path.name + PARTIAL) for path in (shard.data, shard.index, shard.stats, rejected_path)}
    decider.rejected = pq.ParquetWriter(partials[rejected_path], REJECTED_SCHEMA)
    try:
        rewrite = _rewrite_parquet_shard if shard.data.suffix == ".parquet" else _rewrite_samples
        renames, deletes, removed = rewrite(decider, shard, partials, options)
        decider.rejected.close()
    except BaseException:
        decider.rejected.close()
        for partial in partials.values():
            partial.unlink(missing_ok=True)
        raise
    for final, partial in partials.items():
        if final not in renames and final != rejected_path:
            partial.unlink(missing_ok=True)
    counts = {k: dict(v) if isinstance(v, Counter) else v for k, v in decider.counts.items()}
    counts["samples_removed"] = removed
    doc = {"counts": counts, "renames": [str(p.resolve()) for p in [*renames, rejected_path]], "deletes": [str(p.resolve()) for p in deletes]}
    temporary = commit.with_name(commit.name + PARTIAL)
    temporary.write_text(json.dumps(doc))
    os.replace(temporary, commit)


def _rewrite_samples(decider: _Decider, shard: Shard, partials: dict[Path, Path], options: ShardOptions) -> tuple[list[Path], list[Path], int]:
    """The webdataset format (kept samples into a new tar) and the files format (refused samples' files
    to delete), then the index rows without a sample decided; what to rename and delete, and how many
    samples were removed."""
    index = _read_index(shard.index) if shard.index.exists() else None
    indexed = _index_by_key(index, options.sha256_col)
    refused: set[str] = set()
    seen: set[str] = set()
    deletes: list[Path] = []
    tar = shard.data.suffix == ".tar"
    writer = TarWriter(partials[shard.data]) if tar else None
    try:
        samples = read_samples(shard.data, options.limits) if tar else read_directory(shard.data, options.limits)
        for chunk in _chunks(samples, options.batch_size):
            for sample, keep in zip(chunk, decider.samples(chunk, indexed)):
                seen.add(sample.key)
                if keep and writer is not None:
                    writer.write(sample)
                elif not keep:
                    refused.add(sample.key)
                    deletes += [shard.data / name for name, _ in sample.members] if writer is None else []
    finally:
        if writer is not None:
            writer.close()
    removed = len(refused)
    renames = [shard.data] if removed and tar else []
    if index is not None:
        refused |= decider.index_rows(index, seen)
    if not refused or index is None:
        return renames, deletes, removed
    dropped = pc.fill_null(pc.is_in(index.column("key"), value_set=pa.array(sorted(refused), index.column("key").type)), False)
    pq.write_table(index.filter(pc.invert(dropped)), partials[shard.index])
    return [shard.index, *_stats_partial(shard, index.filter(dropped), partials), *renames], deletes, removed


def _rewrite_parquet_shard(decider: _Decider, shard: Shard, partials: dict[Path, Path], options: ShardOptions) -> tuple[list[Path], list[Path], int]:
    """The parquet format: each row is a sample (its image in a binary column, null for a failed download);
    kept rows into a new file, in record batches so that memory holds one batch of images."""
    image = _image_column(shard.data)
    try:
        file = pq.ParquetFile(shard.data)
        writer = pq.ParquetWriter(partials[shard.data], file.schema_arrow)
        gone: list[pa.RecordBatch] = []
        removed = 0
        try:
            for batch in file.iter_batches(batch_size=options.batch_size):
                table = pa.Table.from_batches([batch])
                samples = _parquet_samples(table, image, options.limits, shard.data)
                keep = pa.array(decider.samples(samples, _index_by_key(table, options.sha256_col)), pa.bool_())
                writer.write_batch(batch.filter(keep))
                refused = batch.filter(pc.invert(keep))
                removed += sum(sample.images() != [] for sample, kept in zip(samples, keep.to_pylist()) if not kept)
                gone.append(refused.select([c for c in ("status", "error_message") if c in batch.schema.names]))
        finally:
            writer.close()
    except (OSError, pa.ArrowException) as error:
        raise FilterError(f"cannot read {shard.data.name}: {error}", code="E_FILTER_INPUT", where=str(shard.data)) from None
    dropped = pa.Table.from_batches(gone) if gone else pa.table({})
    if not dropped.num_rows:
        return [], [], 0
    return [shard.data, *_stats_partial(shard, dropped, partials)], [], removed


def _parquet_samples(table: pa.Table, image: str, limits: ShardLimits, where: Path) -> list[Sample]:
    if table.num_rows and (pc.max(pc.binary_length(table.column(image))).as_py() or 0) > limits.member_bytes:
        raise FilterError(f"an image in {where.name} is over {limits.member_bytes} bytes", code="E_FILTER_INPUT", where=str(where))
    keys, images = _text_column(table, "key").to_pylist(), table.column(image).to_pylist()
    return [Sample(key or "", [(f"{key}.{image}", data)] if data is not None else []) for key, data in zip(keys, images)]


class _Decider:
    """The batch core over samples and index rows, recording each refusal in the shard's rejected list and counts."""

    def __init__(self, core: BatchFilter, read_images, sha256_col: str) -> None:
        self.core, self.read_images, self.sha256_col = core, read_images, sha256_col
        self.counts = new_counts()
        self.rejected: pq.ParquetWriter | None = None

    def samples(self, samples: list[Sample], indexed: dict[str, dict]) -> list[bool]:
        rows, extra = _sample_rows(self.core, samples, indexed, self.read_images)
        decided = self.core.apply(rows, _SAMPLE_COLUMNS, extra)
        self._record(rows, decided, [bool(sample.members) for sample in samples])
        return decided.column(KEEP).to_pylist()

    def index_rows(self, index: pa.Table, seen: set[str]) -> set[str]:
        """Decide the index rows whose key the tar did not hold (failed downloads): URL, caption, hash."""
        keys = index.column("key")
        rows = index.filter(pc.invert(pc.fill_null(pc.is_in(keys, value_set=pa.array(sorted(seen), keys.type)), False)))
        if not rows.num_rows:
            return set()
        batch = pa.RecordBatch.from_pydict({"key": _text_column(rows, "key"), "url": _text_column(rows, "url"),
                                            "caption": _text_column(rows, "caption"), "sha256": _text_column(rows, self.sha256_col)})
        decided = self.core.apply(batch, Columns(url="url", caption="caption", sha256="sha256"))
        self._record(batch, decided, [False] * batch.num_rows)
        return set(batch.column("key").filter(pc.invert(decided.column(KEEP))).to_pylist())

    def _record(self, rows: pa.RecordBatch, decided: pa.RecordBatch, in_shard: list[bool]) -> None:
        keep = decided.column(KEEP)
        refused = pa.RecordBatch.from_arrays(
            [rows.column(name) if name in rows.schema.names else pa.nulls(len(rows), pa.string()) for name in REJECTED_SCHEMA.names[:5]]
            + [pa.array(in_shard, pa.bool_()), decided.column(REASON), decided.column(EVIDENCE)],
            schema=REJECTED_SCHEMA,
        ).filter(pc.invert(keep))
        self.rejected.write_batch(refused)  # type: ignore[union-attr]
        count_rows(self.counts, len(rows), len(rows) - refused.num_rows, refused)


# -- one batch of samples ------------------------------------------------------------


def _sample_rows(core: BatchFilter, samples: list[Sample], indexed: dict[str, dict], read_images) -> tuple[pa.RecordBatch, list[list]]:
    """The batch core's rows for ``samples`` (url, caption, the first image's hashes) and, per row,
    the statements only the files give: other images' works, the as-downloaded SHA-256's, embedded ones."""
    columns: dict[str, list] = {"key": [], "url": [], "caption": [], "sha256": [], "pdq": []}
    extra: list[list[tuple[str, Statement]]] = []
    texts, images = [], []
    for sample in samples:
        meta = _json_object(sample.part("json"), MAX_META_BYTES) or {}  # unreadable: the index row may still give the URL
        row = indexed.get(sample.key, {})
        url = _string(meta.get("url")) or row.get("url")
        caption = _utf8(sample.part("txt")) if sample.part("txt") is not None else _string(meta.get("caption")) or row.get("caption")
        texts.append((url, caption, row.get("sha256")))
        images += [(mime, data, url or sample.key) for mime, data in sample.images()]
    facts = iter(read_images(images))
    for sample, (url, caption, downloaded) in zip(samples, texts):
        found: list[tuple[str, Statement]] = []
        hashes = []
        for _ in sample.images():
            content, embedded = next(facts)
            hashes.append(content)
            found += [("embedded", s) for s in embedded]
        for content in hashes[1:]:
            found += [("work", s) for s in core.catalog.content_statements(content)]
        first = hashes[0] if hashes else ContentHash()
        if downloaded is not None and downloaded != first.sha256:
            found += [("work", s) for s in core.catalog.content_statements(ContentHash(sha256=downloaded))]
        columns["key"].append(sample.key)
        columns["url"].append(url)
        columns["caption"].append(caption)
        columns["sha256"].append(first.sha256.hex() if first.sha256 else None)
        columns["pdq"].append(first.pdq.hex() if first.pdq else None)
        extra.append(found)
    return pa.RecordBatch.from_pydict(columns, schema=pa.schema([(name, pa.string()) for name in columns])), extra


@contextmanager
def _only_run(work: Path) -> Iterator[None]:
    """An exclusive lock on the work directory for the run: two runs rewriting the same shards would
    each rename their own partial files over the other's."""
    with open(work / ".lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FilterError(f"another filter-shards run holds {work}", code="E_FILTER_INPUT", where=str(work)) from None
        yield


@contextmanager
def _images_reader(workers: int) -> Iterator:
    """``read(images)``: :func:`_image_facts` of each (MIME type, bytes, source), in order; in ``workers``
    processes when more than one (spawned: a forked copy of a threaded parent can deadlock)."""
    if workers <= 1:
        yield lambda images: list(map(_image_facts, images))
        return
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield lambda images: list(pool.map(_image_facts, images, chunksize=max(1, len(images) // (4 * workers))))


def _image_facts(image: tuple[str, bytes, str]) -> tuple[ContentHash, list[Statement]]:
    mime, data, source = image
    return _content_hash(data), _embedded(data, mime, source)


def _content_hash(data: bytes) -> ContentHash:
    """SHA-256 and, when the image decodes to a distinctive PDQ hash, PDQ (the batch core matches
    a PDQ column at full quality, so a flat image's hash is left out rather than matched)."""
    try:
        found = hash_bytes(data)
    except ImageError:
        return ContentHash(sha256=hashlib.sha256(data).digest())
    return ContentHash(found.sha256, found.pdq if found.reliable else None, found.quality)


def _embedded(data: bytes, mime: str, source: str) -> list[Statement]:
    """What the image says of itself: XMP plus:DataMining and C2PA/CAWG training-mining (never over the
    readers' size limits: a tar member is no larger)."""
    return [*xmp_statements(data, source), *c2pa_statements(data, mime, source)]


# -- the parquet index and the stats ----------------------------------------------------


def _index_by_key(index: pa.Table | None, sha256_col: str) -> dict[str, dict]:
    """url, caption and the as-downloaded SHA-256 (32 bytes, or None) of each keyed index row."""
    if index is None:
        return {}
    if "key" not in index.schema.names:
        raise FilterError("the shard's index has no 'key' column", code="E_FILTER_COLUMN", where="key")
    picked = {name: _text_column(index, name) for name in ("key", "url", "caption", sha256_col)}
    found = {}
    for key, url, caption, digest in zip(*(column.to_pylist() for column in picked.values())):
        if key is not None:
            found[key] = {"url": url, "caption": caption, "sha256": _sha256(digest)}
    return found


def _read_index(path: Path) -> pa.Table:
    try:
        if path.stat().st_size > MAX_INDEX_BYTES:
            raise FilterError(f"the index {path.name} is over {MAX_INDEX_BYTES} bytes", code="E_FILTER_INPUT", where=str(path))
        return pq.read_table(path)
    except (OSError, pa.ArrowException) as error:
        raise FilterError(f"cannot read the index {path.name}: {error}", code="E_FILTER_INPUT", where=str(path)) from None


def _image_column(path: Path) -> str | None:
    """The binary image column of a parquet-format shard, if ``path`` is one."""
    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException):
        return None
    return next((name for name in IMAGE_COLUMNS if name in schema.names and pa.types.is_binary(schema.field(name).type)), None)


def _stats_partial(shard: Shard, dropped: pa.Table, partials: dict[Path, Path]) -> list[Path]:
    """The shard's stats without the dropped index rows (a partial file), if it has stats; what to rename."""
    if not shard.stats.exists():
        return []
    statuses, errors = (_text_column(dropped, name).to_pylist() for name in ("status", "error_message"))
    partials[shard.stats].write_text(json.dumps(_stats_without(_read_stats(shard.stats), zip(statuses, errors)), indent=4))
    return [shard.stats]


def _stats_without(stats: dict, dropped: Iterable[tuple[str | None, str | None]]) -> dict:
    """img2dataset's shard stats less the dropped rows: ``count`` and the count of each row's status
    (``successes``, ``failed_to_download``, ``failed_to_resize``) and ``status_dict`` entry (its error
    message, or ``success``) go down; ``notrain_removed`` says how many rows went."""
    status_dict = stats.get("status_dict") if isinstance(stats.get("status_dict"), dict) else {}
    removed = 0
    for status, error in dropped:
        removed += 1
        field_name = "successes" if status == "success" else status
        for name in ("count", field_name):
            if isinstance(stats.get(name), int) and stats[name] > 0:
                stats[name] -= 1
        entry = "success" if status == "success" else error
        if isinstance(status_dict.get(entry), int):
            status_dict[entry] -= 1
            if status_dict[entry] <= 0:
                del status_dict[entry]
    stats["notrain_removed"] = stats.get("notrain_removed", 0) + removed if isinstance(stats.get("notrain_removed", 0), int) else removed
    return stats


def _read_stats(path: Path) -> dict:
    with open(path, "rb") as file:
        data = file.read(MAX_STATS_BYTES + 1)
    stats = _json_object(data, MAX_STATS_BYTES)
    if stats is None:
        raise FilterError(f"{path.name} is not img2dataset's stats (a JSON object under {MAX_STATS_BYTES} bytes)", code="E_FILTER_INPUT",
                          where=str(path))
    return stats


# -- small readers ---------------------------------------------------------------------


def _chunks(samples: Iterator[Sample], size: int) -> Iterator[list[Sample]]:
    chunk: list[Sample] = []
    for sample in samples:
        chunk.append(sample)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _text_column(table: pa.Table, name: str) -> pa.Array:
    """A column as one string array (nulls when absent, or of a type that cannot be cast to text)."""
    if name not in table.schema.names:
        return pa.nulls(table.num_rows, pa.string())
    column = table.column(name).combine_chunks()
    if pa.types.is_string(column.type):
        return column
    try:
        return column.cast(pa.string())
    except pa.ArrowException:
        return pa.nulls(len(column), pa.string())


def _json_object(data: bytes | None, limit: int) -> dict | None:
    """A JSON object of at most ``limit`` bytes, else None.  Not strict I-JSON: img2dataset's files
    carry the input's columns, floats included."""
    try:
        value = json.loads(data) if data is not None and len(data) <= limit else None
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _utf8(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _string(value) -> str | None:
    return value if isinstance(value, str) else None


def _sha256(value: str | None) -> bytes | None:
    try:
        return bytes.fromhex(value) if isinstance(value, str) and len(value) == 64 else None
    except ValueError:
        return None
