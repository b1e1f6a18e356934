"""Deltas between two snapshots of one log (spec/snapshot.md, "Deltas").

A delta carries only the publishers whose ``statements`` block changed (the new block, or ``drop``),
because every other part is a function of ``statements``: the client rebuilds them and checks the
result against the new descriptor, so a delta needs no signature and a wrong one is simply refused.
"""

from __future__ import annotations

import hashlib
import json

from .snapshot import MAX_PART_BYTES, parse_descriptor
from .snapshotparts import MAX_LINE_BYTES
from .snapshoterrors import SnapshotError

MAGIC = b"notrain-snapshot-delta/v1"


def _blocks(statements: bytes) -> dict[str, bytes]:
    """Publisher id -> its block of lines (a ``publisher`` record starts each block)."""
    blocks: dict[str, list[bytes]] = {}
    current: list[bytes] | None = None
    for line in _lines(statements):
        record = _json(line)
        if record.get("kind") == "publisher":
            current = blocks.setdefault(record["publisher"], [])
        if current is None:
            raise SnapshotError("a record before any publisher record", where="delta")
        current.append(line)
    return {publisher: b"".join(lines) for publisher, lines in blocks.items()}


def _lines(data: bytes) -> list[bytes]:
    """The lines of ``data`` with their LF; only LF ends a line (``bytes.splitlines`` also ends them at
    CR and other controls), and the last may lack it (spec/snapshot.md, "Deltas")."""
    lines = data.split(b"\n")
    return [line + b"\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])


def _json(line: bytes) -> dict:
    if len(line) > MAX_LINE_BYTES + 1:
        raise SnapshotError(f"a line over {MAX_LINE_BYTES} octets", where="delta")
    try:
        record = json.loads(line)
    except ValueError:
        raise SnapshotError("a line that is not JSON", where="delta") from None
    if not isinstance(record, dict) or not isinstance(record.get("publisher"), str):
        raise SnapshotError("a line that is not a statement record", where="delta")
    return record


def make(old_descriptor: bytes, old_statements: bytes, new_descriptor: bytes, new_statements: bytes) -> bytes:
    """The delta from one snapshot to another (both already loaded and checked)."""
    old, new = _blocks(old_statements), _blocks(new_statements)
    out = [MAGIC + b"\n", b"from " + hashlib.sha256(old_descriptor).hexdigest().encode() + b"\n",
           b"to " + hashlib.sha256(new_descriptor).hexdigest().encode() + b"\n"]
    for publisher in sorted(old.keys() | new.keys()):
        if publisher not in new:
            out.append(b"drop " + publisher.encode() + b"\n")
        elif old.get(publisher) != new[publisher]:
            out.append(new[publisher])
    return b"".join(out)


def apply(old_descriptor: bytes, old_statements: bytes, delta: bytes, new_descriptor: bytes) -> bytes:
    """The new ``statements`` part: ``old_statements`` with ``delta`` applied, checked against the
    size and SHA-256 that ``new_descriptor`` gives it (``E_SNAPSHOT_DIGEST`` if it differs).  The
    caller then loads the new snapshot from it (rebuilding or fetching the other parts)."""
    if len(delta) > MAX_PART_BYTES:
        raise SnapshotError("delta too large", where="delta")
    head = delta.split(b"\n", 3)
    expected = [MAGIC, b"from " + hashlib.sha256(old_descriptor).hexdigest().encode(),
                b"to " + hashlib.sha256(new_descriptor).hexdigest().encode()]
    if head[:3] != expected:
        raise SnapshotError("a delta starts with its magic, then from and to the ids of these two snapshots", where="delta")
    body = head[3] if len(head) > 3 else b""
    blocks = _blocks(old_statements)
    changed: dict[str, list[bytes]] = {}
    dropped: set[str] = set()
    publisher: str | None = None
    for line in _lines(body):
        if line.startswith(b"drop "):
            dropped.add(line[5:].rstrip(b"\n").decode("utf-8", "replace"))
            publisher = None
            continue
        record = _json(line)
        if record.get("kind") == "publisher":
            publisher = record["publisher"]
            changed[publisher] = []
        if publisher is None or record["publisher"] != publisher:
            raise SnapshotError("a delta record outside its publisher's block", where="delta")
        changed[publisher].append(line)
    for name in dropped:
        blocks.pop(name, None)
    blocks.update({name: b"".join(lines) for name, lines in changed.items()})
    statements = b"".join(blocks[name] for name in sorted(blocks))
    _, octets, digest = parse_descriptor(new_descriptor).parts[2]
    if len(statements) != octets or hashlib.sha256(statements).digest() != digest:
        raise SnapshotError("the delta does not give the statements of the new snapshot", code="E_SNAPSHOT_DIGEST", where="delta")
    return statements
