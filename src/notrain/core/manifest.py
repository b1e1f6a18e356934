"""The notrain manifest: model and strict parser (spec/manifest.md).

``parse_payload`` turns verified payload bytes into a :class:`Manifest`.  It is
strict where ambiguity could be exploited (I-JSON, exact types, canonical
publisher ids, hex digests, pattern syntax, hard limits) and lenient only
where the spec asks for forward compatibility: unknown members are ignored
unless the manifest lists them in ``critical``, and unknown preference labels
are ignored.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import ipaddress
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple
from datetime import datetime, timedelta, timezone
from urllib.parse import SplitResult

import msgspec

from . import ijson, payloadtypes
from .dsse import MAX_PAYLOAD_BYTES
from .errors import NotrainError, PayloadError
from .keys import PublicKey
from .paths import MAX_WILDCARD_REACH, PathMatcher, PathRule, check_pattern, check_wildcard_reach
from .urls import split_url
from .vocab import State, parse_prefs, stated_prefs

MANIFEST_TYPE = "application/vnd.notrain.manifest+json"
VERSION = 1
MAX_PART_BYTES = 8 * 1024 * 1024
MAX_PARTS = 256
MAX_VALIDITY = timedelta(days=400)
MAX_NAME_CHARS = 256
MAX_TEXT_CHARS = 2048
MAX_PDQ_THRESHOLD = 48
DEFAULT_PDQ_THRESHOLD = 31
MAX_SEQUENCE = 2**53 - 1

# Members this implementation understands (the "critical" check compares against these).
KNOWN_MEMBERS = frozenset(
    {"notrain", "publisher", "sequence", "issued", "expires", "default", "paths", "works", "pdq", "names", "accounts", "parts", "critical"}
)
_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
_BRACKETED = re.compile(r"\[[0-9A-Fa-f:.]+\](?::[0-9]*)?")
# What a URL written in a manifest must not contain: WHATWG parsers drop or
# strip these silently, or read '\' as '/' where RFC 3986 does not, so the
# same member could be read as two URLs.
_URL_FORBIDDEN = re.compile(r"[\x00-\x20\x7f\\]")
# A DNS name (lowercase, ASCII: IDNs in punycode) or an IPv4 literal.
_HOST = re.compile(r"\A(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")


# Catalogue entries are NamedTuples: immutable like the rest of the model, and
# several times cheaper to build than frozen dataclasses, which matters for a
# manifest of thousands of works.
class Work(NamedTuple):
    sha256: bytes | None
    pdq: bytes | None
    prefs: dict[str, State]
    title: str | None
    ref: str  # JSON Pointer of the entry, for evidence


# Builds a Work from one tuple, in C (NamedTuple's own __new__ is a Python function).
_new_work = functools.partial(tuple.__new__, Work)
# An absent member in a column of values: msgspec's marker, so that the columns of the careful parse
# (dicts) and of the compiled first pass (payloadtypes) are checked by the same code.
_ABSENT = payloadtypes.UNSET


class Name(NamedTuple):
    name: str
    prefs: dict[str, State]
    ref: str


_new_name = functools.partial(tuple.__new__, Name)
_new_rule = functools.partial(tuple.__new__, PathRule)


@dataclass(frozen=True)
class Account:
    url: str
    service: str | None
    ref: str


@dataclass(frozen=True)
class PartRef:
    sha256: str
    size: int
    url: str | None
    ref: str


@dataclass(frozen=True)
class PdqConfig:
    hasher: str
    threshold: int


@dataclass(frozen=True)
class Manifest:
    """A parsed manifest.  ``digest`` (SHA-256 of the payload bytes) names it in evidence."""

    publisher: str
    sequence: int
    issued: datetime
    expires: datetime
    default: dict[str, State]
    paths: tuple[PathRule, ...] = ()
    works: tuple[Work, ...] = ()
    pdq: PdqConfig | None = None
    names: tuple[Name, ...] = ()
    accounts: tuple[Account, ...] = ()
    parts: tuple[PartRef, ...] = ()
    digest: str = ""
    raw: bytes = field(default=b"", repr=False)
    parts_loaded: tuple[str, ...] = ()  # digests of the parts merged in
    # The wildcard rules so far and how many it held for this manifest, so each part is checked
    # against the manifest and earlier parts (spec/paths.md, "Cost of matching") without redoing them.
    _wildcards: tuple[PathMatcher, int] | None = field(default=None, repr=False, compare=False)

    @property
    def is_did_key(self) -> bool:
        return self.publisher.startswith("did:")

    def prefs_for(self, own: dict[str, State]) -> dict[str, State]:
        """An entry's effective preferences: its own, else the manifest default, per category."""
        return {**self.default, **own}


# -- small field checkers ------------------------------------------------------------


def _require(doc: dict, name: str, kind: type | tuple[type, ...], where: str):
    if name not in doc:
        raise PayloadError(f"missing member {name!r}", code="E_FIELD_MISSING", where=f"{where}/{name}")
    return _typed(doc[name], kind, f"{where}/{name}")


def _optional(doc: dict, name: str, kind: type | tuple[type, ...], where: str, default=None):
    return _typed(doc[name], kind, f"{where}/{name}") if name in doc else default


def _typed(value, kind, where: str):
    # bool is an int in Python; JSON true/false is never a valid integer here.
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        expected = getattr(kind, "__name__", None) or "/".join(k.__name__ for k in kind)
        names = {"str": "a string", "int": "an integer", "list": "an array", "dict": "an object"}
        raise PayloadError(f"must be {names.get(expected, expected)}", code="E_FIELD_TYPE", where=where)
    return value


def _text(value, where: str, limit: int = MAX_TEXT_CHARS) -> str:
    _typed(value, str, where)
    if not value or len(value) > limit:
        raise PayloadError(f"must be 1 to {limit} characters", code="E_FIELD_VALUE", where=where)
    return value


def _url(value, where: str) -> str:
    if _URL_FORBIDDEN.search(_text(value, where)):
        raise PayloadError("a URL must not contain spaces, control characters or '\\'", code="E_FIELD_VALUE", where=where)
    return value


def parse_timestamp(value, where: str) -> datetime:
    """RFC 3339 in the one form notrain writes: ``YYYY-MM-DDTHH:MM:SSZ``."""
    if not isinstance(value, str) or not _TIMESTAMP.fullmatch(value):
        raise PayloadError("timestamps are written YYYY-MM-DDTHH:MM:SSZ (UTC)", code="E_TIMESTAMP", where=where)
    try:  # the one form is ISO 8601 too: the C parser reads it (and 'Z' as timezone.utc) in a tenth of the time
        return datetime.fromisoformat(value)
    except ValueError:
        raise PayloadError("not a valid calendar time", code="E_TIMESTAMP", where=where) from None


def format_timestamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _digest(value) -> bytes | None:
    """32 octets from exactly 64 lowercase hex digits, else None (the caller then
    lets :func:`_hex` name the error).  ``fromhex`` skips spaces and reads both
    cases; re-encoding and comparing leaves exactly one spelling, cheaper than a
    regular expression."""
    if type(value) is str and len(value) == 64:
        try:
            raw = bytes.fromhex(value)
        except ValueError:
            return None
        if raw.hex() == value:
            return raw
    return None


def _hex(value, where: str) -> bytes:
    """A SHA-256 or PDQ hash, or the error that says why not."""
    raw = _digest(value)
    if raw is None:
        _typed(value, str, where)
        raise PayloadError("must be 64 lowercase hex digits", code="E_HASH", where=where)
    return raw


def canonical_origin(text: str, *, of_url: bool = False) -> str | None:
    """The canonical ``scheme://host[:port]`` form of an http(s) origin, or None.

    With ``of_url``, ``text`` is any URL and its origin is returned (userinfo,
    path, query and fragment are not part of an origin).  Hosts are lowercase
    ASCII DNS names (IDNs in punycode), dotted-quad IPv4 without leading zeros,
    or bracketed IPv6 in RFC 5952 form without a zone and not IPv4-mapped, so
    that every origin has exactly one spelling.  The URL is split as an HTTP
    client would (:func:`split_url`), so that the origin is the one a request
    for it reaches.
    """
    try:
        return origin_of_split(split_url(text), of_url=of_url)
    except ValueError:
        return None


def origin_of_split(parts: SplitResult, *, of_url: bool = False) -> str | None:
    """:func:`canonical_origin` of an already split URL (raises ValueError for a bad port)."""
    port = parts.port
    if parts.scheme not in ("http", "https") or not parts.hostname or port == 0:
        return None
    if "[" in parts.netloc and not _BRACKETED.fullmatch(parts.netloc.rpartition("@")[2]):  # urlsplit is lax here
        return None
    if not of_url and (parts.username is not None or parts.password is not None):
        return None
    host = _canonical_host(parts.hostname)
    if host is None:
        return None
    default = {"http": 80, "https": 443}[parts.scheme]
    return f"{parts.scheme}://{host}" + (f":{port}" if port not in (None, default) else "")


def _canonical_host(host: str) -> str | None:
    if ":" in host:
        try:
            address = ipaddress.IPv6Address(host)
        except ValueError:
            return None
        if address.scope_id is not None or address.ipv4_mapped is not None or address.compressed != host:
            return None
        return f"[{host}]"
    if not _HOST.match(host):
        return None
    if host.rsplit(".", 1)[-1].isdigit():  # numeric: must be a plain dotted quad
        try:
            return host if str(ipaddress.IPv4Address(host)) == host else None
        except ValueError:
            return None
    return host


def check_publisher(value, where: str = "/publisher") -> str:
    """A publisher is a canonical origin or an Ed25519 did:key, spelled exactly."""
    _typed(value, str, where)
    try:
        return _valid_publisher(value)
    except NotrainError as exc:
        raise type(exc)(exc.message, code=exc.code, where=where) from None


@functools.lru_cache(maxsize=1024)
def _valid_publisher(value: str) -> str:
    """:func:`check_publisher` without the place, kept for the publishers that passed (lru_cache
    keeps no exception): a verifier checks the same few again and again."""
    if value.startswith("did:"):
        PublicKey.from_did_key(value)
        return value
    if canonical_origin(value) != value:
        raise PayloadError("publisher must be a canonical origin (scheme://host[:port], lowercase, no path) or a did:key", code="E_PUBLISHER")
    return value


# Account URLs repeat from one manifest of a publisher to the next; they are at most MAX_TEXT_CHARS long.
_account_origin = functools.lru_cache(maxsize=1024)(canonical_origin)


# -- content sections (shared by the manifest and its parts) -------------------------


def _entries(items, where: str):
    """(pointer, object) for each entry of an array member that must hold objects."""
    _typed(items, list, where)
    for i, item in enumerate(items):
        at = f"{where}/{i}"
        _typed(item, dict, at)
        yield at, item


def _parse_paths(items, where: str, publisher: str) -> tuple[PathRule, ...]:
    _typed(items, list, where)
    if items and publisher.startswith("did:"):
        raise PayloadError("a did:key publisher has no origin, so it cannot have path rules", code="E_FIELD_VALUE", where=where)
    rules = []
    for i, item in enumerate(items):
        at = f"{where}/{i}"
        if type(item) is not dict or type(item.get("pattern")) is not str or type(item.get("prefs")) is not dict:
            rules.append(_path_rule(item, at))  # raises, naming the first error
            continue
        pattern = check_pattern(item["pattern"], f"{at}/pattern")
        rules.append(_new_rule((pattern, tuple(parse_prefs(item["prefs"], f"{at}/prefs").items()), at)))
    return tuple(rules)


def _path_rule(item, at: str) -> PathRule:
    """One rule, its checks in document order."""
    _typed(item, dict, at)
    pattern = check_pattern(_require(item, "pattern", str, at), f"{at}/pattern")
    prefs = parse_prefs(_require(item, "prefs", dict, at), f"{at}/prefs")
    return PathRule(pattern, tuple(prefs.items()), at)


def _parse_works(items, where: str) -> tuple[Work, ...]:
    """The works of a manifest or part: the bulk of a large catalogue."""
    _typed(items, list, where)
    if set(map(type, items)) - {dict}:
        return _works_one_by_one(items, where)
    works = _works_in_bulk(items, where, _dict_column)
    return works if works is not None else _works_one_by_one(items, where)


def _dict_column(items: list[dict], member: str) -> list:
    return list(map(operator.methodcaller("get", member, _ABSENT), items))


def _typed_column(items: list, member: str) -> list:
    return list(map(_ATTRIBUTES[member], items))


_ATTRIBUTES = {member: operator.attrgetter(member) for member in ("sha256", "pdq", "title", "prefs", "name")}


def _works_in_bulk(
    items: list, where: str, column: Callable[[list, str], list], prefs_of: Callable[[dict, str], dict[str, State]] = parse_prefs
) -> tuple[Work, ...] | None:
    """The works of a list with no error, a column at a time (``map`` and one
    ``bytes.fromhex`` per column, about a fifth of the cost of a Python loop per
    work); None if any entry is wrong, so that :func:`_works_one_by_one` names the
    first error in document order.  ``column`` reads one member of every entry
    (:data:`_ABSENT` where it is absent), of dicts or of payloadtypes.Work, whose
    preferences ``prefs_of`` reads."""
    if not items:
        return ()
    shas = _hash_column(column(items, "sha256"))
    pdqs = _hash_column(column(items, "pdq"))
    if shas is None or pdqs is None or (None in shas and any(pdqs[i] is None for i, sha in enumerate(shas) if sha is None)):
        return None
    titles = column(items, "title")
    given = [title for title in titles if title is not _ABSENT] if _ABSENT in titles else titles
    if given:
        if set(map(type, given)) != {str}:
            return None
        lengths = list(map(len, given))
        if min(lengths) < 1 or max(lengths) > MAX_TEXT_CHARS:
            return None
        if given is not titles:
            titles = [None if title is _ABSENT else title for title in titles]
    else:
        titles = [None] * len(items)
    try:
        prefs = [{} if own is _ABSENT else prefs_of(own, where) for own in column(items, "prefs")]
    except PayloadError:
        return None
    return tuple(map(_new_work, zip(shas, pdqs, prefs, titles, _pointers(where, len(items)))))


@functools.lru_cache(maxsize=16)
def _pointer_cache(where: str) -> list[tuple[str, ...]]:
    return [()]


def _pointers(where: str, count: int) -> tuple[str, ...]:
    """``where/0`` ... ``where/{count-1}``: the entries' JSON Pointers, the same strings for every
    manifest, so they are kept (per array, for the 16 arrays used last) and grown as needed.  The
    holder's tuple is replaced, never changed, so threads verifying at once see a whole one."""
    holder = _pointer_cache(where)
    known = holder[0]
    if len(known) < count:
        known = holder[0] = known + tuple(map(f"{where}/".__add__, map(str, range(len(known), count))))
    return known[:count]


def _hash_column(values: list) -> list[bytes | None] | None:
    """Each value as 32 octets (None where absent), or None if any value is not
    exactly 64 lowercase hex digits.  ``fromhex`` is mapped in C over the column;
    it skips spaces and reads both cases, so one compare of the joined values with
    the joined octets re-encoded leaves exactly one spelling (a space shortens the
    re-encoding, an uppercase digit changes it)."""
    given = [value for value in values if value is not _ABSENT] if _ABSENT in values else values
    if not given:
        return [None] * len(values)
    try:
        octets = list(map(bytes.fromhex, given))
    except (TypeError, ValueError):
        return None
    if set(map(len, octets)) != {32} or b"".join(octets).hex() != "".join(given):
        return None
    if given is values:
        return octets
    rest = iter(octets)
    return [None if value is _ABSENT else next(rest) for value in values]


def _works_one_by_one(items: list, where: str) -> tuple[Work, ...]:
    """The same checks entry by entry, in document order: raises the first error."""
    works = []
    for i, item in enumerate(items):
        at = f"{where}/{i}"
        _typed(item, dict, at)
        sha = _hex(item["sha256"], f"{at}/sha256") if "sha256" in item else None
        pdq = _hex(item["pdq"], f"{at}/pdq") if "pdq" in item else None
        if sha is None and pdq is None:
            raise PayloadError("a work needs 'sha256' or 'pdq'", code="E_FIELD_MISSING", where=at)
        prefs = parse_prefs(item["prefs"], f"{at}/prefs") if "prefs" in item else {}
        title = _text(item["title"], f"{at}/title") if "title" in item else None
        works.append(Work(sha, pdq, prefs, title, at))
    return tuple(works)


def _parse_names(items, where: str) -> tuple[Name, ...]:
    _typed(items, list, where)
    names = []
    for i, item in enumerate(items):
        at = f"{where}/{i}"
        name = item.get("name") if type(item) is dict else None
        if type(name) is not str or not 0 < len(name) <= MAX_NAME_CHARS:
            names.append(_name(item, at))  # raises, naming the first error
            continue
        names.append(_new_name((name, parse_prefs(item["prefs"], f"{at}/prefs") if "prefs" in item else {}, at)))
    return tuple(names)


def _name(item, at: str) -> Name:
    """One name, its checks in document order."""
    _typed(item, dict, at)
    name = _text(_require(item, "name", str, at), f"{at}/name", MAX_NAME_CHARS)
    prefs = parse_prefs(item["prefs"], f"{at}/prefs") if "prefs" in item else {}
    return Name(name, prefs, at)


def _parse_accounts(items, where: str) -> tuple[Account, ...]:
    accounts = []
    for at, item in _entries(items, where):
        url = _url(_require(item, "url", str, at), f"{at}/url")
        if not url.startswith("https://") or _account_origin(url) is None:
            raise PayloadError("an account is an https URL", code="E_FIELD_VALUE", where=f"{at}/url")
        service = _text(item["service"], f"{at}/service", 64) if "service" in item else None
        accounts.append(Account(url, service, at))
    return tuple(accounts)


def _parse_parts(items, where: str) -> tuple[PartRef, ...]:
    _typed(items, list, where)
    if len(items) > MAX_PARTS:
        raise PayloadError(f"at most {MAX_PARTS} parts", code="E_FIELD_VALUE", where=where)
    parts: list[PartRef] = []
    for at, item in _entries(items, where):
        digest = _hex(_require(item, "sha256", str, at), f"{at}/sha256").hex()
        size = _require(item, "size", int, at)
        if not 0 < size <= MAX_PART_BYTES:
            raise PayloadError(f"a part is 1 to {MAX_PART_BYTES} bytes", code="E_FIELD_VALUE", where=f"{at}/size")
        url = _url(item["url"], f"{at}/url") if "url" in item else None
        if any(p.sha256 == digest for p in parts):
            raise PayloadError("the same part is listed twice", code="E_FIELD_VALUE", where=f"{at}/sha256")
        parts.append(PartRef(digest, size, url, at))
    return tuple(parts)


def _parse_pdq(value, where: str) -> PdqConfig:
    _typed(value, dict, where)
    hasher = _text(_require(value, "hasher", str, where), f"{where}/hasher", 64)
    threshold = _optional(value, "threshold", int, where, DEFAULT_PDQ_THRESHOLD)
    if not 0 <= threshold <= MAX_PDQ_THRESHOLD:
        raise PayloadError(f"threshold must be 0 to {MAX_PDQ_THRESHOLD}", code="E_FIELD_VALUE", where=f"{where}/threshold")
    return PdqConfig(hasher, threshold)


def _check_critical(doc: dict, known: frozenset[str]) -> None:
    critical = _optional(doc, "critical", list, "", [])
    for i, name in enumerate(critical):
        at = f"/critical/{i}"
        _typed(name, str, at)
        if name not in known:
            raise PayloadError(f"critical member {name!r} is not understood by this verifier", code="E_CRITICAL", where=at)
        if name not in doc:
            raise PayloadError(f"critical member {name!r} is absent", code="E_CRITICAL", where=at)


# -- documents ------------------------------------------------------------------------


def parse_payload(data: bytes) -> Manifest:
    """Parse manifest payload bytes (already verified, or fetched bare from its origin)."""
    typed = payloadtypes.decode(data)
    if typed is not None:
        manifest = _from_types(typed, data)
        if manifest is not None:
            return manifest
    return careful_parse(data)


def careful_parse(data: bytes) -> Manifest:
    """:func:`parse_payload` without the compiled first pass: every check in the spec's order, so
    that an error is named as spec/manifest.md says (and the reference the first pass is tested
    against)."""
    doc = ijson.loads(data, max_size=MAX_PAYLOAD_BYTES, what="manifest")
    if not isinstance(doc, dict):
        raise PayloadError("a manifest is a JSON object", code="E_FIELD_TYPE", where="/")
    version = _require(doc, "notrain", int, "")
    if version != VERSION:
        raise PayloadError(f"manifest version {version} is not supported (this verifier reads {VERSION})", code="E_VERSION", where="/notrain")
    _check_critical(doc, KNOWN_MEMBERS)
    publisher = check_publisher(_require(doc, "publisher", str, ""))
    sequence = _require(doc, "sequence", int, "")
    if not 0 <= sequence <= MAX_SEQUENCE:
        raise PayloadError("sequence must be 0 to 2^53-1", code="E_FIELD_VALUE", where="/sequence")
    issued = parse_timestamp(_require(doc, "issued", str, ""), "/issued")
    expires = parse_timestamp(_require(doc, "expires", str, ""), "/expires")
    if not issued < expires or expires - issued > MAX_VALIDITY:  # a difference: no overflow near year 9999
        raise PayloadError(f"expires must be after issued, by at most {MAX_VALIDITY.days} days", code="E_VALIDITY", where="/expires")
    works = _parse_works(doc.get("works", []), "/works")
    pdq = _parse_pdq(doc["pdq"], "/pdq") if "pdq" in doc else None
    if pdq is None and any(w.pdq for w in works):
        raise PayloadError("works carry PDQ hashes, so 'pdq' must name the hasher", code="E_FIELD_MISSING", where="/pdq")
    default = parse_prefs(doc["default"], "/default") if "default" in doc else {}
    paths = _parse_paths(doc.get("paths", []), "/paths", publisher)
    return Manifest(
        publisher=publisher,
        sequence=sequence,
        issued=issued,
        expires=expires,
        default=default,
        paths=paths,
        works=works,
        pdq=pdq,
        names=_parse_names(doc.get("names", []), "/names"),
        accounts=_parse_accounts(doc.get("accounts", []), "/accounts"),
        parts=_parse_parts(doc.get("parts", []), "/parts"),
        digest=hashlib.sha256(data).hexdigest(),
        raw=bytes(data),
        _wildcards=_wildcards(paths),  # last: every member is checked before the rules' reach
    )


def _from_types(doc: payloadtypes.Payload, data: bytes) -> Manifest | None:
    """The model of a payload whose members msgspec's types passed (:mod:`payloadtypes`): here
    only what no type states (publisher, timestamps, hex spelling, labels, patterns, URLs), in
    bulk.  None if any of it fails, or for critical members, so that the careful parse names the
    error: the manifest is the same either way (tests/test_core_fast_paths_payload.py)."""
    if doc.critical:
        return None
    try:
        publisher = _valid_publisher(doc.publisher)
    except NotrainError:
        return None
    issued, expires = _instant(doc.issued), _instant(doc.expires)
    if issued is None or expires is None or not issued < expires or expires - issued > MAX_VALIDITY:
        return None
    if doc.paths and publisher.startswith("did:"):  # a did:key publisher has no origin for rules
        return None
    works = _works_in_bulk(doc.works, "/works", _typed_column, stated_prefs) if doc.works else ()
    if works is None or (not doc.pdq and any(work.pdq for work in works)):
        return None
    try:
        paths = _typed_paths(doc.paths) if doc.paths else ()
        names = _typed_names(doc.names) if doc.names else ()
        # Rare and small: the careful parse's own code, on the members given.
        accounts = _parse_accounts(msgspec.to_builtins(doc.accounts), "/accounts") if doc.accounts else ()
        parts = _parse_parts(msgspec.to_builtins(doc.parts), "/parts") if doc.parts else ()
        return Manifest(
            publisher=publisher,
            sequence=doc.sequence,
            issued=issued,
            expires=expires,
            default=stated_prefs(doc.default, "/default") if doc.default else {},
            paths=paths,
            works=works,
            pdq=_typed_pdq(doc.pdq) if doc.pdq else None,
            names=names,
            accounts=accounts,
            parts=parts,
            digest=hashlib.sha256(data).hexdigest(),
            raw=data,
            _wildcards=_wildcards(paths),
        )
    except PayloadError:
        return None


def _typed_pdq(pdq: payloadtypes.Pdq) -> PdqConfig:
    return PdqConfig(pdq.hasher, DEFAULT_PDQ_THRESHOLD if pdq.threshold is _ABSENT else pdq.threshold)


def _instant(text: str) -> datetime | None:
    """:func:`parse_timestamp` of a string, None where it would raise."""
    if not _TIMESTAMP.fullmatch(text):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _typed_paths(items: list[payloadtypes.PathRule]) -> tuple[PathRule, ...]:
    return tuple(
        _new_rule((check_pattern(item.pattern, at), tuple(stated_prefs(item.prefs, at).items()), at))
        for item, at in zip(items, _pointers("/paths", len(items)))
    )


def _typed_names(items: list[payloadtypes.Name]) -> tuple[Name, ...]:
    prefs = [{} if own is _ABSENT else stated_prefs(own, "/names") for own in _typed_column(items, "prefs")]
    return tuple(map(_new_name, zip(_typed_column(items, "name"), prefs, _pointers("/names", len(items)))))


def _wildcards(paths: tuple[PathRule, ...]) -> tuple[PathMatcher, int] | None:
    """Check the rules' wildcard reach.  A path reaches at most one piece per ``*`` of the rules, so
    with no more ``*`` than the cap in all the rules nothing is built: :func:`merge_part` builds
    the checker if a part comes."""
    if sum(rule.pattern.count("*") for rule in paths) <= MAX_WILDCARD_REACH:
        return None
    checker = check_wildcard_reach(paths)
    return checker, checker.rule_count


def merge_part(manifest: Manifest, part_index: int, data: bytes) -> Manifest:
    """Add the content of part ``part_index`` (bytes fetched from anywhere: the
    signed index binds them by SHA-256 and size)."""
    if not 0 <= part_index < len(manifest.parts):
        raise IndexError(part_index)
    ref = manifest.parts[part_index]
    where = f"/parts/{part_index}"
    if len(data) != ref.size or hashlib.sha256(data).hexdigest() != ref.sha256:
        raise PayloadError("part bytes do not match the size and sha256 in the signed manifest", code="E_PART_DIGEST", where=ref.ref)
    if ref.sha256 in manifest.parts_loaded:
        return manifest
    doc = ijson.loads(data, max_size=MAX_PART_BYTES, what=where)
    if not isinstance(doc, dict):
        raise PayloadError("a part is a JSON object", code="E_FIELD_TYPE", where=where)
    if _require(doc, "notrain-part", int, where) != VERSION:
        raise PayloadError("unsupported part version", code="E_VERSION", where=f"{where}/notrain-part")
    sequence = doc.get("sequence")
    if doc.get("publisher") != manifest.publisher or type(sequence) is not int or sequence != manifest.sequence:
        raise PayloadError("a part must repeat its manifest's publisher and sequence", code="E_FIELD_VALUE", where=where)
    prefix = where
    works = _parse_works(doc.get("works", []), f"{prefix}/works")
    if manifest.pdq is None and any(w.pdq for w in works):
        raise PayloadError("part works carry PDQ hashes but the manifest names no hasher", code="E_FIELD_MISSING", where="/pdq")
    paths = _parse_paths(doc.get("paths", []), f"{prefix}/paths", manifest.publisher)
    checker, held = manifest._wildcards or (None, -1)
    if checker is None or checker.rule_count != held:  # built elsewhere, or another part went on from it
        checker = check_wildcard_reach(manifest.paths)
    check_wildcard_reach(paths, checker)
    return dataclasses.replace(
        manifest,
        paths=manifest.paths + paths,
        _wildcards=(checker, checker.rule_count),
        works=manifest.works + works,
        names=manifest.names + _parse_names(doc.get("names", []), f"{prefix}/names"),
        parts_loaded=manifest.parts_loaded + (ref.sha256,),
    )
