"""Binary fuse filters with 16-bit fingerprints, fully specified (spec/snapshot.md, "Filters").

A binary fuse filter (Graf & Lemire, "Binary Fuse Filters: Fast and Smaller Than Xor Filters", 2022)
answers "is this 64-bit key in the set?" with no false negatives and a false-positive rate of about
2^-16, in about 18 bits per key for large sets.  notrain builds its own rather than using
``pyfusefilter``: that wrapper hashes ``str(item)`` with xxh64 and serialises in the machine's byte
order, so neither its keys nor its bytes could be specified for a second implementation.  Here every
step is integer arithmetic that spec/snapshot.md states exactly, the bytes are little-endian, and the
construction is deterministic, so a rebuild from the same keys is byte-identical.

Construction peels the 3-hypergraph in rounds (all slots holding one key at the start of a round are
peeled together, each key at its lowest such slot), which numpy does a round at a time; the filter's
values depend only on which slot each key was peeled at, so any implementation that follows the rule
gets the same bytes.  Probing is vectorised: a batch of keys costs a dozen array operations.
"""

from __future__ import annotations

import hashlib

import numpy as np

from .snapshoterrors import SnapshotError

MAGIC = b"NTFUSE16"
HEADER_BYTES = 32
MAX_KEYS = 2**31  # keeps segment_count x segment_length below 2^32 (the position arithmetic needs it)
MAX_SEGMENT_LOG = 18
MAX_ATTEMPTS = 64
PROBE_CHUNK = 1 << 20  # keys hashed at once: bounds a probe's temporary arrays to ~50 MiB
SEED_DOMAIN = b"notrain-snapshot-seed/v1\n"
# log2(segment_length) is the largest k <= 18 with n >= _SEGMENT_THRESHOLDS[k - 3], else 2:
# the integers ceil(3.33 ** (k - 2.25)) for k = 3..18 (Graf & Lemire's rule, without floating point).
_SEGMENT_THRESHOLDS = (3, 9, 28, 92, 304, 1010, 3362, 11193, 37273, 124118, 413310, 1376322, 4583150,
                       15261887, 50822082, 169237530)
_M1, _M2 = np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53)
_LOW32 = np.uint64(0xFFFFFFFF)


def parameters(key_count: int) -> tuple[int, int]:
    """(segment_length, segment_count) for ``key_count`` distinct keys (spec/snapshot.md).
    Small sets get more room per key (so peeling succeeds), large ones 1.125 slots a key."""
    if not 0 <= key_count <= MAX_KEYS:
        raise ValueError(f"a filter holds 0 to {MAX_KEYS} keys")
    log = 2 + sum(1 for threshold in _SEGMENT_THRESHOLDS if key_count >= threshold)
    length = 1 << min(log, MAX_SEGMENT_LOG)
    if key_count <= 1:
        capacity = 0
    else:
        bits = key_count.bit_length()
        capacity = max(-(-key_count * 9 // 8), -(-key_count * (875 * bits + 5000) // (1000 * bits)))
    return length, max(1, -(-capacity // length) - 2)


def _mix(keys: np.ndarray, seed: int) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser of key + seed (mod 2^64)."""
    h = keys + np.uint64(seed)
    h ^= h >> np.uint64(33)
    h *= _M1
    h ^= h >> np.uint64(33)
    h *= _M2
    h ^= h >> np.uint64(33)
    return h


def _positions(h: np.ndarray, length: int, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The three slots of each hash: one in each of three consecutive segments."""
    span = np.uint64(length * count)  # < 2^32, so the high word of h * span is exact in 64 bits
    high = ((h >> np.uint64(32)) * span + (((h & _LOW32) * span) >> np.uint64(32))) >> np.uint64(32)
    mask = np.uint64(length - 1)
    p0 = high
    p1 = (high + np.uint64(length)) ^ ((h >> np.uint64(18)) & mask)
    p2 = (high + np.uint64(2 * length)) ^ (h & mask)
    return p0.astype(np.int64), p1.astype(np.int64), p2.astype(np.int64)


def _fingerprints(h: np.ndarray) -> np.ndarray:
    return ((h ^ (h >> np.uint64(32))) & np.uint64(0xFFFF)).astype(np.uint16)


def _seed(keys: np.ndarray, attempt: int) -> int:
    digest = hashlib.sha256(keys.astype("<u8").tobytes()).digest()
    return int.from_bytes(hashlib.sha256(SEED_DOMAIN + digest + bytes([attempt])).digest()[:8], "little")


def _peel(slots: np.ndarray, size: int) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """Peeling rounds as (key numbers, their slots), or None if the keys cannot all be peeled.
    ``slots`` is (3, n); a slot holding one key knows it from the sum of the key numbers it holds."""
    n = slots.shape[1]
    flat = slots.ravel()
    count = np.bincount(flat, minlength=size)
    total = np.bincount(flat, weights=np.tile(np.arange(n, dtype=np.float64), 3), minlength=size).astype(np.int64)
    frontier, rounds, peeled = np.flatnonzero(count == 1), [], 0
    while frontier.size:
        keys, first = np.unique(total[frontier], return_index=True)  # frontier is ascending: lowest slot
        rounds.append((keys, frontier[first]))
        peeled += keys.size
        touched = slots[:, keys]
        for row in touched:
            np.subtract.at(count, row, 1)
            np.subtract.at(total, row, keys)
        touched = touched.ravel()
        frontier = _sorted_set(touched[count[touched] == 1])  # the slots left pure (fewer than all touched)
    return rounds if peeled == n else None


def _sorted_set(values: np.ndarray) -> np.ndarray:
    """``np.unique(values)``, by a sort and a comparison: numpy 2's hashing unique is slower on these."""
    values = np.sort(values)
    return values[np.concatenate(([True], values[1:] != values[:-1]))] if values.size else values


def build(keys: np.ndarray) -> bytes:
    """The filter of ``keys`` (uint64; duplicates allowed), as spec/snapshot.md lays it out."""
    keys = _sorted_set(np.asarray(keys, dtype=np.uint64))
    n = int(keys.size)
    length, count = parameters(n)
    if n == 0:
        return _header(0, 0, length, count)
    size = (count + 2) * length
    for attempt in range(MAX_ATTEMPTS):
        seed = _seed(keys, attempt)
        h = _mix(keys, seed)
        slots = np.stack(_positions(h, length, count))
        rounds = _peel(slots, size)
        if rounds is None:
            continue
        fingerprints, table = _fingerprints(h), np.zeros(size, dtype=np.uint16)
        for peeled, at in reversed(rounds):  # a key's own slot is still 0 when its turn comes
            table[at] = fingerprints[peeled] ^ table[slots[0, peeled]] ^ table[slots[1, peeled]] ^ table[slots[2, peeled]]
        return _header(seed, n, length, count) + table.astype("<u2").tobytes()
    raise ValueError(f"no seed of {MAX_ATTEMPTS} peels these keys")  # ~never for keys that are hashes


def _header(seed: int, key_count: int, length: int, count: int) -> bytes:
    return (MAGIC + seed.to_bytes(8, "little") + key_count.to_bytes(8, "little")
            + length.to_bytes(4, "little") + count.to_bytes(4, "little"))


class FuseFilter:
    """A loaded filter: a read-only view of its bytes, probed in batches."""

    def __init__(self, data: bytes | memoryview, *, where: str = "filter") -> None:
        data = memoryview(data)
        if len(data) < HEADER_BYTES or bytes(data[:8]) != MAGIC:
            raise SnapshotError("not a notrain fuse filter (magic)", where=where)
        self.seed = int.from_bytes(data[8:16], "little")
        self.key_count = int.from_bytes(data[16:24], "little")
        length, count = int.from_bytes(data[24:28], "little"), int.from_bytes(data[28:32], "little")
        if self.key_count > MAX_KEYS or (length, count) != parameters(self.key_count):
            raise SnapshotError("filter parameters are not those of its key count", where=where)
        size = 0 if self.key_count == 0 else (count + 2) * length
        if self.key_count == 0 and self.seed != 0:
            raise SnapshotError("an empty filter has seed 0", where=where)
        if len(data) != HEADER_BYTES + 2 * size:
            raise SnapshotError(f"filter is {len(data)} octets; its header says {HEADER_BYTES + 2 * size}", where=where)
        self.segment_length, self.segment_count = length, count
        self._table = np.frombuffer(data, dtype="<u2", offset=HEADER_BYTES)  # no copy

    @property
    def bits_per_key(self) -> float:
        return 16 * self._table.size / max(1, self.key_count)

    def contains(self, keys: np.ndarray) -> np.ndarray:
        """For each uint64 key, whether it may be in the set (False: certainly not)."""
        keys = np.asarray(keys, dtype=np.uint64)
        result = np.zeros(keys.shape, dtype=bool)
        if self.key_count == 0:
            return result
        flat, out = keys.ravel(), result.ravel()
        for start in range(0, flat.size, PROBE_CHUNK):
            h = _mix(flat[start:start + PROBE_CHUNK], self.seed)
            p0, p1, p2 = _positions(h, self.segment_length, self.segment_count)
            out[start:start + PROBE_CHUNK] = _fingerprints(h) == (self._table[p0] ^ self._table[p1] ^ self._table[p2])
        return result


def work_keys(digests: bytes | np.ndarray) -> np.ndarray:
    """Filter keys of works: the first 8 octets of each SHA-256, little-endian.  ``digests`` is
    their concatenation or an (n, 32) uint8 array (a dataset's column, without a Python loop)."""
    raw = np.frombuffer(digests, dtype=np.uint8) if isinstance(digests, (bytes, bytearray, memoryview)) else np.asarray(digests, dtype=np.uint8)
    if raw.size % 32:
        raise ValueError("SHA-256 digests are 32 octets each")
    return np.ascontiguousarray(raw.reshape(-1, 32)[:, :8]).view("<u8").ravel().astype(np.uint64)


def origin_key(origin: str) -> int:
    """Filter key of a canonical origin: the first 8 octets of SHA-256 of a domain tag and the origin.
    (Canonical origins are ASCII; anything else is hashed as UTF-8, never raised on, and finds nothing.)"""
    return int.from_bytes(hashlib.sha256(b"notrain-snapshot-origin/v1\n" + origin.encode("utf-8", "surrogatepass")).digest()[:8], "little")
