"""Runs every conformance vector in spec/vectors/ against the implementation.

The vector format is described in spec/vectors/README.md; this module is the
reference runner for it.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
import subprocess
import sys
from pathlib import Path

import base58
import pytest

from notrain.core import (
    Catalog,
    ContentHash,
    NotrainError,
    PrivateKey,
    PublicKey,
    State,
    Statement,
    accept_bare,
    decide,
    dsse,
    fail_closed,
    has_proof,
    jwk_thumbprint,
    merge_part,
    parse_keyset,
    parse_payload,
    trusted_keys,
    verify_manifest,
)
from notrain.core.catalog import account_covers
from notrain.core.decision import Evidence
from notrain.core.manifest import parse_timestamp
from notrain.core.verify import Floor
from notrain.core.names import normalise
from notrain.core.verify import is_envelope
from notrain.core.works import WorkIndex
from notrain.fetch.manifests import _publisher_for as expected_publisher

VECTORS = Path(__file__).resolve().parent.parent / "spec" / "vectors"


def load(name: str) -> list[dict]:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))["vectors"]


def cases(name: str):
    return [pytest.param(case, id=case["id"]) for case in load(name)]


def input_bytes(case: dict, name: str) -> bytes:
    if name in case:
        return case[name].encode("utf-8")
    if f"{name}_base64" in case:
        return base64.b64decode(case[f"{name}_base64"])
    return gzip.decompress(base64.b64decode(case[f"{name}_gzip_base64"]))


def outcome(action) -> dict:
    """Run ``action``; map its result or NotrainError to the vectors' expect form."""
    try:
        return {"valid": True, **action()}
    except NotrainError as error:
        return {"valid": False, "error": error.code}


def test_vectors_are_fresh():
    """The committed vectors are exactly what generate.py writes."""
    result = subprocess.run([sys.executable, str(VECTORS / "generate.py"), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_vector_counts_meet_the_conformance_floor():
    all_cases = [c for f in VECTORS.glob("*.json") for c in json.loads(f.read_text(encoding="utf-8"))["vectors"]]
    invalid = [c for c in all_cases if c.get("expect", {}).get("valid") is False]
    assert len(all_cases) - len(invalid) >= 40
    assert len([c for c in load("envelopes.json") + load("bare.json") + load("parts.json") if c["expect"]["valid"] is False]) >= 60
    assert len({c["id"] for c in all_cases}) == len(all_cases), "vector ids must be unique"


def protocol_codes(errors_md: str) -> set[str]:
    """The codes in the first column of spec/errors.md's tables, up to "Category codes"
    (the protocol's codes; what follows are categories and the tools' own codes)."""
    protocol = errors_md.split("\n## Category codes", 1)[0]
    return set(re.findall(r"^\| `(E_[A-Z0-9_]+)` \|", protocol, re.MULTILINE))


def test_protocol_codes_are_parsed_from_the_tables():
    assert protocol_codes("| `E_A` | x |\n| `E_B_2` | y |\n## Category codes\n| `E_C` | z |\n") == {"E_A", "E_B_2"}


def test_every_protocol_code_is_the_answer_of_a_vector():
    codes = protocol_codes((VECTORS.parent / "errors.md").read_text(encoding="utf-8"))
    assert len(codes) >= 30, "the tables of spec/errors.md were not found"
    expected = {c["expect"].get("error") for f in VECTORS.glob("*.json") for c in load(f.name) if isinstance(c.get("expect"), dict)}
    assert sorted(codes - expected) == []


@pytest.mark.parametrize("case", cases("envelopes.json"))
def test_envelope(case):
    ctx = case["context"]
    now = parse_timestamp(ctx["now"], "")

    def run():
        if "trusted" in ctx:  # a caller that trusts these keys, whatever the publisher (spec/envelope.md step 7)
            keys = {k.kid: k for k in (PublicKey.from_jwk(j) for j in ctx["trusted"])}
        else:  # no key set or pins are read for a case that gives `trusted` (vectors/README.md)
            keyset = parse_keyset(ctx["keyset"].encode(), ctx["publisher"]) if "keyset" in ctx else None
            pinned = {k.kid: k for k in (PublicKey.from_jwk(j) for j in ctx.get("pinned", []))}
            keys = trusted_keys(ctx["publisher"], keyset, pinned)
        verified = verify_manifest(input_bytes(case, "envelope"), publisher=ctx["publisher"], keys=keys, now=now, previous=floor(ctx))
        return {"digest": verified.manifest.digest, "sequence": verified.manifest.sequence, "signed_by": list(verified.signed_by)}

    assert outcome(run) == case["expect"]


@pytest.mark.parametrize("case", cases("bare.json"))
def test_bare(case):
    ctx = case["context"]

    def run():
        now = parse_timestamp(ctx["now"], "")
        verified = accept_bare(input_bytes(case, "manifest"), fetched_from=ctx["fetched_from"], now=now, previous=floor(ctx), pinned=bool(ctx.get("pinned")))
        return {"digest": verified.manifest.digest, "sequence": verified.manifest.sequence}

    assert outcome(run) == case["expect"]


def floor(ctx: dict) -> Floor | None:
    """The rollback floor a case holds: sequence, digest and the key ids trusted when it was set."""
    if "previous" not in ctx:
        return None
    return Floor(ctx["previous"]["sequence"], ctx["previous"]["digest"], frozenset(ctx["previous"]["keys"]))


@pytest.mark.parametrize("case", cases("floors.json"))
def test_floor(case):
    (test_envelope if case["kind"] == "envelope" else test_bare)(case)


@pytest.mark.parametrize("case", cases("parts.json"))
def test_part(case):
    def run():
        manifest = parse_payload(case["manifest"].encode())
        for _ in range(case.get("repeat", 1)):
            manifest = merge_part(manifest, case["part_index"], input_bytes(case, "part"))
        return {
            "works": [w.ref for w in manifest.works],
            "names": [n.ref for n in manifest.names],
            "paths": [p.ref for p in manifest.paths],
        }

    assert outcome(run) == case["expect"]


@pytest.mark.parametrize("case", cases("wellknown.json"))
def test_wellknown(case):
    ctx = case["context"]
    now = parse_timestamp(ctx["now"], "")

    def run():
        data = input_bytes(case, "document")
        if is_envelope(data):
            publisher = expected_publisher(ctx["looked_up"], ctx["fetched_from"])
            keys = trusted_keys(publisher, parse_keyset(ctx["keyset"].encode(), publisher))
            verified = verify_manifest(data, publisher=publisher, keys=keys, now=now)
            return {"kind": "envelope", "digest": verified.manifest.digest, "sequence": verified.manifest.sequence, "signed_by": list(verified.signed_by)}
        verified = accept_bare(data, fetched_from=ctx["fetched_from"], now=now)
        return {"kind": "bare", "digest": verified.manifest.digest, "sequence": verified.manifest.sequence}

    assert outcome(run) == case["expect"]


@pytest.mark.parametrize("case", cases("keysets.json"))
def test_keyset(case):
    def run():
        keyset = parse_keyset(input_bytes(case, "keyset"), case["publisher"])
        pinned = {k.kid: k for k in (PublicKey.from_jwk(j) for j in case.get("pinned", []))}
        return {"trusted": list(keyset.trusted(pinned))}

    assert outcome(run) == case["expect"]


@pytest.mark.parametrize("case", cases("accounts.json"))
def test_account_proof(case):
    if "account" in case:  # which URLs a proven account covers
        assert {"covers": account_covers(case["account"], case["url"])} == case["expect"]
        return
    assert {"proof": has_proof(input_bytes(case, "text").decode("utf-8"), case["publisher"])} == case["expect"]


@pytest.mark.parametrize("case", cases("keys.json"))
def test_key(case):
    def run():
        if "seed" in case:
            public = PrivateKey.from_seed(bytes.fromhex(case["seed"])).public
            return {"jwk": public.to_jwk(), "kid": public.kid, "did_key": public.did_key}
        if "jwk" in case:
            PublicKey.from_jwk(case["jwk"])
        else:
            PublicKey.from_did_key(case["did"])
        return {}

    assert outcome(run) == case["expect"]


@pytest.mark.parametrize("case", cases("standards.json"))
def test_standard(case):
    kind = case["kind"]
    if kind == "ed25519":
        key = PrivateKey.from_seed(bytes.fromhex(case["secret_key"]))
        message, signature = bytes.fromhex(case["message"]), bytes.fromhex(case["signature"])
        assert key.public.raw.hex() == case["public_key"]
        assert key.sign(message) == signature
        assert key.public.verify(signature, message)
        assert not key.public.verify(signature, message + b"x")
    elif kind == "thumbprint":
        assert jwk_thumbprint(case["jwk"]) == case["thumbprint"]
    elif kind == "private-jwk":
        key = PrivateKey.from_private_jwk(case["jwk"])
        assert key.public.to_jwk(with_kid=False)["x"] == case["jwk"]["x"]
    elif kind == "pae":
        assert dsse.pae(case["payload_type"], case["payload"].encode()) == case["pae"].encode()
    elif kind == "did-key":
        key = PublicKey.from_did_key(case["did"])
        assert key.raw == base58.b58decode(case["public_key_base58"])
        assert key.did_key == case["did"]
    else:
        pytest.fail(f"unknown kind {kind}")


def _manifest_with(**members) -> bytes:
    base = {"notrain": 1, "publisher": "https://art.example", "sequence": 1, "issued": "2026-11-01T00:00:00Z", "expires": "2027-11-01T00:00:00Z"}
    return json.dumps({**base, **members}).encode()


@pytest.mark.parametrize("case", cases("paths.json"))
def test_path(case):
    catalog = Catalog()
    catalog.add(parse_payload(_manifest_with(paths=case["rules"], default=case["default"])))
    decision = decide(catalog.statements(url=case["url"]))
    assert {c: decision.state(c).value for c in case["expect"]} == case["expect"]


@pytest.mark.parametrize("case", cases("works.json"))
def test_work(case):
    manifest = parse_payload(_manifest_with(works=case["works"], pdq=case["pdq"]))
    index = WorkIndex()
    for i, work in enumerate(manifest.works):
        index.add("m", i, sha256=work.sha256, pdq=work.pdq, threshold=manifest.pdq.threshold)
    query = case["query"]
    hits = index.match(
        sha256=bytes.fromhex(query["sha256"]) if "sha256" in query else None,
        pdq=bytes.fromhex(query["pdq"]) if "pdq" in query else None,
        quality=query.get("quality", 100),
    )
    found = [{"work": manifest.works[h.index].ref, "by": h.by, **({"distance": h.distance} if h.by == "pdq" else {})} for h in hits]
    key = lambda h: (h["work"], h["by"])  # noqa: E731 - order of matches is unspecified
    assert sorted(found, key=key) == sorted(case["expect"]["matches"], key=key)


@pytest.mark.parametrize("case", cases("names.json"))
def test_name(case):
    if "text" in case:
        assert normalise(case["text"]) == case["expect"]["normal"]
        return
    catalog = Catalog()
    catalog.add(parse_payload(_manifest_with(names=case["names"], default={"train-ai": "n"})))
    found = sorted(s.evidence.rule for s in catalog.statements(text=case["caption"]))
    assert found == sorted(case["expect"]["matches"])


def _statement(raw: dict) -> Statement:
    if "fail_closed" in raw:
        return fail_closed("vector", raw["fail_closed"])
    return Statement({c: State.from_token(v) for c, v in raw["prefs"].items()}, Evidence("vector", "vector"), raw.get("inferred", False))


@pytest.mark.parametrize("case", cases("decisions.json"))
def test_decision(case):
    unknown_as = State(case["unknown_as"])
    if "statements" in case:
        decision = decide([_statement(s) for s in case["statements"]], unknown_as=unknown_as)
        got = {c: {"state": decision.state(c).value, "allowed": decision.allowed(c)} for c in case["expect"]}
    else:
        catalog = Catalog()
        for text in case["manifests"]:
            catalog.add(parse_payload(text.encode()))
        query = case["query"]
        content = ContentHash(sha256=bytes.fromhex(query["sha256"])) if "sha256" in query else None
        decision = decide(catalog.statements(url=query.get("url"), content=content, text=query.get("text")), unknown_as=unknown_as)
        got = {c: {"state": decision.state(c).value} for c in case["expect"]}
    assert got == case["expect"]
