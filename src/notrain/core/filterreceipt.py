"""Filtering receipts (spec/receipt.md): a dataset builder's signed statement of what a filter run did.

A receipt binds the exact input files, the exact kept files, what the decisions were made against (a
snapshot, cited by id, log, tree size and root, or a bundle by its SHA-256) and the options and counts
of the run, in a DSSE envelope of its own payload type signed by the builder's ``did:key``.  Its
payload is strict I-JSON with exact members, so there is one way to write each fact; an aggregator
logs it as a ``filtering-receipt`` entry, and anyone holding the files can re-hash them and compare
(:func:`check_files`).  Pure: the caller hashes files and reads clocks.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from . import b64, dsse, ijson
from .errors import EnvelopeError, NotrainError, PayloadError, PolicyError
from .keys import PrivateKey, PublicKey
from .manifest import parse_timestamp
from .merkle import HASH_SIZE
from .vocab import CATEGORIES

RECEIPT_TYPE = "application/vnd.notrain.filtering-receipt+json"
VERSION_MEMBER = "notrain-filtering-receipt"
MAX_PAYLOAD_BYTES = dsse.MAX_PAYLOAD_BYTES
MAX_DEPTH = 4
MAX_FILES = 1024  # two full lists of the longest names stay under the payload limit (tested)
MAX_NAME_CHARS = 255
MAX_TEXT_CHARS = 256
CLOCK_SKEW = timedelta(minutes=5)
PARTS = ("url", "work", "embedded", "name")  # a reason names the parts that refused a row, in this order
_MEMBERS = (VERSION_MEMBER, "builder", "time", "tool", "purpose", "unknown", "names", "columns", "source", "input", "output", "counts")
_COLUMNS = ("url", "caption", "sha256", "pdq")
_COUNTS = ("rows", "kept", "refused", "stripped", "by_reason")
_HEX64 = re.compile(r"\A[0-9a-f]{64}\Z")
_LOG_ORIGIN = re.compile(r"\A[\x21-\x2a\x2c-\x7e]{1,256}\Z")  # as a snapshot descriptor's log line
_BAD_NAME = re.compile(r"[\x00-\x1f\x7f/\\]")


@dataclass(frozen=True)
class FileDigest:
    """One file of a receipt's input or output: its name (relative, one path segment), size and SHA-256."""

    name: str
    size: int
    sha256: bytes

    def to_json(self) -> dict:
        return {"name": self.name, "size": self.size, "sha256": self.sha256.hex()}


def list_digest(files: Iterable[FileDigest]) -> bytes:
    """The overall digest of a file list: SHA-256 of one line a file, ``<sha256 hex> <size> <name>`` and
    a line feed, in the list's order (names sorted by code point)."""
    return hashlib.sha256("".join(f"{f.sha256.hex()} {f.size} {f.name}\n" for f in files).encode("utf-8")).digest()


def files_json(files: list[FileDigest]) -> dict:
    """The ``input`` or ``output`` member for these files (sorted here)."""
    ordered = sorted(files, key=lambda f: f.name)
    return {"sha256": list_digest(ordered).hex(), "files": [f.to_json() for f in ordered]}


@dataclass(frozen=True)
class FilteringReceipt:
    """A verified receipt: its payload (checked), the builder and the key ids that signed it."""

    payload: dict
    payload_bytes: bytes
    signed_by: tuple[str, ...]

    @property
    def builder(self) -> str:
        return self.payload["builder"]

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.payload_bytes).hexdigest()

    def files(self, which: str) -> list[FileDigest]:
        return [FileDigest(f["name"], f["size"], bytes.fromhex(f["sha256"])) for f in self.payload[which]["files"]]


def sign_receipt(doc: dict, key: PrivateKey) -> bytes:
    """The envelope of ``doc`` signed by ``key`` (its ``builder`` must be the key's did:key); a document a
    verifier would refuse is never signed."""
    try:
        payload = ijson.dumps(doc)
    except UnicodeEncodeError:  # a file name that is not Unicode text (an undecodable name on disk)
        raise PayloadError("every string of a receipt is Unicode text", code="E_FIELD_VALUE", where="/") from None
    check_payload(ijson.loads(payload, max_size=MAX_PAYLOAD_BYTES, max_depth=MAX_DEPTH, what="receipt"))
    if doc["builder"] != key.public.did_key:
        raise PolicyError("the builder is the signing key's did:key", code="E_PUBLISHER_MISMATCH", where="/builder")
    return dsse.sign(payload, RECEIPT_TYPE, [key]).to_bytes()


def verify_receipt(data: bytes, *, now: datetime, builder: str | None = None) -> FilteringReceipt:
    """Verify an envelope as spec/receipt.md "Verifying" says, in its order; ``builder``: the did:key
    the caller expects, if it expects one."""
    envelope = dsse.parse(data)
    if envelope.payload_type != RECEIPT_TYPE:
        raise EnvelopeError(f"payloadType is {envelope.payload_type!r}, expected {RECEIPT_TYPE!r}", code="E_PAYLOAD_TYPE", where="/payloadType")
    doc = ijson.loads(envelope.payload, max_size=MAX_PAYLOAD_BYTES, max_depth=MAX_DEPTH, what="receipt")
    if not isinstance(doc, dict):
        raise PayloadError("a receipt is a JSON object", code="E_FIELD_TYPE", where="/")
    _version(doc)
    key = _builder_key(doc)
    if builder is not None and doc["builder"] != builder:
        raise PolicyError(f"the receipt is by {doc['builder']!r}, not {builder!r}", code="E_PUBLISHER_MISMATCH", where="/builder")
    signed_by = dsse.verify(envelope, RECEIPT_TYPE, {key.kid: key})
    check_payload(doc)
    if parse_timestamp(doc["time"], "/time") > now + CLOCK_SKEW:
        raise PolicyError("the receipt's time is in the future", code="E_NOT_YET_VALID", where="/time")
    return FilteringReceipt(doc, envelope.payload, signed_by)


def check_files(listed: list[FileDigest], found: list[FileDigest], which: str) -> None:
    """That ``found`` (files hashed by the caller) are exactly the files ``listed`` in the receipt."""
    by_name = {f.name: f for f in found}
    for file in listed:
        have = by_name.pop(file.name, None)
        if have is None:
            raise NotrainError(f"{which} file {file.name!r} is missing", code="E_RECEIPT_FILES", where=f"/{which}/{file.name}")
        if have != file:
            raise NotrainError(f"{which} file {file.name!r} is not the one the receipt names (size or SHA-256)", code="E_RECEIPT_FILES",
                               where=f"/{which}/{file.name}")
    if by_name:
        raise NotrainError(f"{which} file {min(by_name)!r} is not in the receipt", code="E_RECEIPT_FILES", where=f"/{which}")


# -- the payload's rules --------------------------------------------------------------------------


def check_payload(doc: object) -> None:
    """Every member rule of spec/receipt.md "Payload", in its order; the first failure raises."""
    if not isinstance(doc, dict):
        raise PayloadError("a receipt is a JSON object", code="E_FIELD_TYPE", where="/")
    _version(doc)
    _builder_key(doc)
    _exact(doc, _MEMBERS, "")
    parse_timestamp(_typed(doc, "time", str, ""), "/time")
    _text(doc, "tool", "")
    _choice(doc, "purpose", CATEGORIES)
    _choice(doc, "unknown", ("allowed", "disallowed"))
    _choice(doc, "names", ("drop", "strip"))
    columns = _typed(doc, "columns", dict, "")
    _exact(columns, _COLUMNS, "/columns", required=("url",))
    for name in _COLUMNS:
        if name in columns:
            _text(columns, name, "/columns")
    _source(_typed(doc, "source", dict, ""))
    for which in ("input", "output"):
        _files(_typed(doc, which, dict, ""), f"/{which}")
    _counts(_typed(doc, "counts", dict, ""), doc["names"])


def _version(doc: dict) -> None:
    if VERSION_MEMBER not in doc:
        raise PayloadError(f"a receipt has {VERSION_MEMBER!r}", code="E_FIELD_MISSING", where=f"/{VERSION_MEMBER}")
    if type(doc[VERSION_MEMBER]) is not int:
        raise PayloadError("the version is an integer", code="E_FIELD_TYPE", where=f"/{VERSION_MEMBER}")
    if doc[VERSION_MEMBER] != 1:
        raise PayloadError("only version 1 receipts are known", code="E_VERSION", where=f"/{VERSION_MEMBER}")


def _builder_key(doc: dict) -> PublicKey:
    """The key the builder's did:key encodes: the one key a receipt is verified with."""
    return PublicKey.from_did_key(_typed(doc, "builder", str, ""), where="/builder")


def _exact(doc: dict, members: tuple[str, ...], where: str, *, required: tuple[str, ...] | None = None) -> None:
    missing = sorted(set(members if required is None else required) - doc.keys())
    if missing:
        raise PayloadError(f"missing member {missing[0]!r}", code="E_FIELD_MISSING", where=f"{where}/{missing[0]}")
    unknown = sorted(doc.keys() - set(members))
    if unknown:
        raise PayloadError(f"unknown member {unknown[0]!r}", code="E_FIELD_VALUE", where=f"{where}/{unknown[0]}")


def _typed(doc: dict, name: str, kind: type, where: str):
    value = doc.get(name)
    if name not in doc:
        raise PayloadError(f"missing member {name!r}", code="E_FIELD_MISSING", where=f"{where}/{name}")
    if type(value) is not kind:
        raise PayloadError(f"{name} is a JSON {'object' if kind is dict else 'array' if kind is list else kind.__name__}",
                           code="E_FIELD_TYPE", where=f"{where}/{name}")
    return value


def _text(doc: dict, name: str, where: str) -> str:
    value = _typed(doc, name, str, where)
    if not 0 < len(value) <= MAX_TEXT_CHARS or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise PayloadError(f"{name} is 1 to {MAX_TEXT_CHARS} characters, no control character", code="E_FIELD_VALUE", where=f"{where}/{name}")
    return value


def _choice(doc: dict, name: str, choices: tuple[str, ...]) -> None:
    if _typed(doc, name, str, "") not in choices:
        raise PayloadError(f"{name} is one of {', '.join(choices)}", code="E_FIELD_VALUE", where=f"/{name}")


def _count(doc: dict, name: str, where: str) -> int:
    value = _typed(doc, name, int, where)
    if value < 0:
        raise PayloadError(f"{name} is not negative", code="E_FIELD_VALUE", where=f"{where}/{name}")
    return value


def _hex(doc: dict, name: str, where: str) -> None:
    if not _HEX64.match(_typed(doc, name, str, where)):
        raise PayloadError(f"{name} is 64 lowercase hex digits", code="E_HASH", where=f"{where}/{name}")


def _source(source: dict) -> None:
    if len(source) != 1 or next(iter(source)) not in ("snapshot", "bundle"):
        raise PayloadError("source is {\"snapshot\": ...} or {\"bundle\": ...}", code="E_FIELD_VALUE", where="/source")
    if "bundle" in source:
        bundle = _typed(source, "bundle", dict, "/source")
        _exact(bundle, ("sha256",), "/source/bundle")
        _hex(bundle, "sha256", "/source/bundle")
        return
    snapshot, where = _typed(source, "snapshot", dict, "/source"), "/source/snapshot"
    _exact(snapshot, ("id", "log", "size", "root"), where)
    _hex(snapshot, "id", where)
    if not _LOG_ORIGIN.match(_typed(snapshot, "log", str, where)):
        raise PayloadError("log is a log origin (printable ASCII but '+', 1 to 256)", code="E_FIELD_VALUE", where=f"{where}/log")
    if _count(snapshot, "size", where) == 0:
        raise PayloadError("a snapshot's tree size is at least 1", code="E_FIELD_VALUE", where=f"{where}/size")
    if len(b64.std_decode(_typed(snapshot, "root", str, where), where=f"{where}/root")) != HASH_SIZE:
        raise PayloadError("root is 32 octets", code="E_FIELD_VALUE", where=f"{where}/root")


def _files(doc: dict, where: str) -> None:
    _exact(doc, ("sha256", "files"), where)
    _hex(doc, "sha256", where)
    files = _typed(doc, "files", list, where)
    if not 0 < len(files) <= MAX_FILES:
        raise PayloadError(f"1 to {MAX_FILES} files", code="E_FIELD_VALUE", where=f"{where}/files")
    listed, previous = [], None
    for i, file in enumerate(files):
        at = f"{where}/files/{i}"
        if type(file) is not dict:
            raise PayloadError("a file is a JSON object", code="E_FIELD_TYPE", where=at)
        _exact(file, ("name", "size", "sha256"), at)
        name = _typed(file, "name", str, at)
        if not 0 < len(name) <= MAX_NAME_CHARS or name in (".", "..") or _BAD_NAME.search(name):
            raise PayloadError("a file name is one path segment of 1 to 255 characters", code="E_FIELD_VALUE", where=f"{at}/name")
        if previous is not None and name <= previous:
            raise PayloadError("files are sorted by name, each once", code="E_FIELD_VALUE", where=f"{at}/name")
        _hex(file, "sha256", at)
        listed.append(FileDigest(name, _count(file, "size", at), bytes.fromhex(file["sha256"])))
        previous = name
    if list_digest(listed).hex() != doc["sha256"]:
        raise PayloadError("sha256 is not the digest of the file list", code="E_FIELD_VALUE", where=f"{where}/sha256")


def _is_reason(reason: str) -> bool:
    """``unknown``, or some of :data:`PARTS` in their order joined by ``+`` (spec/filter.md "Reasons")."""
    parts = reason.split("+")
    return reason == "unknown" or (all(p in PARTS for p in parts) and parts == sorted(set(parts), key=PARTS.index))


def _counts(counts: dict, names: str) -> None:
    _exact(counts, _COUNTS, "/counts")
    rows, kept, refused, stripped = (_count(counts, name, "/counts") for name in _COUNTS[:4])
    by_reason = _typed(counts, "by_reason", dict, "/counts")
    for reason in by_reason:
        if not _is_reason(reason):
            raise PayloadError(f"unknown reason {reason!r}", code="E_FIELD_VALUE", where=f"/counts/by_reason/{reason}")
        if _count(by_reason, reason, "/counts/by_reason") == 0:
            raise PayloadError("a reason that refused no row is left out", code="E_FIELD_VALUE", where=f"/counts/by_reason/{reason}")
    if rows != kept + refused or sum(by_reason.values()) != refused or stripped > kept or (names == "drop" and stripped):
        raise PayloadError("rows = kept + refused = kept + the sum of by_reason; stripped rows are kept rows, none with names 'drop'",
                           code="E_FIELD_VALUE", where="/counts")
