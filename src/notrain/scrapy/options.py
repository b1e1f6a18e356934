"""The ``NOTRAIN_*`` settings, read and checked once.

A wrong value is an error that stops the crawl (:class:`SettingsError`), never a
silent fallback: a crawl that believes it honours opt-outs but does not is the
one outcome this package exists to prevent.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit, urlunsplit

from scrapy.settings import BaseSettings

from ..core.vocab import CATEGORIES, TRAIN_AI, State
from ..fetch.manifests import FetchPolicy

DEFAULT_TOKEN = "notrain"
CAPTION_FIELDS = ("caption", "alt", "title", "text", "description")
_PRODUCT_TOKEN = re.compile(r"[A-Za-z_-]+")  # RFC 9309's product token characters


class SettingsError(ValueError):
    """A ``NOTRAIN_*`` setting has a value notrain cannot honour."""


@dataclass(frozen=True)
class Options:
    purposes: tuple[str, ...]
    unknown: str  # "allow" | "deny"
    product_token: str
    obey_robots_crawl: bool
    manifest_ttl: float
    error_ttl: float
    cache_size: int
    timeout: float
    report_path: str
    redis_url: str | None = None
    caption_fields: tuple[str, ...] = CAPTION_FIELDS
    provenance_field: str | None = "notrain"
    provenance: str = "compact"  # "compact" | "full": see items.py

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> Options:
        purposes = tuple(settings.getlist("NOTRAIN_PURPOSES", [TRAIN_AI]))
        unknown_purposes = [p for p in purposes if p not in CATEGORIES]
        if not purposes or unknown_purposes:
            raise SettingsError(f"NOTRAIN_PURPOSES must name categories among {CATEGORIES}, got {list(purposes)}")
        unknown = settings.get("NOTRAIN_UNKNOWN", "allow")
        if unknown not in ("allow", "deny"):
            raise SettingsError(f'NOTRAIN_UNKNOWN must be "allow" or "deny", got {unknown!r}')
        token = settings.get("NOTRAIN_PRODUCT_TOKEN") or _token_of(settings.get("USER_AGENT") or "")
        if not _PRODUCT_TOKEN.fullmatch(token):
            raise SettingsError(f"NOTRAIN_PRODUCT_TOKEN must be letters, '_' and '-' (RFC 9309), got {token!r}")
        options = cls(
            purposes=purposes,
            unknown=unknown,
            product_token=token,
            obey_robots_crawl=settings.getbool("NOTRAIN_OBEY_ROBOTS_CRAWL", True),
            manifest_ttl=settings.getfloat("NOTRAIN_MANIFEST_TTL", 24 * 3600),
            error_ttl=settings.getfloat("NOTRAIN_ERROR_TTL", 300),
            cache_size=settings.getint("NOTRAIN_CACHE_SIZE", 10_000),
            timeout=settings.getfloat("NOTRAIN_TIMEOUT", 10.0),
            report_path=settings.get("NOTRAIN_REPORT_PATH", "notrain-report.json"),
            redis_url=settings.get("NOTRAIN_REDIS_URL") or None,
            caption_fields=tuple(settings.getlist("NOTRAIN_CAPTION_FIELDS", list(CAPTION_FIELDS))),
            provenance_field=settings.get("NOTRAIN_PROVENANCE_FIELD", "notrain") or None,
            provenance=settings.get("NOTRAIN_PROVENANCE", "compact"),
        )
        if options.provenance not in ("compact", "full"):
            raise SettingsError(f'NOTRAIN_PROVENANCE must be "compact" or "full", got {options.provenance!r}')
        if options.timeout <= 0 or options.cache_size < 1:
            raise SettingsError("NOTRAIN_TIMEOUT and NOTRAIN_CACHE_SIZE must be positive")
        options.policy()  # FetchPolicy checks the TTL and size ranges
        return options

    @property
    def unknown_as(self) -> State:
        return State.ALLOWED if self.unknown == "allow" else State.DISALLOWED

    def policy(self) -> FetchPolicy:
        try:
            return FetchPolicy(self.manifest_ttl, self.error_ttl, self.cache_size)
        except ValueError as error:
            raise SettingsError(f"NOTRAIN_MANIFEST_TTL / NOTRAIN_ERROR_TTL: {error}") from None

    def to_json(self) -> dict:
        doc = asdict(self)
        doc["purposes"] = list(self.purposes)
        doc["caption_fields"] = list(self.caption_fields)
        doc["redis_url"] = _without_credentials(self.redis_url)
        return doc


def _token_of(user_agent: str) -> str:
    """The product token a robots.txt group names: "MyBot/1.2 (+url)" -> "MyBot"."""
    found = _PRODUCT_TOKEN.match(user_agent.strip())
    return found.group(0) if found else DEFAULT_TOKEN


def _without_credentials(url: str | None) -> str | None:
    """The Redis URL as the report shows it: user, password and query (which may hold one) removed."""
    if url is None:
        return None
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2], query=""))
