import json

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
