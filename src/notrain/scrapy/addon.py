"""``ADDONS = {"notrain.scrapy.Addon": 0}``: notrain in one line of settings.

The add-on sets ``NOTRAIN_ENABLED`` and inserts
:class:`~notrain.scrapy.middleware.NotrainDownloaderMiddleware` at
:data:`MIDDLEWARE_PRIORITY` unless the project already placed it.

Why 90: downloader middlewares' ``process_request`` run in increasing order.
After OffsiteMiddleware (50), so a request about to be filtered as offsite
costs no policy fetch; before RobotsTxtMiddleware (100), so notrain's
single-flight, fail-closed decision is made before a request can be parked
on (and, since Scrapy 2.14, wrongly let through by) Scrapy's robots.txt
handling, whatever ``ROBOTSTXT_OBEY`` says.  On the way back,
``process_response`` runs in decreasing order, so notrain sees the final
response: after redirects, retries and decompression (590).

Pipelines only with ``NOTRAIN_PIPELINES = True``, and even then the add-on
never starts storing anything the project did not store before:

* :class:`~notrain.scrapy.items.NotrainItemPipeline` is added, before every
  media pipeline (so the files of an item it drops are never downloaded);
* Scrapy's ``ImagesPipeline`` and ``FilesPipeline``, where the project
  enabled them, are swapped for :class:`~notrain.scrapy.media.NotrainImagesPipeline`
  and :class:`~notrain.scrapy.media.NotrainFilesPipeline` at the same
  priority (same settings, same store).  A project's own subclass of them is
  left alone: derive it from notrain's classes instead.
"""

from __future__ import annotations

from contextlib import suppress

from scrapy.pipelines.files import FilesPipeline
from scrapy.pipelines.images import ImagesPipeline
from scrapy.settings import BaseSettings
from scrapy.utils.misc import load_object

from .items import NotrainItemPipeline
from .media import NotrainFilesPipeline, NotrainImagesPipeline
from .middleware import NotrainDownloaderMiddleware

MIDDLEWARE_PRIORITY = 90
ITEM_PIPELINE_PRIORITY = 0  # lowered further when a media pipeline sits at 0 or below


class Addon:
    def update_settings(self, settings: BaseSettings) -> None:
        settings.set("NOTRAIN_ENABLED", True, "addon")
        settings.setdefault_in_component_priority_dict("DOWNLOADER_MIDDLEWARES", NotrainDownloaderMiddleware, MIDDLEWARE_PRIORITY)
        if settings.getbool("NOTRAIN_PIPELINES"):
            _enable_pipelines(settings)


def _enable_pipelines(settings: BaseSettings) -> None:
    for theirs, ours in ((ImagesPipeline, NotrainImagesPipeline), (FilesPipeline, NotrainFilesPipeline)):
        with suppress(KeyError):  # not enabled: nothing to swap
            settings.replace_in_component_priority_dict("ITEM_PIPELINES", theirs, ours)
    media = [
        priority
        for component, priority in settings.getdict("ITEM_PIPELINES").items()
        if priority is not None and issubclass(load_object(component), FilesPipeline)
    ]
    priority = min([ITEM_PIPELINE_PRIORITY, *(p - 1 for p in media)])
    settings.setdefault_in_component_priority_dict("ITEM_PIPELINES", NotrainItemPipeline, priority)
