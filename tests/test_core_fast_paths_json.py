"""Tier 1 of ``ijson.loads`` (msgspec plus the re-encoding check) accepts only what the careful
parse accepts, with the same value, and is what parses the documents notrain writes.

Values are compared with their types (``True == 1`` in Python), so a tier that read ``1`` as a
bool, or ``-0`` as a float, would fail here.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notrain.core import ijson
from notrain.core.errors import JSONError


def typed(value):
    """The value with every scalar tagged by its type, for comparisons that ``==`` would blur."""
    if isinstance(value, dict):
        return ("dict", [(k, typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [typed(v) for v in value])
    return (type(value).__name__, value)


def careful(data: bytes, max_depth: int = ijson.DEFAULT_MAX_DEPTH):
    try:
        return ("ok", typed(ijson._loads_reporting(data, data.decode("utf-8"), max_depth, "document")))
    except (JSONError, UnicodeDecodeError) as exc:
        return ("error", getattr(exc, "code", "utf-8"))


def check_tier_one(data: bytes, max_depth: int = ijson.DEFAULT_MAX_DEPTH) -> bool:
    """Tier 1 either declines or gives the careful parse's value; True if it accepted."""
    fast = ijson._canonical(data, max_depth)
    if fast is None:
        return False
    assert careful(data, max_depth) == ("ok", typed(fast[0]))
    return True


# Scalars that I-JSON accepts and some it refuses (floats, big integers), strings with escapes and
# lone surrogates, names that may repeat: JSON text is written from these with duplicates kept.
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**64), 2**64)
    | st.sampled_from([0, -1, 2**53 - 1, -(2**53 - 1), 2**53, -(2**53)])
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(["\ud800", "a\udfff", "\x00\x1f\x7f", "\u2028/\\\"", "é😀"])
)
names = st.sampled_from(["a", "b", "c", "\ud800", "é", "a\\", "/"]) | st.text(max_size=4)
trees = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.lists(st.tuples(names, children), max_size=4).map(lambda pairs: ("pairs", pairs)),
    max_leaves=24,
)


def write(tree, ensure_ascii: bool, spaced: bool) -> str:
    """JSON text for ``tree``; ``("pairs", ...)`` is an object whose pairs are written as given."""
    comma, colon = (", ", ": ") if spaced else (",", ":")
    if isinstance(tree, tuple):
        return "{" + comma.join(json.dumps(k, ensure_ascii=ensure_ascii) + colon + write(v, ensure_ascii, spaced) for k, v in tree[1]) + "}"
    if isinstance(tree, list):
        return "[" + comma.join(write(v, ensure_ascii, spaced) for v in tree) + "]"
    return json.dumps(tree, ensure_ascii=ensure_ascii)


@given(trees, st.booleans(), st.booleans(), st.sampled_from([2, 4, 8, 16]))
@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
def test_tier_one_accepts_only_what_the_careful_parse_accepts(tree, ensure_ascii, spaced, max_depth):
    data = write(tree, ensure_ascii, spaced).encode("utf-8", "surrogatepass")
    check_tier_one(data, max_depth)


@given(st.binary(max_size=64) | st.text(alphabet='{}[]:," \\u0123456789.eE-+tfnrl\\ud800x', max_size=40).map(str.encode))
@settings(max_examples=600)
def test_tier_one_on_arbitrary_bytes(data):
    check_tier_one(data)


@given(st.recursive(st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(), lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=6), c, max_size=4), max_leaves=20))
@settings(max_examples=300)
def test_tier_one_parses_what_notrain_writes(value):
    if ijson._depth(value) <= ijson._CANONICAL_DEPTH:
        assert check_tier_one(ijson.dumps(value)) and check_tier_one(ijson.dumps(value, pretty=True))


@pytest.mark.parametrize(
    "data",
    [
        b'{"a":1,"a":2}',
        b'{"a":1,"b":{"c":1,"c":1}}',
        b'{"a": 1, "a": 1}',
        b'[{"x":[],"x":[]}]',
        b'{"a":1.0}',
        b'{"a":1e2}',
        b'{"a":-0.0}',
        b"9007199254740992",
        b"-9007199254740992",
        b"123456789012345678901234567890",
        b'"\\ud800"',
        b'{"\\udc00":1}',
        b'"\\ud800\\ud800"',
        b"[" * 17 + b"]" * 17,
        b'{"a":1} x',
        b'{"a":1,}',
        b"NaN",
        b'{"url": "https:\\/\\/a.example"}',  # valid, but ':' in a string and '\\/' not msgspec's spelling: tier 2
    ],
)
def test_tier_one_declines(data):
    assert ijson._canonical(data, ijson.DEFAULT_MAX_DEPTH) is None


@pytest.mark.parametrize(
    "data",
    [
        # spellings msgspec would not write, with no more ':' than members
        b'"\\u00e9"',
        b'{"a\\/b": "\\u00e9"}',
        b"-0",
        '{"a":[1,{"b":null}],"c":"\\u0001é\\"\\\\"}'.encode(), b' {\n  "a": [\n    1,\n    2\n  ]\n}\n', b"[" * 8 + b"]" * 8, b"-9007199254740991",
    ],
)
def test_tier_one_accepts(data):
    assert check_tier_one(data)


def test_depth_limits_of_tier_one_are_the_callers():
    assert ijson._canonical(b"[[[]]]", 2) is None and check_tier_one(b"[[]]", 2)
    deep = b"[" * 12 + b"]" * 12  # within 16, beyond what tier 1 checks: tier 2 parses it
    assert ijson._canonical(deep, 16) is None
    assert ijson.loads(deep, max_size=100) == json.loads(deep)


@pytest.mark.parametrize(
    "data",
    [b'{\n  "a": "x",\n  "a": "y"\n}', b'{ "a" : [ {"b": 1, "b": 1} ] }', b'{"s": "no colon", "s": "here"}', b'[{"x": 1}, {"y": 2, "y": 2}]'],
)
def test_counting_colons_never_hides_a_duplicate(data):
    value = ijson._canonical_decoder(8).decode(data)
    assert data.count(b":") > ijson._members(value)
    assert ijson._canonical(data, 16) is None


def test_an_indented_envelope_passes_by_its_colons():
    doc = {"payload": "QUJD" * 1000, "payloadType": "t", "signatures": [{"keyid": "k", "sig": "c2ln"}]}
    data = ijson.dumps(doc, pretty=True)
    assert data.count(b":") == ijson._members(doc) == 5 and check_tier_one(data, 4)
