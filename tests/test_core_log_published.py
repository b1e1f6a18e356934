"""The proof verifier against transparency-dev/merkle's published test data.

tests/outside/log/transparency-dev-merkle/testdata/ is a verbatim copy of the
inclusion and consistency cases the Go reference verifier is tested with
(github.com/transparency-dev/merkle, testdata/, Apache-2.0; commit in
tests/outside/log/README.md).  ``wantErr`` is the expected answer.  The happy
paths also check proof *generation*: the proofs we build for the published
tree are the published proofs.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from notrain.core.logerrors import ProofError
from notrain.core.merkle import consistency_proof, inclusion_proof, leaf_hash, root, verify_consistency, verify_inclusion

DATA = Path(__file__).resolve().parent / "outside" / "log" / "transparency-dev-merkle" / "testdata"
INCLUSION = sorted((DATA / "inclusion").rglob("*.json"))
CONSISTENCY = sorted((DATA / "consistency").rglob("*.json"))
# transparency-dev/merkle testonly/constants.go: the leaves of the tree the happy paths are about.
LEAVES = [leaf_hash(bytes.fromhex(h)) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f")]

# Where notrain is stricter than the Go reference: every root is 32 bytes, even when
# equal sizes make hashing unnecessary ("ZG9uJ3QgY2FyZSAy" decodes to 12 bytes).
STRICTER = {"consistency/additional/sizes-are-equal-one-and-proof-is-empty.json"}


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def name(path: Path) -> str:
    return str(path.relative_to(DATA))


def decode(value) -> bytes:
    return base64.b64decode(value or "")


def node(level: int, index: int) -> bytes:
    return root(LEAVES[index << level : (index + 1) << level])


def test_the_copy_is_complete():
    assert len(INCLUSION) == 98 and len(CONSISTENCY) == 98


@pytest.mark.parametrize("path", INCLUSION, ids=name)
def test_published_inclusion(path):
    case = load(path)
    proof = [decode(p) for p in case["proof"] or []]
    try:
        verify_inclusion(case["leafIdx"], case["treeSize"], decode(case["leafHash"]), proof, decode(case["root"]))
        failed = False
    except ProofError:
        failed = True
    assert failed == case["wantErr"]
    if path.name == "happy-path.json":
        assert inclusion_proof(case["leafIdx"], case["treeSize"], node) == proof


@pytest.mark.parametrize("path", CONSISTENCY, ids=name)
def test_published_consistency(path):
    case = load(path)
    proof = [decode(p) for p in case["proof"] or []]
    try:
        verify_consistency(case["size1"], case["size2"], decode(case["root1"]), decode(case["root2"]), proof)
        failed = False
    except ProofError:
        failed = True
    assert failed == (case["wantErr"] or name(path) in STRICTER)
    if path.name == "happy-path.json" and case["size1"] < case["size2"]:
        assert consistency_proof(case["size1"], case["size2"], node) == proof
