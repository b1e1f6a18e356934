"""AIPREF Content-Usage values, Cloudflare Content-Signal values and the strict SF Dictionary parser.

Fixtures: refs/signals.md §1.4 (vocabulary), §1.5 (header field lines), §6.1 (Content Signals).
"""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notrain.core.vocab import CATEGORIES, State
from notrain.signals.aipref import parse_content_signal, parse_content_usage
from notrain.signals.base import SignalError
from notrain.signals.sfv import MAX_OCTETS, SFVError, Token, join_field_lines, parse_dictionary

Y, N, U = State.ALLOWED, State.DISALLOWED, State.UNKNOWN


def prefs(train=U, use=U, search=U):
    return {"train-ai": train, "ai-use": use, "search": search}


# signals.md §1.4: input value -> train-ai, ai-use, search (blank cells are unknown).
CONTENT_USAGE_FIXTURES = [
    ("train-ai=y, search=n", Y, U, N),
    ("train-ai=n", N, U, U),
    ('train-ai=y, train-ai, search=n, search="n"', U, U, U),
    ("train-ai;allow=n, train-ai=y", Y, U, U),
    ('train-ai;has;parameters="?";', U, U, U),
    ("train-ai=yes", U, U, U),
    ("Train-AI=n", U, U, U),
    ("train-ai=n, foo=bar", N, U, U),
    ("ai=n", U, U, U),
    ("train-genai=n", U, U, U),
    ("train-ai = n", U, U, U),
    ("", U, U, U),
    ("search=n, ai-use=y", U, Y, N),
]


@pytest.mark.parametrize("value, train, use, search", CONTENT_USAGE_FIXTURES)
def test_content_usage_fixtures(value, train, use, search):
    assert parse_content_usage(value)[0] == prefs(train, use, search)


@pytest.mark.parametrize("value, train, use, search", CONTENT_USAGE_FIXTURES)
def test_content_usage_bytes_read_like_text(value, train, use, search):
    assert parse_content_usage(value.encode())[0] == prefs(train, use, search)


def test_field_lines_are_joined_and_the_last_one_wins():
    # signals.md §1.5: two Content-Usage lines are one value; inside it, the last member wins.
    result, warnings = parse_content_usage(["train-ai=y", "train-ai=n"])
    assert result == prefs(N)
    assert any("more than once" in w for w in warnings)
    assert parse_content_usage(["train-ai=n", "train-ai=y"])[0] == prefs(Y)
    assert parse_content_usage([b"search=n", b"train-ai=n"])[0] == prefs(N, U, N)


def test_one_bad_field_line_spoils_the_whole_field():
    assert parse_content_usage(["train-ai=n", "Search=n"])[0] == prefs()


@pytest.mark.parametrize(
    "value, fragment",
    [
        ("Train-AI=n", "lowercase"),
        ("train-ai = n", "spaces"),
        ("train-ai =n", "spaces"),
        ('train-ai;has;parameters="?";', "trailing"),
        ("train-ai=n,", "trailing"),
        ("ai=n", "'ai' is not in the current AIPREF vocabulary"),
        ("train-genai=n", "write train-ai"),
        ("tdm=n", "train-ai and ai-use"),
        ("inference=n", "write ai-use"),
        ("ai-train=n", "write train-ai"),
        ("train-ai=yes", "only the Tokens y and n"),
        ("train-ai=N", "only the Tokens y and n"),
        ('train-ai="n"', "String"),
        ("train-ai", "no value"),
        ("train-ai=?0", "bool"),
        ("train-ai=1", "int"),
        ("train-ai=(n)", "list"),
    ],
)
def test_content_usage_warnings_tell_the_publisher_what_to_fix(value, fragment):
    warnings = parse_content_usage(value)[1]
    assert any(fragment in w for w in warnings), warnings


@pytest.mark.parametrize("value", ["train-ai=n", "train-ai=y, search=n", "foo=bar", "x-future=n;v=2", "", "train-ai=n;reason=x"])
def test_well_formed_values_with_known_or_unknown_labels_do_not_warn(value):
    assert parse_content_usage(value)[1] == []


def test_parameters_are_ignored():
    assert parse_content_usage('train-ai=n;reason="paid";until=@1700000000')[0] == prefs(N)


def test_an_oversized_value_is_a_parse_failure_not_an_exception():
    value = "train-ai=n, " + "x=1, " * (MAX_OCTETS // 5)
    result, warnings = parse_content_usage(value)
    assert result == prefs()
    assert any(str(MAX_OCTETS) in w for w in warnings)


def test_a_value_of_exactly_the_limit_parses():
    value = "train-ai=n, a=" + "b" * (MAX_OCTETS - len("train-ai=n, a="))
    assert len(value) == MAX_OCTETS
    assert parse_content_usage(value)[0] == prefs(N)


# --- the SF Dictionary parser ----------------------------------------------------------------------


def test_sfv_bare_item_types():
    parsed = parse_dictionary('t=tok, i=-42, d=1.5, s="a \\"q\\"", b=:aGk=:, y=?1, f=?0, date=@1, ds=%"caf%c3%a9"')
    assert parsed["t"][0] == Token("tok") and isinstance(parsed["t"][0], Token)
    assert parsed["i"][0] == -42
    assert parsed["d"][0] == Decimal("1.5")
    assert parsed["s"][0] == 'a "q"' and not isinstance(parsed["s"][0], Token)
    assert parsed["b"][0] == b"hi"
    assert parsed["y"][0] is True and parsed["f"][0] is False
    assert parsed["date"][0].timestamp() == 1
    assert str(parsed["ds"][0]) == "café"


def test_sfv_inner_lists_and_parameters():
    parsed = parse_dictionary("a=(x 1;p);q=2, b;flag, c=d;e=f;g")
    assert parsed["a"] == ([(Token("x"), {}), (1, {"p": True})], {"q": 2})
    assert parsed["b"] == (True, {"flag": True})
    assert parsed["c"] == (Token("d"), {"e": Token("f"), "g": True})


def test_sfv_last_duplicate_wins_with_its_parameters():
    duplicates = []
    parsed = parse_dictionary("a;x=1, b=2, a=3", on_duplicate=duplicates.append)
    assert parsed == {"a": (3, {}), "b": (2, {})}
    assert list(parsed) == ["a", "b"]  # a keeps its first position
    assert duplicates == ["a"]


def test_sfv_duplicate_parameters_are_not_reported_as_duplicate_keys():
    duplicates = []
    assert parse_dictionary("a;p=1;p=2", on_duplicate=duplicates.append) == {"a": (True, {"p": 2})}
    assert duplicates == []


@pytest.mark.parametrize(
    "value",
    [
        "a=1 ,b=2",
        "a=1,b=2",
        "a=1,\tb=2",
        "a=1\t,  b=2",
        " a=1",
        "a=1 ",
        "*key=1",
        "k.e_y-2*=1",
        "a=( 1  2 )",
        "a=()",
        "",
    ],
)
def test_sfv_accepts_what_rfc_9651_allows(value):
    parse_dictionary(value)


@pytest.mark.parametrize(
    "value",
    [
        "A=1",
        "aB=1",
        "a =1",
        "a= 1",
        "a=1,",
        "a=1, ",
        "a=1;",
        "a;",
        "a=1,,b=2",
        ",a=1",
        "\ta=1",
        "1a=1",
        "-a=1",
        "a=1 b=2",
        "a=1;b =2",
        "a=12345678901234567",
        "a=1234567890123456",
        "a=1.1234",
        "a=1.",
        'a="\\x"',
        'a="é"',
        "a=é",
        'a="open',
        "a=:YQ",
        "a=?2",
        "a=(1",
        "a=(1,2)",
        "a=@1.5",
        'a=%"%C3%A9"',
        "a=",
        "=1",
        "a=b c",
    ],
)
def test_sfv_rejects_what_rfc_9651_forbids(value):
    with pytest.raises(SFVError):
        parse_dictionary(value)


def test_sfv_error_says_where_and_why():
    with pytest.raises(SFVError) as caught:
        parse_dictionary("Train-AI=n")
    assert caught.value.code == "E_SFV"
    assert "uppercase" in caught.value.message and "position 0" in caught.value.message


def test_sfv_size_limit_is_a_signal_error():
    with pytest.raises(SignalError) as caught:
        parse_dictionary("a=" + "b" * MAX_OCTETS)
    assert caught.value.code == "E_SIGNAL_SIZE"


def test_sfv_join_field_lines():
    assert join_field_lines("a=1") == b"a=1"
    assert join_field_lines(["a=1", b"b=2"]) == b"a=1, b=2"
    assert parse_dictionary(["a=1", "a=2"]) == {"a": (2, {})}


def test_sfv_non_ascii_and_lone_surrogates_fail_cleanly():
    for value in ["a=\udcff", "a=\ud800", "ä=1", "a=b\x00"]:
        with pytest.raises(SFVError):
            parse_dictionary(value)


# Every well-formed dictionary (built by construction) parses, with the last duplicate winning.
keys = st.from_regex(r"\A[a-z*][a-z0-9_.*-]{0,6}\Z")
bare = st.one_of(
    st.integers(-(10**15) + 1, 10**15 - 1).map(lambda i: (str(i), i)),
    st.from_regex(r"\A[A-Za-z*][A-Za-z0-9!#$%&'*+.^_`|~:/-]{0,8}\Z").map(lambda t: (t, Token(t))),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=8).map(
        lambda s: ('"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"', s)
    ),
    st.booleans().map(lambda b: ("?1" if b else "?0", b)),
)
ows = st.sampled_from(["", " ", "\t", "  "])


@given(st.lists(st.tuples(keys, bare, ows, ows), max_size=8))
@settings(max_examples=400)
def test_sfv_parses_every_well_formed_dictionary(members):
    text = ""
    for i, (key, (wire, _), before, after) in enumerate(members):
        text += (f"{before}," + after if i else "") + f"{key}={wire}"
    expected = {}
    for key, (_, value), _, _ in members:
        expected[key] = (value, {})
    typed = lambda d: {k: (type(v[0]), v) for k, v in d.items()}  # a Token equals a str of the same text
    assert typed(parse_dictionary(text)) == typed(expected)


@given(
    st.one_of(st.text(max_size=60), st.binary(max_size=60), st.text(st.sampled_from('abcyn-=;,()" \t?:*@%01.AZ\\'), max_size=60))
)
@settings(max_examples=800)
def test_sfv_raises_only_sfv_errors(value):
    try:
        parse_dictionary(value)
    except SFVError:
        pass


field_values = st.one_of(
    st.text(max_size=80),
    st.binary(max_size=80),
    st.lists(
        st.sampled_from(
            [
                "train-ai",
                "ai-use",
                "search",
                "ai-train",
                "ai-input",
                "=",
                "y",
                "n",
                "yes",
                "no",
                ",",
                ";",
                " ",
                '"',
                "?1",
                "(",
                ")",
                "use=reference",
                "A",
            ]
        ),
        max_size=20,
    ).map("".join),
    st.lists(st.text(max_size=20), max_size=3),
)


@given(field_values)
@settings(max_examples=800)
def test_content_usage_never_raises(value):
    result, warnings = parse_content_usage(value)
    assert set(result) == set(CATEGORIES) and all(isinstance(s, State) for s in result.values())
    assert all(isinstance(w, str) for w in warnings)


@given(field_values)
@settings(max_examples=800)
def test_content_signal_never_raises(value):
    result, warnings = parse_content_signal(value)
    assert set(result) == set(CATEGORIES) and all(isinstance(s, State) for s in result.values())
    assert all(isinstance(w, str) for w in warnings)


# --- Content-Signal (signals.md §6.1) -------------------------------------------------------------

# value -> (train-ai from ai-train, ai-use from ai-input, search)
CONTENT_SIGNAL_FIXTURES = [
    ("search=yes, ai-train=no", N, U, Y),  # the Cloudflare managed block
    ("search=yes, ai-input=no, ai-train=no", N, N, Y),
    ("search=yes,ai-train=no,use=reference", N, U, Y),  # later managed files: no spaces, use=
    ("ai-train=no, search=yes, ai-input=yes", N, Y, Y),  # header form (Markdown for Agents)
    ("ai-train=disallow, ai-input=allow", U, U, U),  # Spatie laravel-markdown-response default
    ("ai-train=no", N, U, U),
    ("", U, U, U),
    ("  ai-train = no ,search= yes ", N, U, Y),  # lenient whitespace
    ("AI-Train=No", N, U, U),  # lenient case, with a warning
    ("ai-train=no, ai-train=yes", Y, U, U),  # the last one wins
    ("ai-train=no;v=1", N, U, U),  # parameters dropped
    ("ai-train=n", U, U, U),  # AIPREF tokens are not Content-Signal values
    ("train-ai=no", U, U, U),  # AIPREF label in the wrong vocabulary
    ("ai-train", U, U, U),
    ("ai-train=no,,", N, U, U),
]


@pytest.mark.parametrize("value, train, use, search", CONTENT_SIGNAL_FIXTURES)
def test_content_signal_fixtures(value, train, use, search):
    assert parse_content_signal(value)[0] == prefs(train, use, search)


@pytest.mark.parametrize(
    "value, fragment",
    [
        ("ai-train=disallow, ai-input=allow", "only yes and no"),
        ("AI-Train=No", "lowercase"),
        ("ai-train=no, ai-train=yes", "more than once"),
        ("train-ai=no", "Content-Signal uses ai-train"),
        ("ai-use=no", "Content-Signal uses ai-input"),
        ("ai-train", "no '=value'"),
        ("use=everything", "immediate, reference, full"),
    ],
)
def test_content_signal_warnings(value, fragment):
    assert any(fragment in w for w in parse_content_signal(value)[1])


@pytest.mark.parametrize("value", ["search=yes, ai-train=no", "search=yes,ai-train=no,use=reference", "ai-train=no, x=1"])
def test_standard_content_signals_do_not_warn(value):
    assert parse_content_signal(value)[1] == []


def test_oversized_content_signal_is_ignored_with_a_warning():
    result, warnings = parse_content_signal("ai-train=no," + " " * MAX_OCTETS)
    assert result == prefs() and "limit" in warnings[0]


def test_warnings_per_value_are_capped():
    for parse, value in [
        (parse_content_usage, ", ".join(f"{label}=n" for label in ["ai", "genai", "tdm", "all", "bots", "inference"] * 2)),
        (parse_content_signal, ",".join(["x"] * 50)),
    ]:
        warnings = parse(value)[1]
        assert len(warnings) == 11 and warnings[-1].endswith("more warnings about this value")


def test_content_signal_field_lines_join():
    assert parse_content_signal(["search=yes", "ai-train=no"])[0] == prefs(N, U, Y)
