"""The AI crawler table: which robots.txt product tokens belong to AI crawlers, and what for.

The table is package data (``data/ai_crawlers.json``) so that it can be
refreshed without touching code: ``python -m notrain.signals.refresh_crawlers
robots.json`` re-reads the community list github.com/ai-robots-txt/ai.robots.txt.
Each entry names its ``source``: a vendor's own documentation for the entries
curated by hand (they win over the list), or the list itself.

Only ``training`` crawlers matter to :mod:`.robots`: a Disallow for one of
them is read as ``train-ai=n`` (an inferred statement).  Blocking a search
indexer or a fetcher acting for a user says nothing about training.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib.resources import files

__all__ = ["AI_CRAWLERS", "SEARCH_INDEX", "TRAINING", "USER_FETCH", "AICrawler", "crawler_token", "load_table", "product_token"]

TRAINING, SEARCH_INDEX, USER_FETCH = "training", "search", "user-fetch"
PURPOSES = (TRAINING, SEARCH_INDEX, USER_FETCH)

_NOT_TOKEN = re.compile(r"[^A-Za-z0-9_-]")
_CRAWLER_END = re.compile(r"[\s/(]")


def product_token(value: str) -> str:
    """The product token a robots.txt user-agent value stands for, lowercased.

    As google/robotstxt (RFC 9309's reference parser) reads it: the leading run
    of token characters, so ``CCBot/2.0`` and ``Kangaroo Bot`` are ``ccbot`` and
    ``kangaroo``; ``*`` stays ``*``.  The characters are RFC 9309's (ASCII
    letters, ``-``, ``_``) plus digits, which real tokens carry (``AI2Bot``,
    ``img2dataset``) and Google would cut at.  A value with a non-ASCII letter
    is cut there too (``Jävla-Foobot`` is ``j``), as Google cuts it; the
    crawler's side is not cut at one (:func:`crawler_token`), so no two
    non-ASCII names collide.
    """
    value = value.strip()
    if value[:1] == "*" and (len(value) == 1 or value[1].isspace()):
        return "*"  # Google: '*' followed by a space and more is still the global group
    return _NOT_TOKEN.split(value, maxsplit=1)[0].lower()


def crawler_token(name: str) -> str:
    """The product token a crawler names itself by, lowercased: up to the first
    whitespace, ``/`` or ``(`` (``MyBot/2.1`` is ``mybot``).

    It is not cut at other characters: ``jävla-fanbot`` stays whole, so it obeys
    no ``Jävla-Foobot`` group (read as ``j``).  google/robotstxt likewise
    compares the crawler's token whole with the cut robots.txt value.
    """
    return _CRAWLER_END.split(name.strip(), maxsplit=1)[0].lower()


@dataclass(frozen=True)
class AICrawler:
    token: str  # as the operator writes it; robots.txt reads its product_token()
    operator: str
    purpose: str  # TRAINING, SEARCH_INDEX or USER_FETCH
    source: str  # where the purpose comes from
    note: str = ""


def load_table(text: str) -> tuple[AICrawler, ...]:
    """The crawlers of a table document; raises ValueError for a malformed one."""
    doc = json.loads(text)
    crawlers = tuple(AICrawler(**entry) for entry in doc["crawlers"])
    seen: set[str] = set()
    for crawler in crawlers:
        token = product_token(crawler.token)
        if crawler.purpose not in PURPOSES or not token or token in seen:
            raise ValueError(f"bad or duplicate AI crawler entry {crawler.token!r}")
        seen.add(token)
    return crawlers


AI_CRAWLERS: tuple[AICrawler, ...] = load_table(files(__package__).joinpath("data", "ai_crawlers.json").read_text("utf-8"))
"""Known AI crawlers, one per product token."""
