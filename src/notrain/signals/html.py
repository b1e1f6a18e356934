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
``base`` start tags (outside comments and script/style/textarea text), keeping
those that could carry a signal; their attributes are then read as HTML's
tokenizer (the stdlib ``html.parser``, through BeautifulSoup) reads them:
entities, quoting, case.  Duplicate attributes keep the first value, as HTML
says.  Only the first 2 MiB are read (metas live at the top), and of those the
elements that could carry a signal up to 16,384 characters together, each at
most 4,096, with a warning beyond any of these, never an error.  The regular
expressions are linear (they never abandon a match to rescan), so the worst
page costs O(2 MiB) plus BeautifulSoup over 16 KiB of tags.  The signals are
ASCII, so bytes are decoded as UTF-8 with replacement, which finds them in any
ASCII-compatible charset; UTF-16 needs its BOM.

Both steps have a fast path for the common page, because a crawler reads every
page (issue 7 §5): the cut is one pass over the lowercased text instead of a
substitution pass and a tag pass, and a tag in plain markup (ASCII names,
values without entities or quotes of the other kind, :data:`_PLAIN_TAG`) is
read by one regular expression instead of BeautifulSoup, which costs ~0.3 ms
a page even for one meta.  Each fast path gives up, to the careful one, on
anything it does not mirror exactly (a ``<`` inside a tag, which a comment or
script could start in; characters whose case folding differs between
``str.lower`` and ``re.IGNORECASE``; an entity, a list-valued attribute...);
tests/test_html_fast_path.py checks both give the same signals and evidence.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple
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
# The fast cut: _INERT's and _TAG's alternatives in one pass over the lowercased text, plus 'odd', a
# tag name run into a '<' (the careful cut would see a tag there once a comment or script after it
# is blanked out), which sends the page to the careful cut.
_SCAN = re.compile(
    r"<(?:!--.*?(?:-->|\Z)|(script|style|textarea)\b.*?(?:</\1\s*>|\Z)"
    r"|(?P<tag>(?:meta|link|base)(?=[\s/>])(?:[^>\"']++|\"[^\"]*+(?:\"|\Z)|'[^']*+(?:'|\Z))*+(?P<end>>)?)"
    r"|(?P<odd>(?:meta|link|base)<))",
    re.DOTALL,
)
# re.IGNORECASE also equates 'i' with dotless 'ı' and 's' with long 'ſ', which str.lower keeps apart;
# 'İ' lowercases to two characters, which the length check catches.
_FOLDS_APART = ("\u0131", "\u017f")
# A start tag in plain markup, which html.parser and BeautifulSoup read exactly as written: ASCII
# names separated by ASCII whitespace, each value quoted (without quotes, '&', '<', '>' or controls
# in it) or bare ASCII up to a space or the '>' (so 'content=noai/>' is 'noai/', as html.parser reads
# it); so no entity, and nothing the tokenizer could read another way.
_VALUE = r"(?:\"[^\"'&<>\x00-\x1f\x7f]*\"|'[^\"'&<>\x00-\x1f\x7f]*'|[!#-%(-;?-_a-~]++(?=[ \t\n\r\f>]))"
_PLAIN_TAG = re.compile(rf"<(meta|link|base)((?:[ \t\n\r\f]+[a-z_:][a-z0-9_:.-]*(?:={_VALUE})?)*)[ \t\n\r\f]*/?>", re.IGNORECASE | re.ASCII)
_PLAIN_ATTRIBUTE = re.compile(r"([a-z_:][a-z0-9_:.-]*)(?:=(?:\"([^\"]*)\"|'([^']*)'|([^\s>]+)))?", re.IGNORECASE | re.ASCII)
# BeautifulSoup splits these into lists and writes them back joined by single spaces.
_LIST_VALUED = frozenset({"class", "accesskey", "dropzone"})


class _Element(NamedTuple):
    """A ``meta``, ``link`` or ``base`` start tag as BeautifulSoup reads it."""

    name: str
    attrs: dict[str, str]  # a list-valued attribute's values joined by spaces, as _attr() gives them
    raw: str  # str(tag) for a meta: its evidence


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
    elements = _plain_elements(tags)
    if elements is None:
        elements = _soup_elements("".join(tags))
    page, images = [], []
    tdm: dict[str, list[str]] = {"tdm-reservation": [], "tdm-policy": []}
    tdm_raw = []
    for element in elements:
        if element.name != "meta":
            continue
        name, content = element.attrs.get("name", "").strip().lower(), element.attrs.get("content", "")
        if name == "robots" or name in tokens:
            scope = None if name == "robots" else name
            for image, found in ((False, page), (True, images)):
                statement = robots_statement(content, HTML_META_ROBOTS, url, tokens, image=image, scope=scope, raw=element.raw)
                if statement is not None:
                    found.append(statement)
        elif name in tdm:
            tdm[name].append(content)
            tdm_raw.append(element.raw)
    tdmrep = tdm_values(TDMREP_HTML, url, tdm["tdm-reservation"], tdm["tdm-policy"], "\n".join(tdm_raw))
    return HtmlSignals(tuple(page), tuple(images), tdmrep, _manifest_links(elements, url), tuple(warnings))


def _soup_elements(tags: str) -> list[_Element]:
    """The careful reading: BeautifulSoup over html.parser."""
    soup = BeautifulSoup(tags, "html.parser", parse_only=_ELEMENTS, on_duplicate_attribute="ignore")
    return [
        _Element(tag.name, {name: _attr(tag, name) for name in tag.attrs}, str(tag) if tag.name == "meta" else "")
        for tag in soup.find_all(["meta", "link", "base"])
    ]


def _plain_elements(tags: list[str]) -> list[_Element] | None:
    """The fast reading, or None unless every tag is plain markup (:data:`_PLAIN_TAG`)."""
    elements = []
    for tag in tags:
        plain = _PLAIN_TAG.fullmatch(tag)
        if plain is None:
            return None
        name = plain.group(1).lower()
        attrs: dict[str, str] = {}
        for attribute in _PLAIN_ATTRIBUTE.finditer(plain.group(2)):
            key, double, single, bare = attribute.groups()
            attrs.setdefault(key.lower(), double if double is not None else single if single is not None else bare or "")
        raw = ""
        if name == "meta":
            if not _LIST_VALUED.isdisjoint(attrs):
                return None
            raw = "<meta" + "".join(f' {key}="{value}"' for key, value in sorted(attrs.items())) + "/>"
        elements.append(_Element(name, attrs, raw))
    return elements


def _manifest_links(elements: list[_Element], url: str) -> tuple[str, ...]:
    """``<link rel="notrain">`` targets, resolved against the document's base URL, same-origin only."""
    base = _base_url(elements, url)
    links: list[str] = []
    for element in elements:
        if element.name == "link" and "href" in element.attrs and "notrain" in element.attrs.get("rel", "").lower().split():
            link = same_origin_url(element.attrs["href"], base, origin_of=url)
            if link is not None and link not in links:
                links.append(link)
    return tuple(links)


def _base_url(elements: list[_Element], url: str) -> str:
    """HTML's document base URL: the first ``<base href>``, resolved against the page's URL."""
    base = next((element.attrs["href"] for element in elements if element.name == "base" and "href" in element.attrs), None)
    try:
        return urljoin(url, base.strip()) if base is not None else url
    except ValueError:
        return url


def _relevant_tags(text: str, tokens: Iterable[str], warnings: list[str]) -> list[str]:
    """The ``meta``, ``link`` and ``base`` start tags that could matter.

    BeautifulSoup's tokenizer walks every tag of a page in Python even with
    ``parse_only`` (tens of milliseconds for a 100 KB page, which would cap a
    crawler at a few dozen pages a second); regular expressions find the few
    tags that matter in C.  Comments and the raw text of ``script``, ``style``
    and ``textarea`` are left out, as the HTML tokenizer would not see tags
    there either; an unclosed one runs to the end of the document, as in HTML.
    A tag is kept if its text mentions a name this module reads (``robots``,
    ``tdm-``, ``notrain``, a product token of ours), is a ``base``, or holds a
    character reference (which could spell any of those): the others (charset,
    viewport, stylesheets...) cannot say anything here, and skipping them spares
    most pages any further reading.
    """
    needles = ("robots", "tdm-", "notrain", "&", *tokens)
    found = _cut_fast(text, needles)
    kept: list[str] = []
    budget = MAX_READ_CHARS
    for tag, length in found if found is not None else _cut(text, needles):
        if length > MAX_TAG_CHARS:
            warnings.append(f"an element of {length} characters ({tag[:60]!r}...) is over {MAX_TAG_CHARS}; not read")
            continue
        budget -= length
        if budget < 0:
            warnings.append(f"the meta/link/base elements that could carry signals exceed {MAX_READ_CHARS} characters; the rest were not read")
            break
        kept.append(tag)
    return kept


def _cut(text: str, needles: tuple[str, ...]) -> Iterator[tuple[str, int]]:
    """The careful cut: comments and raw text blanked out, then every closed tag; (tag, lowercased length)."""
    for match in _TAG.finditer(_INERT.sub(" ", text)):
        if match.group("end") is None:
            continue
        tag = match.group().lower()
        if tag.startswith("<base") or any(n in tag for n in needles):
            yield match.group(), len(tag)


def _cut_fast(text: str, needles: tuple[str, ...]) -> list[tuple[str, int]] | None:
    """What :func:`_cut` yields, up to where the budget ends reading, in one pass over the lowercased
    text (cheaper than matching with IGNORECASE) instead of a substitution pass and a tag pass; or
    None where that pass could differ: a ``<`` inside a tag (the careful cut could blank out a
    comment or script starting there), a tag name run into a ``<``, or case folding that
    ``str.lower`` and ``re.IGNORECASE`` do differently.  Both cuts are linear."""
    lowered = text.lower()
    if len(lowered) != len(text) or any(c in lowered for c in _FOLDS_APART):
        return None
    relevant = _needles(needles)
    found: list[tuple[str, int]] = []
    total = 0
    for match in _SCAN.finditer(lowered):
        kind = match.lastgroup
        if kind is None:  # a comment, script, style or textarea
            continue
        start, end = match.span()
        if kind == "odd" or lowered.find("<", start + 1, end) >= 0:
            return None
        if match.group("end") is None:
            continue
        if lowered.startswith("<base", start) or relevant.search(lowered, start, end):
            found.append((text[start:end], end - start))
            if end - start <= MAX_TAG_CHARS:
                total += end - start
                if total > MAX_READ_CHARS:  # the careful cut's reader stops here too
                    break
    return found


@lru_cache(maxsize=64)
def _needles(needles: tuple[str, ...]) -> re.Pattern[str]:
    """``any(n in tag for n in needles)`` as one search in C."""
    return re.compile("|".join(map(re.escape, needles)))


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
