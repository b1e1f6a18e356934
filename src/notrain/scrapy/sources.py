"""``NOTRAIN_SOURCES``: where a crawl learns the works and names of publishers it never fetched.

A site's own manifest only covers that site.  An artist's works reposted on
an image board, and a person with no site at all, are known to the crawl
through *sources*: each entry of ``NOTRAIN_SOURCES`` is one
:class:`~notrain.fetch.sources.ManifestSource`, given as

* ``aggregator+https://host`` (optionally ``#`` and the log's verifier key,
  ``aggregator+https://host#name+1234abcd+AQ...``), or a dict ``{"aggregator":
  URL, "log_key": VKEY}``: a live aggregator,
  :class:`~notrain.fetch.aggregator.AggregatorSource`, whose envelopes are
  verified here; with the key, each must also be proven included in the log's
  signed checkpoint, which the compliance report then cites;
* ``snapshot:DIR`` (optionally ``#`` and the log's verifier key), or a dict
  ``{"snapshot": DIR, "log_key": VKEY, "max_age": SECONDS}`` (both optional
  but ``snapshot``; an older snapshot stops the crawl): a snapshot directory written by
  ``notrain snapshot pull``, :class:`~notrain.fetch.snapshot_source.SnapshotSource`,
  checked again offline (checkpoint, inclusion, every part) when the crawl
  starts; without a key, the one the pull was given (saved in the directory);
* either of the two above with a witness policy (spec/log.md, "Witnesses"): the dict keys
  ``"witnesses"`` (a list of cosigner vkeys) and ``"min_cosignatures"`` (an integer *k*), or for
  every aggregator and snapshot source that sets neither, the settings ``NOTRAIN_WITNESSES`` and
  ``NOTRAIN_MIN_COSIGNATURES``: the log's checkpoint must carry valid cosignatures by *k* distinct
  ones of those witnesses, or the crawl stops at start;
* a path (a :class:`pathlib.Path`, or a string ending in ``.json`` or
  containing a ``/``): a local bundle, :class:`~notrain.fetch.sources.LocalSource`;
* any other string: the import path of a source class (or object), so an
  aggregator client or snapshot reader can plug in without changes here;
* a class: built with Scrapy's ``build_from_crawler`` (its ``from_crawler``
  if it has one, else no arguments);
* an object with ``catalog()`` and ``describe()``: used as is.

Every source is loaded when the crawl starts, and a source that cannot be
loaded stops it (:class:`~notrain.scrapy.options.SettingsError`): a crawl
that silently ignores the bundle it was given is the failure to avoid.
``catalog()`` is asked again at each lookup, so a source may refresh itself.

The works and names of the origin manifests the crawl itself verified join
in (:attr:`Sources.crawled`, filled by the downloader middleware): a work an
artist lists on their own site is then recognised when reposted elsewhere,
from the moment the crawl has read that site.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path

from scrapy.crawler import Crawler
from scrapy.utils.misc import build_from_crawler, load_object

from ..core.catalog import Catalog, ContentHash
from ..core.decision import Statement
from ..core.errors import NotrainError
from ..fetch.aggregator import SCHEME_PREFIX, AggregatorSource, parse_source
from ..fetch.snapshot_source import SnapshotSource
from ..fetch.snapshot_source import parse_source as parse_snapshot_source
from ..fetch.snapshots import SCHEME_PREFIX as SNAPSHOT_PREFIX
from ..fetch.sources import LocalSource, ManifestSource
from .options import SettingsError

POLICY = ("witnesses", "min_cosignatures")  # a source dict's witness policy keys


class Sources:
    """The crawl's sources, asked together."""

    def __init__(self, sources: Iterable[ManifestSource]) -> None:
        self.sources = list(sources)
        self.crawled = Catalog()

    def __bool__(self) -> bool:
        """Whether any manifest could match (else hashing a file is wasted work)."""
        return bool(self.sources or len(self.crawled))

    def content_statements(self, content: ContentHash) -> list[Statement]:
        return [s for catalog in self._catalogs() for s in catalog.content_statements(content)]

    def text_statements(self, text: str) -> list[Statement]:
        return [s for catalog in self._catalogs() for s in catalog.text_statements(text)]

    def describe(self) -> list[dict]:
        return [source.describe() for source in self.sources]

    def snapshots(self) -> list[dict]:
        """What the compliance report cites of each snapshot source: its id, checkpoint and inclusion proof."""
        cited = ("id", "path", "log", "size", "root", "observed", "checkpoint", "witnesses", "inclusion", "consistency")
        return [{k: s.describe()[k] for k in cited} for s in self.sources if isinstance(s, SnapshotSource)]

    def _catalogs(self) -> list[Catalog]:
        return [self.crawled, *(source.catalog() for source in self.sources)]


def load_sources(entries: Iterable[object], crawler: Crawler) -> Sources:
    sources = [_source(entry, crawler) for entry in entries]
    for source in sources:
        try:
            source.catalog()
        except NotrainError as error:
            raise SettingsError(f"NOTRAIN_SOURCES: {error}") from None
    return Sources(sources)


def _witness_settings(crawler: Crawler | None) -> dict:
    """The witness policy every aggregator and snapshot source gets unless its dict sets its own."""
    settings = crawler.settings if crawler is not None else None
    if settings is None:
        return {"witnesses": (), "min_cosignatures": 0}
    return {"witnesses": tuple(settings.getlist("NOTRAIN_WITNESSES", [])), "min_cosignatures": settings.getint("NOTRAIN_MIN_COSIGNATURES", 0)}


def _policy(entry: dict, defaults: dict) -> dict:
    if not ("witnesses" in entry or "min_cosignatures" in entry):
        return defaults
    witnesses, minimum = entry.get("witnesses", []), entry.get("min_cosignatures", 0)
    if not isinstance(witnesses, list) or not all(isinstance(w, str) for w in witnesses) or type(minimum) is not int:
        raise SettingsError("NOTRAIN_SOURCES: 'witnesses' is a list of cosigner vkeys and 'min_cosignatures' an integer")
    return {"witnesses": tuple(witnesses), "min_cosignatures": minimum}


def _source(entry: object, crawler: Crawler | None) -> ManifestSource:
    witnessed = _witness_settings(crawler)
    try:
        if isinstance(entry, str) and entry.startswith(SCHEME_PREFIX):
            return parse_source(entry, **witnessed)
        if isinstance(entry, dict) and "aggregator" in entry:
            if set(entry) - {"aggregator", "log_key", *POLICY}:
                raise SettingsError(f"NOTRAIN_SOURCES: an aggregator source has 'aggregator', 'log_key' and a witness policy only, not {sorted(entry)}")
            return AggregatorSource(entry["aggregator"], log_key=entry.get("log_key"), **_policy(entry, witnessed))
        if isinstance(entry, str) and entry.startswith(SNAPSHOT_PREFIX):
            return parse_snapshot_source(entry, **witnessed)
        if isinstance(entry, dict) and "snapshot" in entry:
            max_age = entry.get("max_age")
            if set(entry) - {"snapshot", "log_key", "max_age", *POLICY} or not (max_age is None or (type(max_age) is int and max_age > 0)):
                raise SettingsError(f"NOTRAIN_SOURCES: a snapshot source has 'snapshot', 'log_key', 'max_age' (seconds) and a witness policy only, not {entry!r}"[:300])
            return SnapshotSource(Path(entry["snapshot"]), log_key=entry.get("log_key"),
                                  max_age=None if max_age is None else timedelta(seconds=max_age), **_policy(entry, witnessed))
    except NotrainError as error:
        raise SettingsError(f"NOTRAIN_SOURCES: {error}") from None
    if isinstance(entry, os.PathLike) or (isinstance(entry, str) and (entry.endswith(".json") or "/" in entry)):
        return LocalSource(Path(entry))
    if isinstance(entry, str):
        try:
            entry = load_object(entry)
        except (ImportError, NameError, ValueError) as error:
            raise SettingsError(f"NOTRAIN_SOURCES: cannot import {entry!r}: {error}") from None
    if isinstance(entry, type):
        entry = build_from_crawler(entry, crawler)
    if not (callable(getattr(entry, "catalog", None)) and callable(getattr(entry, "describe", None))):
        raise SettingsError(f"NOTRAIN_SOURCES: {entry!r} is not a bundle path nor a source (catalog() and describe())")
    return entry  # type: ignore[return-value]
