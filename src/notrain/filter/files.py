"""Dataset files read and written in record batches: parquet, CSV and JSON Lines.

Streaming keeps memory flat whatever the file's size: a reader holds one batch
(and the format's read-ahead block), a writer appends each batch as it comes.
The columns the filter reads are read as text whatever they look like (a CSV
column of digits is still a caption), every other column as Arrow infers it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.json as pjson
import pyarrow.parquet as pq

from .batch import FilterError

FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}
# Arrow's CSV and JSON readers read up to 32 blocks ahead of the consumer: 1 MiB blocks bound that to 32 MiB.
BLOCK_BYTES = 1 << 20


def format_of(path: Path) -> str:
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise FilterError(f"{path.name}: not a dataset file ({', '.join(sorted(FORMATS))})", code="E_FILTER_INPUT", where=str(path))
    return kind


class Reader:
    """Record batches of one file, with how far into the file they are (for a progress bar)."""

    def __init__(self, path: Path, text_columns: list[str], batch_size: int) -> None:
        self.path, self.kind = path, format_of(path)
        self.size = path.stat().st_size
        self._text, self._batch_size = text_columns, batch_size

    def batches(self) -> Iterator[tuple[pa.RecordBatch, int]]:
        """(batch, bytes of the file read so far, about)."""
        try:
            if self.kind == "parquet":
                yield from self._parquet()
            else:
                yield from self._text_file()
        except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError) as error:
            raise FilterError(f"{self.path.name} is not valid {self.kind}: {error}", code="E_FILTER_INPUT", where=str(self.path)) from None

    def _parquet(self):
        file = pq.ParquetFile(self.path)
        total, done = max(file.metadata.num_rows, 1), 0
        for batch in file.iter_batches(batch_size=self._batch_size):
            done += batch.num_rows
            yield batch, self.size * done // total

    def _text_file(self):
        with open(self.path, "rb") as raw:
            if self.kind == "csv":
                types = {name: pa.string() for name in self._text}
                stream = pcsv.open_csv(raw, read_options=pcsv.ReadOptions(block_size=BLOCK_BYTES),
                                       convert_options=pcsv.ConvertOptions(column_types=types))
            else:
                self._check_json_columns(raw)
                schema = pa.schema([(name, pa.string()) for name in self._text])
                stream = pjson.open_json(raw, read_options=pjson.ReadOptions(block_size=BLOCK_BYTES),
                                         parse_options=pjson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="infer"))
            for batch in stream:
                for start in range(0, batch.num_rows, self._batch_size):
                    yield batch.slice(start, self._batch_size), min(raw.tell(), self.size)


    def _check_json_columns(self, raw) -> None:
        """The named columns must be in the file: an explicit schema would make a missing one all nulls,
        and every row would pass unchecked.  Read from the first block's lines."""
        head = raw.read(BLOCK_BYTES)
        raw.seek(0)
        lines = head[: head.rfind(b"\n") + 1] or head
        if not lines.strip():
            return
        found = pjson.read_json(pa.BufferReader(lines)).schema.names
        for name in self._text:
            if name not in found:
                raise FilterError(f"no column {name!r} in the first lines (columns: {', '.join(found)})", code="E_FILTER_COLUMN", where=name)


class Writer:
    """Batches appended to one file of a format; the schema is the first batch's."""

    def __init__(self, path: Path, kind: str) -> None:
        self.path, self.kind = path, kind
        self._writer = None
        self._file = None
        self._schema: pa.Schema | None = None

    def write(self, batch: pa.RecordBatch) -> None:
        if self._schema is None:
            self._open(batch.schema)
        elif batch.schema != self._schema:
            batch = batch.cast(self._schema)  # a later CSV or JSON block may infer another type for a column
        if self.kind == "jsonl":
            self._file.write("".join(json.dumps(row, ensure_ascii=False, default=_json_value) + "\n" for row in batch.to_pylist()).encode())
        else:
            self._writer.write_batch(batch)

    def _open(self, schema: pa.Schema) -> None:
        self._schema = schema
        if self.kind == "parquet":
            self._writer = pq.ParquetWriter(self.path, schema)
        elif self.kind == "csv":
            self._writer = pcsv.CSVWriter(self.path, schema)
        else:
            self._file = open(self.path, "wb")  # noqa: SIM115 (kept open across write() calls, closed by close())

    def close(self, schema: pa.Schema) -> None:
        """Finish the file; a file that got no batch is still written, empty, with ``schema``."""
        if self._schema is None:
            self._open(schema)
        if self._writer is not None:
            self._writer.close()
        if self._file is not None:
            self._file.close()


def _json_value(value):
    """JSON for what JSON has no type for: bytes as hex, anything else (dates...) as text."""
    return value.hex() if isinstance(value, bytes) else str(value)
