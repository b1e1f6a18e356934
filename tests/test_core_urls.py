"""URLs are split as browsers and crawlers split them (spec/manifest.md, "URL preprocessing")."""

from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from w3lib.url import safe_url_string

from notrain.core.manifest import canonical_origin
from notrain.core.paths import url_path
from notrain.core.urls import split_url

# Cases from the WHATWG URL Standard's test data (web-platform-tests, url/resources/urltestdata.json),
# absolute http(s) inputs only: input -> (host, port, path) of the parsed URL.
WPT_URLTESTDATA = [
    ("http://user:pass@foo:21/bar;par?b#c", ("foo", 21, "/bar;par")),
    ("http:\\\\foo.com\\", ("foo.com", None, "/")),
    ("http:/example.com/", ("example.com", None, "/")),
    ("http:example.com/", ("example.com", None, "/")),
    ("http://&a:foo(b]c@d:2/", ("d", 2, "/")),
    ("http://::@c@d:2", ("d", 2, "")),
    ("http://a:b@c\\", ("c", None, "/")),
    ("http://a@b\\c", ("b", None, "/c")),
    ("  \t http://example.com/a\nb  ", ("example.com", None, "/ab")),
]


@pytest.mark.parametrize(("url", "expected"), WPT_URLTESTDATA, ids=[u for u, _ in WPT_URLTESTDATA])
def test_whatwg_test_data(url, expected):
    parts = split_url(url)
    assert (parts.hostname, parts.port, parts.path) == expected


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://evil.example\\@art.example/x", "https://evil.example"),  # '\' ends the authority
        ("https://a@b@art.example/x", "https://art.example"),  # the last '@' ends the userinfo
        ("https:art.example/x", "https://art.example"),
        ("HTTPS:\\\\ART.example", "https://art.example"),
        (" https://art.example ", "https://art.example"),
        ("ftp://art.example\\x", None),
    ],
)
def test_origin_of_a_url_follows_the_preprocessing(url, origin):
    assert canonical_origin(url, of_url=True) == origin


def test_backslash_is_a_slash_in_the_path_only():
    assert url_path("https://art.example\\a\\b?q=\\#\\") == "/a/b?q=\\"


def test_common_urls_are_split_as_urlsplit_does():
    for url in ("https://art.example/a?b#c", "http://[::1]:8080/x", "https://art.example", "http://x/y z"):
        assert split_url(url) == urlsplit(url)


# Scrapy canonicalises request URLs with w3lib's safe_url_string, which reads '\' and '@' as the WHATWG
# standard does; what a crawler requests and what notrain matches must be the same host and path.
# (w3lib does not skip extra slashes after "https://", so inputs start with another character.)
_PIECES = st.text(alphabet="ab.@\\/?#x:", max_size=14)


@given(st.sampled_from("abx.@:"), _PIECES)
@settings(max_examples=500)
def test_same_host_and_path_as_scrapy_requests(first, rest):
    url = "https://" + first + rest
    try:
        requested = urlsplit(safe_url_string(url))
    except ValueError:  # w3lib refuses it (a port that is not a number): no request is made
        return
    try:
        ours = split_url(url)
        ours.port  # noqa: B018 - raises for a port urlsplit cannot read
    except ValueError:
        return
    assert (ours.hostname or "", ours.path or "/") == (requested.hostname or "", requested.path or "/")


@given(st.text(alphabet="ab.@\\/?#x:[] \t\n%", max_size=16))
@settings(max_examples=500)
def test_the_fast_path_agrees_with_the_preprocessing(rest):
    """Lowercase "https://" takes a shortcut when nothing needs preprocessing; "HTTPS://" never does."""
    try:
        fast = split_url("https://" + rest)
    except ValueError:
        fast = None
    try:
        slow = split_url("HTTPS://" + rest)
    except ValueError:
        slow = None
    assert fast == slow


@given(st.text(max_size=40))
@settings(max_examples=1000)
def test_any_text_splits_or_raises_value_error_and_has_at_most_one_origin(text):
    for url in (text, "https://" + text, "http:" + text):
        try:
            split_url(url)
        except ValueError:
            pass
        origin = canonical_origin(url, of_url=True)
        assert origin is None or canonical_origin(origin) == origin  # an origin is always in its one spelling
