"""Local bundle sources: every entry verified on load, bad ones reported, never trusted."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime, timezone

import pytest
from conftest import make_key

from notrain.core import MANIFEST_TYPE, ContentHash, NotrainError, State, decide, dsse, make_keyset
from notrain.core.ijson import dumps
from notrain.fetch.sources import LocalSource, SourceError, bundle

NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)


def manifest(publisher: str, **members) -> bytes:
    doc = {"notrain": 1, "publisher": publisher, "sequence": 1, "issued": "2026-11-01T00:00:00Z",
           "expires": "2027-11-01T00:00:00Z", "default": {"train-ai": "n"}, **members}
    return dumps(doc)


def entry(body: bytes, key, **extra) -> dict:
    return {"envelope": dsse.sign(body, MANIFEST_TYPE, [key]).to_json(), **extra}


def test_a_bundle_of_people_and_sites(tmp_path):
    person, site, stranger = make_key("person"), make_key("site"), make_key("stranger")
    did = person.public.did_key
    part = dumps({"notrain-part": 1, "publisher": did, "sequence": 1, "works": [{"sha256": "cc" * 32}]})
    parts = [{"sha256": hashlib.sha256(part).hexdigest(), "size": len(part)}]
    entries = [
        entry(manifest(did, works=[{"sha256": "aa" * 32}], names=[{"name": "Mira Okafor"}], parts=parts), person,
              parts=[base64.b64encode(part).decode()]),
        entry(manifest("https://site.example", works=[{"sha256": "bb" * 32}]), site,
              keyset=make_keyset("https://site.example", [site.public]).to_json()),
        entry(manifest(did, sequence=2), stranger),  # claims the person's DID, signed by someone else
        entry(manifest("https://other.example"), site),  # an origin without its key set
        {"envelope": "not an object"},
    ]
    path = tmp_path / "bundle.json"
    path.write_bytes(bundle(entries))
    source = LocalSource(path, now=NOW)
    catalog = source.catalog()
    assert {m.publisher for m in catalog.manifests()} == {did, "https://site.example"}
    assert [r.index for r in source.rejected] == [2, 3, 4]
    assert source.rejected[0].error.startswith("E_UNKNOWN_KEY")
    assert source.rejected[1].error.startswith("E_KEYSET")
    for sha in ("aa", "bb", "cc"):
        decision = decide(catalog.statements(content=ContentHash(sha256=bytes.fromhex(sha * 32))))
        assert decision.state("train-ai") is State.DISALLOWED
    assert decide(catalog.statements(text="fan art of mira okafor")).state("train-ai") is State.DISALLOWED
    description = source.describe()
    assert description["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest() and len(description["rejected"]) == 3


@pytest.mark.parametrize("content", [b"[]", b'{"notrain-bundle": 2, "entries": []}', b"{", b'{"notrain-bundle": 1}'])
def test_unreadable_bundles_are_typed_errors(tmp_path, content):
    path = tmp_path / "bundle.json"
    path.write_bytes(content)
    with pytest.raises(NotrainError) as caught:
        LocalSource(path, now=NOW).catalog()
    assert caught.value.code.startswith("E_")


def test_a_missing_bundle_is_a_typed_error(tmp_path):
    with pytest.raises(SourceError) as caught:
        LocalSource(tmp_path / "absent.json").catalog()
    assert caught.value.code == "E_SOURCE" and "absent.json" in caught.value.where


def test_bundle_json_keeps_exact_payload_bytes(tmp_path):
    person = make_key("person")
    body = manifest(person.public.did_key).replace(b",", b", ")  # unusual but signed spacing
    path = tmp_path / "b.json"
    path.write_text(json.dumps({"notrain-bundle": 1, "entries": [entry(body, person)]}, indent=3))
    (only,) = LocalSource(path, now=NOW).catalog().manifests()
    assert only.raw == body
