"""Runs spec/vectors/log.json (the transparency-log conformance vectors) against core.

The file format is the one of spec/vectors/README.md; the case types are
described in spec/log.md, "Conformance vectors".
"""

from __future__ import annotations

import base64
import gzip
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from notrain.core import NotrainError
from notrain.core.checkpoint import open_checkpoint
from notrain.core.logentry import parse_entry
from notrain.core.manifest import format_timestamp
from notrain.core.merkle import leaf_hash, node_hash, root, verify_consistency, verify_inclusion
from notrain.core.note import NoteVerifier, open_note
from notrain.core.receipt import open_receipt
from notrain.core.tiles import ENTRIES, decode_bundle, parse_tile_path, tiles_for, verify_tiles
from notrain.core.witnessing import Witnessed, WitnessPolicy, WitnessRefused, check_consistency, open_request

VECTORS = Path(__file__).resolve().parent.parent / "spec" / "vectors"
CASES = json.loads((VECTORS / "log.json").read_text(encoding="utf-8"))["vectors"]
ERRORS = (VECTORS.parent / "errors.md").read_text(encoding="utf-8")
b64 = base64.b64decode
enc = lambda data: base64.b64encode(data).decode()


def exact(case: dict, name: str) -> bytes:
    if name in case:
        return case[name].encode("utf-8")
    if f"{name}_base64" in case:
        return b64(case[f"{name}_base64"])
    return gzip.decompress(b64(case[f"{name}_gzip_base64"]))


def vkeys(case: dict) -> list[NoteVerifier]:
    return [NoteVerifier.from_vkey(v) for v in case["vkeys"]]


def run(case: dict) -> dict:
    kind = case["type"]
    if kind == "leaf-hash":
        return {"hash": leaf_hash(bytes.fromhex(case["entry_hex"])).hex()}
    if kind == "node-hash":
        return {"hash": node_hash(bytes.fromhex(case["left_hex"]), bytes.fromhex(case["right_hex"])).hex()}
    if kind == "root":
        return {"root": root([leaf_hash(bytes.fromhex(e)) for e in case["entries_hex"]]).hex()}
    if kind == "inclusion":
        verify_inclusion(case["index"], case["size"], b64(case["leaf_hash"]), [b64(p) for p in case["proof"]], b64(case["root"]))
        return {}
    if kind == "consistency":
        verify_consistency(case["size1"], case["size2"], b64(case["root1"]), b64(case["root2"]), [b64(p) for p in case["proof"]])
        return {}
    if kind == "tile-path":
        tile = parse_tile_path(case["path"])
        return {"level": "entries" if tile.level == ENTRIES else tile.level, "index": tile.index, "width": tile.width}
    if kind == "tile-set":
        tiles = [t for t in tiles_for(case["size"]) if t.level != ENTRIES]
        full: dict[str, int] = {}
        for t in tiles:
            if t.width == 256:
                full[str(t.level)] = full.get(str(t.level), 0) + 1
        return {"full": full, "partial": [t.path for t in tiles if t.width != 256]}
    if kind == "bundle":
        return {"entries": [enc(e) for e in decode_bundle(b64(case["bundle_base64"]), case["width"])]}
    if kind == "tiles":
        verify_tiles(case["size"], b64(case["root"]), lambda tile: b64(case["tiles"][tile.path]))
        return {}
    if kind == "vkey":
        v = NoteVerifier.from_vkey(case["vkey"])
        return {"name": v.name, "key_id": v.key_id.hex(), "kind": v.kind}
    if kind == "note":
        opened = open_note(exact(case, "note"), vkeys(case))
        return {"text": opened.text, "verified": [v.name for v in opened.verified]}
    if kind == "checkpoint":
        signed = open_checkpoint(exact(case, "note"), case["origin"], NoteVerifier.from_vkey(case["log_vkey"]),
                                 [NoteVerifier.from_vkey(v) for v in case["witness_vkeys"]])
        cp = signed.checkpoint
        return {"origin": cp.origin, "size": cp.size, "root": enc(cp.root), "extensions": list(cp.extensions),
                "cosignatures": [{"name": c.name, "time": c.timestamp} for c in signed.cosignatures]}
    if kind == "log-entry":
        entry = parse_entry(exact(case, "entry"))
        return {"kind": entry.kind, "source": entry.source.text, "observed": format_timestamp(entry.observed),
                "sha256": entry.sha256.hex(), "size": entry.size, "detached": entry.body is None}
    if kind == "receipt":
        receipt = open_receipt(exact(case, "receipt"), case["origin"], NoteVerifier.from_vkey(case["log_vkey"]))
        receipt.check_entry(exact(case, "entry"))
        return {"time": format_timestamp(receipt.time), "integrate_by": format_timestamp(receipt.integrate_by)}
    if kind == "add-checkpoint":
        latest = case["latest"] and Witnessed(case["latest"]["size"], b64(case["latest"]["root"]))
        request, signed = open_request(exact(case, "body"), {v.name: v for v in map(NoteVerifier.from_vkey, case["log_vkeys"])})
        check_consistency(request, signed, latest)
        return {"origin": signed.checkpoint.origin, "old": request.old_size, "size": signed.checkpoint.size}
    if kind == "cosignature-policy":
        policy = WitnessPolicy.from_vkeys(case["witness_vkeys"], case["min_cosignatures"])
        signed = policy.open(exact(case, "note"), case["origin"], NoteVerifier.from_vkey(case["log_vkey"]))
        return {"cosigners": [{"name": c.name, "time": c.timestamp} for c in signed.cosignatures]}
    raise AssertionError(f"unknown case type {kind}")


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_vector(case):
    try:
        got = {"valid": True, **run(case)}
    except WitnessRefused as refused:  # a witness's answer is its code and the HTTP status tlog-witness gives
        got = {"valid": False, "error": refused.code, "status": refused.status}
        if refused.known_size is not None:
            got["known_size"] = refused.known_size
    except NotrainError as error:
        got = {"valid": False, "error": error.code}
    assert got == case["expect"]


def test_log_json_is_fresh():
    result = subprocess.run([sys.executable, str(VECTORS / "generate_log.py"), "--check"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_log_error_code_is_listed_and_expected_by_a_vector():
    """Each code of the Log section of spec/errors.md is the answer of at least one vector, and vice versa."""
    section = ERRORS[ERRORS.index("## Log") :].split("\n## ")[0]
    listed = set(re.findall(r"^\| `(E_[A-Z_]+)`", section, re.MULTILINE))
    expected = {c["expect"]["error"] for c in CASES if not c["expect"]["valid"]}
    assert listed == expected
    assert len(listed) == 9
    assert len({c["id"] for c in CASES}) == len(CASES)
