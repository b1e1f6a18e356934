import json
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notrain.core import JSONError, ijson

LIMIT = 1 << 20

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_valid_i_json_round_trips(value):
    assert ijson.loads(ijson.dumps(value), max_size=LIMIT, max_depth=64) == value


@given(st.binary(max_size=256))
@settings(max_examples=300)
def test_arbitrary_bytes_raise_only_json_error(data):
    try:
        ijson.loads(data, max_size=LIMIT)
    except JSONError as error:
        assert error.code.startswith("E_JSON") or error.code == "E_SIZE"


@given(st.text(max_size=64))
def test_arbitrary_text_raises_only_json_error(text):
    try:
        ijson.loads(text.encode("utf-8", "surrogatepass"), max_size=LIMIT)
    except JSONError:
        pass


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b'{"a":1,"a":2}', "E_JSON_DUPLICATE_KEY"),
        (b"1.0", "E_JSON_NUMBER"),
        (b"1e2", "E_JSON_NUMBER"),
        (b"9007199254740992", "E_JSON_NUMBER"),
        (b"-9007199254740992", "E_JSON_NUMBER"),
        (b"NaN", "E_JSON_NUMBER"),
        (b'"\\ud800"', "E_JSON_SURROGATE"),
        (b'{"\\udfff":1}', "E_JSON_SURROGATE"),
        (b"\xef\xbb\xbf{}", "E_JSON_UTF8"),
        (b'"\xff"', "E_JSON_UTF8"),
        (b"[" * 17 + b"]" * 17, "E_JSON_DEPTH"),
        (b"[" * 50000 + b"]" * 50000, "E_JSON_DEPTH"),
        (b"{} {}", "E_JSON"),
        (b" " * (LIMIT + 1), "E_SIZE"),
    ],
)
def test_rejections_carry_their_code(data, code):
    with pytest.raises(JSONError) as caught:
        ijson.loads(data, max_size=LIMIT)
    assert caught.value.code == code


def test_limits_are_inclusive():
    assert ijson.loads(b"[" * 16 + b"]" * 16, max_size=LIMIT) == json.loads("[" * 16 + "]" * 16)
    assert ijson.loads(b"9007199254740991", max_size=LIMIT) == 2**53 - 1
    assert ijson.loads(b'"\\ud83c\\udfa8"', max_size=LIMIT) == "\U0001f3a8"


def test_error_points_at_the_offending_string():
    with pytest.raises(JSONError) as caught:
        ijson.loads(b'{"names":[{"name":"\\ud800"}]}', max_size=LIMIT)
    assert caught.value.where == "/names/0/name"


# -- several defects: the class order of spec/manifest.md ("Several defects"), not reading order -------


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b'{"a":1,"a":1.5}', "E_JSON_NUMBER"),  # a duplicate, then a number: numbers come first
        (b'{"a":1.5,"a":1}', "E_JSON_NUMBER"),
        (b'{"a":1,"a":2} x', "E_JSON"),  # the grammar before duplicates
        (b"[1.5", "E_JSON"),  # the grammar before numbers
        (b'["\\ud800",1e3]', "E_JSON_NUMBER"),  # numbers before surrogates
        (b'{"\\ud800":1,"\\ud800":2}', "E_JSON_DUPLICATE_KEY"),  # duplicates before surrogates
        (b'{"x":NaN,"x":1}', "E_JSON_NUMBER"),
        (b"[" * 17 + b"1.5", "E_JSON_DEPTH"),  # depth before the grammar, counted on the text
        (b"[" * 17 + b'"', "E_JSON_DEPTH"),
        (b'"' + b"[" * 17, "E_JSON"),  # brackets inside an (unterminated) string do not nest
        (b'["\\"' + b"[" * 17 + b'"', "E_JSON"),  # nor after an escaped quote
        (b"]]]" + b"[" * 17 + b"x", "E_JSON"),  # the counter goes below zero first: its peak is 14
        (b"\xff" + b"[" * 17, "E_JSON_UTF8"),
        (b"\xef\xbb\xbf" + b"[" * 17, "E_JSON_UTF8"),
    ],
)
def test_the_first_defect_class_wins(data, code):
    with pytest.raises(JSONError) as caught:
        ijson.loads(data, max_size=LIMIT)
    assert caught.value.code == code


@given(json_values)
def test_depth_on_the_text_is_the_depth_of_the_value(value):
    """The text definition (used for documents that are not JSON) agrees with the value's depth."""
    assert ijson._lexical_depth(ijson.dumps(value)) == ijson._depth(value)


@pytest.mark.parametrize(
    "data",
    [b"[]" * (720 * 1024), b"[" * (1440 * 1024), b'"' + b"[" * (1440 * 1024 - 1), b'{"a":' * (1440 * 1024 // 5)],
    ids=["pairs then trailing data", "unclosed", "one unterminated string", "unclosed objects"],
)
def test_worst_malformed_input_is_bounded_in_memory(data):
    """The depth scan of the error path over the largest document (1440 KiB) stays within a small
    multiple of its size (tracemalloc counts every allocation, numpy's included)."""
    tracemalloc.start()
    try:
        with pytest.raises(JSONError):
            ijson.loads(data, max_size=1440 * 1024)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * len(data)
