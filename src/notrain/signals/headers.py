"""Opt-out signals in HTTP response headers.

``headers`` is the list of ``(name, value)`` field lines as received: names
are case-insensitive and a name may repeat.  What each field says (a category
not named is not spoken for)::

    Content-Usage: <AIPREF dictionary>       train-ai, ai-use, search as stated
    Content-Signal: ai-train=yes|no,         train-ai, ai-use, search (Cloudflare's
        ai-input=yes|no, search=yes|no         names; yes = allowed, no = disallowed)
    X-Robots-Tag: noai                       train-ai and ai-use disallowed
    X-Robots-Tag: noimageai                  train-ai and ai-use disallowed, on an image only
    X-Robots-Tag: noml                       train-ai disallowed
    tdm-reservation: 1 | 0 (TDMRep)          train-ai and ai-use disallowed | allowed

``Content-Usage`` and ``Content-Signal`` lines are joined with ``", "`` before
parsing, as RFC 9110/9651 prescribe, so within the field the last value of a
label wins.  ``noai`` and ``noimageai`` are the DeviantArt convention, read
as their originator defines them: DeviantArt's Terms of Service forbid
content so labelled "to train an artificial intelligence system" and "as
input into any previously trained artificial intelligence system", that is
``train-ai`` and ``ai-use`` (spec/decision.md, "Other signals").  ``noml`` is
noml.info's sibling, which speaks of machine-learning training only.  All are
read with Google's X-Robots-Tag grammar
(case-insensitive, comma lists, a ``bot:`` prefix scoping the directives after
it), and ``noindex``/``none`` are *not* training signals.  ``noimageai`` counts
unless the response says it is not an image: a missing or opaque
``Content-Type`` could be one.

TDMRep headers are no statement of their own: embedded metadata overrides
them, so :func:`tdmrep_header_values` hands them to
:func:`~notrain.signals.tdmrep.tdmrep_statement`.  ``Link: <...>;
rel="notrain"`` only points at a manifest: :func:`discovered_manifest_links`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urldefrag, urljoin, urlsplit

from ..core.decision import Statement
from ..core.vocab import AI_USE, TRAIN_AI, State
from .aipref import parse_content_signal, parse_content_usage
from .base import HEADER_CONTENT_SIGNAL, HEADER_CONTENT_USAGE, TDMREP_HEADER, X_ROBOTS_TAG, make_statement
from .tdmrep import TdmValues, tdm_values

Headers = Iterable[tuple[str, str]]

# Robots directives that carry a value after a colon: not a bot prefix.
_VALUED = frozenset({"unavailable_after", "max-snippet", "max-image-preview", "max-video-preview"})
_PRODUCT = re.compile(r"[A-Za-z0-9_.*-]+")
# What each directive disallows; noimageai speaks only for images.
_DIRECTIVES = {"noai": (TRAIN_AI, AI_USE), "noimageai": (TRAIN_AI, AI_USE), "noml": (TRAIN_AI,)}
_AI_IMAGES = "noimageai"


def _field_lines(headers: Headers, name: str) -> list[str]:
    """Every line of one field, in order (``name`` in lowercase)."""
    return [value for key, value in headers if key.lower() == name]


def agent_tokens(agents: str | Iterable[str]) -> frozenset[str]:
    """The crawler's product token(s), lowercased for case-insensitive matching."""
    return frozenset(a.lower() for a in ((agents,) if isinstance(agents, str) else agents))


def header_statements(headers: Headers, url: str, *, agents: str | Iterable[str] = ()) -> list[Statement]:
    """Statements from one response's headers; ``agents`` are the crawler's product tokens."""
    headers = list(headers)
    statements = []
    for name, mechanism, parse in (
        ("content-usage", HEADER_CONTENT_USAGE, parse_content_usage),
        ("content-signal", HEADER_CONTENT_SIGNAL, parse_content_signal),
    ):
        lines = _field_lines(headers, name)
        if lines:
            prefs, warnings = parse(lines)
            statements.append(make_statement(prefs, mechanism, url, raw=", ".join(lines), warnings=warnings))
    image = _maybe_image(headers)
    tokens = agent_tokens(agents)
    for line in _field_lines(headers, "x-robots-tag"):
        statement = robots_statement(line, X_ROBOTS_TAG, url, tokens, image=image)
        if statement is not None:
            statements.append(statement)
    return statements


def robots_statement(
    value: str,
    mechanism: str,
    source: str,
    agents: frozenset[str],
    *,
    image: bool,
    scope: str | None = None,
    raw: str | None = None,
) -> Statement | None:
    """The AI directives of one X-Robots-Tag line or robots meta content that apply
    to ``agents`` (lowercase product tokens); ``scope`` is a bot-named meta's bot."""
    found = [
        (bot, directive)
        for bot, directive in robots_directives(value, scope)
        if (bot is None or bot == "*" or bot in agents) and directive in _DIRECTIVES and (image or directive != _AI_IMAGES)
    ]
    if not found:
        return None
    prefs = {category: State.DISALLOWED for _, directive in found for category in _DIRECTIVES[directive]}
    rule = ", ".join(f"{bot}: {directive}" if bot else directive for bot, directive in found)
    return make_statement(prefs, mechanism, source, raw=raw or value, rule=rule)


def robots_directives(value: str, scope: str | None = None) -> list[tuple[str | None, str]]:
    """``(bot or None, directive)`` pairs, both lowercased, of a robots directive list.

    A ``bot:`` prefix scopes its item and the following ones, up to the next
    prefix (``googlebot: noindex, nofollow``); a valued directive such as
    ``unavailable_after: 25 Jun 2010 15:00:00 PST`` is not a prefix.  ``scope``
    is the bot of the whole list, if any.
    """
    pairs: list[tuple[str | None, str]] = []
    for item in value.split(","):
        head, colon, rest = item.partition(":")
        head = head.strip().lower()
        if colon and head not in _VALUED and _PRODUCT.fullmatch(head):
            scope, head = head, rest.partition(":")[0].strip().lower()
        if head:
            pairs.append((scope, head))
    return pairs


def _maybe_image(headers: list[tuple[str, str]]) -> bool:
    types = [value.partition(";")[0].strip().lower() for value in _field_lines(headers, "content-type")]
    return not types or any(t.startswith("image/") or t in ("", "application/octet-stream") for t in types)


def tdmrep_header_values(headers: Headers, url: str) -> TdmValues | None:
    """TDMRep's ``tdm-reservation`` and ``tdm-policy`` headers, for ``tdmrep_statement``."""
    headers = list(headers)
    reservations = [v for line in _field_lines(headers, "tdm-reservation") for v in line.split(",")]
    policies = _field_lines(headers, "tdm-policy")
    raw = "\n".join(f"{name}: {value}" for name, value in headers if name.lower() in ("tdm-reservation", "tdm-policy"))
    return tdm_values(TDMREP_HEADER, url, reservations, policies, raw)


# RFC 8288 lexemes: <target>, "quoted" (an unterminated one runs to the end, so
# lexing stays linear), token, separator, whitespace, anything else.
_LEXEME = re.compile(r'<([^<>]*)>|"((?:[^"\\]|\\.)*)"?|([!#$%&\'*+.^_`|~0-9A-Za-z-]+)|([,;=])|\s+|(.)', re.DOTALL)
_LINK_SHAPE = re.compile(r"<(;t(=[tq])?)*;?")  # one link-value, as lexeme kinds


def parse_link_header(value: str) -> list[tuple[str, dict[str, str]]]:
    """RFC 8288 link-values: ``(target as written, params)``, names lowercased.

    A field value may hold several links; quoted parameters may contain commas
    and semicolons; the first occurrence of a parameter counts.  A malformed
    link-value is skipped, the others still count.
    """
    segments: list[list[tuple[str, str]]] = [[]]
    for match in _LEXEME.finditer(value):
        target, quoted, token, separator, other = match.groups()
        if separator == ",":
            segments.append([])
        elif target is not None:
            segments[-1].append(("<", target.strip()))
        elif quoted is not None:
            segments[-1].append(("q", re.sub(r"\\(.)", r"\1", quoted, flags=re.DOTALL)))
        elif token is not None:
            segments[-1].append(("t", token))
        elif separator:
            segments[-1].append((separator, separator))
        elif other:
            segments[-1].append(("?", other))
    return [link for link in map(_link, segments) if link is not None]


def _link(lexemes: list[tuple[str, str]]) -> tuple[str, dict[str, str]] | None:
    if not _LINK_SHAPE.fullmatch("".join(kind for kind, _ in lexemes)):
        return None
    params: dict[str, str] = {}
    for i, (kind, _) in enumerate(lexemes):
        if kind == ";" and i + 1 < len(lexemes):
            valued = i + 3 < len(lexemes) and lexemes[i + 2][0] == "="
            params.setdefault(lexemes[i + 1][1].lower(), lexemes[i + 3][1] if valued else "")
    return lexemes[0][1], params


def discovered_manifest_links(headers: Headers, base_url: str) -> list[str]:
    """Targets of ``Link: <...>; rel="notrain"``, resolved, same-origin only, deduplicated."""
    found: list[str] = []
    for line in _field_lines(headers, "link"):
        for target, params in parse_link_header(line):
            if "notrain" not in params.get("rel", "").lower().split():
                continue
            url = same_origin_url(target, base_url)
            if url is not None and url not in found:
                found.append(url)
    return found


def same_origin_url(href: str, base: str, origin_of: str | None = None) -> str | None:
    """``href`` resolved against ``base``, without fragment, if it has the origin
    of ``origin_of`` (default ``base``): a page can only point at its own site's manifest."""
    try:
        url = urldefrag(urljoin(base, href.strip())).url
        origin = _origin(url)
        return url if origin is not None and origin == _origin(origin_of or base) else None
    except ValueError:
        return None


def _origin(url: str) -> tuple[str, str, int] | None:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    return scheme, parts.hostname, parts.port or (443 if scheme == "https" else 80)
