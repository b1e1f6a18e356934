"""The plain-URL fast split (core.urls.split_plain) equals the full WHATWG-preprocessed split wherever it answers.

Differential: hostile spellings are generated from the pieces that change how a URL is read (case, slashes
and backslashes, userinfo, brackets, ports, controls, spaces, non-ASCII, '?' and '#' in any order); for each,
the fast split is either None (the caller falls back) or exactly the full split's result.
"""

from hypothesis import given, settings
from hypothesis import strategies as st

from notrain.core import urls
from notrain.core.urls import split_plain, split_url

TRICKY = "aZ09.-_~:@[]%\\/?# \t\n\r\x00\x7féＡ"
schemes = st.sampled_from(["http", "https", "HTTP", "hTtps", "ftp", "http ", " https", "ht\ttp"])
separators = st.sampled_from(["://", ":/", ":///", ":\\\\", ":/\\", ":", "://\t", "://@"])
hosts = st.one_of(st.sampled_from(["art.example", "ART.example", "127.0.0.1", "[::1]", "a:8080", "a:", "a:0x1", "u@a", "xn--bcher-kva.example"]),
                  st.text(TRICKY, max_size=12))
tails = st.text(TRICKY, max_size=24)


def full(url: str):
    try:
        return urls._split_full(url)
    except ValueError as error:  # urlsplit refuses some netlocs: the fast split must then answer None
        return error


@settings(max_examples=3000, deadline=None)
@given(schemes, separators, hosts, tails)
def test_fast_split_equals_the_full_split(scheme, separator, host, tail):
    url = scheme + separator + host + tail
    plain = split_plain(url)
    assert plain is None or plain == full(url), url


@settings(max_examples=3000, deadline=None)
@given(st.sampled_from(["http://art.example:8080/a/b?q=1#f", "https://art.example/p?x#y", "http://a/"]), st.integers(0, 40),
       st.sampled_from(TRICKY))
def test_one_tricky_character_in_a_plain_url(url, at, char):
    """The boundary: a plain URL with one character inserted that may make it non-plain."""
    url = url[: at % (len(url) + 1)] + char + url[at % (len(url) + 1) :]
    plain = split_plain(url)
    assert plain is None or plain == full(url), url


@given(st.sampled_from(["http", "https"]), st.from_regex(r"[a-z0-9-]{1,12}(\.[a-z0-9-]{1,12}){0,3}(:[0-9]{1,5})?", fullmatch=True),
       st.from_regex(r"(/[a-zA-Z0-9._~%!$&'()*+,;=:@-]{0,10}){0,4}(\?[a-z=&%?/]{0,10})?(#[a-z?#/]{0,6})?", fullmatch=True))
@settings(max_examples=500, deadline=None)
def test_plain_urls_take_the_fast_split(scheme, host, tail):
    url = f"{scheme}://{host}{tail}"
    plain = split_plain(url)
    assert plain is not None, url
    assert plain == full(url) == split_url(url)


def test_hostile_spellings_fall_back():
    for url in ["https://evil.example\\@art.example/", "HTTPS://art.example/", "https:///art.example/", "https://art.example/ a",
                "https://ärt.example/", "https://[::1]/", "https://u@art.example/", " https://art.example/", "https://art.example/\t"]:
        assert split_plain(url) is None, url
    assert split_url("https://evil.example\\@art.example/").netloc == "evil.example"
