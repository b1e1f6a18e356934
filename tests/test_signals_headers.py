"""HTTP header signals: Content-Usage joining, Content-Signal, X-Robots-Tag noai/noimageai, Link discovery."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notrain.core import AI_USE, SEARCH, TRAIN_AI, State, decide
from notrain.signals.base import HEADER_CONTENT_SIGNAL, HEADER_CONTENT_USAGE, X_ROBOTS_TAG, SignalError
from notrain.signals.headers import (
    discovered_manifest_links,
    header_statements,
    parse_link_header,
    robots_directives,
    same_origin_url,
    tdmrep_header_values,
)

URL = "https://art.example/gallery/cat.jpg"
PAGE = "https://art.example/gallery/cat"


def states(headers, agents=("mybot",), url=URL):
    decision = decide(header_statements(headers, url, agents=agents))
    return tuple(decision.state(c) for c in (TRAIN_AI, AI_USE, SEARCH))


A, D, U = State.ALLOWED, State.DISALLOWED, State.UNKNOWN

# --- §1.5 Content-Usage: field lines joined with ", ", last value wins ---------------------------------------------


@pytest.mark.parametrize(
    "lines, expected",
    [
        (["train-ai=n"], (D, U, U)),
        (["train-ai=y", "train-ai=n"], (D, U, U)),  # signals.md §1.5: joined, last value wins
        (["train-ai=n", "train-ai=y"], (A, U, U)),  # within one field it is not most-restrictive
        (["train-ai=y, search=n"], (A, U, D)),
        (["search=n", "ai-use=y"], (U, A, D)),
        (["Train-AI=n"], (U, U, U)),
        (["train-ai=n", "Train-AI=n"], (U, U, U)),  # one bad line spoils the joined field
    ],
)
def test_content_usage_joining(lines, expected):
    assert states([("Content-Usage", line) for line in lines]) == expected


def test_content_usage_evidence():
    [statement] = header_statements([("content-usage", "train-ai=y"), ("CONTENT-USAGE", "train-ai=n")], URL)
    assert statement.evidence.mechanism == HEADER_CONTENT_USAGE
    assert statement.evidence.raw == "train-ai=y, train-ai=n"
    assert statement.evidence.source == URL
    assert statement.evidence.warnings  # the publisher named train-ai twice


def test_content_signal_header():
    [statement] = header_statements([("Content-Signal", "ai-train=no, search=yes, ai-input=yes")], URL)
    assert statement.evidence.mechanism == HEADER_CONTENT_SIGNAL
    assert statement.prefs == {TRAIN_AI: D, SEARCH: A, AI_USE: A}


def test_unparseable_content_usage_is_a_warning_not_a_statement():
    [statement] = header_statements([("Content-Usage", "train-ai = n")], URL)
    assert statement.prefs == {} and statement.evidence.warnings


# --- §3.1 X-Robots-Tag noai / noimageai (agent token mybot) -------------------------------------------------------

IMAGE = ("Content-Type", "image/jpeg")
HTML = ("Content-Type", "text/html; charset=utf-8")


@pytest.mark.parametrize(
    "lines, content_type, train",
    [
        (["noai"], HTML, D),
        (["noai"], IMAGE, D),
        (["noimageai"], IMAGE, D),
        (["noimageai"], HTML, U),  # images only
        (["noimageai"], None, D),  # no Content-Type: could be an image
        (["noimageai"], ("Content-Type", "application/octet-stream"), D),
        (["noindex"], HTML, U),  # not an AI signal
        (["none"], IMAGE, U),
        (["NoAI"], HTML, D),
        (["NOIMAGEAI"], ("content-type", "Image/PNG"), D),
        (["googlebot: noai"], HTML, U),
        (["mybot: noai"], HTML, D),
        (["MyBot: NoAI"], HTML, D),
        (["*: noai"], HTML, D),
        (["noindex", "otherbot: noai"], HTML, U),
        (["unavailable_after: 25 Jun 2010 15:00:00 PST"], HTML, U),
        (["unavailable_after: 25 Jun 2010 15:00:00 PST, noai"], HTML, D),  # not a bot prefix
        (["unavailable_after: Wednesday, 15-Nov-2025 15:00:00 PST, noai"], HTML, D),  # a comma inside the date
        (["max-snippet: 20, noai"], HTML, D),
        (["noindex, noai"], HTML, D),
        (["noindex,noai"], HTML, D),
        (["googlebot: noindex, noai"], HTML, U),  # the prefix scopes what follows it
        (["googlebot: noindex, mybot: noai"], HTML, D),
        (["demobot: noai, examplebot: noai, spawningbot: all"], HTML, U),
        (["noml"], HTML, D),
        (["noai-please", "ai", "all", "index, follow"], HTML, U),
    ],
)
def test_x_robots_tag_fixtures(lines, content_type, train):
    headers = [("X-Robots-Tag", line) for line in lines] + ([content_type] if content_type else [])
    assert states(headers)[0] is train
    # DeviantArt's terms: noai/noimageai forbid training and input to trained systems (ai-use); noml only training.
    ai_use = U if any("noml" in line for line in lines) else train
    assert states(headers)[1:] == (ai_use, U)  # never search


def test_noai_maps_to_train_ai_and_ai_use_from_the_originators_wording():
    [statement] = header_statements([("X-Robots-Tag", "noai")], URL)
    assert statement.prefs == {TRAIN_AI: D, AI_USE: D}
    [statement] = header_statements([("X-Robots-Tag", "noml")], URL)
    assert statement.prefs == {TRAIN_AI: D}


@pytest.mark.parametrize(
    "agents, train", [(("examplebot",), D), (("demobot",), D), (("spawningbot",), U), ((), U), (("SpawningBot", "ExampleBot"), D)]
)
def test_bot_prefixed_list(agents, train):
    assert states([("X-Robots-Tag", "demobot: noai, examplebot: noai, spawningbot: all")], agents)[0] is train


def test_x_robots_tag_evidence():
    statements = header_statements(
        [IMAGE, ("X-Robots-Tag", "noindex"), ("x-robots-tag", "otherbot: noai, mybot: noimageai")], URL, agents=["MyBot"]
    )
    [statement] = statements
    assert statement.evidence.mechanism == X_ROBOTS_TAG
    assert statement.evidence.raw == "otherbot: noai, mybot: noimageai"
    assert statement.evidence.rule == "mybot: noimageai"


def test_deviantart_style_image_download():
    headers = [
        ("Content-Type", "image/jpeg"),
        ("Cache-Control", "max-age=31536000"),
        ("X-Robots-Tag", "noai"),
        ("X-Robots-Tag", "noimageai"),
        ("Access-Control-Allow-Origin", "*"),
    ]
    statements = header_statements(headers, URL)
    assert [s.evidence.rule for s in statements] == ["noai", "noimageai"]
    assert decide(statements).disallowed_by(TRAIN_AI) == tuple(statements)


def test_every_mechanism_together():
    headers = [
        HTML,
        ("Content-Usage", "train-ai=y, search=y"),
        ("Content-Signal", "ai-input=no"),
        ("X-Robots-Tag", "noai"),
        ("tdm-reservation", "1"),
    ]
    mechanisms = [s.evidence.mechanism for s in header_statements(headers, PAGE)]
    assert mechanisms == [HEADER_CONTENT_USAGE, HEADER_CONTENT_SIGNAL, X_ROBOTS_TAG]  # TDMRep goes through tdmrep_statement
    assert states(headers, url=PAGE) == (D, D, A)
    assert tdmrep_header_values(headers, PAGE).reservation == 1


def test_agents_may_be_one_token_or_several():
    headers = [("X-Robots-Tag", "mybot: noai")]
    assert header_statements(headers, URL, agents="MyBot") and header_statements(headers, URL, agents=iter(["x", "mybot"]))
    assert not header_statements(headers, URL, agents="mybo")


def test_no_signals():
    assert header_statements([HTML, ("Server", "nginx")], PAGE) == []
    assert header_statements([], PAGE) == []


def test_robots_directives():
    assert robots_directives("googlebot: noindex, nofollow, otherbot: noai") == [
        ("googlebot", "noindex"),
        ("googlebot", "nofollow"),
        ("otherbot", "noai"),
    ]
    assert robots_directives("max-image-preview:large, NOAI") == [(None, "max-image-preview"), (None, "noai")]
    assert robots_directives(" , ,") == []


# --- Link: RFC 8288 ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        ('<https://a.example/m.json>; rel="notrain"', [("https://a.example/m.json", {"rel": "notrain"})]),
        (
            "</a>; rel=preload; as=style, </b>;rel=notrain",
            [("/a", {"rel": "preload", "as": "style"}), ("/b", {"rel": "notrain"})],
        ),
        (
            '</a,b>; title="x, y; z"; REL="Alternate NoTrain", </c>',
            [("/a,b", {"title": "x, y; z", "rel": "Alternate NoTrain"}), ("/c", {})],
        ),
        ('</a>; rel="first"; rel="second"', [("/a", {"rel": "first"})]),  # RFC 8288: the first rel counts
        ('</a>; title="say \\"hi\\""', [("/a", {"title": 'say "hi"'})]),
        ("</a>; crossorigin; rel=notrain;", [("/a", {"crossorigin": "", "rel": "notrain"})]),
        ("</a>; title*=UTF-8'de'n%c3%a4chstes", [("/a", {"title*": "UTF-8'de'n%c3%a4chstes"})]),
        ("garbage, </ok>; rel=notrain, <unclosed; rel=notrain", [("/ok", {"rel": "notrain"})]),
        ("</a> junk; rel=notrain, </b> ; rel = notrain", [("/b", {"rel": "notrain"})]),
        ("", []),
        (" , , ", []),
    ],
)
def test_parse_link_header(value, expected):
    assert parse_link_header(value) == expected


def test_discovered_manifest_links():
    headers = [
        ("Link", '</.well-known/notrain.json>; rel="notrain", <https://cdn.example/m.json>; rel="notrain"'),
        ("link", '<../shared/notrain.json#frag>; rel="preload notrain"; as=fetch'),
        ("LINK", "<https://art.example/.well-known/notrain.json>; rel=NOTRAIN"),  # already found
        ("Link", "<https://art.example:8443/m.json>; rel=notrain"),  # another port is another origin
        ("Link", "<http://art.example/m.json>; rel=notrain"),  # another scheme is another origin
        ("Link", "<https://art.example/style.css>; rel=stylesheet"),
        ("Link", "<javascript:alert(1)>; rel=notrain"),
    ]
    assert discovered_manifest_links(headers, PAGE) == [
        "https://art.example/.well-known/notrain.json",
        "https://art.example/shared/notrain.json",
    ]


@pytest.mark.parametrize(
    "href, base, expected",
    [
        ("/m.json", "https://a.example/x/y", "https://a.example/m.json"),
        ("m.json", "https://a.example/x/y", "https://a.example/x/m.json"),
        ("//b.example/m.json", "https://a.example/", None),
        ("https://A.EXAMPLE:443/m.json", "https://a.example/", "https://A.EXAMPLE:443/m.json"),
        ("https://a.example:8443/m.json", "https://a.example/", None),
        ("https://a.example:99999/m.json", "https://a.example/", None),
        ("http://[::1/m.json", "https://a.example/", None),
        ("data:text/plain,x", "https://a.example/", None),
        ("/m.json", "ftp://a.example/", None),
    ],
)
def test_same_origin_url(href, base, expected):
    assert same_origin_url(href, base) == expected


def test_pathological_link_values_stay_linear():
    for value in ('<a>;p="' + ',<a>;p="' * 20000, "<" + "," * 50000, '"\\' * 30000, "<a>" + ";x" * 40000):
        parse_link_header(value)


# --- fuzzing ------------------------------------------------------------------------------------------------------

_names = st.sampled_from(
    ["Content-Usage", "content-signal", "X-Robots-Tag", "x-robots-tag", "Content-Type", "Link", "tdm-reservation", "tdm-policy"]
) | st.text(max_size=8)
_robots_text = st.text(alphabet="noaimgexdb:,; *-_AI\t", max_size=40)
_values = st.text(max_size=60) | _robots_text | st.sampled_from(["image/png", "noimageai", "<a>; rel=notrain", "train-ai=n"])


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(_names, _values), max_size=8), st.lists(st.text(max_size=6), max_size=2))
def test_fuzz_headers(headers, agents):
    try:
        statements = header_statements(headers, URL, agents=agents)
        discovered_manifest_links(headers, URL)
        tdmrep_header_values(headers, URL)
    except SignalError:
        return
    for statement in statements:
        assert set(statement.prefs.values()) <= {A, D}


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet='<>;,="\\ ab/rel\t', max_size=80) | st.text(max_size=80))
def test_fuzz_link_header(value):
    for target, params in parse_link_header(value):
        assert "<" not in target and ">" not in target
        assert all(name == name.lower() for name in params)
