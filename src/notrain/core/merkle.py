"""RFC 6962 Merkle tree hashing, and inclusion and consistency proofs (RFC 9162 §2.1).

No maintained Python library does this: sigstore-python keeps an inclusion
check in a private module, and ``aics-tlog`` is new and single-author.  So
notrain writes its own, small and pure, and tests it against the vectors that
transparency-dev publishes for its Go implementation.

Verification checks a proof's length against the one the sizes imply *before*
hashing anything, so the work is bounded by the 64 hashes a tree of at most
2^63 - 1 leaves can need (an inclusion proof needs at most 63; a consistency proof from a size that is
not a power of two one more, e.g. 64 from size 3 to 2^63 - 1).  Proof *generation* reads hashes through a callable
``node(level, index)`` that returns the hash of the perfect subtree of leaves
``[index * 2**level, (index + 1) * 2**level)``, so the aggregator can build
proofs from stored tiles without holding the tree in memory.
"""

from __future__ import annotations

import hashlib
from typing import Callable, Sequence

from .logerrors import ProofError

HASH_SIZE = 32
MAX_TREE_SIZE = 2**63 - 1
MAX_PROOF_HASHES = 64
EMPTY_ROOT = hashlib.sha256(b"").digest()

NodeReader = Callable[[int, int], bytes]


def leaf_hash(entry: bytes) -> bytes:
    """MTH of one entry: SHA-256(0x00 || entry); the prefix keeps leaves and nodes apart."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def perfect_root(hashes: Sequence[bytes]) -> bytes:
    """Root of a perfect subtree whose bottom row is ``hashes`` (a power of two of them)."""
    row = list(hashes)
    while len(row) > 1:
        row = [node_hash(row[i], row[i + 1]) for i in range(0, len(row), 2)]
    return row[0]


class CompactRange:
    """The running root of a growing tree in O(log n) memory.

    It keeps the perfect subtrees that make up ``[0, size)``, largest first;
    appending merges equal-height neighbours, as binary addition carries.
    """

    def __init__(self) -> None:
        self.size = 0
        self._nodes: list[tuple[int, bytes]] = []

    @classmethod
    def at(cls, size: int, node: NodeReader) -> CompactRange:
        """The range of an existing tree of ``size`` leaves, read through ``node``."""
        _check_size(size)
        built = cls()
        built._nodes = [(level, _hash(node(level, index))) for level, index in _decompose(0, size)]
        built.size = size
        return built

    def append(self, leaf: bytes) -> None:
        level, value = 0, leaf
        while self._nodes and self._nodes[-1][0] == level:
            value = node_hash(self._nodes.pop()[1], value)
            level += 1
        self._nodes.append((level, value))
        self.size += 1

    def root(self) -> bytes:
        if not self._nodes:
            return EMPTY_ROOT
        value = self._nodes[-1][1]
        for _, left in reversed(self._nodes[:-1]):
            value = node_hash(left, value)
        return value


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH of a whole tree given its leaf hashes (the empty tree's root is SHA-256 of nothing)."""
    tree = CompactRange()
    for leaf in leaf_hashes:
        tree.append(leaf)
    return tree.root()


# -- verification -------------------------------------------------------------------------------


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], expected_root: bytes) -> None:
    """Raise :class:`ProofError` unless ``proof`` shows leaf ``index`` with hash ``leaf`` in the tree."""
    if root_from_inclusion(index, size, leaf, proof) != expected_root:
        raise ProofError("the inclusion proof does not lead to the root", where="proof")


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root that ``proof`` implies for leaf ``index`` of a tree of ``size`` leaves."""
    _check_size(size)
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not below the tree size {size}", where="index")
    inner, border = _inclusion_shape(index, size)
    _check_proof(proof, inner + border)
    value = _hash(leaf, "leaf")
    if not all(type(h) is bytes and len(h) == HASH_SIZE for h in proof):
        raise ProofError(f"a hash is {HASH_SIZE} bytes", where="proof")
    for i, sibling in enumerate(proof[:inner]):
        value = node_hash(value, sibling) if (index >> i) & 1 == 0 else node_hash(sibling, value)
    for sibling in proof[inner:]:
        value = node_hash(sibling, value)
    return value


def verify_consistency(size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]) -> None:
    """Raise :class:`ProofError` unless the tree ``(size2, root2)`` extends ``(size1, root1)``.

    A proof from the empty tree proves nothing and is refused, as in the Go
    reference; equal sizes need an empty proof and equal roots.
    """
    _check_size(size2)
    if size1 > size2:
        raise ProofError(f"size1 {size1} is larger than size2 {size2}", where="size1")
    if size1 <= 0:
        raise ProofError("a consistency proof from the empty tree is meaningless", where="size1")
    if size1 == size2:
        _check_proof(proof, 0)
        if _hash(root1, "root1") != _hash(root2, "root2"):
            raise ProofError("equal sizes with different roots", where="root2")
        return
    shift = (size1 & -size1).bit_length() - 1  # trailing zeros: the levels both trees share
    inner, border = _inclusion_shape(size1 - 1, size2)
    inner -= shift
    seeded = size1 == 1 << shift  # size1 a power of two: its root is itself a node of the proof path
    _check_proof(proof, (0 if seeded else 1) + inner + border)
    root1, root2 = _hash(root1, "root1"), _hash(root2, "root2")
    hashes = [_hash(h, "proof") for h in proof]
    if seeded:
        hashes.insert(0, root1)
    mask = (size1 - 1) >> shift
    old = new = hashes[0]
    for i, sibling in enumerate(hashes[1 : 1 + inner]):
        if (mask >> i) & 1:
            old = node_hash(sibling, old)
            new = node_hash(sibling, new)
        else:
            new = node_hash(new, sibling)
    for sibling in hashes[1 + inner :]:
        old = node_hash(sibling, old)
        new = node_hash(sibling, new)
    if old != root1:
        raise ProofError("the consistency proof does not lead to the old root", where="root1")
    if new != root2:
        raise ProofError("the consistency proof does not lead to the new root", where="root2")


# -- generation ---------------------------------------------------------------------------------


def inclusion_proof(index: int, size: int, node: NodeReader) -> list[bytes]:
    """RFC 6962 §2.1.1 PATH(index, D[0:size]), leaf sibling first, read through ``node``."""
    _check_size(size)
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not below the tree size {size}", where="index")
    proof: list[bytes] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            proof.append(range_hash(lo + k, hi, node))
            hi = lo + k
        else:
            proof.append(range_hash(lo, lo + k, node))
            lo += k
    return proof[::-1]


def consistency_proof(size1: int, size2: int, node: NodeReader) -> list[bytes]:
    """RFC 6962 §2.1.2 PROOF(size1, D[0:size2]), read through ``node``."""
    _check_size(size2)
    if not 0 < size1 <= size2:
        raise ProofError(f"no consistency proof from size {size1} to size {size2}", where="size1")
    proof: list[bytes] = []
    lo, hi, m, whole = 0, size2, size1, True
    while m != hi:
        k = _split(hi - lo)
        if m - lo <= k:
            proof.append(range_hash(lo + k, hi, node))
            hi = lo + k
        else:
            proof.append(range_hash(lo, lo + k, node))
            lo, whole = lo + k, False
    if not whole:
        proof.append(range_hash(lo, hi, node))
    return proof[::-1]


def range_hash(lo: int, hi: int, node: NodeReader) -> bytes:
    """MTH(D[lo:hi]) for a range that starts on a boundary of its own size, as every
    range in RFC 6962's recursion does: the perfect subtrees of the range, folded."""
    nodes = [_hash(node(level, index)) for level, index in _decompose(lo, hi)]
    value = nodes[-1]
    for left in reversed(nodes[:-1]):
        value = node_hash(left, value)
    return value


# -- helpers ------------------------------------------------------------------------------------


def _decompose(lo: int, hi: int) -> list[tuple[int, int]]:
    """The perfect subtrees (level, index) covering [lo, hi), left to right, largest first.

    ``lo`` must be a multiple of the largest power of two not above ``hi - lo``."""
    out = []
    while lo < hi:
        level = (hi - lo).bit_length() - 1
        out.append((level, lo >> level))
        lo += 1 << level
    return out


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _inclusion_shape(index: int, size: int) -> tuple[int, int]:
    """(inner, border): hashes below the point where the path meets the right edge, and above."""
    inner = (index ^ (size - 1)).bit_length()
    return inner, (index >> inner).bit_count()


def _check_size(size: int) -> None:
    if not 0 <= size <= MAX_TREE_SIZE:
        raise ProofError(f"tree size {size} is out of range", where="size")


def _check_proof(proof: Sequence[bytes], expected: int) -> None:
    if len(proof) > MAX_PROOF_HASHES:
        raise ProofError(f"a proof has at most {MAX_PROOF_HASHES} hashes", where="proof")
    if len(proof) != expected:
        raise ProofError(f"the proof has {len(proof)} hashes, the sizes need {expected}", where="proof")


def _hash(value: object, where: str = "node") -> bytes:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise ProofError(f"a hash is {HASH_SIZE} bytes", where=where)
    return value
