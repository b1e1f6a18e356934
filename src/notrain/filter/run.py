"""``notrain filter``: a dataset file, or a directory of shards, through the batch core.

For each input file it writes the kept rows (same format, same columns; with
``--names strip`` the caption without the names), the refused rows with
``notrain_reason`` and ``notrain_evidence`` columns, and counts.  A directory of
shards is resumable: each shard's outputs are written under temporary names,
renamed when complete, and a ``.done`` marker holding the shard's counts is
written last; a shard whose output and marker exist is skipped on the next run,
and its counts still go into the report.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from ..core import ijson
from ..core.errors import NotrainError
from ..fetch.sources import ManifestSource
from .batch import CAPTION, EVIDENCE, KEEP, REASON, BatchFilter, Columns, FilterError
from .files import FORMATS, Reader, Writer, format_of

REPORT_VERSION = 1
DONE = ".done"


@dataclass
class Options:
    columns: Columns
    batch_size: int = 65536
    force: bool = False


def shards_of(input_path: Path) -> list[Path]:
    """The files to filter: the input file itself, or every dataset file directly in the input directory."""
    if input_path.is_dir():
        shards = sorted(p for p in input_path.iterdir() if p.is_file() and p.suffix.lower() in FORMATS)
        if not shards:
            raise FilterError(f"no parquet, CSV or JSONL file in {input_path}", code="E_FILTER_INPUT", where=str(input_path))
        return shards
    format_of(input_path)
    return [input_path]


def rejected_name(out: Path) -> Path:
    return out.with_name(f"{out.stem}.rejected{out.suffix}")


def filter_file(core: BatchFilter, shard: Path, out: Path, rejected: Path, options: Options, progress=None) -> dict:
    """Filter one file into ``out`` and ``rejected`` (written whole or not at all); its counts."""
    columns = options.columns
    text = [c for c in (columns.url, columns.caption) if c] + [c for c in (columns.sha256, columns.pdq) if c and format_of(shard) != "parquet"]
    reader = Reader(shard, text, options.batch_size)
    partial_out, partial_rejected = out.with_name(out.name + ".partial"), rejected.with_name(rejected.name + ".partial")
    kept_writer, rejected_writer = Writer(partial_out, reader.kind), Writer(partial_rejected, reader.kind)
    counts = new_counts()
    schema, seen = None, 0
    try:
        for batch, position in reader.batches():
            schema = batch.schema
            decided = core.apply(batch, columns)
            keep = decided.column(KEEP)
            kept = batch.filter(keep)
            if CAPTION in decided.schema.names:
                stripped = decided.column(CAPTION).filter(keep)
                if stripped.null_count < len(stripped):
                    index = kept.schema.get_field_index(columns.caption)
                    kept = kept.set_column(index, columns.caption, pc.coalesce(stripped, kept.column(index)).cast(kept.schema.field(index).type))
                    counts["stripped"] += len(stripped) - stripped.null_count
            refused = pa.RecordBatch.from_arrays(
                [*batch.columns, decided.column(REASON), decided.column(EVIDENCE)], names=[*batch.schema.names, REASON, EVIDENCE]
            ).filter(pc.invert(keep))
            kept_writer.write(kept)
            rejected_writer.write(refused)
            count_rows(counts, batch.num_rows, kept.num_rows, refused)
            if progress is not None:
                progress.update(position - seen)
                seen = position
        schema = schema or pa.schema([])
        kept_writer.close(schema)
        rejected_writer.close(schema.append(pa.field(REASON, pa.string())).append(pa.field(EVIDENCE, pa.string())))
    except BaseException:
        for path in (partial_out, partial_rejected):
            path.unlink(missing_ok=True)
        raise
    os.replace(partial_out, out)
    os.replace(partial_rejected, rejected)
    if progress is not None:
        progress.update(reader.size - seen)
    return counts


def new_counts() -> dict:
    """A file's counts before its first batch (:func:`count_rows` adds to them)."""
    return {"rows": 0, "kept": 0, "rejected": 0, "stripped": 0, "by_reason": Counter(), "by_mechanism": Counter(), "by_publisher": Counter()}


def count_rows(counts: dict, rows: int, kept: int, refused: pa.RecordBatch) -> None:
    """Counts per reason (vectorised) and per mechanism and publisher (once per distinct evidence)."""
    counts["rows"] += rows
    counts["kept"] += kept
    counts["rejected"] += refused.num_rows
    if not refused.num_rows:
        return
    for item in pc.value_counts(refused.column(REASON)).to_pylist():
        counts["by_reason"][item["values"]] += item["counts"]
    for item in pc.value_counts(refused.column(EVIDENCE)).to_pylist():
        statements = json.loads(item["values"] or "[]")
        for mechanism in {s["evidence"]["mechanism"] for s in statements}:
            counts["by_mechanism"][mechanism] += item["counts"]
        for publisher in {s["evidence"].get("publisher") or s["evidence"]["source"] for s in statements}:
            counts["by_publisher"][publisher] += item["counts"]


def run(source: ManifestSource, core: BatchFilter, input_path: Path, out: Path, *, rejected: Path | None, report: Path | None,
        options: Options, progress_factory=None) -> dict:
    """Filter ``input_path`` (a file or a directory of shards); write and return the report."""
    shards = shards_of(input_path)
    directory = input_path.is_dir()
    if directory:
        if rejected is not None or out.is_file():
            raise FilterError("for a directory of shards, --out is a directory and --rejected is not given (each shard's "
                              "refused rows go next to its output)", code="E_FILTER_OPTION")
        out.mkdir(parents=True, exist_ok=True)
    elif FORMATS.get(out.suffix.lower(), format_of(input_path)) != format_of(input_path):
        raise FilterError(f"{out.name}: the kept rows are written in the input's format ({format_of(input_path)})",
                          code="E_FILTER_OPTION", where=str(out))
    targets = [(s, out / s.name, rejected_name(out / s.name)) if directory else (s, out, rejected or rejected_name(out)) for s in shards]
    report = report or (out / "notrain-report.json" if directory else out.with_name(f"{out.name}.report.json"))
    if not directory and not options.force:
        for path in (out, targets[0][2], report):
            if path.exists():
                raise NotrainError(f"{path} exists (use --force to overwrite)", code="E_EXISTS", where=str(path))
    total = sum(s.stat().st_size for s in shards)
    files, skipped = [], 0
    with (progress_factory(total) if progress_factory else NoProgress()) as progress:
        for shard, shard_out, shard_rejected in targets:
            done = shard_out.with_name(shard_out.name + DONE)
            if directory and done.exists() and shard_out.exists() and shard_rejected.exists():
                counts = json.loads(done.read_text())
                skipped += 1
                progress.update(shard.stat().st_size)
            else:
                counts = filter_file(core, shard, shard_out, shard_rejected, options, progress)
                counts = {k: dict(v) if isinstance(v, Counter) else v for k, v in counts.items()}
                if directory:
                    done.write_text(json.dumps(counts))
            files.append({"input": str(shard), "output": str(shard_out), "rejected": str(shard_rejected), **counts})
    return write_report(report, report_of(source, core, files, skipped))


def write_report(path: Path, doc: dict) -> dict:
    """Write ``doc`` to ``path`` whole or not at all; the doc, with its path under ``report``."""
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(ijson.dumps(doc) + b"\n")
    os.replace(partial, path)
    doc["report"] = str(path)
    return doc


def report_of(source: ManifestSource, core: BatchFilter, files: list[dict], skipped: int) -> dict:
    totals: dict = {"rows": 0, "kept": 0, "rejected": 0, "stripped": 0}
    sums: dict[str, Counter] = {"by_reason": Counter(), "by_mechanism": Counter(), "by_publisher": Counter()}
    for file in files:
        for key in totals:
            totals[key] += file[key]
        for key, counter in sums.items():
            counter.update(file[key])
    described = source.describe()
    cited = {k: v for k, v in described.items() if k not in ("manifests", "rejected")}
    if "manifests" in described:  # a bundle; a snapshot cites its id, checkpoint and proofs instead
        cited["manifests"] = len(described["manifests"])
        cited["rejected_entries"] = described.get("rejected", [])
    return {
        "notrain-filter-report": REPORT_VERSION,
        "purpose": core.purpose,
        "unknown_as": core.unknown_as.value,
        "names": core.names,
        "source": cited,
        **totals,
        **{key: dict(sorted(counter.items())) for key, counter in sums.items()},
        "shards_skipped": skipped,
        "files": files,
    }


class NoProgress:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, _n: int) -> None:
        pass
