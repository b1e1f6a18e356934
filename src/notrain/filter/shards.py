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
hash and dropped the same way.  A shard's new files are written under
temporary names, then a commit marker listing them is written, then they are
renamed over the originals and the marker becomes the shard's ``.done``
marker: a run that stops anywhere either redoes the shard from its (untouched)
files or finishes the renames the marker lists, and a done shard is skipped.
A shard where nothing is refused is left byte for byte as it was.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterable, Iterator
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
from .tars import Sample, TarLimits, TarWriter, read_samples

PARTIAL = ".notrain-partial"
MAX_STATS_BYTES = 2**20
MAX_META_BYTES = 2**20  # a sample's .json metadata; larger is read as none
MAX_INDEX_BYTES = 256 * 2**20  # img2dataset's index of 10,000 rows is about 1 MiB
REJECTED_SCHEMA = pa.schema([("key", pa.string()), ("url", pa.string()), ("caption", pa.string()), ("sha256", pa.string()),
                             ("pdq", pa.string()), ("in_tar", pa.bool_()), (REASON, pa.string()), (EVIDENCE, pa.string())])
_SAMPLE_COLUMNS = Columns(url="url", caption="caption", sha256="sha256", pdq="pdq")


@dataclass
class ShardOptions:
    sha256_col: str = "sha256"  # img2dataset's --compute_hash column: the file's SHA-256 as downloaded
    batch_size: int = 64  # samples decided together
    limits: TarLimits = field(default_factory=TarLimits)


@dataclass(frozen=True)
class Shard:
    """One img2dataset shard: ``NAME.tar``, with ``NAME.parquet`` and ``NAME_stats.json`` when they exist."""

    tar: Path

    @property
    def name(self) -> str:
        return self.tar.stem

    @property
    def index(self) -> Path:
        return self.tar.with_suffix(".parquet")

    @property
    def stats(self) -> Path:
        return self.tar.with_name(f"{self.name}_stats.json")


def shards_in(directory: Path) -> list[Shard]:
    shards = [Shard(p) for p in sorted(directory.iterdir()) if p.is_file() and p.suffix == ".tar"] if directory.is_dir() else []
    if not shards:
        raise FilterError(f"no .tar shard in {directory}", code="E_FILTER_INPUT", where=str(directory))
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
    with (progress_factory(sum(s.tar.stat().st_size for s in shards)) if progress_factory else NoProgress()) as progress:
        for shard in shards:
            done = work / f"{shard.name}.done"
            if done.exists():
                skipped += 1
                counts = json.loads(done.read_text())["counts"]
            else:
                counts = _filter_shard(core, shard, work, options)
            progress.update(shard.tar.stat().st_size)
            files.append({"input": str(shard.tar), "rejected": str(work / f"{shard.name}.rejected.parquet"), **counts})
    doc = report_of(source, core, files, skipped)
    doc["samples_removed"] = sum(f["samples_removed"] for f in files)
    return write_report(work / "notrain-report.json", doc)


def _filter_shard(core: BatchFilter, shard: Shard, work: Path, options: ShardOptions) -> dict:
    """Decide one shard and replace its files (see the module docstring for the order of writes)."""
    commit = work / f"{shard.name}.commit"
    if not commit.exists():
        _write_partials(core, shard, work, options, commit)
    doc = json.loads(commit.read_text())
    for name in doc["renames"]:
        final = Path(name)
        partial = final.with_name(final.name + PARTIAL)
        if partial.exists():
            os.replace(partial, final)
    os.replace(commit, work / f"{shard.name}.done")
    return doc["counts"]


def _write_partials(core: BatchFilter, shard: Shard, work: Path, options: ShardOptions, commit: Path) -> None:
    rejected_path = work / f"{shard.name}.rejected.parquet"
    partials = [p.with_name(p.name + PARTIAL) for p in (shard.tar, shard.index, shard.stats, rejected_path)]
    try:
        if shard.index.exists() and shard.index.stat().st_size > MAX_INDEX_BYTES:
            raise FilterError(f"the index {shard.index.name} is over {MAX_INDEX_BYTES} bytes", code="E_FILTER_INPUT", where=str(shard.index))
        index = pq.read_table(shard.index) if shard.index.exists() else None
    except (OSError, pa.ArrowException) as error:
        raise FilterError(f"cannot read the index {shard.index.name}: {error}", code="E_FILTER_INPUT", where=str(shard.index)) from None
    indexed = _index_by_key(index, options.sha256_col)
    counts = new_counts()
    refused_keys: set[str] = set()
    rejected = pq.ParquetWriter(partials[3], REJECTED_SCHEMA)
    writer = TarWriter(partials[0])
    try:
        seen: set[str] = set()
        for samples in _chunks(read_samples(shard.tar, options.limits), options.batch_size):
            rows, extra = _sample_rows(core, samples, indexed)
            decided = core.apply(rows, _SAMPLE_COLUMNS, extra)
            for sample, keep in zip(samples, decided.column(KEEP).to_pylist()):
                seen.add(sample.key)
                if keep:
                    writer.write(sample)
                else:
                    refused_keys.add(sample.key)
            _record(counts, rejected, rows, decided, in_tar=True)
        writer.close()
        removed = len(refused_keys)
        if index is not None:
            refused_keys |= _decide_index_only(core, index, seen, options.sha256_col, counts, rejected)
        rejected.close()
        renames = [rejected_path]
        if refused_keys:
            renames += _rewrite_index(index, refused_keys, shard, partials[1:3])
            if removed:
                renames.append(shard.tar)
    except BaseException:
        writer.close()
        rejected.close()
        for partial in partials:
            partial.unlink(missing_ok=True)
        raise
    for partial, final in zip(partials, (shard.tar, shard.index, shard.stats)):
        if final not in renames:
            partial.unlink(missing_ok=True)
    counts = {k: dict(v) if isinstance(v, Counter) else v for k, v in counts.items()}
    counts["samples_removed"] = removed
    doc = {"counts": counts, "renames": [str(p.resolve()) for p in renames]}
    temporary = commit.with_name(commit.name + PARTIAL)
    temporary.write_text(json.dumps(doc))
    os.replace(temporary, commit)


# -- one batch of samples ------------------------------------------------------------


def _sample_rows(core: BatchFilter, samples: list[Sample], indexed: dict[str, dict]) -> tuple[pa.RecordBatch, list[list]]:
    """The batch core's rows for ``samples`` (url, caption, the first image's hashes) and, per row,
    the statements only the files give: other images' works, the as-downloaded SHA-256's, embedded ones."""
    columns: dict[str, list] = {"key": [], "url": [], "caption": [], "sha256": [], "pdq": []}
    extra: list[list[tuple[str, Statement]]] = []
    for sample in samples:
        meta = _json_object(sample.part("json"), MAX_META_BYTES) or {}  # unreadable: the index row may still give the URL
        row = indexed.get(sample.key, {})
        url = _string(meta.get("url")) or row.get("url")
        caption = _utf8(sample.part("txt")) if sample.part("txt") is not None else _string(meta.get("caption")) or row.get("caption")
        found: list[tuple[str, Statement]] = []
        hashes = []
        for mime, data in sample.images():
            content = _content_hash(data)
            hashes.append(content)
            found += [("embedded", s) for s in _embedded(data, mime, url or sample.key)]
        for content in hashes[1:]:
            found += [("work", s) for s in core.catalog.content_statements(content)]
        first = hashes[0] if hashes else ContentHash()
        downloaded = row.get("sha256")
        if downloaded is not None and downloaded != first.sha256:
            found += [("work", s) for s in core.catalog.content_statements(ContentHash(sha256=downloaded))]
        columns["key"].append(sample.key)
        columns["url"].append(url)
        columns["caption"].append(caption)
        columns["sha256"].append(first.sha256.hex() if first.sha256 else None)
        columns["pdq"].append(first.pdq.hex() if first.pdq else None)
        extra.append(found)
    return pa.RecordBatch.from_pydict(columns, schema=pa.schema([(name, pa.string()) for name in columns])), extra


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


def _record(counts: dict, rejected: pq.ParquetWriter, rows: pa.RecordBatch, decided: pa.RecordBatch, *, in_tar: bool) -> None:
    keep = decided.column(KEEP)
    refused = pa.RecordBatch.from_arrays(
        [rows.column(name) if name in rows.schema.names else pa.nulls(len(rows), pa.string()) for name in REJECTED_SCHEMA.names[:5]]
        + [pa.array([in_tar] * len(rows), pa.bool_()), decided.column(REASON), decided.column(EVIDENCE)],
        schema=REJECTED_SCHEMA,
    ).filter(pc.invert(keep))
    rejected.write_batch(refused)
    count_rows(counts, len(rows), len(rows) - refused.num_rows, refused)


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


def _decide_index_only(core: BatchFilter, index: pa.Table, seen: set[str], sha256_col: str, counts: dict, rejected) -> set[str]:
    """Decide the index rows whose key the tar did not hold (failed downloads): URL, caption, hash."""
    keys = index.column("key")
    alone = pc.invert(pc.fill_null(pc.is_in(keys, value_set=pa.array(sorted(seen), keys.type)), False))
    rows = index.filter(alone)
    if not rows.num_rows:
        return set()
    batch = pa.RecordBatch.from_pydict({"key": _text_column(rows, "key"), "url": _text_column(rows, "url"),
                                        "caption": _text_column(rows, "caption"), "sha256": _text_column(rows, sha256_col)})
    decided = core.apply(batch, Columns(url="url", caption="caption", sha256="sha256"))
    _record(counts, rejected, batch, decided, in_tar=False)
    return set(batch.column("key").filter(pc.invert(decided.column(KEEP))).to_pylist())


def _rewrite_index(index: pa.Table | None, refused: set[str], shard: Shard, partials: list[Path]) -> list[Path]:
    """The index without the refused keys' rows, and its stats without their counts (partial files); what to rename."""
    if index is None:
        return []
    dropped = pc.fill_null(pc.is_in(index.column("key"), value_set=pa.array(sorted(refused), index.column("key").type)), False)
    pq.write_table(index.filter(pc.invert(dropped)), partials[0])
    if not shard.stats.exists():
        return [shard.index]
    gone = index.filter(dropped)
    statuses = gone.column("status").to_pylist() if "status" in gone.schema.names else [None] * gone.num_rows
    errors = gone.column("error_message").to_pylist() if "error_message" in gone.schema.names else [None] * gone.num_rows
    partials[1].write_text(json.dumps(_stats_without(_read_stats(shard.stats), zip(statuses, errors)), indent=4))
    return [shard.index, shard.stats]


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
