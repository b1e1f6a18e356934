"""notrain for Scrapy: ``ADDONS = {"notrain.scrapy.Addon": 0}``.

:class:`NotrainDownloaderMiddleware` holds each request until its origin's
opt-out signals are known and refuses what they forbid; :mod:`.report` writes
the compliance report at spider close; :mod:`.transport` fetches policy files
through the crawler's own downloader.  Needs Scrapy ≥ 2.15 with asyncio.
"""

from .addon import Addon
from .middleware import Forbidden, NotrainDownloaderMiddleware, Verdict
from .options import SettingsError

__all__ = ["Addon", "Forbidden", "NotrainDownloaderMiddleware", "SettingsError", "Verdict"]
