"""signals/html.py's fast paths give exactly what its careful paths give.

The fast cut (one pass over the lowercased text) and the fast reading (plain
tags without BeautifulSoup) must give up on anything they do not mirror; here
both are compared with the careful code on generated hostile markup: the
same tags cut, the same elements read, the same signals and evidence.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from notrain.signals import html
from notrain.signals.html import html_signals

PAGE = "https://art.example/gallery/cat"
NEEDLES = ("robots", "tdm-", "notrain", "&", "mybot")

_fragments = st.sampled_from(
    [
        "<meta", "<META", "<Meta", "<link", "<LINK", "<base", "<bAse", "<script>", "<SCRIPT >", "</script>", "</script >",
        "</SCRIPT\n>", "<style>", "</style>", "<textarea>", "</textarea>", "<scripts>", "<!--", "-->", "--!>", "<![CDATA[", "<?",
        "<head>", "</head>", "<p>", "<", ">", "/>", "/", " ", "\t", "\n", "\x0b", "\xa0", "\u2003", "\x00", "=", " = ",
        " name=", " NAME=", " content=", " rel=", " href=", " class=", " accesskey=", " x:y=", " data-a=", '"', "'", "`",
        "robots", "ROBOTS", "mybot", "MyBot", "noai", "NoAI", "noimageai", "noml", "notrain", "tdm-reservation",
        "tdm-policy", "1", "0", ",", ":", "/m.json", "https://art.example/m", "&amp;", "&#0;", "&#x52;obots", "&", "ı", "İ",
        "ſ", "K", "Σ", "é", "a b", "x",
    ]
)
_markup = st.lists(_fragments, max_size=60).map("".join)
_metas = st.builds(
    lambda name, content, quote, extra: f"<meta{extra} name={quote}{name}{quote} content={quote}{content}{quote}>",
    st.sampled_from(["robots", "mybot", "tdm-reservation", "tdm-policy", "description", "ROBOTS"]),
    st.sampled_from(["noai", "noai, noimageai", "1", "0", "https://a.example/p", "mybot: noml", ""]),
    st.sampled_from(['"', "'", ""]),
    st.sampled_from(["", " charset=utf-8", " class=x", " data-x='1'", " name=first"]),
)
_pages = st.lists(_markup | _metas, max_size=8).map("".join)


def careful(body, agents=("mybot",)):
    """html_signals with both fast paths turned off."""
    fast_cut, fast_read = html._cut_fast, html._plain_elements
    html._cut_fast = lambda text, needles: None
    html._plain_elements = lambda tags: None
    try:
        return html_signals(body, PAGE, agents=agents)
    finally:
        html._cut_fast, html._plain_elements = fast_cut, fast_read


def careful_cut(text: str) -> list[tuple[str, int]]:
    """_cut's tags up to where _relevant_tags stops reading (what _cut_fast promises)."""
    found, total = [], 0
    for tag, length in html._cut(text, NEEDLES):
        found.append((tag, length))
        if length <= html.MAX_TAG_CHARS:
            total += length
            if total > html.MAX_READ_CHARS:
                break
    return found


@settings(max_examples=1500, deadline=None)
@given(_pages | st.text(max_size=300))
@example('<meta<!-- -->name=robots content=noai>')  # a tag the careful cut sees once the comment is blanked
@example('<meta content="<!--" name=robots content=noai> -->')  # a comment starting inside a quoted value
@example('<ſcript><meta name=robots content=noai></script>')  # IGNORECASE reads 'ſ' as 's'
@example('<meta\x0bname=robots content=noai>')  # html.parser: the tag name runs on through \x0b
@example('<meta name=robots content=noai/>')  # a bare value takes the '/'
def test_the_fast_cut_cuts_what_the_careful_cut_cuts(text):
    fast = html._cut_fast(text, NEEDLES)
    if fast is not None:
        assert fast == careful_cut(text)


@settings(max_examples=1500, deadline=None)
@given(st.lists(_markup | _metas, min_size=1, max_size=4))
@example(['<meta name="robots" content="noai" name="description">'])
@example(["<meta CLASS=' a  b ' name=robots content=noai>"])
@example(["<meta name=robots content>", "<link rel=notrain href>", "<base href=/b/>"])
@example(["<meta name = robots content=noai>", "<meta name=robots/>"])
def test_the_fast_reading_reads_what_beautifulsoup_reads(tags):
    tags = [tag for tag, _ in html._cut("".join(tags), ("",))]  # every closed tag, as a cut hands them on
    fast = html._plain_elements(tags)
    if fast is not None:
        assert fast == html._soup_elements("".join(tags))


@settings(max_examples=1000, deadline=None)
@given(_pages, st.sampled_from([("mybot",), (), ("MyBot", "other"), ("",)]))
def test_html_signals_are_the_same_either_way(body, agents):
    assert html_signals(body, PAGE, agents=agents) == careful(body, agents)


@pytest.mark.parametrize(
    "page",
    [
        '<!doctype html><html><head><meta charset="utf-8"><meta name="robots" content="noai, noimageai">'
        '<link rel="notrain" href="/.well-known/notrain.json"><script>if (a<b) {}</script></head><body>&copy;</body></html>',
        "<html><head><META NAME=ROBOTS CONTENT='noimageai'><meta name=tdm-reservation content=1>"
        "<meta name='tdm-policy' content='https://art.example/policy'><base href=/sub/></head><body>Zürich, Σίσυφος</body></html>",
    ],
)
def test_plain_pages_take_the_fast_paths(page):
    """Not vacuous: ordinary pages are read without the careful code, and read the same."""
    tags = html._cut_fast(page, NEEDLES)
    assert tags is not None and html._plain_elements([tag for tag, _ in tags]) is not None
    assert html_signals(page, PAGE, agents=("mybot",)) == careful(page)



def test_a_page_whose_lowercase_is_longer_is_cut_carefully():
    """'İ' lowercases to two characters, so offsets in the lowercased text would not be the page's."""
    page = "<p>İstanbul</p><meta name=robots content=noai>"
    assert html._cut_fast(page, NEEDLES) is None
    assert html_signals(page, PAGE).statements == careful(page).statements != ()
