"""Strict I-JSON (RFC 7493) parsing with hard limits.

Signatures in notrain cover exact bytes, and the verified bytes are then parsed.
Two parsers that read the same bytes differently would let one signature mean
two things, so this parser refuses everything on which JSON parsers disagree:
duplicate member names, numbers that are not exact integers within
±(2^53 - 1), lone surrogates, a byte order mark, invalid UTF-8, NaN/Infinity,
and nesting deeper than a fixed limit.

Python's ``json`` module is used for the grammar (it is strict about control
characters and trailing data); the hooks below add the I-JSON rules.  No
third-party parser gives all of these checks, hence this small module.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .errors import JSONError

MAX_SAFE_INTEGER = 2**53 - 1
DEFAULT_MAX_DEPTH = 16

# A \uD800-\uDFFF escape: only then can a lone surrogate appear, so the
# (costly) walk over every string runs only when one is present.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abcdefABCDEF]")


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise JSONError(f"duplicate member name {key!r}", code="E_JSON_DUPLICATE_KEY")
            seen.add(key)
    return obj


def _reject_float(text: str) -> Any:
    raise JSONError(f"number {text[:40]!r} is not an integer", code="E_JSON_NUMBER")


def _checked_int(text: str) -> int:
    if len(text) > 17:  # fast path: 2^53 has 16 digits
        raise JSONError(f"integer {text[:40]}... is outside ±(2^53-1)", code="E_JSON_NUMBER")
    value = int(text)
    if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        raise JSONError(f"integer {text} is outside ±(2^53-1)", code="E_JSON_NUMBER")
    return value


def _reject_constant(text: str) -> Any:
    raise JSONError(f"{text} is not JSON", code="E_JSON_NUMBER")


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
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JSONError(f"{what} is not valid UTF-8 (byte {exc.start})", code="E_JSON_UTF8") from None
    try:
        value = json.loads(
            text,
            object_pairs_hook=_reject_duplicates,
            parse_float=_reject_float,
            parse_int=_checked_int,
            parse_constant=_reject_constant,
        )
    except JSONError:
        raise
    except RecursionError:
        raise JSONError(f"{what} nests deeper than {max_depth} levels", code="E_JSON_DEPTH") from None
    except json.JSONDecodeError as exc:
        raise JSONError(
            f"{what} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})", code="E_JSON"
        ) from None
    has_surrogate_escape = _SURROGATE_ESCAPE.search(data) is not None
    if has_surrogate_escape or _depth(value) > max_depth:
        _check_tree(value, max_depth, check_strings=has_surrogate_escape)  # finds and names the problem
    return value


def _depth(value: Any) -> int:
    """Nesting depth, level by level over containers only: the cheap check that
    runs on every document (``_check_tree`` runs only to name a problem)."""
    depth = 0
    level = [value] if type(value) in _CONTAINERS else []
    while level:
        depth += 1
        level = [
            item
            for container in level
            for item in (container.values() if type(container) is dict else container)
            if type(item) in _CONTAINERS
        ]
    return depth


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
