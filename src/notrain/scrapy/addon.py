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
"""

from __future__ import annotations

from scrapy.settings import BaseSettings

from .middleware import NotrainDownloaderMiddleware

MIDDLEWARE_PRIORITY = 90


class Addon:
    def update_settings(self, settings: BaseSettings) -> None:
        settings.set("NOTRAIN_ENABLED", True, "addon")
        settings.setdefault_in_component_priority_dict("DOWNLOADER_MIDDLEWARES", NotrainDownloaderMiddleware, MIDDLEWARE_PRIORITY)
