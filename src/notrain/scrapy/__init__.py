"""notrain for Scrapy: ``ADDONS = {"notrain.scrapy.Addon": 0}``.

:class:`NotrainDownloaderMiddleware` holds each request until its origin's
opt-out signals are known and refuses what they forbid; with
``NOTRAIN_PIPELINES = True``, :class:`NotrainItemPipeline` drops items whose
captions name someone who opted out, and :class:`NotrainImagesPipeline` /
:class:`NotrainFilesPipeline` never store a file whose bytes, embedded
metadata or page say no; :mod:`.report` writes the compliance report at
spider close; :mod:`.transport` fetches policy files through the crawler's
own downloader; :mod:`.sources` reads ``NOTRAIN_SOURCES``.  Needs Scrapy ≥ 2.15 with asyncio.
"""

from .addon import Addon
from .items import NotrainItemPipeline, OptedOutItem
from .media import ForbiddenFile, NotrainFilesPipeline, NotrainImagesPipeline
from .middleware import Forbidden, NotrainDownloaderMiddleware, Verdict
from .options import SettingsError

__all__ = [
    "Addon", "Forbidden", "ForbiddenFile", "NotrainDownloaderMiddleware", "NotrainFilesPipeline", "NotrainImagesPipeline",
    "NotrainItemPipeline", "OptedOutItem", "SettingsError", "Verdict",
]
