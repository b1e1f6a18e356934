"""Refresh the AI crawler table from the community list's ``robots.json``.

Usage: ``python -m notrain.signals.refresh_crawlers ROBOTS_JSON [--table PATH] [--commit SHA]``

``ROBOTS_JSON`` is github.com/ai-robots-txt/ai.robots.txt's ``robots.json``
(token -> operator, function, description...).  Entries curated by hand (any
``source`` other than the list) are kept and win over the list for their
product token; the list's entries are replaced by its current *training*
crawlers.  The list has no purpose field, so training is read from its words:
the category "AI Data Scrapers" (crawlers that collect AI data), or a function
or description that speaks of training, datasets or machine learning models.
Generic tools anyone runs (a crawling framework, a headless browser) are left
out: a Disallow for them says nothing specific about training.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from .crawlers import TRAINING, load_table, product_token

LIST = "https://github.com/ai-robots-txt/ai.robots.txt/blob/main/robots.json"
TABLE = Path(__file__).with_name("data") / "ai_crawlers.json"
SCRAPER_CATEGORY = "AI Data Scrapers"
_SAYS_TRAINING = re.compile(r"\btrain|\bdata ?sets?\b|machine learning models", re.IGNORECASE)
_GENERIC_TOOLS = frozenset({"scrapy", "lightpanda"})
_MARKDOWN_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_UNCLEAR = ("unclear at this time.", "unknown", "no information.")


def is_training(entry: dict) -> bool:
    words = f"{entry.get('function', '')} {entry.get('description', '')}"
    return entry.get("function") == SCRAPER_CATEGORY or bool(_SAYS_TRAINING.search(words))


def _plain(text: str) -> str:
    text = _MARKDOWN_LINK.sub(r"\1", text or "").strip()
    return "" if text.lower() in _UNCLEAR else text


def _is_category(function: str) -> bool:
    """Whether a function field is one of the list's category names ("AI Data Scrapers") rather than a sentence."""
    return not function or (function.startswith(("AI ", "Undocumented AI ")) and not function.endswith("."))


def refresh(table: dict, robots_json: dict, commit: str = "") -> dict:
    """The table with its list entries replaced by the list's current training crawlers."""
    curated = [entry for entry in table["crawlers"] if not entry["source"].startswith(LIST)]
    taken = {product_token(entry["token"]) for entry in curated}
    source = f"{LIST} ({commit})" if commit else LIST
    found = []
    for token, entry in robots_json.items():
        key = product_token(token)
        if not key or key in taken or key in _GENERIC_TOOLS or not is_training(entry):
            continue
        taken.add(key)
        function = _plain(entry.get("function", ""))
        note = _plain(entry.get("description", "")) if _is_category(function) else function
        found.append({"token": token, "operator": _plain(entry.get("operator", "")), "purpose": TRAINING, "source": source, "note": note[:200]})
    return {**table, "crawlers": curated + sorted(found, key=lambda e: e["token"].lower())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("robots_json", type=Path)
    parser.add_argument("--table", type=Path, default=TABLE, help="the table to update in place")
    parser.add_argument("--commit", default="", help="the list's commit, recorded in each entry's source")
    args = parser.parse_args(argv)
    table = json.loads(args.table.read_text("utf-8"))
    new = refresh(table, json.loads(args.robots_json.read_text("utf-8")), args.commit)
    text = json.dumps(new, ensure_ascii=False, indent=1) + "\n"
    load_table(text)  # refuse to write a table the package could not load
    args.table.write_text(text, "utf-8")
    listed = sum(entry["source"].startswith(LIST) for entry in new["crawlers"])
    print(f"{args.table}: {len(new['crawlers'])} crawlers, {listed} from the list")
    return 0


if __name__ == "__main__":
    sys.exit(main())
