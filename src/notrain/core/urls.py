"""Splitting a URL as browsers and HTTP clients do (spec/manifest.md, "URL preprocessing").

A verifier must read a URL the way the client that fetches it will, or a
crafted spelling points the rules at one origin while the request goes to
another: ``https://evil.example\\@art.example/`` is a request to
``evil.example`` for every WHATWG URL parser, but ``urlsplit`` sees the host
``art.example`` behind a userinfo.  For the special schemes ``http`` and
``https`` this module applies the WHATWG URL Standard's preprocessing before
``urlsplit``: surrounding C0 controls and spaces and every tab, LF and CR are
removed, slashes and backslashes after the scheme are skipped, the authority
ends at the first ``/``, ``\\``, ``?`` or ``#``, and ``\\`` is ``/`` in the path.
The last ``@`` of the authority ends its userinfo, as in both standards.
Scrapy reads URLs the same way: w3lib's ``safe_url_string`` turns that URL
into ``https://evil.example/@art.example/``.
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, urlsplit

_C0_OR_SPACE = "".join(map(chr, range(0x21)))
_TAB_OR_NEWLINE = str.maketrans("", "", "\t\n\r")
_SPECIAL_SCHEME = re.compile(r"(?i:https?):")
_AUTHORITY_END = re.compile(r"[/\\?#]")
_PATH_END = re.compile(r"[?#]")
_CHANGED_BY_PREPROCESSING = re.compile(r"[\\\t\n\r]")  # tab, LF, CR and backslash
# A plain URL: lowercase http(s), a host of letters, digits, '.' and '-' with an optional port, then
# printable ASCII without '\\' (the caller checks it is ASCII).  Nothing in it is changed by WHATWG
# preprocessing, and urlsplit's split of it is exactly these groups.
_PLAIN = re.compile(r"(https?)://([A-Za-z0-9.-]+(?::[0-9]*)?)((?:/[^\x00-\x20\x7f\\?#]*)?)(?:\?([^\x00-\x20\x7f\\#]*))?(?:#([^\x00-\x20\x7f\\]*))?")


def split_plain(url: str) -> SplitResult | None:
    """:func:`split_url` of a plain URL (the spelling of nearly every URL a crawl or a dataset holds)
    without ``urlsplit``'s general work, or None for any other: the caller then splits it in full.
    tests/test_urls_plain.py checks it against the full split on generated hostile spellings."""
    plain = _PLAIN.fullmatch(url) if url.isascii() else None
    if plain is None:
        return None
    scheme, netloc, path, query, fragment = plain.groups()
    return SplitResult(scheme, netloc, path, query or "", fragment or "")


def split_url(url: str) -> SplitResult:
    """``urlsplit`` after the WHATWG preprocessing of http(s) URLs."""
    return split_plain(url) or _split_full(url)


def _split_full(url: str) -> SplitResult:
    if url.startswith(("https://", "http://")) and url[-1] > " " and not _CHANGED_BY_PREPROCESSING.search(url):
        start = 7 if url[4] == ":" else 8
        if url[start : start + 1] != "/" and ("@" not in url or "[" not in url and "]" not in url):
            return urlsplit(url)  # the common spelling: nothing to preprocess
    text = url.strip(_C0_OR_SPACE).translate(_TAB_OR_NEWLINE)
    scheme = _SPECIAL_SCHEME.match(text)
    if scheme is None:
        return urlsplit(text)
    rest = text[scheme.end() :].lstrip("/\\")
    end = _AUTHORITY_END.search(rest)
    authority, tail = (rest, "") if end is None else (rest[: end.start()], rest[end.start() :])
    userinfo, at, host = authority.rpartition("@")
    if at:  # brackets in a userinfo are percent-encoded by WHATWG; urlsplit would take them for an IPv6 host
        authority = userinfo.replace("[", "%5B").replace("]", "%5D") + at + host
    path_end = _PATH_END.search(tail)
    cut = len(tail) if path_end is None else path_end.start()
    return urlsplit(f"{scheme.group().lower()}//{authority}{tail[:cut].replace(chr(92), '/')}{tail[cut:]}")
