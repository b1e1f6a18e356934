"""The JSON Schemas in spec/schemas/ and the examples in spec/*.md agree with the reference implementation.

* every schema is a valid draft 2020-12 schema;
* every ```json example in the spec is strict I-JSON, and every whole document among them (manifest,
  part, envelope, key set) validates against its schema *and* is accepted by notrain.core;
* documents built with the real core API validate against the schemas;
* invalid documents fail their schema, and notrain.core rejects them with the code spec/errors.md gives.
"""

from __future__ import annotations

import base64
import copy
import gzip
import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from notrain.core import (
    MANIFEST_TYPE,
    NotrainError,
    PrivateKey,
    dsse,
    ijson,
    make_keyset,
    make_rotation,
    merge_part,
    parse_keyset,
    parse_payload,
    verify_manifest,
)
from notrain.core.keyset import ROTATION_TYPE

SPEC = Path(__file__).resolve().parents[1] / "spec"
SCHEMA_NAMES = ("manifest", "part", "envelope", "keyset", "rotation")
# The spec files whose examples this module checks (spec/vectors/ has its own tests).
SPEC_FILES = (
    "README.md",
    "manifest.md",
    "envelope.md",
    "keys.md",
    "discovery.md",
    "paths.md",
    "matching.md",
    "decision.md",
    "fetching.md",
    "limits.md",
    "errors.md",
    "security.md",
)

# RFC 8032 test keys 1 and 2: the keys used by the examples in spec/envelope.md and spec/keys.md.
SEED_1 = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
SEED_2 = bytes.fromhex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")
ISSUED = datetime(2025, 6, 1, tzinfo=UTC)


def load_schema(name: str) -> dict:
    return json.loads((SPEC / "schemas" / f"{name}.schema.json").read_text(encoding="utf-8"))


VALIDATORS = {name: Draft202012Validator(load_schema(name)) for name in SCHEMA_NAMES}


def schema_errors(name: str, doc: object) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in VALIDATORS[name].iter_errors(doc)]


def assert_valid(name: str, doc: object) -> None:
    problems = schema_errors(name, doc)
    assert not problems, f"{name} schema rejects a valid document: {problems}"


def json_blocks(filename: str) -> list[str]:
    """The text of every ```json fenced block of a spec file (ending with its final line feed)."""
    text = (SPEC / filename).read_text(encoding="utf-8")
    return re.findall(r"^```json\n(.*?)^```", text, re.DOTALL | re.MULTILINE)


def documents(filename: str, marker: str) -> list[tuple[str, dict]]:
    """(block text, parsed) for the whole documents of one kind in a spec file."""
    found = []
    for block in json_blocks(filename):
        doc = json.loads(block)
        if isinstance(doc, dict) and marker in doc:
            found.append((block, doc))
    return found


# -- 1. the schemas themselves ---------------------------------------------------------------------


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_schema_is_valid_draft_2020_12(name):
    schema = load_schema(name)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


# -- 2. the examples in the spec -------------------------------------------------------------------


@pytest.mark.parametrize("filename", SPEC_FILES)
def test_every_json_example_is_strict_ijson(filename):
    for block in json_blocks(filename):
        ijson.loads(block.encode("utf-8"), max_size=dsse.MAX_ENVELOPE_BYTES)


def test_manifest_examples_are_valid():
    examples = documents("manifest.md", "notrain")
    assert examples, "spec/manifest.md has no complete example manifest"
    for block, doc in examples:
        assert_valid("manifest", doc)
        manifest = parse_payload(block.encode("utf-8"))
        assert manifest.publisher == doc["publisher"]


def test_part_example_is_bound_to_the_manifest_example():
    ((manifest_block, manifest_doc),) = documents("manifest.md", "notrain")
    parts = documents("manifest.md", "notrain-part")
    assert len(parts) == len(manifest_doc["parts"])
    manifest = parse_payload(manifest_block.encode("utf-8"))
    for index, (block, doc) in enumerate(parts):
        assert_valid("part", doc)
        data = block.encode("utf-8")
        assert manifest_doc["parts"][index] == {
            **manifest_doc["parts"][index],
            "sha256": hashlib.sha256(data).hexdigest(),
            "size": len(data),
        }
        manifest = merge_part(manifest, index, data)
    assert [w.ref for w in manifest.works][-2:] == ["/parts/0/works/0", "/parts/0/works/1"]
    assert manifest.names[-1].ref == "/parts/0/names/0"


def test_keyset_examples_are_valid_and_rotation_is_followed():
    keysets = documents("keys.md", "notrain-keys")
    assert len(keysets) == 2
    key_1, key_2 = PrivateKey.from_seed(SEED_1).public, PrivateKey.from_seed(SEED_2).public
    for _, doc in keysets:
        assert_valid("keyset", doc)
    first = parse_keyset(keysets[0][0].encode("utf-8"), "https://example.com")
    rotated = parse_keyset(keysets[1][0].encode("utf-8"), "https://example.com")
    assert set(first.trusted()) == {key_1.kid}
    assert set(rotated.trusted({key_1.kid: key_1})) == {key_2.kid}
    rotation_payload = json.loads(rotated.rotations[0].envelope.payload)
    assert_valid("rotation", rotation_payload)
    assert rotation_payload["old"] == key_1.kid


def test_envelope_example_verifies_and_is_reproducible():
    ((block, doc),) = documents("envelope.md", "payloadType")
    assert_valid("envelope", doc)
    ((keyset_block, _),) = documents("keys.md", "notrain-keys")[:1]
    keys = parse_keyset(keyset_block.encode("utf-8"), "https://example.com").trusted()
    for now in (datetime(2025, 5, 31, 23, 55, tzinfo=UTC), datetime(2025, 11, 30, 23, 59, 59, tzinfo=UTC)):
        verified = verify_manifest(block.encode("utf-8"), publisher="https://example.com", keys=keys, now=now)
    assert verified.manifest.digest == "ff03a3847eb920f6dbea4fc659df640d7e10a2048328fb487998dce8aae5d6a7"
    # Ed25519 is deterministic: signing the same payload with the same key gives the same envelope.
    payload = dsse.from_json(doc).payload
    assert dsse.sign(payload, MANIFEST_TYPE, [PrivateKey.from_seed(SEED_1)]).to_json() == doc
    assert dsse.pae("http://example.com/HelloWorld", b"hello world") == b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"


# -- 3. documents built with the core API ----------------------------------------------------------


def full_manifest(publisher: str = "https://artist.example") -> dict:
    return {
        "notrain": 1,
        "publisher": publisher,
        "sequence": 7,
        "issued": "2025-06-01T00:00:00Z",
        "expires": "2025-07-01T00:00:00Z",
        "default": {"train-ai": "n"},
        "paths": [
            {"pattern": "/gallery/", "prefs": {"train-ai": "n", "search": "y"}},
            {"pattern": "/*.png$", "prefs": {"ai-use": "n"}},
        ],
        "works": [{"sha256": "ab" * 32, "pdq": "cd" * 32, "title": "Study"}, {"sha256": "01" * 32, "prefs": {"search": "n"}}],
        "pdq": {"hasher": "pdqhash-0.2/pillow", "threshold": 31},
        "names": [{"name": "Artist Example"}, {"name": "artist_ex", "prefs": {"ai-use": "n"}}],
        "accounts": [{"url": "https://bsky.app/profile/artist.example", "service": "bluesky"}],
        "parts": [{"sha256": "ef" * 32, "size": 1024, "url": "part-1.json"}],
        "critical": ["paths", "works"],
    }


def test_core_built_documents_match_the_schemas():
    old, new = PrivateKey.from_seed(SEED_1), PrivateKey.from_seed(SEED_2)
    payload = ijson.dumps(full_manifest())
    manifest = parse_payload(payload)
    assert_valid("manifest", json.loads(payload))

    envelope = dsse.sign(payload, MANIFEST_TYPE, [old, new])
    assert_valid("envelope", envelope.to_json())
    assert_valid("envelope", json.loads(envelope.to_bytes()))

    rotation = make_rotation("https://artist.example", old, new.public, ISSUED)
    assert_valid("envelope", rotation.envelope.to_json())
    assert_valid("rotation", json.loads(rotation.envelope.payload))
    keyset = make_keyset("https://artist.example", [new.public], (rotation,))
    assert_valid("keyset", keyset.to_json())

    parsed = parse_keyset(ijson.dumps(keyset.to_json()), "https://artist.example")
    trusted = parsed.trusted({old.public.kid: old.public})
    verified = verify_manifest(
        envelope.to_bytes(), publisher="https://artist.example", keys=trusted, now=ISSUED + timedelta(days=1)
    )
    assert verified.manifest.digest == manifest.digest == hashlib.sha256(payload).hexdigest()
    assert verified.signed_by == (new.public.kid,)

    part = {
        "notrain-part": 1,
        "publisher": "https://artist.example",
        "sequence": 7,
        "works": [{"sha256": "02" * 32}],
        "names": [{"name": "A. Example"}],
    }
    assert_valid("part", part)
    part_bytes = ijson.dumps(part)
    indexed = full_manifest()
    indexed["parts"] = [{"sha256": hashlib.sha256(part_bytes).hexdigest(), "size": len(part_bytes)}]
    merged = merge_part(parse_payload(ijson.dumps(indexed)), 0, part_bytes)
    assert merged.works[-1].ref == "/parts/0/works/0"


def test_did_key_documents_match_the_schemas():
    key = PrivateKey.from_seed(SEED_1)
    doc = full_manifest(key.public.did_key)
    del doc["paths"]
    doc["critical"] = ["works"]
    payload = ijson.dumps(doc)
    assert_valid("manifest", json.loads(payload))
    envelope = dsse.sign(payload, MANIFEST_TYPE, [key])
    assert_valid("envelope", envelope.to_json())
    verified = verify_manifest(envelope.to_bytes(), publisher=key.public.did_key, keys={key.public.kid: key.public}, now=ISSUED)
    assert verified.manifest.is_did_key


EDGE_VALID_MANIFESTS = {
    "sequence 0": lambda d: d.update(sequence=0),
    "sequence 2^53-1": lambda d: d.update(sequence=2**53 - 1),
    "threshold 0": lambda d: d["pdq"].update(threshold=0),
    "threshold 48": lambda d: d["pdq"].update(threshold=48),
    "no threshold": lambda d: d["pdq"].pop("threshold"),
    "unknown label with any value": lambda d: d["default"].update({"train-genai": {"any": ["thing"]}}),
    "unknown top-level member": lambda d: d.update({"x-future": [1, 2, 3]}),
    "unknown member in an entry": lambda d: d["works"][0].update({"x-note": "kept"}),
    "empty critical": lambda d: d.update(critical=[]),
    "IPv6 origin with port": lambda d: d.update(publisher="http://[::1]:8080"),
    "IPv6 origin in RFC 5952 form": lambda d: d.update(publisher="http://[2001:db8::1]"),
    "IPv4 origin": lambda d: d.update(publisher="http://192.0.2.1"),
    "numeric labels before a name": lambda d: d.update(publisher="https://1.2.3.example"),
    "non-default port": lambda d: d.update(publisher="https://artist.example:8443"),
    "http origin on port 443": lambda d: d.update(publisher="http://artist.example:443"),
    "account URL with upper case and a padded default port": lambda d: d["accounts"][0].update(url="https://BSKY.app:0443/p"),
    "400 days of validity": lambda d: d.update(issued="2025-01-01T00:00:00Z", expires="2026-02-05T00:00:00Z"),
    "non-ASCII pattern": lambda d: d["paths"].append({"pattern": "/café/*", "prefs": {}}),
    "anchored root pattern": lambda d: d["paths"].append({"pattern": "/$", "prefs": {"search": "n"}}),
    "escape in pattern": lambda d: d["paths"].append({"pattern": "/%7euser/%2F", "prefs": {"search": "n"}}),
    "pdq present without PDQ works": lambda d: d["works"][0].pop("pdq"),
    "work with only a pdq hash": lambda d: d["works"][0].pop("sha256"),
}


@pytest.mark.parametrize("mutate", EDGE_VALID_MANIFESTS.values(), ids=EDGE_VALID_MANIFESTS.keys())
def test_edge_cases_accepted_by_schema_and_core(mutate):
    doc = full_manifest()
    mutate(doc)
    assert_valid("manifest", doc)
    parse_payload(ijson.dumps(doc))


# -- 4. invalid documents ----------------------------------------------------------------------------


def _drop(key):
    return lambda d: d.pop(key)


INVALID_MANIFESTS = {
    # name: (mutation, code notrain.core reports)
    "float sequence": (lambda d: d.update(sequence=1.5), "E_JSON_NUMBER"),
    "negative sequence": (lambda d: d.update(sequence=-1), "E_FIELD_VALUE"),
    "sequence 2^53": (lambda d: d.update(sequence=2**53), "E_JSON_NUMBER"),
    "boolean sequence": (lambda d: d.update(sequence=True), "E_FIELD_TYPE"),
    "version 2": (lambda d: d.update(notrain=2), "E_VERSION"),
    "version as string": (lambda d: d.update(notrain="1"), "E_FIELD_TYPE"),
    "missing expires": (_drop("expires"), "E_FIELD_MISSING"),
    "timestamp with a space": (lambda d: d.update(issued="2025-06-01 00:00:00Z"), "E_TIMESTAMP"),
    "timestamp with an offset": (lambda d: d.update(issued="2025-06-01T00:00:00+00:00"), "E_TIMESTAMP"),
    "timestamp with fractional seconds": (lambda d: d.update(issued="2025-06-01T00:00:00.5Z"), "E_TIMESTAMP"),
    "month 13": (lambda d: d.update(expires="2025-13-01T00:00:00Z"), "E_TIMESTAMP"),
    "lowercase z": (lambda d: d.update(expires="2025-07-01T00:00:00z"), "E_TIMESTAMP"),
    "uppercase host": (lambda d: d.update(publisher="https://Artist.example"), "E_PUBLISHER"),
    "publisher with a path": (lambda d: d.update(publisher="https://artist.example/"), "E_PUBLISHER"),
    "publisher with userinfo": (lambda d: d.update(publisher="https://me@artist.example"), "E_PUBLISHER"),
    "ftp publisher": (lambda d: d.update(publisher="ftp://artist.example"), "E_PUBLISHER"),
    "default port": (lambda d: d.update(publisher="https://artist.example:443"), "E_PUBLISHER"),
    "port zero": (lambda d: d.update(publisher="https://artist.example:0"), "E_PUBLISHER"),
    "port 65536": (lambda d: d.update(publisher="https://artist.example:65536"), "E_PUBLISHER"),
    "IPv4 with a leading zero": (lambda d: d.update(publisher="http://192.0.2.01"), "E_PUBLISHER"),
    "numeric host that is not IPv4": (lambda d: d.update(publisher="http://1.2.3"), "E_PUBLISHER"),
    "all-digit last label": (lambda d: d.update(publisher="http://artist.123"), "E_PUBLISHER"),
    "uncompressed IPv6": (lambda d: d.update(publisher="http://[0:0:0:0:0:0:0:1]"), "E_PUBLISHER"),
    "IPv6 with a zero run left uncompressed": (lambda d: d.update(publisher="http://[2001:db8:0:0:1:0:0:1]"), "E_PUBLISHER"),
    "IPv6 compressing a single zero group": (lambda d: d.update(publisher="http://[1:2:3:4:5:6::7]"), "E_PUBLISHER"),
    "IPv4-mapped IPv6": (lambda d: d.update(publisher="http://[::ffff:1.2.3.4]"), "E_PUBLISHER"),
    "IPv4-mapped IPv6 in hex": (lambda d: d.update(publisher="http://[::ffff:102:304]"), "E_PUBLISHER"),
    "IPv6 zone id": (lambda d: d.update(publisher="http://[fe80::1%25eth0]"), "E_PUBLISHER"),
    "non-ASCII digits in a timestamp": (lambda d: d.update(issued="\u0662025-06-01T00:00:00Z"), "E_TIMESTAMP"),
    "did:web publisher": (lambda d: d.update(publisher="did:web:artist.example"), "E_DID_KEY"),
    "preference value yes": (lambda d: d.update(default={"train-ai": "yes"}), "E_FIELD_VALUE"),
    "uppercase label": (lambda d: d.update(default={"Train-AI": "n"}), "E_FIELD_VALUE"),
    "preferences not an object": (lambda d: d.update(default=["train-ai"]), "E_FIELD_TYPE"),
    "work without hashes": (lambda d: d["works"].append({"title": "nothing to match"}), "E_FIELD_MISSING"),
    "uppercase hex": (lambda d: d["works"][0].update(sha256="AB" * 32), "E_HASH"),
    "short hash": (lambda d: d["works"][0].update(pdq="cd" * 31), "E_HASH"),
    "PDQ works without pdq": (_drop("pdq"), "E_FIELD_MISSING"),
    "threshold 49": (lambda d: d["pdq"].update(threshold=49), "E_FIELD_VALUE"),
    "empty hasher": (lambda d: d["pdq"].update(hasher=""), "E_FIELD_VALUE"),
    "relative pattern": (lambda d: d["paths"].append({"pattern": "gallery/", "prefs": {}}), "E_PATTERN"),
    "dollar inside a pattern": (lambda d: d["paths"].append({"pattern": "/a$b", "prefs": {}}), "E_PATTERN"),
    "bad escape in a pattern": (lambda d: d["paths"].append({"pattern": "/a%zz", "prefs": {}}), "E_PATTERN"),
    "space in a pattern": (lambda d: d["paths"].append({"pattern": "/a b", "prefs": {}}), "E_PATTERN"),
    "hash sign in a pattern": (lambda d: d["paths"].append({"pattern": "/a#b", "prefs": {}}), "E_PATTERN"),
    "path rule without prefs": (lambda d: d["paths"].append({"pattern": "/a"}), "E_FIELD_MISSING"),
    "name too long": (lambda d: d["names"].append({"name": "x" * 257}), "E_FIELD_VALUE"),
    "empty name": (lambda d: d["names"].append({"name": ""}), "E_FIELD_VALUE"),
    "title too long": (lambda d: d["works"][0].update(title="t" * 2049), "E_FIELD_VALUE"),
    "http account": (lambda d: d["accounts"].append({"url": "http://example.com/me"}), "E_FIELD_VALUE"),
    "account on port zero": (lambda d: d["accounts"].append({"url": "https://example.com:0/me"}), "E_FIELD_VALUE"),
    "account with userinfo": (lambda d: d["accounts"].append({"url": "https://me@example.com/"}), "E_FIELD_VALUE"),
    "account on an uncompressed IPv6 host": (lambda d: d["accounts"].append({"url": "https://[0:0:0:0:0:0:0:1]/"}), "E_FIELD_VALUE"),
    "the same part twice": (lambda d: d["parts"].append(dict(d["parts"][0])), "E_FIELD_VALUE"),
    "part of size 0": (lambda d: d["parts"][0].update(size=0), "E_FIELD_VALUE"),
    "part over 8 MiB": (lambda d: d["parts"][0].update(size=8 * 1024 * 1024 + 1), "E_FIELD_VALUE"),
    "257 parts": (lambda d: d.update(parts=[{"sha256": f"{i:064x}", "size": 1} for i in range(257)]), "E_FIELD_VALUE"),
    "unknown critical member": (lambda d: d.update(critical=["x-future"]), "E_CRITICAL"),
    "absent critical member": (lambda d: (d.pop("names"), d.update(critical=["names"])), "E_CRITICAL"),
    "critical not an array": (lambda d: d.update(critical="paths"), "E_FIELD_TYPE"),
}


@pytest.mark.parametrize("mutate,code", INVALID_MANIFESTS.values(), ids=INVALID_MANIFESTS.keys())
def test_invalid_manifests_fail_schema_and_core(mutate, code):
    doc = full_manifest()
    mutate(doc)
    assert schema_errors("manifest", doc), "the manifest schema accepts an invalid manifest"
    with pytest.raises(NotrainError) as raised:
        parse_payload(ijson.dumps(doc))
    assert raised.value.code == code


def test_paths_forbidden_for_did_key_publishers():
    doc = full_manifest(PrivateKey.from_seed(SEED_1).public.did_key)
    assert schema_errors("manifest", doc)
    with pytest.raises(NotrainError) as raised:
        parse_payload(ijson.dumps(doc))
    assert raised.value.code == "E_FIELD_VALUE" and raised.value.where == "/paths"


def test_validity_and_duplicates_are_beyond_schemas():
    """Documented in spec/README.md: schemas cannot see these, the parser must."""
    doc = full_manifest()
    doc["expires"] = doc["issued"]
    assert not schema_errors("manifest", doc)
    with pytest.raises(NotrainError) as raised:
        parse_payload(ijson.dumps(doc))
    assert raised.value.code == "E_VALIDITY"
    duplicate = ijson.dumps(full_manifest()).replace(b'"sequence":7', b'"sequence":7,"sequence":8')
    with pytest.raises(NotrainError) as raised:
        parse_payload(duplicate)
    assert raised.value.code == "E_JSON_DUPLICATE_KEY"


def signed_envelope() -> dict:
    return dsse.sign(ijson.dumps(full_manifest()), MANIFEST_TYPE, [PrivateKey.from_seed(SEED_1)]).to_json()


INVALID_ENVELOPES = {
    "extra member": (lambda e: e.update(extra="x"), "E_ENVELOPE_FIELD"),
    "missing payloadType": (lambda e: e.pop("payloadType"), "E_ENVELOPE_FIELD"),
    "payloadType not a string": (lambda e: e.update(payloadType=1), "E_ENVELOPE_FIELD"),
    "extra member in a signature": (lambda e: e["signatures"][0].update(cert="x"), "E_ENVELOPE_FIELD"),
    "signature without keyid": (lambda e: e["signatures"][0].pop("keyid"), "E_ENVELOPE_FIELD"),
    "empty keyid": (lambda e: e["signatures"][0].update(keyid=""), "E_ENVELOPE_FIELD"),
    "keyid of 129 characters": (lambda e: e["signatures"][0].update(keyid="k" * 129), "E_ENVELOPE_FIELD"),
    "no signatures": (lambda e: e.update(signatures=[]), "E_NO_SIGNATURES"),
    "17 signatures": (lambda e: e.update(signatures=e["signatures"] * 17), "E_TOO_MANY_SIGNATURES"),
    "unpadded payload": (lambda e: e.update(payload="YWI"), "E_BASE64"),  # "ab" without its "="
    "url-safe payload": (lambda e: e.update(payload="_-" + e["payload"][2:]), "E_BASE64"),
    "stray bits in sig": (lambda e: e["signatures"][0].update(sig=e["signatures"][0]["sig"][:-3] + "B=="), "E_BASE64"),
    "whitespace in payload": (lambda e: e.update(payload=e["payload"][:4] + "\n" + e["payload"][4:]), "E_BASE64"),
}


@pytest.mark.parametrize("mutate,code", INVALID_ENVELOPES.values(), ids=INVALID_ENVELOPES.keys())
def test_invalid_envelopes_fail_schema_and_core(mutate, code):
    envelope = signed_envelope()
    mutate(envelope)
    assert schema_errors("envelope", envelope), "the envelope schema accepts an invalid envelope"
    with pytest.raises(NotrainError) as raised:
        dsse.parse(ijson.dumps(envelope))
    assert raised.value.code == code


def keyset_doc() -> dict:
    old, new = PrivateKey.from_seed(SEED_1), PrivateKey.from_seed(SEED_2)
    rotation = make_rotation("https://artist.example", old, new.public, ISSUED)
    return make_keyset("https://artist.example", [old.public, new.public], (rotation,)).to_json()


INVALID_KEYSETS = {
    "version 2": (lambda k: k.update({"notrain-keys": 2}), "E_KEYSET"),
    "version true": (lambda k: k.update({"notrain-keys": True}), "E_KEYSET"),
    "no keys": (lambda k: k.update(keys=[]), "E_KEYSET"),
    "17 keys": (lambda k: k.update(keys=[PrivateKey.from_seed(bytes([i]) * 32).public.to_jwk() for i in range(17)]), "E_KEYSET"),
    "the same key twice": (lambda k: k["keys"].append(copy.deepcopy(k["keys"][0])), "E_KEYSET"),
    "did:key publisher": (lambda k: k.update(publisher=PrivateKey.from_seed(SEED_1).public.did_key), "E_KEYSET"),
    "private key published": (lambda k: k["keys"][0].update(d="nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"), "E_JWK"),
    "EC key": (lambda k: k["keys"][0].update(kty="EC"), "E_JWK"),
    "x of 31 octets": (lambda k: k["keys"][0].update(x="A" * 41 + "E"), "E_JWK"),
    "rotation with the manifest payload type": (lambda k: k["rotations"][0].update(payloadType=MANIFEST_TYPE), "E_ROTATION"),
    "rotation with an extra member": (lambda k: k["rotations"][0].update(extra=1), "E_ENVELOPE_FIELD"),
    "65 rotations": (lambda k: k.update(rotations=k["rotations"] * 65), "E_KEYSET"),
}


@pytest.mark.parametrize("mutate,code", INVALID_KEYSETS.values(), ids=INVALID_KEYSETS.keys())
def test_invalid_keysets_fail_schema_and_core(mutate, code):
    doc = keyset_doc()
    assert_valid("keyset", doc)
    mutate(doc)
    assert schema_errors("keyset", doc), "the key set schema accepts an invalid key set"
    with pytest.raises(NotrainError) as raised:
        parse_keyset(ijson.dumps(doc), "https://artist.example")
    assert raised.value.code == code


def test_key_set_rules_beyond_schemas():
    """A kid that is another key's thumbprint, and a key set served for another origin."""
    doc = keyset_doc()
    doc["keys"][0]["kid"] = doc["keys"][1]["kid"]
    assert not schema_errors("keyset", doc)
    with pytest.raises(NotrainError) as raised:
        parse_keyset(ijson.dumps(doc), "https://artist.example")
    assert raised.value.code == "E_JWK" and raised.value.where == "/keys/0/kid"
    with pytest.raises(NotrainError) as raised:
        parse_keyset(ijson.dumps(keyset_doc()), "https://other.example")
    assert raised.value.code == "E_KEYSET" and raised.value.where == "/publisher"


INVALID_ROTATIONS = {
    "version 2": (lambda r: r.update({"notrain-rotation": 2}), "E_ROTATION"),
    "version true": (lambda r: r.update({"notrain-rotation": True}), "E_ROTATION"),
    "publisher not an origin": (lambda r: r.update(publisher="https://artist.example/"), "E_ROTATION"),
    "old not a string": (lambda r: r.update(old=1), "E_ROTATION"),
    "old not a key id": (lambda r: r.update(old="kid-1"), "E_ROTATION"),
    "old one character short": (lambda r: r.update(old=r["old"][:42]), "E_ROTATION"),
    "missing issued": (lambda r: r.pop("issued"), "E_ROTATION"),
    "missing new": (lambda r: r.pop("new"), "E_ROTATION"),
    "issued not a string": (lambda r: r.update(issued=1), "E_TIMESTAMP"),
    "new with a private key": (lambda r: r["new"].update(d="nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"), "E_JWK"),
}


@pytest.mark.parametrize("mutate,code", INVALID_ROTATIONS.values(), ids=INVALID_ROTATIONS.keys())
def test_invalid_rotations_fail_schema_and_core(mutate, code):
    old, new = PrivateKey.from_seed(SEED_1), PrivateKey.from_seed(SEED_2)
    payload = json.loads(make_rotation("https://artist.example", old, new.public, ISSUED).envelope.payload)
    assert_valid("rotation", payload)
    mutate(payload)
    assert schema_errors("rotation", payload), "the rotation schema accepts an invalid rotation"
    rotation = dsse.sign(ijson.dumps(payload), ROTATION_TYPE, [old])
    keyset = make_keyset("https://artist.example", [new.public]).to_json()
    keyset["rotations"] = [rotation.to_json()]
    with pytest.raises(NotrainError) as raised:
        parse_keyset(ijson.dumps(keyset), "https://artist.example")
    assert raised.value.code == code


def test_invalid_parts_fail_schema():
    part = {"notrain-part": 1, "publisher": "https://artist.example", "sequence": 7, "works": [{"sha256": "02" * 32}]}
    assert_valid("part", part)
    for mutate in (
        lambda p: p.update({"notrain-part": 2}),
        lambda p: p.pop("sequence"),
        lambda p: p.update(sequence=True),
        lambda p: p.update(publisher="https://artist.example:443"),
        lambda p: p["works"].append({"title": "no hash"}),
        lambda p: p.update(paths=[{"pattern": "no-slash", "prefs": {}}]),
        lambda p: p.update(publisher=PrivateKey.from_seed(SEED_1).public.did_key, paths=[{"pattern": "/", "prefs": {}}]),
    ):
        doc = copy.deepcopy(part)
        mutate(doc)
        assert schema_errors("part", doc), doc


# -- 5. the conformance vectors' valid documents pass the schemas ------------------------------------


def _vector_bytes(case: dict, name: str) -> bytes | None:
    if name in case:
        return case[name].encode("utf-8")
    if f"{name}_base64" in case:
        return base64.b64decode(case[f"{name}_base64"])
    if f"{name}_gzip_base64" in case:
        return gzip.decompress(base64.b64decode(case[f"{name}_gzip_base64"]))
    return None


def _valid_vectors(filename: str) -> list[dict]:
    path = SPEC / "vectors" / filename
    if not path.exists():
        pytest.skip(f"spec/vectors/{filename} is not there")
    return [case for case in json.loads(path.read_text(encoding="utf-8"))["vectors"] if case["expect"].get("valid")]


def test_valid_envelope_vectors_pass_the_schemas():
    for case in _valid_vectors("envelopes.json"):
        envelope = json.loads(_vector_bytes(case, "envelope"))
        assert not schema_errors("envelope", envelope), case["id"]
        assert not schema_errors("manifest", json.loads(dsse.from_json(envelope).payload)), case["id"]
        if "keyset" in case.get("context", {}):
            assert not schema_errors("keyset", json.loads(case["context"]["keyset"])), case["id"]


def test_valid_bare_and_part_vectors_pass_the_schemas():
    for case in _valid_vectors("bare.json"):
        assert not schema_errors("manifest", json.loads(_vector_bytes(case, "manifest"))), case["id"]
    for case in _valid_vectors("parts.json"):
        assert not schema_errors("manifest", json.loads(_vector_bytes(case, "manifest"))), case["id"]
        assert not schema_errors("part", json.loads(_vector_bytes(case, "part"))), case["id"]
