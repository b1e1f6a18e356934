"""HTML signals: robots and bot-named metas, TDMRep metas, rel="notrain" links, hostile documents."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notrain.core import AI_USE, SEARCH, TRAIN_AI, State, decide
from notrain.signals.base import HTML_META_ROBOTS, TDMREP_HTML, SignalError
from notrain.signals.html import MAX_HTML_BYTES, html_signals

PAGE = "https://art.example/gallery/cat"


def read(body: str | bytes, agents=("mybot",)):
    return html_signals(body.encode() if isinstance(body, str) else body, PAGE, agents=agents)


def train(statements) -> State:
    return decide(statements).state(TRAIN_AI)


A, D, U = State.ALLOWED, State.DISALLOWED, State.UNKNOWN

# --- §3.1 robots metas (agent token mybot): (page, images on the page) ---------------------------------------------


@pytest.mark.parametrize(
    "html, page, images",
    [
        ('<meta name="robots" content="noai, noimageai">', D, D),
        ('<meta name="robots" content="noimageai">', U, D),  # DeviantArt: images only
        ('<meta name="robots" content="noai">', D, D),
        ('<meta name="mybot" content="noai">', D, D),  # bot-specific meta name
        ('<meta name="otherbot" content="noai">', U, U),
        ('<meta name="robots" content="noindex, nofollow">', U, U),  # not AI signals
        ('<meta name="robots" content="none">', U, U),
        ('<META NAME="ROBOTS" CONTENT="NOAI">', D, D),
        ("<meta name=Robots content=NoAI>", D, D),
        ("<meta name='robots' content='noimageai'>", U, D),
        ('<meta content="noai" name="robots"/>', D, D),
        ('<meta name=" robots " content=" noai ">', D, D),
        ('<meta name="MyBot" content="noml">', D, D),
        ('<meta name="robots" content="otherbot: noai">', U, U),
        ('<meta name="robots" content="mybot: noai">', D, D),
        ('<meta name="googlebot" content="noai">', U, U),
        ('<meta name="robots">', U, U),
        ('<meta name="description" content="noai">', U, U),
        ('<meta property="robots" content="noai">', U, U),
        ('<meta name="robots" content="noai" name="description">', D, D),  # duplicate attribute: the first counts
        ('<meta name="description" name="robots" content="noai">', U, U),
        ('<meta name="robots" content="index" content="noai">', U, U),
    ],
)
def test_robots_metas(html, page, images):
    found = read(f"<!doctype html><html><head>{html}</head><body><p>hi</p></body></html>")
    assert (train(found.statements), train(found.image_statements)) == (page, images)
    for statement in found.statements + found.image_statements:  # noai/noimageai: train-ai and ai-use; noml: train-ai
        assert statement.prefs == ({TRAIN_AI: D} if "noml" in html else {TRAIN_AI: D, AI_USE: D})


def test_evidence():
    [statement] = read('<meta name="robots" content="noindex, NoAI">').statements
    assert statement.evidence.mechanism == HTML_META_ROBOTS
    assert statement.evidence.source == PAGE
    assert statement.evidence.rule == "noai"
    assert statement.evidence.raw == '<meta content="noindex, NoAI" name="robots"/>'
    [bot] = read('<meta name="MyBot" content="noai">').statements
    assert bot.evidence.rule == "mybot: noai"


def test_deviantart_style_page():
    html = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
    <title>Cat by artist on DeviantArt</title>
    <meta name="robots" content="noai, noimageai">
    <meta property="og:image" content="https://images.example/cat.jpg">
    <link rel="canonical" href="https://art.example/gallery/cat">
    </head><body><div id="root"><img src="https://images.example/cat.jpg" alt="Cat"></div></body></html>"""
    found = read(html)
    assert train(found.statements) is D and train(found.image_statements) is D
    assert decide(found.statements).state(AI_USE) is D and decide(found.statements).state(SEARCH) is U


# --- where metas stand, broken documents --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "html, page",
    [
        ('<body><p>text</p><meta name="robots" content="noai"></body>', D),  # in the body: still read
        ('<head><title>x</title><div>plugin</div><meta name="robots" content="noai"></head>', D),  # head ended early
        ('<meta name="robots" content="noai">', D),  # no html/head tags at all
        ('<script>document.write(\'<meta name="robots" content="noai">\')</script>', U),
        ('<style>/* <meta name="robots" content="noai"> */</style>', U),
        ('<!-- <meta name="robots" content="noai"> -->', U),
        ('<head><meta name="robots" content="noai"', U),  # cut off inside the tag
        ('<head><meta name="robots" content="noai', U),
        ('<html><head><title>unclosed<meta name="robots" content="noai"><p><b><i></b>', D),
        ('<<meta name="robots" content="noai">>', D),
        ('<meta name="robots" content="noai"></meta></meta></head></html></html>', D),
        ('<svg><meta name="robots" content="noai"/></svg>', D),
        ('\x00<meta\x00 name="robots" content="noai">', U),
        ('<meta name="robots" content="noai\x00">', U),
        ('<meta\tname="robots"\ncontent="noai"\r>', D),
    ],
)
def test_position_and_broken_html(html, page):
    assert train(read(html).statements) is page


def test_invalid_utf8_and_other_encodings():
    body = b'<head><title>\xff\xfe\xc3(</title><meta name="robots" content="noai"></head>\x80\x81'
    assert train(read(body).statements) is D
    latin1 = '<meta charset="iso-8859-1"><title>Caf\xe9</title><meta name="robots" content="noai">'.encode("latin-1")
    assert train(read(latin1).statements) is D
    utf16 = '\ufeff<meta name="robots" content="noai">'.encode("utf-16-le")
    assert train(read(utf16).statements) is D
    assert train(read('<meta name="robots" content="noai">').statements) is D  # text works too
    assert train(html_signals('<meta name="robots" content="noai">', PAGE).statements) is D


def test_huge_documents_are_read_up_to_the_limit():
    head = b'<html><head><meta name="robots" content="noai"></head><body>'
    body = head + b"<p>" + b"x" * MAX_HTML_BYTES + b'</p><meta name="robots" content="noimageai"></body>'
    found = read(body)
    assert train(found.statements) is D
    assert [s.evidence.rule for s in found.image_statements] == ["noai"]  # the late meta was not read
    assert found.warnings and "first" in found.warnings[0]
    assert read(head).warnings == ()


def test_deep_nesting():
    assert train(read("<div>" * 50000 + '<meta name="robots" content="noai">').statements) is D


# --- §2.4 TDMRep metas --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "html, reservation, policy, warned",
    [
        ('<meta name="tdm-reservation" content="1">', 1, None, False),
        ('<meta name="tdm-reservation" content="0">', 0, None, False),
        ('<meta name="TDM-Reservation" content=" 1 ">', 1, None, False),
        (
            '<meta name="tdm-reservation" content="1"><meta name="tdm-policy" content="https://provider.com/p.json">',
            1,
            "https://provider.com/p.json",
            False,
        ),
        ('<meta name="tdm-policy" content="https://provider.com/p.json">', None, "https://provider.com/p.json", False),
        ('<meta name="tdm-reservation" content="true">', None, None, True),  # protocol error: unset
        ('<meta name="tdm-reservation">', None, None, True),
        ('<meta name="tdm-reservation" content="0"><meta name="tdm-reservation" content="1">', 1, None, True),
    ],
)
def test_tdmrep_metas(html, reservation, policy, warned):
    values = read(html).tdmrep
    assert (values.reservation, values.policy, bool(values.warnings), values.mechanism) == (
        reservation,
        policy,
        warned,
        TDMREP_HTML,
    )
    assert values.source == PAGE and "tdm-" in values.raw.lower()
    assert read(html).statements == ()  # TDMRep becomes a statement only through tdmrep_statement()


def test_no_tdmrep():
    assert read('<meta name="robots" content="noai">').tdmrep is None


# --- <link rel="notrain"> -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "html, links",
    [
        ('<link rel="notrain" href="/.well-known/notrain.json">', ["https://art.example/.well-known/notrain.json"]),
        ('<LINK REL="Alternate NoTrain" HREF="notrain.json">', ["https://art.example/gallery/notrain.json"]),
        ('<link rel="notrain" href=" /m.json#top ">', ["https://art.example/m.json"]),
        ('<base href="/sub/"><link rel="notrain" href="m.json">', ["https://art.example/sub/m.json"]),
        ('<link rel="notrain" href="m.json"><base href="/sub/">', ["https://art.example/sub/m.json"]),  # base applies to all
        ('<base href="https://cdn.example/"><link rel="notrain" href="m.json">', []),  # resolves cross-origin
        (
            '<base href="https://cdn.example/"><link rel="notrain" href="https://art.example/m.json">',
            ["https://art.example/m.json"],
        ),
        ('<base target="_blank"><base href="/b/"><link rel="notrain" href="m.json">', ["https://art.example/b/m.json"]),
        ('<link rel="notrain" href="https://cdn.example/m.json">', []),
        ('<link rel="notrain" href="http://art.example/m.json">', []),
        ('<link rel="notrain">', []),
        ('<link rel="notrainx" href="/m.json"><link rel="stylesheet" href="/s.css">', []),
        ('<link rel="notrain" href="/m.json"><link rel="notrain" href="/m.json">', ["https://art.example/m.json"]),
        ('<link rel="notrain" href="http://[::1/m.json">', []),
        ('<base href="http://[::1/"><link rel="notrain" href="/m.json">', ["https://art.example/m.json"]),
        ('<a rel="notrain" href="/m.json">not a link element</a>', []),
    ],
)
def test_manifest_links(html, links):
    assert list(read(html).manifest_links) == links


# --- fuzzing ------------------------------------------------------------------------------------------------------

_tags = st.sampled_from(
    ["<meta", "<link", "<base", "<script>", "</script>", "<head>", "</head>", "<!--", "-->", "<![CDATA[", "<?"]
)
_attributes = st.sampled_from([" name=", " content=", " rel=notrain", " href=", '"', "'", ">", "/>", " "])
_words = st.sampled_from(["robots", "mybot", "noai", "noimageai", ",", ":", "/m.json", "tdm-reservation", "1", "&#0;", "\x00"])
_fragments = _tags | _attributes | _words


@settings(max_examples=300, deadline=None)
@given(
    st.lists(_fragments, max_size=40).map("".join) | st.text(max_size=200) | st.binary(max_size=200),
    st.lists(st.text(max_size=6), max_size=2),
)
def test_fuzz_html(body, agents):
    try:
        found = html_signals(body, PAGE, agents=agents)
    except SignalError:
        return
    for statement in found.statements + found.image_statements:
        assert statement.prefs == {TRAIN_AI: D}
    assert all(link.startswith("https://art.example/") for link in found.manifest_links)
