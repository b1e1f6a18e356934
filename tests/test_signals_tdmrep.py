"""TDMRep: tdmrep.json (first match), header and HTML values, and TDMRep's own precedence (signals.md §2)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notrain.core import AI_USE, SEARCH, TRAIN_AI, State, decide
from notrain.signals.base import TDMREP_FILE, TDMREP_HEADER, TDMREP_HTML, SignalError
from notrain.signals.headers import header_statements, tdmrep_header_values
from notrain.signals.html import html_signals
from notrain.signals.tdmrep import MAX_FILE_BYTES, TdmValues, parse_tdmrep, tdm_values, tdmrep_statement

SITE = "https://provider.example"
FILE_URL = SITE + "/.well-known/tdmrep.json"
SPEC_FILE = [
    {"location": "/directory-a/", "tdm-reservation": 1},
    {"location": "/directory-b/html/", "tdm-reservation": 1, "tdm-policy": "https://provider.com/policies/policy.json"},
    {"location": "/directory-b/images/*.jpg", "tdm-reservation": 0},
]


def rules(doc):
    return parse_tdmrep(json.dumps(doc).encode(), FILE_URL)


def header(*lines):
    return tdmrep_header_values([tuple(line.split(": ", 1)) for line in lines], SITE + "/doc")


def html(body: str):
    return html_signals(body.encode(), SITE + "/doc").tdmrep


def train(statement):
    return decide([statement] if statement else []).state(TRAIN_AI)


# --- §2.2 the well-known file: first match wins -----------------------------------------------------------------


@pytest.mark.parametrize(
    "path, reservation, policy",
    [
        ("/directory-a/x.pdf", 1, None),
        ("/directory-b/html/p.html", 1, "https://provider.com/policies/policy.json"),
        ("/directory-b/images/a.jpg", 0, None),
        ("/other", None, None),
    ],
)
def test_spec_file_fixtures(path, reservation, policy):
    found = rules(SPEC_FILE).match(SITE + path)
    if reservation is None:
        assert found is None
    else:
        assert (found.reservation, found.policy, found.mechanism) == (reservation, policy, TDMREP_FILE)


def test_spec_file_fixture_statements():
    file = rules(SPEC_FILE)
    assert train(tdmrep_statement(file, None, None, SITE + "/directory-a/x.pdf")) is State.DISALLOWED
    assert train(tdmrep_statement(file, None, None, SITE + "/directory-b/images/a.jpg")) is State.ALLOWED
    assert tdmrep_statement(file, None, None, SITE + "/other") is None
    reserved = tdmrep_statement(file, None, None, SITE + "/directory-b/html/p.html")
    assert reserved.prefs == {TRAIN_AI: State.DISALLOWED, AI_USE: State.DISALLOWED}
    assert SEARCH not in reserved.prefs
    assert reserved.evidence.source == FILE_URL and reserved.evidence.rule == "/directory-b/html/"
    assert "https://provider.com/policies/policy.json" in reserved.evidence.detail
    assert json.loads(reserved.evidence.raw)["location"] == "/directory-b/html/"


def test_first_match_pitfall_is_flagged():
    file = rules([{"location": "/", "tdm-reservation": 0}, {"location": "/private/", "tdm-reservation": 1}])
    statement = tdmrep_statement(file, None, None, SITE + "/private/x")
    assert train(statement) is State.ALLOWED  # the spec's first match, not robots.txt's longest
    assert any("'/private/'" in w for w in statement.evidence.warnings)
    assert not tdmrep_statement(file, None, None, SITE + "/public").evidence.warnings


def test_several_patterns_in_file_order():
    file = rules(
        [
            {"location": "/shop/*.jpg$", "tdm-reservation": 0},
            {"location": "/shop/", "tdm-reservation": 1},
            {"location": "/*/drafts/", "tdm-reservation": 1},
            {"location": "/%7Euser/", "tdm-reservation": 1},
            {"location": "/", "tdm-reservation": 0},
        ]
    )
    expected = {
        "/shop/cat.jpg": 0,
        "/shop/cat.jpg?size=2": 1,  # '$' anchors the end of path and query
        "/shop/cat.JPG": 1,  # case-sensitive
        "/shop/cat.jpg.html": 1,
        "/blog/drafts/x": 1,
        "/~user/art.png": 1,  # %7E is '~' after normalisation
        "/%7euser/art.png": 1,
        "/about": 0,
    }
    assert {path: file.match(SITE + path).reservation for path in expected} == expected


@pytest.mark.parametrize(
    "pattern, path, hit",
    [
        ("/a*b*c", "/axxbyyc", True),
        ("/a*b*c", "/axxcyyb", False),
        ("/a*c$", "/abcbc", True),
        ("/a*c$", "/abcb", False),
        ("/a*bc*bc$", "/abc", False),
        ("/a$", "/a", True),
        ("/a$", "/ab", False),
        ("/*", "/", True),
        ("/*.pdf$", "/x.pdf", True),
        ("/*.pdf$", "/x.pdfx", False),
        # TDMRep §"Use of regular expressions" (after RFC 9309 §2.2.3): "%24" and "%2A" match a literal "$" and "*".
        ("/path/foo-%24", "/path/foo-$", True),
        ("/path/foo-%24", "/path/foo-%24", True),
        ("/path/foo-%24", "/path/foo-", False),
        ("/a%2Ab", "/a*b", True),
        ("/a%2Ab", "/aXb", False),
        ("/a*b", "/a*b", True),
        ("/a$", "/a$", False),
    ],
)
def test_wildcards(pattern, path, hit):
    assert (rules([{"location": pattern, "tdm-reservation": 1}]).match(SITE + path) is not None) is hit


def test_crafted_wildcards_stay_fast():
    file = rules([{"location": "/" + "a*" * 2000 + "b", "tdm-reservation": 1}])
    assert file.match(SITE + "/" + "a" * 5000) is None


# --- §2.1 / §2.7 values and leniency ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, reservation, warned",
    [
        (1, 1, False),
        (0, 0, False),
        ("1", 1, True),
        ("0", 0, True),
        (True, None, True),
        (2, None, True),
        (None, None, True),
        ("yes", None, True),
        (1.0, None, True),
    ],
)
def test_file_reservation_values(value, reservation, warned):
    found = rules([{"location": "/", "tdm-reservation": value}]).match(SITE + "/x")
    assert found.reservation == reservation
    assert bool(found.warnings) is warned


def test_protocol_error_in_first_match_is_unset_not_the_next_rule():
    file = rules([{"location": "/a/", "tdm-reservation": "true"}, {"location": "/", "tdm-reservation": 1}])
    statement = tdmrep_statement(file, None, None, SITE + "/a/x")
    assert statement.prefs == {} and statement.evidence.warnings


@pytest.mark.parametrize(
    "data, warning",
    [
        (b'[{"location": "/", ', "not valid JSON"),
        (b"\xff\xfe[]", "not valid JSON"),
        (b"{}", "single object"),
        (b'"/"', "array of rules"),
        (b"[" * 10000 + b"]" * 10000, "not valid JSON"),
        (
            json.dumps(
                [
                    42,
                    {"tdm-reservation": 1},
                    {"location": "relative", "tdm-reservation": 1},
                    {"location": "/a b", "tdm-reservation": 1},
                ]
            ).encode(),
            "skipped",
        ),
    ],
)
def test_malformed_files_give_warnings_not_errors(data, warning):
    file = parse_tdmrep(data, FILE_URL)
    assert file.match(SITE + "/x") is None
    assert any(warning in w for w in file.warnings)
    statement = tdmrep_statement(file, None, None, SITE + "/x")
    assert statement.prefs == {} and statement.evidence.source == FILE_URL


def test_single_object_is_read_as_a_rule():
    file = parse_tdmrep(b'{"location": "/", "tdm-reservation": 1}', FILE_URL)
    assert file.match(SITE + "/x").reservation == 1 and file.warnings


def test_utf8_bom_and_policy_types():
    file = parse_tdmrep(b'\xef\xbb\xbf[{"location": "/", "tdm-reservation": 1, "tdm-policy": 7}]', FILE_URL)
    found = file.match(SITE + "/")
    assert found.reservation == 1 and found.policy is None and found.warnings


def test_file_size_limit():
    assert parse_tdmrep(b"[]".ljust(MAX_FILE_BYTES), FILE_URL).warnings == ()
    with pytest.raises(SignalError):
        parse_tdmrep(b" " * (MAX_FILE_BYTES + 1), FILE_URL)


# --- §2.3 / §2.4 header and HTML values ---------------------------------------------------------------------------


def test_header_values():
    found = header("tdm-reservation: 1", "tdm-policy: https://provider.com/policies/policy.json")
    assert (found.reservation, found.policy, found.mechanism) == (1, "https://provider.com/policies/policy.json", TDMREP_HEADER)
    assert header("Content-Type: image/jpg") is None
    assert header("TDM-Reservation:  0 ").reservation == 0


@pytest.mark.parametrize(
    "lines, reservation, conflict",
    [
        (["tdm-reservation: 1", "tdm-reservation: 0"], 1, True),
        (["tdm-reservation: 0, 1"], 1, True),
        (["tdm-reservation: 1, 1"], 1, False),
        (["tdm-reservation: 0", "tdm-reservation: 0"], 0, False),
    ],
)
def test_several_header_values(lines, reservation, conflict):
    found = header(*lines)
    assert found.reservation == reservation
    assert any("conflicting" in w for w in found.warnings) is conflict


def test_html_values():
    found = html('<meta name="tdm-reservation" content="1"><meta name="tdm-policy" content="https://provider.com/p.json">')
    assert (found.reservation, found.policy, found.mechanism) == (1, "https://provider.com/p.json", TDMREP_HTML)
    assert html('<meta name="TDM-Reservation" content="0">').reservation == 0
    assert html("<p>no metadata</p>") is None


def test_tdm_values_unit():
    assert tdm_values(TDMREP_HEADER, "u", [], [" "], "") is None
    found = tdm_values(TDMREP_HEADER, "u", ["1"], ["https://a/p", "https://b/p"], "raw")
    assert found.policy == "https://a/p" and found.warnings


# --- §2.5 precedence: file < header < HTML, absence never resets --------------------------------------------------


FILE_RESERVED = [{"location": "/", "tdm-reservation": 1, "tdm-policy": "https://provider.com/file-policy.json"}]


@pytest.mark.parametrize(
    "file, headers, body, expected",
    [
        (FILE_RESERVED, ["tdm-reservation: 0"], None, State.ALLOWED),  # header overrides file
        (FILE_RESERVED, [], None, State.DISALLOWED),  # file alone
        (None, ["tdm-reservation: 1"], '<meta name="tdm-reservation" content="0">', State.ALLOWED),  # HTML overrides header
        (FILE_RESERVED, ["tdm-reservation: true"], None, State.DISALLOWED),  # protocol error: unset, file stays
        (FILE_RESERVED, [], '<meta name="tdm-reservation" content="0">', State.ALLOWED),  # not most-restrictive
        (
            [{"location": "/", "tdm-reservation": 0}],
            ["tdm-reservation: 1"],
            '<meta name="robots" content="all">',
            State.DISALLOWED,
        ),
        (None, ["tdm-policy: https://provider.com/p.json"], None, State.UNKNOWN),
    ],
)
def test_precedence_fixtures(file, headers, body, expected):
    statement = tdmrep_statement(
        rules(file) if file is not None else None,
        header(*headers) if headers else None,
        html(body) if body else None,
        SITE + "/doc",
    )
    assert train(statement) is expected


def test_absence_does_not_reset_and_policy_follows_the_latest_source():
    statement = tdmrep_statement(
        rules(FILE_RESERVED), header("tdm-policy: https://provider.com/header-policy.json"), None, SITE + "/doc"
    )
    assert train(statement) is State.DISALLOWED
    assert statement.evidence.mechanism == TDMREP_FILE
    assert "header-policy.json" in statement.evidence.detail


def test_override_is_recorded_and_warnings_are_kept():
    statement = tdmrep_statement(rules(FILE_RESERVED), header("tdm-reservation: 0", "tdm-reservation: yes"), None, SITE + "/doc")
    assert statement.evidence.mechanism == TDMREP_HEADER
    assert "overrides tdmrep-file (1)" in statement.evidence.detail
    assert "policy" not in statement.evidence.detail  # ignored when not reserved
    assert any("'yes'" in w for w in statement.evidence.warnings)


def test_a_silent_source_states_nothing():
    assert tdmrep_statement(None, TdmValues(TDMREP_HEADER, SITE), None, SITE + "/doc").prefs == {}
    assert tdmrep_statement(None, None, None, SITE + "/doc") is None


def test_result_joins_aipref_combining():
    tdm = tdmrep_statement(rules(FILE_RESERVED), None, html('<meta name="tdm-reservation" content="0">'), SITE + "/doc")
    assert decide([tdm]).state(AI_USE) is State.ALLOWED
    noai = header_statements([("X-Robots-Tag", "noai")], SITE + "/doc")
    assert decide([tdm, *noai]).state(TRAIN_AI) is State.DISALLOWED  # across mechanisms: most restrictive


# --- fuzzing ------------------------------------------------------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(["location", "tdm-reservation", "tdm-policy", "x"]) | st.text(), inner, max_size=4)
    ),
    max_leaves=12,
)
_location = st.text(alphabet="/ab*$%7E?.", max_size=12)
_rule = st.fixed_dictionaries(
    {"location": _location | st.text(max_size=8)},
    optional={
        "tdm-reservation": st.sampled_from([0, 1, "0", "1", True, 2, None, "x"]),
        "tdm-policy": st.text(max_size=8) | st.integers(),
    },
)


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=300)
    | _json.map(lambda d: json.dumps(d).encode())
    | st.lists(_rule, max_size=6).map(lambda d: json.dumps(d).encode()),
    st.text(max_size=20),
    st.lists(st.text(max_size=6), max_size=3),
)
def test_fuzz_file_and_precedence(data, path, header_values):
    try:
        file = parse_tdmrep(data, FILE_URL)
        head = tdmrep_header_values([("tdm-reservation", v) for v in header_values], SITE + "/x")
        statement = tdmrep_statement(file, head, None, SITE + "/" + path)
    except SignalError:
        return
    assert statement is None or set(statement.prefs) <= {TRAIN_AI, AI_USE}
