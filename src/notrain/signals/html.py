"""Opt-out signals in an HTML page: robots metas, TDMRep metas, manifest links.

What each element says (a category not named is not spoken for)::

    <meta name="robots" content="noai">        train-ai disallowed (also noml)
    <meta name="mybot" content="noai">         the same, for the crawler mybot only
    <meta name="robots" content="noimageai">   train-ai disallowed, for the page's images
    <meta name="tdm-reservation" content="1">  TDMRep, see :mod:`.tdmrep`
    <link rel="notrain" href="...">            where a notrain manifest is

``noimageai`` never applies to the page itself: DeviantArt puts it on the page
and ``noai`` on the image download, so it speaks for the images the page
shows.  :attr:`HtmlSignals.image_statements` holds what the page says about
its images (``noai`` and ``noimageai`` alike), for a crawler that takes images
from pages.  Names and directives are case-insensitive, as HTML's are.

Elements count wherever they stand.  HTML's ``<head>`` tags are optional and a
stray element in the head ends it early (the parsing algorithm then puts the
following metas in the body), so position says little about intent, and
skipping a misplaced meta would turn a markup slip into a lost opt-out.

Regular expressions first cut the document down to its ``meta``, ``link`` and
``base`` start tags (outside comments and script/style/textarea text); then
BeautifulSoup over the stdlib ``html.parser`` reads their attributes as HTML
does (entities, quoting, case): no C dependency and no libxml2 version drift,
at a fraction of a millisecond for a typical page.
Duplicate attributes keep the first value, as HTML says.  Only the first
2 MiB are read (metas live at the top), and of those the elements that could
carry a signal up to 16,384 characters together, each at most 4,096, with a
warning beyond any of these, never an error.  The
regular expressions are linear (they never abandon a match to rescan), so the
worst page costs O(2 MiB) plus BeautifulSoup over 16 KiB of tags.  The signals are ASCII, so bytes are decoded as UTF-8 with replacement,
which finds them in any ASCII-compatible charset; UTF-16 needs its BOM.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urljoin

from bs4 import BeautifulSoup, SoupStrainer, Tag

from ..core.decision import Statement
from .base import HTML_META_ROBOTS, TDMREP_HTML
from .headers import agent_tokens, robots_statement, same_origin_url
from .tdmrep import TdmValues, tdm_values

MAX_HTML_BYTES = 2 * 1024 * 1024
MAX_TAG_CHARS = 4096  # one element that could carry a signal; a robots meta is a few dozen characters
# All of them together: BeautifulSoup spends ~2.5 µs per attribute, so this bounds its work to ~10 ms.
MAX_READ_CHARS = 16384
_ELEMENTS = SoupStrainer(["meta", "link", "base"])
# '<' factored out of both alternatives (the same matches) gives the engine a literal to skip ahead to.
_INERT = re.compile(r"<(?:!--.*?(?:-->|\Z)|(script|style|textarea)\b.*?(?:</\1\s*>|\Z))", re.IGNORECASE | re.DOTALL)
# A start tag, its quoted attribute values allowed to contain '>'.  Linear: the
# alternatives never overlap and none can fail (an unclosed quote or tag runs to
# the end of the text), so no match is ever abandoned and the text rescanned from
# the next '<meta'; a tag cut off by the end of the text (no 'end') is dropped,
# as HTML drops it.
# Possessive quantifiers make that explicit: nothing is ever given back.
_TAG = re.compile(r"<(?:meta|link|base)(?=[\s/>])(?:[^>\"']++|\"[^\"]*+(?:\"|\Z)|'[^']*+(?:'|\Z))*+(?P<end>>)?", re.IGNORECASE)


@dataclass(frozen=True)
class HtmlSignals:
    """What one HTML page says."""

    statements: tuple[Statement, ...] = ()  # about the page itself
    image_statements: tuple[Statement, ...] = ()  # about the images the page shows
    tdmrep: TdmValues | None = None  # for tdmrep_statement(), which applies TDMRep's precedence
    manifest_links: tuple[str, ...] = ()  # same-origin rel="notrain" targets, resolved
    warnings: tuple[str, ...] = ()  # about the document as a whole


def html_signals(body: bytes | str, url: str, *, agents: str | Iterable[str] = ()) -> HtmlSignals:
    """Read the page ``body`` served at ``url``; ``agents`` are the crawler's product tokens."""
    warnings = []
    if len(body) > MAX_HTML_BYTES:
        warnings.append("the page is longer than 2 MiB; signals after its first 2 MiB were not read")
        body = body[:MAX_HTML_BYTES]
    tokens = agent_tokens(agents)
    tags = _relevant_tags(_text(body), tokens, warnings)
    if not tags:  # most pages: nothing here can state a preference or point to a manifest
        return HtmlSignals(warnings=tuple(warnings))
    soup = BeautifulSoup(tags, "html.parser", parse_only=_ELEMENTS, on_duplicate_attribute="ignore")
    page, images = [], []
    tdm: dict[str, list[str]] = {"tdm-reservation": [], "tdm-policy": []}
    tdm_raw = []
    for tag in soup.find_all("meta"):
        name, content = _attr(tag, "name").strip().lower(), _attr(tag, "content")
        if name == "robots" or name in tokens:
            scope = None if name == "robots" else name
            for image, found in ((False, page), (True, images)):
                statement = robots_statement(content, HTML_META_ROBOTS, url, tokens, image=image, scope=scope, raw=str(tag))
                if statement is not None:
                    found.append(statement)
        elif name in tdm:
            tdm[name].append(content)
            tdm_raw.append(str(tag))
    tdmrep = tdm_values(TDMREP_HTML, url, tdm["tdm-reservation"], tdm["tdm-policy"], "\n".join(tdm_raw))
    return HtmlSignals(tuple(page), tuple(images), tdmrep, _manifest_links(soup, url), tuple(warnings))


def _manifest_links(soup: BeautifulSoup, url: str) -> tuple[str, ...]:
    """``<link rel="notrain">`` targets, resolved against the document's base URL, same-origin only."""
    base = _base_url(soup, url)
    links: list[str] = []
    for tag in soup.find_all("link", href=True):
        if "notrain" in _attr(tag, "rel").lower().split():
            link = same_origin_url(_attr(tag, "href"), base, origin_of=url)
            if link is not None and link not in links:
                links.append(link)
    return tuple(links)


def _base_url(soup: BeautifulSoup, url: str) -> str:
    """HTML's document base URL: the first ``<base href>``, resolved against the page's URL."""
    base = soup.find("base", href=True)
    try:
        return urljoin(url, _attr(base, "href").strip()) if isinstance(base, Tag) else url
    except ValueError:
        return url


def _relevant_tags(text: str, tokens: Iterable[str], warnings: list[str]) -> str:
    """The ``meta``, ``link`` and ``base`` start tags that could matter.

    BeautifulSoup's tokenizer walks every tag of a page in Python even with
    ``parse_only`` (tens of milliseconds for a 100 KB page, which would cap a
    crawler at a few dozen pages a second); regular expressions find the few
    tags that matter in C.  Comments and the raw text of ``script``, ``style``
    and ``textarea`` are removed first, as the HTML tokenizer would not see tags
    there either; an unclosed one runs to the end of the document, as in HTML.
    A tag is kept if its text mentions a name this module reads (``robots``,
    ``tdm-``, ``notrain``, a product token of ours), is a ``base``, or holds a
    character reference (which could spell any of those): the others (charset,
    viewport, stylesheets...) cannot say anything here, and skipping them spares
    most pages BeautifulSoup altogether.
    """
    needles = ("robots", "tdm-", "notrain", "&", *tokens)
    kept: list[str] = []
    budget = MAX_READ_CHARS
    for match in _TAG.finditer(_INERT.sub(" ", text)):
        if match.group("end") is None:
            continue
        tag = match.group().lower()
        if tag.startswith("<base") or any(n in tag for n in needles):
            if len(tag) > MAX_TAG_CHARS:
                warnings.append(f"an element of {len(tag)} characters ({match.group()[:60]!r}...) is over {MAX_TAG_CHARS}; not read")
                continue
            budget -= len(tag)
            if budget < 0:
                warnings.append(f"the meta/link/base elements that could carry signals exceed {MAX_READ_CHARS} characters; the rest were not read")
                break
            kept.append(match.group())
    return "".join(kept)


def _text(body: bytes | str) -> str:
    if isinstance(body, str):
        return body
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return body.decode("utf-16", errors="replace")
    # What the "utf-8-sig" codec does, without its Python-level wrapper (~10 µs a page).
    return body[3:].decode("utf-8", "replace") if body.startswith(codecs.BOM_UTF8) else body.decode("utf-8", "replace")


def _attr(tag: Tag, name: str) -> str:
    value = tag.get(name)
    return " ".join(value) if isinstance(value, list) else value or ""
