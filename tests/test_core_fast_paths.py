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
    bulk = m._works_in_bulk(items, "/parts/3/works", m._dict_column)
    assert bulk is not None and bulk == m._works_one_by_one(items, "/parts/3/works")
    assert bulk[4].sha256 is None and bulk[2].pdq is None and bulk[5].title is None
    assert bulk[7].ref == "/parts/3/works/7" and type(bulk[7]) is m.Work
    assert m._works_in_bulk([], "/works", m._dict_column) == ()
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


def path_items() -> list[dict]:
    return [
        {"pattern": "/portfolio/", "prefs": {"train-ai": "n"}},
        {"pattern": "/shop/*.jpg$", "prefs": {"train-ai": "n", "search": "y", "future-label": "x"}},
        {"pattern": "/caf%c3%a9/%7e", "prefs": {}},
    ]


# (index, member, value) as for the works; "*" replaces the whole rule, None removes the member.
PATH_BREAKAGES = [
    (0, "pattern", None),
    (0, "pattern", 3),
    (1, "pattern", "no-slash"),
    (1, "pattern", "/a$b"),
    (1, "pattern", "/%zz"),
    (2, "prefs", None),
    (2, "prefs", ["train-ai"]),
    (2, "prefs", {"train-ai": "maybe"}),
    (0, "*", "not an object"),
    (0, "*", {"pattern": "bad", "prefs": None}),  # the pattern's error comes first
    (0, "*", {"prefs": {"train-ai": "maybe"}}),
]


def paths_one_by_one(items, where):
    return tuple(m._path_rule(item, f"{where}/{i}") for i, item in enumerate(items))


def broken(items: list, index: int, member: str, value) -> list:
    """``items`` with one entry broken: ``member`` "*" replaces the entry, ``value`` None removes the member."""
    if member == "*":
        items[index] = value
    elif value is None:
        del items[index][member]
    else:
        items[index][member] = value
    return items


@pytest.mark.parametrize("index,member,value", PATH_BREAKAGES)
def test_path_rules_fast_loop_matches_one_by_one(index, member, value):
    items = broken(path_items(), index, member, value)
    fast = outcome(m._parse_paths, items, "/paths", "https://a.example")
    assert fast == outcome(paths_one_by_one, items, "/paths") and fast[0] == "error"


def test_path_rules_fast_loop_builds_the_same_rules():
    items = path_items()
    rules = m._parse_paths(items, "/parts/2/paths", "https://a.example")
    assert rules == paths_one_by_one(items, "/parts/2/paths") and all(type(rule) is m.PathRule for rule in rules)
    assert rules[2].pattern == "/café/~".replace("é", "%C3%A9") and rules[1].ref == "/parts/2/paths/1"


def reference_timestamp(text: str):
    """The definition: the six numbers of YYYY-MM-DDTHH:MM:SSZ as a UTC datetime, or an error."""
    import re
    from datetime import datetime, timezone

    match = re.fullmatch(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})Z", text)
    try:
        return ("ok", datetime(*map(int, match.groups()), tzinfo=timezone.utc)) if match else ("error", "E_TIMESTAMP", "/t")
    except ValueError:
        return ("error", "E_TIMESTAMP", "/t")


@pytest.mark.parametrize("year", ["0000", "0001", "1970", "2024", "2100", "9999"])
@pytest.mark.parametrize("month_day", ["01-01", "02-28", "02-29", "02-30", "04-31", "12-31", "13-01", "00-10", "01-00"])
@pytest.mark.parametrize("clock", ["00:00:00", "23:59:59", "24:00:00", "23:60:00", "23:59:60", "99:99:99"])
def test_timestamps_parse_as_their_definition(year, month_day, clock):
    text = f"{year}-{month_day}T{clock}Z"
    got = outcome(m.parse_timestamp, text, "/t")
    assert got == reference_timestamp(text)
    if got[0] == "ok":
        assert got[1].tzinfo is not None and got[1].utcoffset().total_seconds() == 0


@pytest.mark.parametrize("text", ["2026-11-01T09:30:00z", "2026-11-01 09:30:00Z", "2026-11-01T09:30:00+00:00", "2026-11-01T09:30:00.0Z", "２026-11-01T09:30:00Z", "2026-11-01T09:30:00Z\n"])
def test_timestamps_in_other_iso_forms_are_refused(text):
    assert outcome(m.parse_timestamp, text, "/t") == ("error", "E_TIMESTAMP", "/t") == reference_timestamp(text)


NAME_BREAKAGES = [
    (0, "name", None),
    (0, "name", ""),
    (0, "name", "n" * (m.MAX_NAME_CHARS + 1)),
    (1, "name", 5),
    (1, "prefs", {"train-ai": "maybe"}),
    (1, "prefs", "n"),
    (0, "*", ["Mira"]),
    (0, "*", {"name": "", "prefs": 3}),  # the name's error comes first
]


def name_items() -> list[dict]:
    return [{"name": "Mira Okafor"}, {"name": "n" * m.MAX_NAME_CHARS, "prefs": {"train-ai": "n", "x-label": "y"}}]


def names_one_by_one(items, where):
    return tuple(m._name(item, f"{where}/{i}") for i, item in enumerate(items))


@pytest.mark.parametrize("index,member,value", NAME_BREAKAGES)
def test_names_fast_loop_matches_one_by_one(index, member, value):
    items = broken(name_items(), index, member, value)
    fast = outcome(m._parse_names, items, "/names")
    assert fast == outcome(names_one_by_one, items, "/names") and fast[0] == "error"


def test_names_fast_loop_builds_the_same_names():
    names = m._parse_names(name_items(), "/names")
    assert names == names_one_by_one(name_items(), "/names") and all(type(name) is m.Name for name in names)
    assert outcome(m._parse_names, "x", "/names") == ("error", "E_FIELD_TYPE", "/names")


def prefs_one_by_one(value, where):
    """The definition of parse_prefs, label by label (spec/manifest.md, "Preferences")."""
    from notrain.core.vocab import LABEL, State

    if not isinstance(value, dict):
        raise m.PayloadError("x", code="E_FIELD_TYPE", where=where)
    prefs = {}
    for label, token in value.items():
        if label in ("train-ai", "ai-use", "search"):
            if token not in ("y", "n") or type(token) is not str:
                raise m.PayloadError("x", code="E_FIELD_VALUE", where=f"{where}/{label}")
            prefs[label] = State.ALLOWED if token == "y" else State.DISALLOWED
        elif not LABEL.match(label):
            raise m.PayloadError("x", code="E_FIELD_VALUE", where=f"{where}/{label}")
    return prefs


@pytest.mark.parametrize(
    "value",
    [
        {},
        {"train-ai": "n"},
        {"train-ai": "y", "ai-use": "n", "search": "y"},
        {"train-ai": "N"},
        {"train-ai": 1},
        {"train-ai": True},
        {"train-ai": None},
        {"train-ai": ["n"]},
        {"search": {"n": 1}},
        {"ai-use": "n", "future": "x"},
        {"Bad": "n"},
        {"train-ai": "n", "search": "maybe"},
        ["train-ai"],
    ],
)
def test_prefs_fast_path_matches_the_definition(value):
    from notrain.core.vocab import parse_prefs

    got = outcome(parse_prefs, value, "/default")
    assert got == outcome(prefs_one_by_one, value, "/default")
    if got[0] == "ok":
        assert parse_prefs(value, "/d") is not parse_prefs(value, "/d")  # a fresh dict each time


def test_kept_key_objects_and_thumbprints_are_those_of_the_key():
    from notrain.core.keys import PrivateKey, PublicKey, jwk_thumbprint

    signers = [PrivateKey.generate() for _ in range(3)]
    for signer in signers:
        again = PublicKey(signer.public.raw)  # a second object for the same key: its load and kid are kept
        assert again.kid == jwk_thumbprint(again.to_jwk(with_kid=False)) == signer.public.kid
        other = signers[1] if signer is signers[0] else signers[0]
        assert again.verify(signer.sign(b"m"), b"m") and not again.verify(other.sign(b"m"), b"m")
