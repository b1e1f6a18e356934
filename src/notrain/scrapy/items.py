"""``NotrainItemPipeline``: drop items whose captions use names their owners opted out.

A manifest can list names and pseudonyms that must not be used as captions
or prompt tokens.  For every field of ``NOTRAIN_CAPTION_FIELDS`` (default
``caption``, ``alt``, ``title``, ``text``, ``description``; a string or a
list of strings), the names known from ``NOTRAIN_SOURCES`` and from the
manifests the crawl verified are looked up; :func:`notrain.core.decide`
combines them with the page's own verdict, and an item disallowed for a
configured purpose is dropped with :class:`OptedOutItem` (so Scrapy counts
``item_dropped_reasons_count/OptedOutItem``).

Provenance.  When ``NOTRAIN_PROVENANCE_FIELD`` (default ``"notrain"``) is
set and the item can hold it (a dict, or an item declaring that field), a
kept item gets ``{"decision": <decision JSON>, "page": <verdict JSON or
null>}`` there.  The page verdict is the spider's to pass along, in that very
field: ``yield {"caption": ..., "notrain": response.meta.get("notrain")}``
(the :class:`~notrain.scrapy.middleware.Verdict` the downloader middleware
put on the response).  Its statements join the decision, so an item is kept
only if both the page and its captions allow the purposes.

``NOTRAIN_PROVENANCE`` (``"compact"``) says how much: ``"compact"`` keeps
the page's URL and manifest but not the page's own decision, whose
statements the item's decision already cites (a page with many statements
would otherwise be carried twice by every item); ``"full"`` keeps both.

This pipeline runs before the media pipelines (the add-on sees to it), so
the files of a dropped item are never downloaded.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from ..core.decision import Statement
from .middleware import Verdict
from .report import ITEM_DROPPED
from .runtime import Runtime, mechanisms


class OptedOutItem(DropItem):
    """An item dropped because a caption names someone who opted out (or its page disallows)."""

    def __init__(self, purposes: list[str], mechanisms: list[str], fields: list[str]) -> None:
        self.purposes, self.mechanisms, self.fields = purposes, mechanisms, fields
        where = f" (fields: {', '.join(fields)})" if fields else ""
        super().__init__(f"Opted out (notrain): {', '.join(purposes)} disallowed by {', '.join(mechanisms)}{where}")


class NotrainItemPipeline:
    def __init__(self, crawler: Crawler) -> None:
        self.runtime = Runtime.of(crawler)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> NotrainItemPipeline:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        adapter = ItemAdapter(item)
        options = self.runtime.options
        field = options.provenance_field if options.provenance_field and holds(adapter, options.provenance_field) else None
        page = adapter.get(field) if field else None
        statements: list[Statement] = list(page.decision.statements) if isinstance(page, Verdict) else []
        named: list[str] = []
        for name, text in _captions(adapter, options.caption_fields):
            found = self.runtime.sources.text_statements(text)
            if found:
                statements += found
                named.append(name)
        self.runtime.inc("notrain/items/checked")
        decision, refused = self.runtime.decide(statements)
        if refused:
            by = mechanisms(decision, refused)
            self.runtime.refused(ITEM_DROPPED, "notrain/items/dropped", by)
            raise OptedOutItem(refused, by, sorted(set(named)))
        if field:
            attach(adapter, field, options.provenance, decision=decision.to_json())
        return item


def attach(adapter: ItemAdapter, field: str, provenance: str, **members: object) -> None:
    """Add to an item's provenance (a dict), starting from the page verdict the spider left there;
    its decision is dropped in ``compact`` provenance when the item's own decision is added."""
    current = adapter.get(field)
    if isinstance(current, Verdict):
        current = {"page": current.to_json(decision=provenance == "full" or "decision" not in members)}
    elif not isinstance(current, (dict, type(None))):
        raise TypeError(f"the item's {field!r} field holds a {type(current).__name__}: notrain keeps its provenance there")
    adapter[field] = {"page": None, **(current or {}), **members}


def holds(adapter: ItemAdapter, field: str) -> bool:
    """Whether ``field`` can be set on the item (any key of a dict, a declared field otherwise)."""
    return isinstance(adapter.item, dict) or field in adapter.field_names()


def _captions(adapter: ItemAdapter, fields: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    for name in fields:
        value = adapter.get(name)
        for text in [value] if isinstance(value, str) else value if isinstance(value, (list, tuple)) else ():
            if isinstance(text, str) and text:
                yield name, text
