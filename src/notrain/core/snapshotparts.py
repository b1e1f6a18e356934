"""The exact parts of a snapshot (spec/snapshot.md): ``statements`` and ``pdq``.

``statements`` is every statement the snapshot's manifests make, one canonical JSON object a line,
so that a filter hit can be confirmed exactly and the filters and the PDQ rows can be re-derived
from it by anyone.  ``pdq`` is the PDQ hashes with their thresholds as fixed-size rows, the bulk a
local Hamming index loads without parsing JSON.  Each line is bounded (``MAX_LINE_BYTES``), so
checking a part holds one line in memory at a time, whatever the part's size.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

from . import ijson
from .errors import NotrainError
from .manifest import MAX_NAME_CHARS, MAX_PDQ_THRESHOLD, MAX_SEQUENCE, Manifest, check_publisher, parse_timestamp
from .paths import check_pattern
from .snapshoterrors import SnapshotError
from .vocab import CATEGORIES, prefs_to_json

MAX_LINE_BYTES = 8192
PDQ_MAGIC = b"NTPDQ256"
PDQ_ROW = 33  # 32 octets of hash, 1 of threshold
_HEX64 = re.compile(r"\A[0-9a-f]{64}\Z")
_MEMBERS = {
    "publisher": {"kind", "publisher", "sequence", "digest", "index", "expires", "default"},
    "path": {"kind", "publisher", "pattern", "prefs"},
    "work": {"kind", "publisher", "prefs"},  # plus sha256 and/or pdq with threshold
    "name": {"kind", "publisher", "name", "prefs"},
}
_KIND_ORDER = {"publisher": 0, "path": 1, "work": 2, "name": 3}


class Logged(NamedTuple):
    """A verified manifest, the index of the log entry that carried its envelope, the key ids whose
    signatures verified, and the key ids trusted for its publisher then: what the rollback floor rule
    needs to tell which manifest is current (spec/snapshot.md, "Which manifests")."""

    index: int
    manifest: Manifest
    signed_by: frozenset[str]
    trusted: frozenset[str]


def statement_records(logged: Logged) -> Iterator[dict]:
    """The ``statements`` records of one manifest, in part order; entries stating nothing are left out."""
    manifest, publisher = logged.manifest, logged.manifest.publisher
    yield ({"kind": "publisher", "publisher": publisher, "sequence": manifest.sequence,
                       "digest": manifest.digest, "index": logged.index, "expires": manifest.expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
                       "default": prefs_to_json(manifest.default)})
    for rule in manifest.paths:
        if rule.prefs:
            yield ({"kind": "path", "publisher": publisher, "pattern": rule.pattern, "prefs": prefs_to_json(dict(rule.prefs))})
    for work in manifest.works:
        prefs = manifest.prefs_for(work.prefs)
        if not prefs:
            continue
        record = {"kind": "work", "publisher": publisher, "prefs": prefs_to_json(prefs)}
        if work.sha256 is not None:
            record["sha256"] = work.sha256.hex()
        if work.pdq is not None:
            record["pdq"], record["threshold"] = work.pdq.hex(), manifest.pdq.threshold  # type: ignore[union-attr]
        yield record
    for name in manifest.names:
        prefs = manifest.prefs_for(name.prefs)
        if prefs:
            yield ({"kind": "name", "publisher": publisher, "name": name.name, "prefs": prefs_to_json(prefs)})


def parse_statements(raw: bytes, *, tree_size: int) -> Iterator[tuple[int, dict]]:
    """(offset of its line, record) for each record of a ``statements`` part, checked: canonical,
    complete, in order, and citing log entries below ``tree_size``.  ``E_SNAPSHOT`` at the first defect."""
    if raw and raw[-1] != 0x0A:
        raise SnapshotError("statements do not end with a line feed", where="statements")
    last, start, number = None, 0, 0
    while start < len(raw):
        end = raw.find(b"\n", start)
        offset, line, start, number = start, raw[start:end], end + 1, number + 1
        where = f"statements/{number}"
        record = _record(line, where, tree_size)
        position = (record["publisher"], _KIND_ORDER[record["kind"]])
        if last is not None and (position < last or (position == last and record["kind"] == "publisher")):
            raise SnapshotError("statements are not in order", where=where)
        if record["kind"] != "publisher" and (last is None or last[0] != record["publisher"]):
            raise SnapshotError("a statement before its publisher's line", where=where)
        last = position
        yield offset, record


def record_at(raw: bytes, offset: int) -> dict:
    """The record of the line at ``offset`` of a ``statements`` part already checked."""
    end = raw.find(b"\n", offset)
    return ijson.loads(raw[offset:end], max_size=MAX_LINE_BYTES, max_depth=2, what="a statements line")


WORK_LINE = b'{"kind":"work"'  # how a checked work record's line begins
PLAIN_WORK_LINE = b'{"kind":"work","prefs":'  # ... and one without a PDQ hash ("pdq" sorts before "prefs")


def records_but(raw: bytes, skipped: bytes) -> Iterator[dict]:
    """The records of a ``statements`` part already checked, but those whose line begins with ``skipped``,
    which are not parsed.  Checked lines are canonical (members sorted), so a line's first octets tell
    its kind, and a work's whether it has a PDQ hash (``{"kind":"work","pdq":``) or not
    (``{"kind":"work","prefs":``): works are most of a large snapshot's lines, parsed once at load."""
    offset = 0
    while offset < len(raw):
        if not raw.startswith(skipped, offset):
            yield record_at(raw, offset)
        offset = raw.index(b"\n", offset) + 1


def _record(line: bytes, where: str, tree_size: int) -> dict:
    if len(line) > MAX_LINE_BYTES:
        raise SnapshotError(f"a line over {MAX_LINE_BYTES} octets", where=where)
    try:
        record = ijson.loads(line, max_size=MAX_LINE_BYTES, max_depth=2, what="a statements line")
    except NotrainError as exc:
        raise SnapshotError(f"not strict JSON: {exc.message}", where=where) from None
    if not isinstance(record, dict) or type(record.get("kind")) is not str or record["kind"] not in _MEMBERS:
        raise SnapshotError("not a statement record", where=where)
    if ijson.dumps(record) != line:
        raise SnapshotError("not in canonical form (sorted members, no spaces)", where=where)
    kind, members = record["kind"], set(record)
    expected = set(_MEMBERS[kind])
    if kind == "work":
        expected |= {"sha256"} if "sha256" in record else set()
        expected |= {"pdq", "threshold"} if "pdq" in record else set()
        if not {"sha256", "pdq"} & members:
            raise SnapshotError("a work with neither sha256 nor pdq", where=where)
    if members != expected:
        raise SnapshotError(f"members {sorted(members)}, expected {sorted(expected)}", where=where)
    if not isinstance(record["publisher"], str) or not 0 < len(record["publisher"]) <= 2048:
        raise SnapshotError("bad publisher", where=where)
    _check_prefs(record.get("prefs", record.get("default")), kind != "publisher", where)
    if kind == "publisher":
        for member, limit in (("sequence", MAX_SEQUENCE), ("index", tree_size - 1)):
            if type(record[member]) is not int or not 0 <= record[member] <= limit:
                raise SnapshotError(f"bad {member} (a log index is below the tree size)", where=where)
        _check_hex(record["digest"], where)
        try:  # a block starts with its publisher's line: each later line repeats this id (parse_statements)
            check_publisher(record["publisher"])
            parse_timestamp(record["expires"], "/expires")
        except NotrainError as exc:
            raise SnapshotError(f"bad publisher or expires: {exc.message}", where=where) from None
    elif kind == "path":
        try:
            if not isinstance(record["pattern"], str) or check_pattern(record["pattern"], where) != record["pattern"]:
                raise SnapshotError("a pattern not in normal form", where=where)
        except NotrainError as exc:
            raise SnapshotError(f"bad pattern: {exc.message}", where=where) from None
    elif kind == "work":
        for member in ("sha256", "pdq"):
            if member in record:
                _check_hex(record[member], where)
        if "threshold" in record and (type(record["threshold"]) is not int or not 0 <= record["threshold"] <= MAX_PDQ_THRESHOLD):
            raise SnapshotError("bad PDQ threshold", where=where)
    elif not isinstance(record["name"], str) or not 0 < len(record["name"]) <= MAX_NAME_CHARS:
        raise SnapshotError("bad name", where=where)
    return record


def _check_prefs(prefs: object, non_empty: bool, where: str) -> None:
    if not isinstance(prefs, dict) or (non_empty and not prefs) or not all(
            label in CATEGORIES and value in ("y", "n") for label, value in prefs.items()):
        raise SnapshotError("preferences are known categories with y or n (never empty on an entry)", where=where)


def _check_hex(value: object, where: str) -> None:
    if not isinstance(value, str) or not _HEX64.match(value):
        raise SnapshotError("a digest that is not 64 lowercase hex digits", where=where)


def parse_pdq(data: bytes | memoryview) -> np.ndarray:
    """The rows of a ``pdq`` part as an (n, 33) uint8 view (no copy), checked: strictly ascending,
    thresholds at most 48."""
    if bytes(data[:8]) != PDQ_MAGIC or (len(data) - 8) % PDQ_ROW:
        raise SnapshotError("not a pdq part (magic, or not whole 33-octet rows)", where="pdq")
    rows = np.frombuffer(data, dtype=np.uint8, offset=8).reshape(-1, PDQ_ROW)
    if rows.size and int(rows[:, 32].max()) > MAX_PDQ_THRESHOLD:
        raise SnapshotError("a PDQ threshold above 48", where="pdq")
    for start in range(0, max(0, len(rows) - 1), 1 << 16):  # bounded temporaries
        before, after = rows[start:start + (1 << 16)], rows[start + 1:start + 1 + (1 << 16)]
        before = before[:len(after)]
        differ = before != after
        first = differ.argmax(axis=1)
        at = np.arange(len(after))
        if not (differ.any(axis=1) & (after[at, first] > before[at, first])).all():
            raise SnapshotError("pdq rows are not strictly ascending", where="pdq")
    return rows
