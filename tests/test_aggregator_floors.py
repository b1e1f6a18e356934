"""Rollback floors per key set through a real aggregator (spec/envelope.md, step 10): a thief with the old
key cannot lock the publisher out with a huge sequence, because a rotation starts a new floor.

Real app on 127.0.0.1, real Ed25519 keys, and a loopback site serving the origin's key sets, which the
aggregator fetches itself for every submission.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest
from aggregator_helpers import aggregator_config, integrated, running, submit
from conftest import make_key

from notrain.core import dsse
from notrain.core.ijson import dumps
from notrain.core.keyset import make_keyset, make_rotation
from notrain.core.manifest import MANIFEST_TYPE

KEYS = "/.well-known/notrain-keys.json"
THIEF_SEQUENCE = 2**53 - 1  # the largest I-JSON integer


@pytest.fixture
async def api(tmp_path):
    async with running(aggregator_config(tmp_path)) as session:
        yield session


def signed(origin: str, sequence: int, keys, **members) -> bytes:
    doc = {"notrain": 1, "publisher": origin, "sequence": sequence, "issued": "2026-11-01T00:00:00Z",
           "expires": "2027-11-01T00:00:00Z", "default": {"train-ai": "n"}, **members}
    return dsse.sign(json.dumps(doc).encode(), MANIFEST_TYPE, keys).to_bytes()


async def latest(api, origin: str) -> dict:
    """The publisher's latest manifest as served, checked against the latest the publisher page names."""
    async with api.get("/v1/publisher/envelope", params={"id": origin}) as response:
        assert response.status == 200
        envelope = dsse.parse(await response.read())
    async with api.get("/v1/publisher", params={"id": origin}) as response:
        named = (await response.json())["latest"]
    assert named["payload_sha256"] == hashlib.sha256(envelope.payload).hexdigest()
    return json.loads(envelope.payload)


async def train_ai(api, origin: str) -> str:
    """What the aggregator's query answers for a page of ``origin``: its index follows the latest manifest."""
    async with api.get("/v1/check", params={"url": f"{origin}/gallery/1.png", "purpose": "train-ai"}) as response:
        assert response.status == 200
        return (await response.json())["decision"]["train-ai"]["state"]


async def test_a_rotation_recovers_from_a_thiefs_huge_sequence(api, site):
    old, new = make_key("publisher old"), make_key("publisher new")
    site.serve(KEYS, dumps(make_keyset(site.origin, [old.public]).to_json()))
    status, first = await submit(api, signed(site.origin, 1, [old]))
    assert status == 202, first

    # The old key is stolen: the thief's manifest verifies and poisons the old key's floor.
    status, body = await submit(api, signed(site.origin, THIEF_SEQUENCE, [old], default={"train-ai": "y"}))
    assert status == 202, body
    status, body = await submit(api, signed(site.origin, 2, [old]))
    assert status == 409 and body["error"]["code"] == "E_ROLLBACK"  # locked out while the old key signs
    assert await train_ai(api, site.origin) == "allowed"  # the thief speaks for the publisher

    # The publisher rotates to a new key (signed by the old one) and drops the old key from its set.
    rotation = make_rotation(site.origin, old, new.public, datetime(2026, 11, 2, tzinfo=UTC))
    site.serve(KEYS, dumps(make_keyset(site.origin, [new.public], (rotation,)).to_json()))
    recovered = signed(site.origin, 1, [new], default={"train-ai": "n", "search": "y"})
    status, body = await submit(api, recovered)
    assert status == 202, body
    assert not body["equivocation"]
    await integrated(api, body["entry"])
    assert (await latest(api, site.origin))["sequence"] == 1  # the newest accepted counts, not the highest
    assert await train_ai(api, site.origin) == "disallowed"

    # The new floor binds the new key, and the thief's key is no longer trusted at all.
    status, body = await submit(api, signed(site.origin, 1, [new], default={"train-ai": "y"}))
    assert status == 202 and body["equivocation"]  # same sequence, other bytes: logged and flagged
    status, body = await submit(api, signed(site.origin, THIEF_SEQUENCE, [old], default={"train-ai": "y", "search": "y"}))
    assert status == 422 and body["error"]["code"] == "E_UNKNOWN_KEY"
    status, body = await submit(api, signed(site.origin, 3, [new]))
    assert status == 202
    status, body = await submit(api, signed(site.origin, 2, [new]))
    assert status == 409 and body["error"]["code"] == "E_ROLLBACK"
    assert (await latest(api, site.origin))["sequence"] == 3


async def test_after_a_restart_the_recovered_manifest_still_counts(tmp_path, site):
    old, new = make_key("restart old"), make_key("restart new")
    site.serve(KEYS, dumps(make_keyset(site.origin, [old.public]).to_json()))
    config = aggregator_config(tmp_path)
    async with running(config) as api:
        assert (await submit(api, signed(site.origin, THIEF_SEQUENCE, [old], default={"train-ai": "y"})))[0] == 202
        rotation = make_rotation(site.origin, old, new.public, datetime(2026, 11, 2, tzinfo=UTC))
        site.serve(KEYS, dumps(make_keyset(site.origin, [new.public], (rotation,)).to_json()))
        assert (await submit(api, signed(site.origin, 1, [new])))[0] == 202
    async with running(config) as api:  # the query index is rebuilt from storage's latest manifests
        assert (await latest(api, site.origin))["sequence"] == 1
        assert await train_ai(api, site.origin) == "disallowed"
        status, body = await submit(api, signed(site.origin, THIEF_SEQUENCE, [old]))
        assert status == 422 and body["error"]["code"] == "E_UNKNOWN_KEY"  # the pins outlived the restart


async def test_during_the_overlap_a_manifest_signed_by_both_keys_is_bound_by_the_old_floor(api, site):
    old, new = make_key("overlap old"), make_key("overlap new")
    site.serve(KEYS, dumps(make_keyset(site.origin, [old.public]).to_json()))
    assert (await submit(api, signed(site.origin, THIEF_SEQUENCE, [old])))[0] == 202
    rotation = make_rotation(site.origin, old, new.public, datetime(2026, 11, 2, tzinfo=UTC))
    site.serve(KEYS, dumps(make_keyset(site.origin, [old.public, new.public], (rotation,)).to_json()))
    status, body = await submit(api, signed(site.origin, 1, [old, new]))
    assert status == 409 and body["error"]["code"] == "E_ROLLBACK"  # the old key signed it too
    status, body = await submit(api, signed(site.origin, 1, [new]))
    assert status == 202, body  # the new key alone was not trusted when the floor was set
