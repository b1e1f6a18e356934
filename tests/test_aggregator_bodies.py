"""Detached bodies end to end (spec/log.md, "Log entries"): an envelope too large for a 65,535-octet entry
is logged by digest, its body is served at /log/body/<sha256>, and a client re-verifies the publisher's
signature from the log alone: checkpoint, entry bundle, inclusion, body.  On both storage backends.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

import pytest
from aggregator_helpers import aggregator_config, did_manifest, integrated, running, submit
from conftest import make_key

from notrain.core.checkpoint import open_checkpoint
from notrain.core.logentry import parse_entry
from notrain.core.merkle import leaf_hash, verify_inclusion
from notrain.core.note import NoteVerifier
from notrain.core.tiles import ENTRIES, MAX_ENTRY_BYTES, TileId, decode_bundle, tile_width
from notrain.core.verify import trusted_keys, verify_manifest

ORIGIN = "aggregator.test/log"


@pytest.fixture(params=["sqlite", "postgres"])
async def api(request, tmp_path):
    url = "" if request.param == "sqlite" else await request.getfixturevalue("postgres_cluster").new_database()
    async with running(aggregator_config(tmp_path, url)) as session:
        yield session


async def get(api, path: str) -> tuple[int, bytes, str]:
    async with api.get(path) as response:
        return response.status, await response.read(), response.headers.get("Cache-Control", "")


async def test_a_large_envelope_is_detached_served_and_reverified_from_the_log(api):
    artist = make_key("prolific artist")
    works = [{"sha256": hashlib.sha256(b"work %d" % n).hexdigest()} for n in range(1000)]
    envelope = did_manifest(artist, works=works)
    assert len(envelope) > 64 * 1024
    status, receipt = await submit(api, envelope)
    assert status == 202, receipt
    done = await integrated(api, receipt["entry"])

    # A client that trusts only the log's key: checkpoint, then the entry from its bundle, proven included.
    async with api.get("/v1/log") as response:
        log = NoteVerifier.from_vkey((await response.json())["vkey"])
    checkpoint = open_checkpoint(done["checkpoint"].encode(), ORIGIN, log).checkpoint
    index = done["log_index"]
    bundle = TileId(ENTRIES, index // 256, tile_width(0, index // 256, checkpoint.size))
    status, data, _ = await get(api, "/log/" + bundle.path)
    entry = decode_bundle(data, bundle.width)[index % 256]
    proof = [base64.b64decode(h) for h in done["inclusion_proof"]]
    verify_inclusion(index, checkpoint.size, leaf_hash(entry), proof, checkpoint.root)

    parsed = parse_entry(entry)
    assert parsed.body is None and len(entry) < MAX_ENTRY_BYTES < parsed.size  # detached: the entry holds the digest
    status, body, cache = await get(api, f"/log/body/{parsed.sha256.hex()}")
    assert status == 200 and "immutable" in cache
    assert parsed.check_body(body) == envelope  # the publisher's exact bytes
    publisher = artist.public.did_key
    now = datetime(2026, 12, 1, tzinfo=UTC)
    verified = verify_manifest(body, publisher=publisher, keys=trusted_keys(publisher), now=now)
    assert len(verified.manifest.works) == 1000

    # Resubmitted: the same entry, nothing stored twice.  Other spellings and unknown digests name no body.
    status, again = await submit(api, envelope)
    assert status == 200 and again["entry"] == receipt["entry"]
    for path in (f"/log/body/{parsed.sha256.hex().upper()}", f"/log/body/{'0' * 64}", f"/log/body/{parsed.sha256.hex()}0"):
        status, _, _ = await get(api, path)
        assert status == 404, path


async def test_an_inline_body_is_not_served_beside_the_log(api):
    envelope = did_manifest(make_key("small artist"))
    assert (await submit(api, envelope))[0] == 202
    assert (await get(api, f"/log/body/{hashlib.sha256(envelope).hexdigest()}"))[0] == 404  # it is in its entry
