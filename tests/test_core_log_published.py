"""The proof verifier against transparency-dev/merkle's published test data.

tests/outside/log/transparency-dev-merkle/testdata/ is a verbatim copy of the
inclusion and consistency cases the Go reference verifier is tested with
(github.com/transparency-dev/merkle, testdata/, Apache-2.0; commit in
tests/outside/log/README.md).  ``wantErr`` is the expected answer.  The happy
paths also check proof *generation*: the proofs we build for the published
tree are the published proofs.  The C2SP examples at the end are checked too.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from notrain.core.checkpoint import parse_checkpoint
from notrain.core.logerrors import ProofError
from notrain.core.merkle import consistency_proof, inclusion_proof, leaf_hash, root, verify_consistency, verify_inclusion
from notrain.core.note import parse_note

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


# C2SP tlog-checkpoint.md and tlog-cosignature.md (github.com/C2SP/C2SP at 5ba5ee83): the example
# checkpoint, and the same checkpoint with a witness cosignature. No verifier keys are published for
# them, so they check the parsers and the cosignature layout, not the signatures.
C2SP_CHECKPOINT = (
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n"
    "— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
)
C2SP_WITNESS = "— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"


def test_c2sp_checkpoint_examples_parse():
    note = parse_note((C2SP_CHECKPOINT + C2SP_WITNESS).encode())
    checkpoint = parse_checkpoint(note.text)
    assert (checkpoint.origin, checkpoint.size, len(checkpoint.root)) == ("example.com/behind-the-sofa", 20852163, 32)
    log, witness = note.signatures
    assert len(log.signature) == 64 and log.name == checkpoint.origin
    assert len(witness.signature) == 72  # u64 timestamp || Ed25519 signature
    assert int.from_bytes(witness.signature[:8], "big") == 1679315147  # the time in the spec's signed-message example


def test_cosignature_timestamp_layout():
    """transparency-dev/formats note/note_cosigv1_test.go TestCoSigV1Timestamp, case "works"."""
    blob = base64.b64decode("ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEHWWOworDcFiEBYJXORmnFBOBA==")
    signature = parse_note(f"x\n\n— w {base64.b64encode(blob).decode()}\n".encode()).signatures[0]
    assert len(signature.signature) == 72 and int.from_bytes(signature.signature[:8], "big") == 1727964367
