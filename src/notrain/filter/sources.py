"""The filter's sources: a bundle of signed manifests, or a verified snapshot directory.

A source only changes what the one batch core (:class:`~.batch.BatchFilter`) is given: a catalog
answering the exact per-row questions, and for a snapshot its own bulk probes (spec/snapshot.md,
"Checking a key"):

* **URLs:** the ``scheme://host[:port]`` of every plainly spelled URL is read with one Arrow regex
  kernel, and each one not seen before is probed in the ``origins`` fuse filter (its SHA-256 taken in
  Python, the probe vectorised).  A no is final; a hit, and every URL in another spelling, goes to the
  exact path, where the origin's ``publisher`` and ``path`` records are matched as its manifest's rules
  would be.  The spelling accepted here (lower-case LDH labels, a port of 1 to 5 digits without a
  leading zero) is one whose canonical origin is exactly that text without the scheme's default port
  (core.manifest.origin_of_split), so a probe never misses an origin with rules.
* **SHA-256 columns:** the work key (the first 8 octets) of each well-formed hash is read straight from
  the column's bytes (hex decoded with a lookup table) and probed in the ``works`` filter; a hit is
  confirmed by the ``work`` records (:class:`~notrain.fetch.snapshot_source.SnapshotCatalog`).
* **Captions:** the ``name`` records, matched as a catalog matches names.

The snapshot is verified when loaded (checkpoint signature, the descriptor's inclusion, every part's
digest, filters rebuilt: :func:`notrain.fetch.snapshots.verify`); a directory that does not verify is
refused with its code.  Snapshots of version 1 carry no account proofs, so proven accounts are not
honoured here (spec/snapshot.md, "Which manifests").
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import chain
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..core.catalog import Catalog, ContentHash
from ..core.decision import Statement
from ..core.manifest import Manifest, Name, parse_timestamp
from ..core.paths import PathRule
from ..core.snapshot import Snapshot
from ..core.snapshotparts import WORK_LINE, records_but
from ..core.vocab import State
from ..fetch.snapshot_source import SnapshotCatalog, SnapshotSource

MAX_MEMOISED_ORIGINS = 1 << 20  # origins remembered as probed (about 40 MB of text at most)
_PLAIN_ORIGIN = r"^(?P<origin>https?://[a-z0-9-]+(?:\.[a-z0-9-]+)*(?::[1-9][0-9]{0,4})?)(?:[/?#]|$)"
_HEX64 = r"^[0-9a-fA-F]{64}$"
_NIBBLE = np.full(256, 0, dtype=np.uint8)
for _digit, _value in zip(b"0123456789abcdefABCDEF", list(range(16)) + list(range(10, 16))):
    _NIBBLE[_digit] = _value


class SnapshotFilterSource:
    """A snapshot directory (as ``notrain snapshot pull`` writes it) as the filter's source."""

    def __init__(self, path: Path, *, log_key: str | None = None, max_age: timedelta | None = None, now: datetime | None = None) -> None:
        self.directory = SnapshotSource(path, log_key=log_key, max_age=max_age, now=now or datetime.now(UTC))  # its path, key, age and clock
        self._catalog: SnapshotRules | None = None

    def catalog(self) -> SnapshotRules:
        if self._catalog is None:
            self._catalog = SnapshotRules(self.directory.catalog(), now=self.directory.now)
        return self._catalog

    def prefilter(self) -> SnapshotPrefilter:
        return SnapshotPrefilter(self.catalog().snapshot)

    def describe(self) -> dict:
        """What the report cites: the snapshot's id, log, size, root, checkpoint and both proofs."""
        return self.directory.describe()


class SnapshotRules:
    """The catalog the batch core asks row by row: URL rules and names from the snapshot's records (as
    a core Catalog of each live publisher's rules, so they match exactly as its manifest's would), works
    from the works filter confirmed by the records."""

    def __init__(self, content: SnapshotCatalog, *, now: datetime) -> None:
        self.snapshot: Snapshot = content.snapshot
        self._content, self._rules = content, Catalog()
        publisher: dict | None = None
        paths: list[PathRule] = []
        names: list[Name] = []
        for record in chain(records_but(self.snapshot.parts["statements"], WORK_LINE), [None]):  # None: the end of the last block
            if record is None or record["kind"] == "publisher":
                if publisher is not None and parse_timestamp(publisher["expires"], "expires") > now:
                    self._rules.add(_rules_of(publisher, paths, names))
                publisher, paths, names = record, [], []
            elif record["kind"] == "path":
                paths.append(PathRule(record["pattern"], tuple(_prefs(record["prefs"]).items()), record["pattern"]))
            elif record["kind"] == "name":
                names.append(Name(record["name"], _prefs(record["prefs"]), record["name"]))

    def __len__(self) -> int:
        return len(self._rules)

    def manifests(self) -> list[Manifest]:
        return self._rules.manifests()

    def get(self, publisher: str) -> Manifest | None:
        return self._rules.get(publisher)

    def url_statements(self, url: str) -> list[Statement]:
        return self._rules.url_statements(url)

    def text_statements(self, text: str) -> list[Statement]:
        return self._rules.text_statements(text)

    def content_statements(self, content: ContentHash) -> list[Statement]:
        return self._content.content_statements(content)


def _prefs(prefs: dict[str, str]) -> dict[str, State]:
    return {category: State.from_token(value) for category, value in prefs.items()}


def _rules_of(publisher: dict, paths: list[PathRule], names: list[Name]) -> Manifest:
    """A publisher's rules and names as a manifest the catalog can index.  The snapshot does not keep
    ``issued``, which no lookup reads; its expiry stands in for it.  Rule references are the rules' own
    text (the snapshot leaves out entries that state nothing, so manifest positions are not kept)."""
    expires = parse_timestamp(publisher["expires"], "expires")
    return Manifest(publisher["publisher"], publisher["sequence"], expires, expires, _prefs(publisher["default"]),
                    paths=tuple(paths), names=tuple(names), digest=publisher["digest"])


class SnapshotPrefilter:
    """The snapshot's filters as the batch core's bulk probes (module docstring): row masks that hold
    every row with a URL or work statement, and a few false positives the exact path clears.

    The origins seen so far and those the filter may hold are kept as Arrow arrays (at most
    :data:`MAX_MEMOISED_ORIGINS`), so a batch costs two ``is_in`` passes and one SHA-256 per origin not
    seen before; image datasets meet the same origins over and over."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self._seen = self._hits = pa.array([], pa.string())

    def url_rows(self, urls: pa.Array) -> np.ndarray:
        origins = pc.struct_field(pc.extract_regex(pc.ascii_lower(urls), _PLAIN_ORIGIN), "origin")
        odd = pc.and_(pc.is_null(origins), pc.is_valid(urls)).to_numpy(zero_copy_only=False)
        distinct = pc.unique(pc.drop_null(origins))
        new = distinct.filter(pc.invert(pc.is_in(distinct, value_set=self._seen))) if len(self._seen) else distinct
        if len(new):
            if len(self._seen) + len(new) > MAX_MEMOISED_ORIGINS:
                self._seen = self._hits = pa.array([], pa.string())
            may = self.snapshot.origins_may_match([_without_default_port(origin) for origin in new.to_pylist()])
            self._seen = pa.concat_arrays([self._seen, new])
            self._hits = pa.concat_arrays([self._hits, new.filter(pa.array(may))])
        if not len(self._hits):
            return odd
        return odd | pc.fill_null(pc.is_in(origins, value_set=self._hits), False).to_numpy(zero_copy_only=False)

    def work_rows(self, sha256: pa.Array) -> np.ndarray:
        """Rows whose SHA-256 (64 hex digits, or 32 octets) may be a work's."""
        if pa.types.is_string(sha256.type) or pa.types.is_large_string(sha256.type):
            valid = pc.fill_null(pc.match_substring_regex(sha256, _HEX64), False)
            digits = _octets(pc.utf8_slice_codeunits(sha256.filter(valid), 0, 16).cast(pa.binary()), 16)
            first = (_NIBBLE[digits[:, 0::2]] << 4) | _NIBBLE[digits[:, 1::2]]
        else:
            values = sha256.cast(pa.binary()) if pa.types.is_fixed_size_binary(sha256.type) else sha256
            valid = pc.fill_null(pc.equal(pc.binary_length(values), 32), False)
            first = _octets(pc.binary_slice(values.filter(valid), 0, 8), 8)
        rows = np.zeros(len(sha256), bool)
        keys = np.ascontiguousarray(first).view("<u8").ravel().astype(np.uint64)
        rows[np.flatnonzero(valid.to_numpy(zero_copy_only=False))] = self.snapshot.works.contains(keys)
        return rows


def _without_default_port(origin: str) -> str:
    """The canonical origin of a plain ``scheme://host[:port]``: the scheme's default port is not written."""
    if origin.startswith("https://") and origin.endswith(":443"):
        return origin[:-4]
    if origin.startswith("http://") and origin.endswith(":80"):
        return origin[:-3]
    return origin


def _octets(values: pa.Array, width: int) -> np.ndarray:
    """An (n, width) uint8 view of a binary array without nulls whose values all have ``width`` octets."""
    if not len(values):
        return np.zeros((0, width), np.uint8)
    offsets_type = np.int64 if pa.types.is_large_binary(values.type) else np.int32
    _, offsets, data = values.buffers()
    start = int(np.frombuffer(offsets, dtype=offsets_type)[values.offset])
    return np.frombuffer(data, dtype=np.uint8, offset=start, count=len(values) * width).reshape(-1, width)
