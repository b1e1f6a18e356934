"""Manifests from outside the crawled sites: the works and names of everyone.

A crawler learns an origin's own manifest by fetching it, but an artist's
works are reposted on sites that never heard of them, and a person without a
site has no origin to fetch from.  Those manifests come from a *source*: an
aggregator (:mod:`.aggregator`), a snapshot (:mod:`.snapshots`), or, here, a local bundle file.  Every
source hands over the same thing, a :class:`~notrain.core.catalog.Catalog` of
manifests it has verified itself, plus a description for the compliance
report; the signatures are always checked here, never trusted from whoever
assembled the file.

The local bundle is a JSON object::

    {"notrain-bundle": 1,
     "entries": [{"envelope": {...DSSE envelope...},
                  "keyset": {...key set...},          # origin publishers only
                  "parts": ["<base64 of part 0>", ...]}]}  # when the manifest has parts

An entry that does not verify is left out and reported; it never stops the
others from loading.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

from ..core import ijson
from ..core.catalog import Catalog
from ..core.errors import NotrainError
from ..core.keyset import parse_keyset
from ..core.manifest import merge_part
from ..core.verify import peek_publisher, trusted_keys, verify_manifest

BUNDLE_VERSION = 1
MAX_BUNDLE_BYTES = 512 * 1024 * 1024


class SourceError(NotrainError):
    """A source that cannot be read at all (an unreadable or malformed bundle)."""

    code = "E_SOURCE"


class ManifestSource(Protocol):
    """Where manifests about works and names anywhere come from."""

    def catalog(self) -> Catalog: ...

    def describe(self) -> dict: ...


@dataclass
class Rejected:
    index: int
    publisher: str | None
    error: str


@dataclass
class LocalSource:
    """A bundle file of signed manifests, verified when loaded."""

    path: Path
    now: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    rejected: list[Rejected] = field(default_factory=list)
    _catalog: Catalog | None = None
    _digest: str = ""

    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = self._load()
        return self._catalog

    def describe(self) -> dict:
        catalog = self.catalog()
        return {
            "kind": "local-bundle",
            "path": str(self.path),
            "sha256": self._digest,
            "manifests": [
                {"publisher": m.publisher, "sequence": m.sequence, "digest": m.digest, "works": len(m.works), "names": len(m.names)}
                for m in catalog.manifests()
            ],
            "rejected": [r.__dict__ for r in self.rejected],
        }

    def _load(self) -> Catalog:
        try:
            with open(self.path, "rb") as file:
                data = file.read(MAX_BUNDLE_BYTES + 1)
        except OSError as error:
            raise SourceError(f"cannot read {self.path}: {error.strerror}", where=str(self.path)) from None
        self._digest = hashlib.sha256(data).hexdigest()
        doc = ijson.loads(data, max_size=MAX_BUNDLE_BYTES, max_depth=12, what="bundle")
        if not isinstance(doc, dict) or doc.get("notrain-bundle") != BUNDLE_VERSION or not isinstance(doc.get("entries"), list):
            raise SourceError("not a notrain bundle (version 1 with an 'entries' array)", where=str(self.path))
        catalog = Catalog()
        for index, entry in enumerate(doc["entries"]):
            publisher = None
            try:
                if not isinstance(entry, dict) or not isinstance(entry.get("envelope"), dict):
                    raise SourceError("an entry holds an 'envelope' object", where=f"/entries/{index}")
                envelope = json.dumps(entry["envelope"]).encode()
                publisher = peek_publisher(envelope)
                keyset = parse_keyset(json.dumps(entry["keyset"]).encode(), publisher) if "keyset" in entry else None
                keys = trusted_keys(publisher, keyset)
                manifest = verify_manifest(envelope, publisher=publisher, keys=keys, now=self.now).manifest
                parts = entry.get("parts", [])
                if not isinstance(parts, list) or len(parts) > len(manifest.parts):
                    raise SourceError("an entry's 'parts' is an array, one per part of its manifest", where=f"/entries/{index}/parts")
                for part_index, part in enumerate(parts):
                    manifest = merge_part(manifest, part_index, _part_bytes(part, index, part_index))
                catalog.add(manifest)
            except NotrainError as error:
                self.rejected.append(Rejected(index, publisher, f"{error.code}: {error.message}"))
        return catalog


def _part_bytes(part: object, index: int, part_index: int) -> bytes:
    try:
        if isinstance(part, str):
            return base64.b64decode(part, validate=True)
    except binascii.Error:
        pass
    raise SourceError("a part is a base64 string", where=f"/entries/{index}/parts/{part_index}")


def bundle(entries: list[dict]) -> bytes:
    """Write a bundle: ``entries`` as described in the module docstring."""
    return ijson.dumps({"notrain-bundle": BUNDLE_VERSION, "entries": entries})
