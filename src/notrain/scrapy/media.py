"""``NotrainImagesPipeline`` and ``NotrainFilesPipeline``: never store a file its owner opted out.

The downloader middleware has already refused what a site's signals forbid
for the file's URL.  What only the bytes can tell is checked here, on the
downloaded body, before anything is written to the store:

* the file's SHA-256 and, for an image, its PDQ hash (a repost re-encoded or
  resized elsewhere) against the works of ``NOTRAIN_SOURCES`` and of the
  manifests the crawl verified;
* the XMP ``plus:DataMining`` and C2PA training-mining statements embedded in
  it (unless the middleware already read them: it does for ``image/*``
  responses, whose verdict then carries them);
* the download's own :class:`~notrain.scrapy.middleware.Verdict`
  (``response.meta["notrain"]``), when the middleware judged it.

:func:`notrain.core.decide` combines them.  A file disallowed for a configured
purpose raises :class:`ForbiddenFile`: it is not stored, the item's
``files``/``images`` result leaves it out, its URL is listed under
``media_not_stored`` in the item's provenance field (see :mod:`.items`, with
the files the middleware refused), and stats count
``notrain/media/forbidden/<mechanism>``.

Why ``media_downloaded``: it is the first method both pipelines run on a
downloaded response, with the raw body, before anything is counted, converted
or stored (``file_downloaded``, then for images ``image_downloaded`` and
``get_images``, lead to ``persist_file``).  Raising from the later hooks
works too, but Scrapy 2.19 then logs a WARNING with a traceback, swaps the
exception for a bare ``FileException`` in ``media_failed`` and logs that
again as an ERROR: for every refused file, an expected outcome.  From
``media_downloaded`` the exception goes to ``media_failed`` directly, and
:class:`ForbiddenFile` being an ``IgnoreRequest`` as well as a
``FileException`` makes that the path of any filtered request (a DEBUG "File
(filtered)" line, the failure kept in the item's results with our exception
as its cause): the same path a refusal by the downloader middleware takes.

Files the store already holds and still considers fresh
(``FILES_EXPIRES``/``IMAGES_EXPIRES`` days) are not downloaded again, hence
not checked again: set the expiry to 0 to re-check a store filled before an
opt-out.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.http.request import Request
from scrapy.pipelines.files import FilesPipeline
from scrapy.pipelines.images import ImagesPipeline
from scrapy.pipelines.media import FileException, MediaPipeline

from ..core.catalog import ContentHash
from ..core.decision import Statement
from ..imaging import ImageError, hash_bytes
from ..signals.c2pa import MAX_ASSET_BYTES, c2pa_statements
from ..signals.xmp import MAX_IMAGE_BYTES as MAX_XMP_BYTES
from ..signals.xmp import xmp_statements
from .items import attach, holds
from .middleware import Forbidden, Verdict
from .report import MEDIA_FORBIDDEN
from .runtime import Runtime, mechanisms
from .sources import Sources

MAX_EMBEDDED_BYTES = min(MAX_XMP_BYTES, MAX_ASSET_BYTES)  # larger files are not read for embedded statements


class ForbiddenFile(FileException, IgnoreRequest):
    """A downloaded file notrain refused to store (why both bases: see the module docstring)."""

    stage = MEDIA_FORBIDDEN

    def __init__(self, url: str, purposes: list[str], mechanisms: list[str]) -> None:
        self.url, self.purposes, self.mechanisms = url, purposes, mechanisms
        super().__init__(f"Not stored (notrain): {', '.join(purposes)} disallowed by {', '.join(mechanisms)}")


class _NotrainMedia:
    """The check, mixed in before Scrapy's pipeline class."""

    files_result_field: str

    def __init__(self, *args: Any, crawler: Crawler, **kwargs: Any) -> None:
        self.runtime = Runtime.of(crawler)
        super().__init__(*args, crawler=crawler, **kwargs)

    async def media_downloaded(self, response: Response, request: Request, info: MediaPipeline.SpiderInfo, *, item: Any = None) -> Any:
        if response.status == 200 and response.body:  # else Scrapy refuses it anyway ("download-error", "empty-content")
            await self._check(response)
        return await super().media_downloaded(response, request, info, item=item)  # type: ignore[misc]

    def item_completed(self, results: list, item: Any, info: MediaPipeline.SpiderInfo) -> Any:
        field = self.runtime.options.provenance_field
        refused = [r for ok, failure in results if not ok and (r := _refusal(failure.value))]
        adapter = ItemAdapter(item)
        if refused and field and holds(adapter, field):
            attach(adapter, field, self.runtime.options.provenance)
            listed = adapter[field].setdefault("media_not_stored", [])
            listed += ({"url": r.url, "stage": r.stage, "purposes": r.purposes, "mechanisms": r.mechanisms} for r in refused)
        return super().item_completed(results, item, info)  # type: ignore[misc]

    async def _check(self, response: Response) -> None:
        verdict = response.meta.get("notrain")
        kind = (response.headers.get("Content-Type") or b"").decode("latin-1").split(";")[0].strip().lower()
        statements = await asyncio.to_thread(_work_statements, self.runtime.sources, response.body)
        if not (isinstance(verdict, Verdict) and kind.startswith("image/")) and len(response.body) <= MAX_EMBEDDED_BYTES:
            statements += xmp_statements(response.body, response.url)
            statements += c2pa_statements(response.body, kind or "application/octet-stream", response.url)
        if isinstance(verdict, Verdict):
            statements += verdict.decision.statements
        self.runtime.inc("notrain/media/checked")
        decision, refused = self.runtime.decide(statements)
        if refused:
            by = mechanisms(decision, refused)
            self.runtime.refused(MEDIA_FORBIDDEN, "notrain/media/forbidden", by)
            raise ForbiddenFile(response.url, refused, by)
        self.runtime.inc("notrain/media/allowed")


def _refusal(error: BaseException | None) -> ForbiddenFile | Forbidden | None:
    """notrain's refusal behind a filtered media request (Scrapy's ``media_failed`` keeps it as the cause)."""
    cause = error.__cause__ if error is not None else None
    return cause if isinstance(cause, (ForbiddenFile, Forbidden)) else None


def _work_statements(sources: Sources, body: bytes) -> list[Statement]:
    """What the works of every known manifest say about these bytes (run in a thread: PDQ costs milliseconds)."""
    return sources.content_statements(content_hash(body)) if sources else []


def content_hash(body: bytes) -> ContentHash:
    """SHA-256 and PDQ of an image; SHA-256 alone of anything else."""
    try:
        found = hash_bytes(body)
    except ImageError:
        return ContentHash(sha256=hashlib.sha256(body).digest())
    return ContentHash(found.sha256, found.pdq, found.quality)


class NotrainFilesPipeline(_NotrainMedia, FilesPipeline):
    """Scrapy's FilesPipeline (same settings: ``FILES_STORE``...) that stores no opted-out file."""


class NotrainImagesPipeline(_NotrainMedia, ImagesPipeline):
    """Scrapy's ImagesPipeline (same settings: ``IMAGES_STORE``...) that stores no opted-out image."""
