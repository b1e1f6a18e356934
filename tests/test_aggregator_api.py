"""The aggregator end to end in one process: submissions, receipts, the log's tiles and proofs (SQLite)."""

from __future__ import annotations

import base64
import json

import pytest
from aggregator_helpers import aggregator_config, did_manifest, integrated, running, submit
from conftest import make_key

from notrain.core import dsse
from notrain.core.checkpoint import open_checkpoint
from notrain.core.ijson import dumps
from notrain.core.keyset import make_keyset
from notrain.core.logentry import parse_entry
from notrain.core.manifest import MANIFEST_TYPE
from notrain.core.merkle import leaf_hash, verify_consistency, verify_inclusion
from notrain.core.note import NoteVerifier
from notrain.core.receipt import open_receipt
from notrain.core.tiles import ENTRIES, decode_bundle, tiles_for, verify_tiles


@pytest.fixture
async def api(tmp_path):
    async with running(aggregator_config(tmp_path)) as session:
        yield session


async def log_verifier(api) -> NoteVerifier:
    async with api.get("/v1/log") as response:
        return NoteVerifier.from_vkey((await response.json())["vkey"])


async def test_did_key_submission_gets_a_receipt_then_an_inclusion_proof(api):
    artist = make_key("artist")
    envelope = did_manifest(artist, names=[{"name": "Aria Quill"}])
    status, body = await submit(api, envelope)
    assert status == 202 and body["created"] and body["publisher"] == artist.public.did_key
    log = await log_verifier(api)
    receipt = open_receipt(body["receipt"].encode(), "aggregator.test/log", log)

    done = await integrated(api, body["entry"])
    checkpoint = open_checkpoint(done["checkpoint"].encode(), "aggregator.test/log", log).checkpoint
    async with api.get(f"/log/tile/entries/000.p/{checkpoint.size}") as response:
        entries = decode_bundle(await response.read(), checkpoint.size)
    entry = entries[done["log_index"]]
    receipt.check_entry(entry)  # the receipt was for exactly the bytes now in the log
    assert parse_entry(entry).body == envelope  # the publisher's exact bytes, never re-encoded
    proof = [base64.b64decode(h) for h in done["inclusion_proof"]]
    verify_inclusion(done["log_index"], checkpoint.size, leaf_hash(entry), proof, checkpoint.root)


async def test_resubmission_returns_the_same_entry_and_receipt(api):
    envelope = did_manifest(make_key("artist"))
    _, first = await submit(api, envelope)
    status, again = await submit(api, envelope)
    assert status == 200 and not again["created"]
    assert (again["entry"], again["receipt"]) == (first["entry"], first["receipt"])


async def test_rollback_is_refused_and_equivocation_is_logged_and_flagged(api):
    artist = make_key("artist")
    assert (await submit(api, did_manifest(artist, sequence=5)))[0] == 202
    status, body = await submit(api, did_manifest(artist, sequence=4))
    assert status == 409 and body["error"]["code"] == "E_ROLLBACK"
    status, body = await submit(api, did_manifest(artist, sequence=5, default={"train-ai": "y"}))
    assert status == 202 and body["equivocation"]
    async with api.get("/v1/equivocations") as response:
        flagged = (await response.json())["equivocations"]
    assert len(flagged) == 2 and {m["sequence"] for m in flagged} == {5}
    # The first statement keeps counting: the floor still binds sequence 5's first payload.
    async with api.get("/v1/publisher/envelope", params={"id": artist.public.did_key}) as response:
        latest = dsse.parse(await response.read())
    assert json.loads(latest.payload)["default"] == {"train-ai": "n"}


@pytest.mark.parametrize(
    "envelope, code",
    [
        (b"{", "E_JSON"),
        (b'{"payloadType": "x", "payload": "", "signatures": []}', "E_NO_SIGNATURES"),
        (dsse.sign(b'{"notrain": 1}', MANIFEST_TYPE, [make_key("a")]).to_bytes(), "E_FIELD_MISSING"),
    ],
)
async def test_bad_documents_get_their_spec_code(api, envelope, code):
    status, body = await submit(api, envelope)
    assert status == 422 and body["error"]["code"] == code


async def test_a_signature_by_another_key_is_refused(api):
    artist, thief = make_key("artist"), make_key("thief")
    payload = dsse.parse(did_manifest(artist)).payload
    status, body = await submit(api, dsse.sign(payload, MANIFEST_TYPE, [thief]).to_bytes())
    assert status == 422 and body["error"]["code"] == "E_UNKNOWN_KEY"


async def test_requests_are_checked_before_documents(api):
    async with api.post("/v1/manifests", data=b"{}", headers={"Content-Type": "text/plain"}) as response:
        assert response.status == 415 and (await response.json())["error"]["code"] == "E_MEDIA_TYPE"
    async with api.get("/v1/entries/01") as response:
        assert response.status == 400 and (await response.json())["error"]["code"] == "E_REQUEST"
    async with api.get("/log/tile/0/1") as response:  # not the canonical spelling of a tile path
        assert response.status == 404 and (await response.json())["error"]["code"] == "E_NOT_FOUND"
    async with api.post("/v1/manifests", data=b"x" * (3 * 1024 * 1024), headers={"Content-Type": "application/json"}) as response:
        assert response.status == 413


async def test_origin_publisher_is_verified_with_the_key_set_its_origin_serves(api, site):
    key = make_key("site")
    site.serve("/.well-known/notrain-keys.json", dumps(make_keyset(site.origin, [key.public]).to_json()))
    payload = json.dumps({
        "notrain": 1, "publisher": site.origin, "sequence": 1, "issued": "2026-11-01T00:00:00Z",
        "expires": "2027-11-01T00:00:00Z", "default": {"train-ai": "n"},
    }).encode()
    status, body = await submit(api, dsse.sign(payload, MANIFEST_TYPE, [key]).to_bytes())
    assert status == 202, body
    await integrated(api, body["entry"])
    # Signed by a key the origin does not serve: refused, whatever the submitter claims.
    status, body = await submit(api, dsse.sign(payload, MANIFEST_TYPE, [make_key("other")]).to_bytes())
    assert status == 422 and body["error"]["code"] == "E_UNKNOWN_KEY"


async def test_the_log_rebuilds_from_its_tiles_and_stays_consistent(api):
    log = await log_verifier(api)
    first = None
    for n in range(300):  # more than one full tile
        status, body = await submit(api, did_manifest(make_key(f"artist {n}")))
        assert status == 202
        if n == 10:
            first = await integrated(api, body["entry"])
    last = await integrated(api, body["entry"])
    old = open_checkpoint(first["checkpoint"].encode(), "aggregator.test/log", log).checkpoint
    new = open_checkpoint(last["checkpoint"].encode(), "aggregator.test/log", log).checkpoint
    files = {}
    for tile in tiles_for(new.size):
        async with api.get("/log/" + tile.path) as response:
            assert response.status == 200
            full = tile.width == 256
            assert ("immutable" in response.headers["Cache-Control"]) == full
            files[tile] = await response.read()
    verify_tiles(new.size, new.root, files.__getitem__)
    assert sum(t.width for t in files if t.level == ENTRIES) == new.size
    async with api.get("/v1/proof/consistency", params={"from": str(old.size), "size": str(new.size)}) as response:
        proof = [base64.b64decode(h) for h in (await response.json())["proof"]]
    verify_consistency(old.size, new.size, old.root, new.root, proof)
    # A client still holding the old checkpoint gets proofs at its size, though the partial tiles of that
    # size were pruned when the full tile was stored.
    leaf = decode_bundle(files[next(t for t in files if t.level == ENTRIES and t.index == 0)], 256)[3]
    async with api.get("/v1/proof/inclusion", params={"index": "3", "size": str(old.size)}) as response:
        assert response.status == 200
        proof = [base64.b64decode(h) for h in (await response.json())["proof"]]
    verify_inclusion(3, old.size, leaf_hash(leaf), proof, old.root)
