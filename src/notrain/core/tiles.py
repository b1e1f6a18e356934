"""C2SP tlog-tiles (c2sp.org/tlog-tiles): tile paths, tile and entry-bundle codecs,
integration, proofs from tiles, and checking a whole log from its tiles alone.

A log is served as static files: hash tiles of height 8 (256 hashes; level 0
holds leaf hashes, level l+1 the roots of full level-l tiles), entry bundles
of 256 entries, and partial tiles ``.p/W`` for the right edge.  Everything
here is pure: tiles come in and go out through callables and dictionaries, so
the aggregator's storage, a mirror and a monitor share the same code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

from .logerrors import TileError
from .merkle import HASH_SIZE, MAX_TREE_SIZE, CompactRange, leaf_hash, perfect_root

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
MAX_LEVEL = 63
MAX_ENTRY_BYTES = 0xFFFF
MAX_BUNDLE_BYTES = TILE_WIDTH * (2 + MAX_ENTRY_BYTES)
ENTRIES = -1  # the "level" of entry bundles in a TileId

TileReader = Callable[["TileId"], bytes]

_PATH = re.compile(r"\Atile/(0|[1-9][0-9]?|entries)/((?:x[0-9]{3}/)*[0-9]{3})(?:\.p/([1-9][0-9]{0,2}))?\Z")


@dataclass(frozen=True, order=True)
class TileId:
    """One tile (``level`` >= 0) or entry bundle (``level`` == ENTRIES): index and width."""

    level: int
    index: int
    width: int = TILE_WIDTH

    def __post_init__(self) -> None:
        if not (ENTRIES <= self.level <= MAX_LEVEL and 0 <= self.index and 1 <= self.width <= TILE_WIDTH):
            raise TileError(f"no such tile {self.level}/{self.index} width {self.width}", where="tile")

    @property
    def path(self) -> str:
        """``tile/<L>/<N>[.p/<W>]``, N in 3-digit groups, all but the last prefixed ``x``."""
        digits = str(self.index)
        digits = "0" * (-len(digits) % 3) + digits
        groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
        number = "/".join(["x" + g for g in groups[:-1]] + groups[-1:])
        level = "entries" if self.level == ENTRIES else str(self.level)
        return f"tile/{level}/{number}" + ("" if self.width == TILE_WIDTH else f".p/{self.width}")


def parse_tile_path(path: str) -> TileId:
    """The tile a path names; anything but the one canonical spelling is refused."""
    match = _PATH.match(path) if isinstance(path, str) and len(path) <= 128 else None
    if not match:
        raise TileError("not a tile path", where="path")
    level, number, width = match.groups()
    groups = number.replace("x", "").split("/")
    if len(groups) > 1 and groups[0] == "000":
        raise TileError("a tile index has no leading zero groups", where="path")
    tile = TileId(ENTRIES if level == "entries" else int(level), int("".join(groups)), int(width or TILE_WIDTH))
    if width is not None and tile.width == TILE_WIDTH:
        raise TileError("a partial tile is 1 to 255 wide", where="path")
    return tile


def tile_width(level: int, index: int, size: int) -> int:
    """How many hashes tile ``index`` of ``level`` holds in a tree of ``size`` (0: none)."""
    at_level = size >> (TILE_HEIGHT * max(level, 0))
    return max(0, min(TILE_WIDTH, at_level - index * TILE_WIDTH))


def tiles_for(size: int, *, since: int = 0) -> list[TileId]:
    """Every tile and bundle that a tree of ``size`` serves and one of ``since`` did not
    (all of them when ``since`` is 0): what appending changes, bottom level first."""
    if not 0 <= since <= size <= MAX_TREE_SIZE:
        raise TileError(f"cannot grow from {since} to {size}", where="size")
    out = []
    for level in range(MAX_LEVEL + 1):
        new, old = size >> (TILE_HEIGHT * level), since >> (TILE_HEIGHT * level)
        if new == old:
            break
        for index in range(old // TILE_WIDTH, (new - 1) // TILE_WIDTH + 1):
            out.append(TileId(level, index, tile_width(level, index, size)))
            if level == 0:
                out.append(TileId(ENTRIES, index, tile_width(0, index, size)))
    return out


# -- codecs -------------------------------------------------------------------------------------


def encode_tile(hashes: Sequence[bytes]) -> bytes:
    if not 1 <= len(hashes) <= TILE_WIDTH or any(len(h) != HASH_SIZE for h in hashes):
        raise TileError("a tile holds 1 to 256 hashes of 32 bytes", where="tile")
    return b"".join(hashes)


def decode_tile(data: bytes, width: int) -> list[bytes]:
    if len(data) != width * HASH_SIZE:
        raise TileError(f"a tile of width {width} is {width * HASH_SIZE} bytes, not {len(data)}", where="tile")
    return [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]


def encode_bundle(entries: Sequence[bytes]) -> bytes:
    """Entries, each prefixed by its length as a big-endian uint16."""
    if not 1 <= len(entries) <= TILE_WIDTH:
        raise TileError("a bundle holds 1 to 256 entries", where="bundle")
    parts = []
    for entry in entries:
        if len(entry) > MAX_ENTRY_BYTES:
            raise TileError(f"an entry is at most {MAX_ENTRY_BYTES} bytes", where="bundle")
        parts += (len(entry).to_bytes(2, "big"), entry)
    return b"".join(parts)


def decode_bundle(data: bytes, width: int) -> list[bytes]:
    """Exactly ``width`` entries and no trailing bytes."""
    if len(data) > MAX_BUNDLE_BYTES:
        raise TileError("an entry bundle is too large", where="bundle")
    entries, at = [], 0
    while at < len(data) and len(entries) < width:
        if at + 2 > len(data):
            raise TileError("a bundle ends inside a length prefix", where="bundle")
        end = at + 2 + int.from_bytes(data[at : at + 2], "big")
        if end > len(data):
            raise TileError("a bundle ends inside an entry", where="bundle")
        entries.append(data[at + 2 : end])
        at = end
    if len(entries) != width or at != len(data):
        raise TileError(f"the bundle does not hold exactly {width} entries", where="bundle")
    return entries


# -- reading and writing trees ------------------------------------------------------------------


class TreeReader:
    """Hashes of a tree of ``size`` leaves read from its tiles, each tile fetched once.

    :meth:`node` is the ``node(level, index)`` callable that the proof builders in
    :mod:`notrain.core.merkle` take: a perfect subtree of height h is the root of
    2^(h mod 8) consecutive hashes of one tile at level h div 8.
    """

    def __init__(self, size: int, read: TileReader) -> None:
        self.size, self._read, self._tiles = size, read, {}

    def hashes(self, level: int, index: int) -> list[bytes]:
        width = tile_width(level, index, self.size)
        if width == 0:
            raise TileError(f"tile {level}/{index} is beyond the tree of size {self.size}", where="tile")
        key = TileId(level, index, width)
        if key not in self._tiles:
            self._tiles[key] = decode_tile(self._read(key), width)
        return self._tiles[key]

    def node(self, level: int, index: int) -> bytes:
        tile_level, height = divmod(level, TILE_HEIGHT)
        first = index << height
        tile = self.hashes(tile_level, first >> TILE_HEIGHT)
        offset = first % TILE_WIDTH
        if offset + (1 << height) > len(tile):
            raise TileError(f"node {level}/{index} is not complete in a tree of size {self.size}", where="tile")
        return perfect_root(tile[offset : offset + (1 << height)])

    def root(self) -> bytes:
        return CompactRange.at(self.size, self.node).root()


@dataclass(frozen=True)
class Integration:
    """The result of appending: the new size and root, and every tile written or rewritten."""

    size: int
    root: bytes
    tiles: dict[TileId, bytes]


def integrate(size: int, entries: Sequence[bytes], read: TileReader) -> Integration:
    """Append ``entries`` to a tree of ``size`` whose tiles ``read`` returns.

    Only the rightmost partial tile of each level is read; the result holds the
    new and grown tiles and bundles (write them, then sign the checkpoint).  The
    work is O(len(entries) + log size) hashes; the existing bundle is read only
    when the new entries join a partial one.
    """
    new_size = size + len(entries)
    if not entries or new_size > MAX_TREE_SIZE:
        raise TileError("nothing to integrate, or the tree would be too large", where="entries")
    written: dict[TileId, bytes] = {}
    start = size % TILE_WIDTH
    bundle = decode_bundle(read(TileId(ENTRIES, size // TILE_WIDTH, start)), start) if start else []
    _fill(ENTRIES, size // TILE_WIDTH, bundle, list(entries), written, encode_bundle)
    pending = [leaf_hash(e) for e in entries]
    level = 0
    while pending:
        have = size >> (TILE_HEIGHT * level)
        start = have % TILE_WIDTH
        row = decode_tile(read(TileId(level, have // TILE_WIDTH, start)), start) if start else []
        pending = _fill(level, have // TILE_WIDTH, row, pending, written, encode_tile)
        level += 1

    def lookup(tile: TileId) -> bytes:
        return written[tile] if tile in written else read(tile)

    return Integration(new_size, TreeReader(new_size, lookup).root(), written)


def _fill(level, index, row, items, written, encode) -> list[bytes]:
    """Append ``items`` to tile ``index``; return the roots of the tiles that became full."""
    full = []
    for item in items:
        row.append(item)
        if len(row) == TILE_WIDTH:
            written[TileId(level, index)] = encode(row)
            if level != ENTRIES:
                full.append(perfect_root(row))
            index, row = index + 1, []
    if row:
        written[TileId(level, index, len(row))] = encode(row)
    return full


def verify_tiles(size: int, root: bytes, read: TileReader, visit: Callable[[int, bytes], None] | None = None) -> None:
    """Check a whole log from its tiles and bundles alone against a checkpoint's size and root.

    Every entry is hashed into its level-0 tile, every full tile's root into the
    tile above, and the root recomputed from the leaves; ``visit(index, entry)``
    sees each entry in order.  Memory is O(256 x levels), time O(size).
    """
    if not 0 <= size <= MAX_TREE_SIZE:
        raise TileError(f"tree size {size} is out of range", where="size")
    tree = CompactRange()
    rows: list[list[bytes]] = [[]]  # hashes gathered for the current tile of each level >= 1
    for index in range((size + TILE_WIDTH - 1) // TILE_WIDTH):
        width = tile_width(0, index, size)
        entries = decode_bundle(read(TileId(ENTRIES, index, width)), width)
        leaves = [leaf_hash(e) for e in entries]
        _expect(TileId(0, index, width), leaves, read)
        for offset, leaf in enumerate(leaves):
            tree.append(leaf)
            if visit is not None:
                visit(index * TILE_WIDTH + offset, entries[offset])
        level, value = 1, perfect_root(leaves) if width == TILE_WIDTH else None
        while value is not None:
            if len(rows) <= level:
                rows.append([])
            rows[level].append(value)
            value = None
            if len(rows[level]) == TILE_WIDTH:
                tile = TileId(level, ((index + 1) >> (TILE_HEIGHT * level)) - 1)
                _expect(tile, rows[level], read)
                value, rows[level] = perfect_root(rows[level]), []
                level += 1
    for level, row in enumerate(rows):
        if row:
            _expect(TileId(level, (size >> (TILE_HEIGHT * level)) // TILE_WIDTH, len(row)), row, read)
    if tree.root() != root:
        raise TileError("the entries do not hash to the checkpoint's root", where="root")


def _expect(tile: TileId, hashes: list[bytes], read: TileReader) -> None:
    if decode_tile(read(tile), tile.width) != hashes:
        raise TileError(f"{tile.path} does not hold the hashes of the level below", where=tile.path)
