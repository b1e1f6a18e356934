"""The fast paths of strict parsing give exactly the answers of the careful paths.

``ijson.loads`` first parses with a prebuilt decoder that stops at the first
defect, and ``parse_payload`` checks a list of works a column at a time; both
fall back to the careful code on any doubt.  These tests compare the two on
valid and on broken inputs: same value, or same error code and place.
"""

from __future__ import annotations

import hashlib

import pytest

from notrain.core import ijson
from notrain.core import manifest as m
from notrain.core.errors import NotrainError


def outcome(fn, *args):
    try:
        return ("ok", fn(*args))
    except NotrainError as exc:
        return ("error", exc.code, exc.where)


def _hex(tag: str, i: int) -> str:
    return hashlib.sha256(f"{tag}{i}".encode()).hexdigest()


def works(n: int = 6) -> list[dict]:
    items = []
    for i in range(n):
        item = {"sha256": _hex("file", i), "pdq": _hex("pdq", i), "title": f"Work {i}"}
        if i % 3 == 1:
            item["prefs"] = {"train-ai": "n", "future-label": "x"}
        items.append(item)
    del items[2]["pdq"]  # sha256 only
    del items[4]["sha256"]  # pdq only
    del items[5]["title"]
    return items


# (index, member, value); value None with member "*" replaces the whole entry.
BREAKAGES = [
    (0, "sha256", _hex("file", 0).upper()),
    (1, "sha256", _hex("file", 1)[:-1]),
    (1, "sha256", _hex("file", 1) + "0"),
    (3, "pdq", " " + _hex("pdq", 3)[1:]),
    (3, "pdq", _hex("pdq", 3)[:62] + " 0"),
    (0, "pdq", _hex("pdq", 0)[:63] + "g"),
    (0, "pdq", _hex("pdq", 0)[:63] + "é"),
    (2, "sha256", None),
    (2, "sha256", 7),
    (4, "pdq", ["x"]),
    (0, "title", ""),
    (0, "title", "t" * (m.MAX_TEXT_CHARS + 1)),
    (1, "title", None),
    (1, "title", 3),
    (5, "title", "t" * m.MAX_TEXT_CHARS),  # the limit itself is valid
    (1, "prefs", {"train-ai": "maybe"}),
    (1, "prefs", {"Bad Label": "y"}),
    (1, "prefs", []),
    (3, "*", "not an object"),
    (3, "*", {"title": "no hash"}),
    (3, "*", {}),
]


@pytest.mark.parametrize("index,member,value", BREAKAGES)
def test_works_in_bulk_match_one_by_one(index, member, value):
    items = works()
    if member == "*":
        items[index] = value
    else:
        items[index][member] = value
    bulk, single = outcome(m._parse_works, items, "/works"), outcome(m._works_one_by_one, items, "/works")
    assert bulk == single


def test_works_in_bulk_report_the_first_error_in_document_order():
    items = works()
    items[1]["title"] = ""  # later member of an earlier entry
    items[3]["sha256"] = "00"  # earlier member of a later entry
    assert outcome(m._parse_works, items, "/works") == ("error", "E_FIELD_VALUE", "/works/1/title")


def test_works_in_bulk_build_the_same_works():
    items = works(40)
    bulk = m._works_in_bulk(items, "/parts/3/works")
    assert bulk is not None and bulk == m._works_one_by_one(items, "/parts/3/works")
    assert bulk[4].sha256 is None and bulk[2].pdq is None and bulk[5].title is None
    assert bulk[7].ref == "/parts/3/works/7" and type(bulk[7]) is m.Work
    assert m._works_in_bulk([], "/works") == ()
    assert bulk[0].prefs is not bulk[3].prefs  # no shared mutable defaults


JSON_CASES = [
    b'{"a": 1, "b": [true, false, null], "c": {"d": "e"}}',
    b'{"a": 1, "a": 2}',
    b'{"a": 1.5}',
    b'{"a": 9007199254740991, "b": -9007199254740991}',
    b'{"a": 9007199254740992}',
    b'{"a": 12345678901234567890123}',
    b'{"a": NaN}',
    b'{"a": -Infinity}',
    b'{"a": 1e3, "b": {"x": 1, "x": 1}}',
    b'{"b": {"x": 1, "x": 1}, "a": 1e3}',
    b'{"a": "\\ud800"}',
    b'{"a": "\\ud83d\\ude00"}',
    b'{"a": "\\ud800", "a": 1}',
    b'{"a": 1.0, "b": "\\udc00"}',
    b'{"a": 1,}',
    b'{"a": 1, "a": 2',
    b'[1.5' + b"[" * 40,
    b"[" * 17 + b"]" * 17,
    b"[" * 16 + b"]" * 16,
    b"[" * 17 + b"1.5" + b"]" * 17,
    b"[" * 100_000 + b"]" * 100_000,
    b'{"a": 1} x',
    b'  {"a": "\\u003a"}  ',
]


@pytest.mark.parametrize("data", JSON_CASES, ids=lambda d: d[:30].decode(errors="replace"))
def test_ijson_fast_path_matches_the_reporting_parse(data):
    fast = outcome(lambda: ijson.loads(data, max_size=1 << 20))
    careful = outcome(lambda: ijson._loads_reporting(data, data.decode(), ijson.DEFAULT_MAX_DEPTH, "document"))
    assert fast == careful


def test_ijson_fast_path_values_are_independent_between_calls():
    data = b'{"k": {"n": [1, 2]}}'
    first = ijson.loads(data, max_size=100)
    first["k"]["n"].append(3)
    assert ijson.loads(data, max_size=100) == {"k": {"n": [1, 2]}}
