"""Strict I-JSON (RFC 7493) parsing with hard limits.

Signatures in notrain cover exact bytes, and the verified bytes are then parsed.
Two parsers that read the same bytes differently would let one signature mean
two things, so this parser refuses everything on which JSON parsers disagree:
duplicate member names, numbers that are not exact integers within
±(2^53 - 1), lone surrogates, a byte order mark, invalid UTF-8, NaN/Infinity,
and nesting deeper than a fixed limit.

Three tiers, each accepting only what the next accepts, so the error reported
for a bad document never depends on which tier saw it:

1. msgspec (C) decodes into a type that admits no float, no integer beyond
   ±(2^53 - 1) and no container deeper than the limit (up to
   ``_CANONICAL_DEPTH``), and refuses lone surrogates and invalid UTF-8.  It
   keeps the last of duplicate member names silently, so its result is used
   only if re-encoding it gives the document's own tokens back
   (``msgspec.json.format`` drops the whitespace between them): a document
   with a duplicate name cannot equal a serialisation of the dict it became;
   or if the text has no more ':' than the value has members (``_members``).
   Documents written compact or indented without needless escapes (notrain's
   own ``dumps`` and the common serialisers) take this tier.
2. A prebuilt stdlib decoder with stateless hooks that stop at the first
   defect: for valid documents spelled otherwise (escaped ``/``, ``\\u00e9``).
3. The careful parse, which records every defect and raises the one that the
   spec's order puts first.

Python's ``json`` module gives the grammar of tiers 2 and 3 (it is strict about
control characters and trailing data); no third-party parser refuses
duplicate names, hence this module.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from typing import Annotated, Any, Union

import msgspec
import numpy as np

from .errors import JSONError

MAX_SAFE_INTEGER = 2**53 - 1
DEFAULT_MAX_DEPTH = 16

# A \uD800-\uDFFF escape: only then can a lone surrogate appear, so the
# (costly) walk over every string runs only when one is present.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abcdefABCDEF]")


def _number_defect(text: str) -> JSONError:
    if text in ("NaN", "Infinity", "-Infinity"):
        return JSONError(f"{text} is not JSON", code="E_JSON_NUMBER")
    if "." in text or "e" in text or "E" in text:
        return JSONError(f"number {text[:40]!r} is not an integer", code="E_JSON_NUMBER")
    return JSONError(f"integer {text[:40]} is outside ±(2^53-1)", code="E_JSON_NUMBER")


class _Defects:
    """The first number and the first duplicate-name defect met while parsing.

    They are recorded rather than raised so that a document with several
    defects is reported in the order spec/manifest.md fixes (grammar, depth,
    numbers, duplicates, surrogates), not in the order a parser happens to
    meet them.
    """

    __slots__ = ("number", "duplicate")

    def __init__(self) -> None:
        self.number: JSONError | None = None
        self.duplicate: JSONError | None = None

    def pairs(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) != len(pairs) and self.duplicate is None:
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    self.duplicate = JSONError(f"duplicate member name {key!r}", code="E_JSON_DUPLICATE_KEY")
                    break
                seen.add(key)
        return obj

    def integer(self, text: str) -> int:
        try:
            return _exact_integer(text)
        except _Defect:
            return self.not_integer(text)

    def not_integer(self, text: str) -> int:
        if self.number is None:
            self.number = _number_defect(text)
        return 0


class _Defect(Exception):
    """A number or duplicate-name defect met on the fast path; which error to
    report is then left to the careful parse."""


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _Defect
    return obj


def _exact_integer(text: str) -> int:
    # 15 characters hold at most 999,999,999,999,999 < 2^53; 2^53 has 16 digits.
    if len(text) <= 15 or (len(text) <= 17 and -MAX_SAFE_INTEGER <= int(text) <= MAX_SAFE_INTEGER):
        return int(text)
    raise _Defect


def _refuse_number(text: str) -> Any:
    raise _Defect


# Tier 2, built once (json.loads with hooks builds a decoder per call, which costs
# more than parsing a typical manifest), with stateless hooks that stop at the
# first defect.  A document with a defect is parsed again by _loads_reporting
# (tier 3), so that the error is the one spec/manifest.md's order names.
_STRICT = json.JSONDecoder(
    object_pairs_hook=_unique_members, parse_float=_refuse_number, parse_int=_exact_integer, parse_constant=_refuse_number
)


# msgspec's type tree for a depth limit doubles with every level (each level names the one below
# twice, as array and as object item), so tier 1 checks at most this many levels: 8 take ~15 ms
# to build, once per process; a deeper document within a larger limit goes to tier 2.
_CANONICAL_DEPTH = 8
_SAFE_INTEGER = Annotated[int, msgspec.Meta(ge=-MAX_SAFE_INTEGER, le=MAX_SAFE_INTEGER)]
_ENCODER = msgspec.json.Encoder()  # msgspec's encoders and decoders are thread-safe (since 0.16)


@functools.cache
def _canonical_decoder(depth: int) -> msgspec.json.Decoder:
    """A decoder whose type is I-JSON nested at most ``depth`` levels (float is not in it)."""
    kind: Any = Union[_SAFE_INTEGER, str, bool, None]
    for _ in range(depth):
        kind = Union[_SAFE_INTEGER, str, bool, None, list[kind], dict[str, kind]]
    return msgspec.json.Decoder(kind)


def _canonical(data: bytes, max_depth: int) -> tuple[Any] | None:
    """Tier 1: the value (in a 1-tuple) of a document that needs no other check, or None."""
    try:
        value = _canonical_decoder(min(max_depth, _CANONICAL_DEPTH)).decode(data)
    except msgspec.DecodeError:  # ValidationError (type, range, depth) is a DecodeError
        return None
    encoded = _ENCODER.encode(value)
    if encoded == data or data.count(b":") == _members(value) or encoded == msgspec.json.format(data, indent=-1):
        return (value,)
    return None


def _members(value: Any) -> int:
    """How many members the parsed objects hold.  Each member of the text has one ':' of its
    own and strings may hold more, so a text with exactly as many ':' as the value has members
    repeats no name (a repeated name leaves one member fewer); an indented envelope, whose
    strings are base64, passes so without reformatting its megabyte (a fresh buffer each time)."""
    return sum(len(container) for level in _levels(value) for container in level if type(container) is dict)


def _check_tree(value: Any, max_depth: int, check_strings: bool, where: str = "", depth: int = 1) -> None:
    """Walk the parsed value: nesting depth, and (if asked) lone surrogates."""
    if isinstance(value, str):
        if check_strings:
            _check_string(value, where)
        return
    if depth > max_depth:
        raise JSONError(f"nesting deeper than {max_depth} levels", code="E_JSON_DEPTH", where=where)
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{where}/{_pointer_token(key)}"
            if check_strings:
                _check_string(key, path)
            if isinstance(item, (dict, list)):
                _check_tree(item, max_depth, check_strings, path, depth + 1)
            elif check_strings and isinstance(item, str):
                _check_string(item, path)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            path = f"{where}/{index}"
            if isinstance(item, (dict, list)):
                _check_tree(item, max_depth, check_strings, path, depth + 1)
            elif check_strings and isinstance(item, str):
                _check_string(item, path)


def _check_string(text: str, where: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise JSONError("string contains a lone surrogate", code="E_JSON_SURROGATE", where=where) from None


def _pointer_token(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def loads(data: bytes, *, max_size: int, max_depth: int = DEFAULT_MAX_DEPTH, what: str = "document") -> Any:
    """Parse ``data`` as strict I-JSON; raise :class:`JSONError` with a code otherwise."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("ijson.loads takes bytes")
    data = bytes(data)
    if len(data) > max_size:
        raise JSONError(f"{what} is {len(data)} bytes; the limit is {max_size}", code="E_SIZE")
    if data.startswith(b"\xef\xbb\xbf"):
        raise JSONError(f"{what} starts with a byte order mark", code="E_JSON_UTF8")
    if not data.isascii():  # ASCII is UTF-8: no need to decode it before tier 1
        _utf8(data, what)
    canonical = _canonical(data, max_depth)
    if canonical is not None:
        return canonical[0]
    text = _utf8(data, what)
    try:
        value = _STRICT.decode(text)
    except (_Defect, ValueError, RecursionError):  # JSONDecodeError is a ValueError
        return _loads_reporting(data, text, max_depth, what)
    if _depth(value) > max_depth:
        _check_tree(value, max_depth, check_strings=False)  # names where the depth is exceeded
    if _SURROGATE_ESCAPE.search(data) is not None:
        _check_tree(value, max_depth, check_strings=True)  # finds and names a lone surrogate, if any
    return value


def is_utf8(data: bytes) -> bool:
    """Whether ``data`` is UTF-8 without a byte order mark (ASCII is, without decoding it): what the
    compiled first passes of parsing (msgspec types) check before decoding."""
    if data.isascii():
        return True
    if data.startswith(b"\xef\xbb\xbf"):
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _utf8(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JSONError(f"{what} is not valid UTF-8 (byte {exc.start})", code="E_JSON_UTF8") from None


def _loads_reporting(data: bytes, text: str, max_depth: int, what: str) -> Any:
    """The careful parse, for a document the fast path refused: records every
    defect class and raises the one the spec's order puts first."""
    defects = _Defects()
    try:
        value = json.loads(
            text,
            object_pairs_hook=defects.pairs,
            parse_float=defects.not_integer,
            parse_int=defects.integer,
            parse_constant=defects.not_integer,
        )
    except RecursionError:  # only nesting far beyond any limit exhausts the parser's stack
        raise JSONError(f"{what} nests deeper than {max_depth} levels", code="E_JSON_DEPTH") from None
    except json.JSONDecodeError as exc:
        if _lexical_depth(data) > max_depth:
            raise JSONError(f"{what} nests deeper than {max_depth} levels", code="E_JSON_DEPTH") from None
        raise JSONError(
            f"{what} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})", code="E_JSON"
        ) from None
    if _depth(value) > max_depth:
        _check_tree(value, max_depth, check_strings=False)  # names where the depth is exceeded
    if (defects.number is not None or defects.duplicate is not None) and _lexical_depth(data) > max_depth:
        # A repeated name dropped its earlier value from the parsed one (and a bad number became 0),
        # so the depth the spec defines on the text may lie in what was dropped.
        raise JSONError(f"{what} nests deeper than {max_depth} levels", code="E_JSON_DEPTH")
    if defects.number is not None:
        raise defects.number
    if defects.duplicate is not None:
        raise defects.duplicate
    if _SURROGATE_ESCAPE.search(data) is not None:
        _check_tree(value, max_depth, check_strings=True)  # finds and names a lone surrogate, if any
    return value


# A JSON string, or the unterminated rest of one: what the lexical depth skips.
# (Bytes: in UTF-8 no octet of a multi-octet character is '"' or '\'.)
_STRING = re.compile(rb'"(?:[^"\\]+|\\.)*"?', re.DOTALL)
# Brackets become +1 and -1 (as signed octets); every other octet is deleted.
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[{]}"))


def _lexical_depth(data: bytes) -> int:
    """Nesting depth of text that is not valid JSON, as spec/manifest.md defines it:
    the peak of a counter that each ``[`` or ``{`` outside a string raises by one
    and each ``]`` or ``}`` lowers by one.  Linear, in C; used only on the error path,
    so that a deep document is reported as too deep whether or not it is also
    malformed."""
    steps = _STRING.sub(b"", data).translate(_STEPS, _NOT_BRACKETS)
    if not steps:
        return 0
    return max(int(np.cumsum(np.frombuffer(steps, dtype=np.int8), dtype=np.int32).max()), 0)


def _depth(value: Any) -> int:
    """Nesting depth, level by level over containers only: the cheap check that
    runs on every document (``_check_tree`` runs only to name a problem)."""
    return sum(1 for _ in _levels(value))


def _levels(value: Any) -> Iterator[list]:
    """The containers of a parsed value, a level at a time."""
    level = [value] if type(value) in _CONTAINERS else []
    while level:
        yield level
        level = [
            item
            for container in level
            for item in (container.values() if type(container) is dict else container)
            if type(item) in _CONTAINERS
        ]


_CONTAINERS = (dict, list)


def dumps(value: Any, *, pretty: bool = False) -> bytes:
    """Serialise for *authoring* (signing uses whatever bytes result, verbatim).

    UTF-8, no ASCII escaping, sorted keys so that re-running a tool gives the
    same bytes.
    """
    if pretty:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, indent=2) + "\n"
    else:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return text.encode("utf-8")
