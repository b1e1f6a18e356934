"""The notrain log entry: what an aggregator observed, where, and when.

An entry holds the exact bytes observed (a manifest envelope, a key set, ...),
never a re-encoding, so anyone can re-verify the publisher's signature from the
log alone.  The header is a few fixed lines in a fixed order, so every
observation has exactly one encoding:

    notrain-log-entry/v1
    kind manifest
    source url https://art.example/.well-known/notrain.json
    observed 2026-12-01T00:00:00Z
    sha256 <64 lowercase hex digits of the body>
    size <body length>
    <blank line>
    <body>

A tlog-tiles entry is at most 65,535 bytes.  A body that would make the entry
longer is *detached*: the entry ends after the blank line and commits to the
body by its SHA-256 and size, and the body is served beside the log.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

from .errors import NotrainError
from .logerrors import LogEntryError
from .manifest import format_timestamp, parse_timestamp
from .merkle import MAX_TREE_SIZE
from .tiles import MAX_ENTRY_BYTES

MAGIC = "notrain-log-entry/v1"
KINDS = ("manifest", "part", "keyset", "rotation", "account-proof", "snapshot", "filtering-receipt")
MAX_HEADER_BYTES = 4096
MAX_URL_CHARS = 2048
MAX_BODY_BYTES = 8 * 1024 * 1024  # the largest document notrain defines (a part)

_URL = re.compile(r"\Ahttps?://[\x21-\x7e]+\Z")  # and at most MAX_URL_CHARS in all, http:// or https://
_ORIGIN = re.compile(r"\A[\x21-\x2a\x2c-\x7e]{1,256}\Z")  # printable ASCII, no space, no '+'
_DECIMAL = re.compile(r"\A(?:0|[1-9][0-9]{0,18})\Z")
_HEX64 = re.compile(r"\A[0-9a-f]{64}\Z")


@dataclass(frozen=True)
class Source:
    """Where the bytes came from: ``url`` fetched, a ``submission``, or a ``peer`` log's entry."""

    via: str
    url: str = ""
    origin: str = ""
    index: int = 0

    @property
    def text(self) -> str:
        if self.via == "url":
            return f"url {self.url}"
        if self.via == "peer":
            return f"peer {self.origin} {self.index}"
        return "submission"

    @classmethod
    def parse(cls, text: str) -> Source:
        via, _, rest = text.partition(" ")
        if via == "url" and len(rest) <= MAX_URL_CHARS and _URL.match(rest):
            return cls("url", url=rest)
        if via == "submission" and not rest and " " not in text:
            return cls("submission")
        origin, _, index = rest.partition(" ")
        if via == "peer" and _ORIGIN.match(origin) and _DECIMAL.match(index) and int(index) < MAX_TREE_SIZE:
            return cls("peer", origin=origin, index=int(index))
        raise LogEntryError("source is 'url <http(s) URL>', 'submission' or 'peer <origin> <index>'", where="source")


@dataclass(frozen=True)
class LogEntry:
    kind: str
    source: Source
    observed: datetime
    sha256: bytes
    size: int
    body: bytes | None  # None when detached

    def check_body(self, body: bytes) -> bytes:
        """A detached body is accepted only with the size and digest the entry commits to."""
        if len(body) != self.size or hashlib.sha256(body).digest() != self.sha256:
            raise LogEntryError("the body is not the one the entry commits to", where="body")
        return body


def encode_entry(kind: str, source: Source, observed: datetime, body: bytes) -> bytes:
    """The one encoding of an observation (detached if the body does not fit)."""
    header = _header(kind, source.text, format_timestamp(observed), hashlib.sha256(body).hexdigest(), len(body))
    data = header + b"\n" + body
    entry = data if len(data) <= MAX_ENTRY_BYTES else header + b"\n"
    parse_entry(entry)  # never write what a reader would refuse
    return entry


def parse_entry(data: bytes) -> LogEntry:
    """Parse an entry strictly: fixed lines, fixed order, one spelling, within the limits."""
    if not isinstance(data, bytes) or len(data) > MAX_ENTRY_BYTES:
        raise LogEntryError(f"an entry is at most {MAX_ENTRY_BYTES} bytes", where="entry")
    cut = data.find(b"\n\n", 0, MAX_HEADER_BYTES)
    if cut < 0:
        raise LogEntryError("no blank line ends the header within its limit", where="header")
    try:
        lines = data[:cut].decode("ascii").split("\n")
    except UnicodeDecodeError:
        raise LogEntryError("the header is ASCII", where="header") from None
    names = (None, "kind", "source", "observed", "sha256", "size")
    if len(lines) != len(names) or lines[0] != MAGIC:
        raise LogEntryError(f"the header is '{MAGIC}' and five lines: kind, source, observed, sha256, size", where="header")
    values = {}
    for name, line in zip(names[1:], lines[1:]):
        label, _, value = line.partition(" ")
        if label != name or not value:
            raise LogEntryError(f"expected the line '{name} ...'", where=name)
        values[name] = value
    if values["kind"] not in KINDS:
        raise LogEntryError(f"unknown kind {values['kind']!r}", where="kind")
    source = Source.parse(values["source"])
    try:
        observed = parse_timestamp(values["observed"], "observed")
    except NotrainError as exc:
        raise LogEntryError(exc.message, where="observed") from None
    if not _HEX64.match(values["sha256"]):
        raise LogEntryError("sha256 is 64 lowercase hex digits", where="sha256")
    if not _DECIMAL.match(values["size"]) or not 1 <= int(values["size"]) <= MAX_BODY_BYTES:
        raise LogEntryError(f"size is a decimal from 1 to {MAX_BODY_BYTES}", where="size")
    entry = LogEntry(values["kind"], source, observed, bytes.fromhex(values["sha256"]), int(values["size"]), None)
    rest = data[cut + 2 :]
    fits = cut + 2 + entry.size <= MAX_ENTRY_BYTES
    if not rest and not fits:
        return entry
    if not fits:
        raise LogEntryError("a body too large for the entry is detached", where="body")
    if not rest:
        raise LogEntryError("a body that fits in the entry is inline", where="body")
    return LogEntry(entry.kind, source, observed, entry.sha256, entry.size, entry.check_body(rest))


def _header(kind: str, source: str, observed: str, sha256: str, size: int) -> bytes:
    lines = (MAGIC, f"kind {kind}", f"source {source}", f"observed {observed}", f"sha256 {sha256}", f"size {size}")
    try:
        return "".join(line + "\n" for line in lines).encode("ascii")
    except UnicodeEncodeError:
        raise LogEntryError("the header is ASCII", where="header") from None
