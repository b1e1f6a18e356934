"""Snapshot clients (issue 9 §3): ``notrain snapshot pull`` / ``verify`` and :class:`SnapshotSource`.

The aggregator's side is stood in for by :class:`SnapshotLog`: a real log made with core.tiles (manifest
entries, then the snapshot descriptor's entry), its checkpoint signed with a real Ed25519 key and
cosigned by real witnesses, and the snapshot built by core, all served by a loopback :class:`Site` at
the aggregator's routes.  Each refusal is provoked by changing what that server says.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tracemalloc
from datetime import UTC, datetime, timedelta

import pytest
from aggregator_helpers import aggregator_config, integrated, submit
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from conftest import make_key
from sites import Site

from notrain.aggregator.app import create_app
from notrain.aggregator.state import SERVICE
from notrain.core import dsse, parse_payload
from notrain.core.catalog import ContentHash
from notrain.core.checkpoint import Checkpoint, cosign, sign_checkpoint
from notrain.core.errors import NotrainError
from notrain.core.logentry import Source, encode_entry
from notrain.core.manifest import MANIFEST_TYPE
from notrain.core.merkle import consistency_proof, inclusion_proof
from notrain.core.note import COSIGNATURE_V1, NoteSigner
from notrain.core.snapshot import Logged, build
from notrain.core.snapshotdelta import make as make_delta
from notrain.core.tiles import TreeReader, integrate
from notrain.fetch.snapshot_source import SnapshotSource, parse_source
from notrain.fetch.snapshots import Trust, pull, verify
from notrain.imaging import HASHER
from notrain.scrapy.options import SettingsError
from notrain.scrapy.sources import _source, load_sources

LOG = "log.test/snapshots"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def artist_envelope(name: str, **members) -> bytes:
    key = make_key(name)
    doc = {"notrain": 1, "publisher": key.public.did_key, "sequence": members.pop("sequence", 1), "issued": "2026-11-01T00:00:00Z",
           "expires": "2027-11-01T00:00:00Z", "default": {"train-ai": "n"}, **members}
    return dsse.sign(json.dumps(doc).encode(), MANIFEST_TYPE, [key]).to_bytes()


def logged(index: int, envelope: bytes) -> Logged:
    """A did:key manifest logged at ``index``, signed by and verified with its DID's key."""
    doc = json.loads(envelope)
    manifest, keys = parse_payload(base64.b64decode(doc["payload"])), frozenset(s["keyid"] for s in doc["signatures"])
    return Logged(index, manifest, keys, keys)


class SnapshotLog:
    """A log and its latest snapshot, served at the aggregator's routes by a loopback Site."""

    def __init__(self, site: Site, *, witnesses: int = 0) -> None:
        self.site, self.signer = site, NoteSigner(LOG, make_key("snapshot log"))
        self.witnesses = [NoteSigner(f"witness{n}.test", make_key(f"witness {n}"), kind=COSIGNATURE_V1) for n in range(witnesses)]
        self.size, self.tiles, self.manifests, self.built = 0, {}, [], []

    @property
    def vkey(self) -> str:
        return self.signer.verifier.to_vkey()

    def trust(self, **kw) -> Trust:
        return Trust(self.vkey, tuple(w.verifier.to_vkey() for w in self.witnesses), **kw)

    def _append(self, entry: bytes) -> int:
        done = integrate(self.size, [entry], self.tiles.__getitem__)
        self.tiles.update(done.tiles)
        self.size, self.root = done.size, done.root
        return self.size - 1

    def publish(self, *envelopes: bytes, observed: datetime = NOW) -> str:
        """Log the manifests, build the snapshot of the log so far, log its descriptor, serve it all."""
        for envelope in envelopes:
            index = self._append(encode_entry("manifest", Source("submission"), observed, envelope))
            self.manifests = [m for m in self.manifests if m.manifest.publisher != logged(0, envelope).manifest.publisher]
            self.manifests.append(logged(index, envelope))
        built = build(self.manifests, log=LOG, size=self.size, root=self.root)
        snapshot_id = hashlib.sha256(built.descriptor).hexdigest()
        index = self._append(encode_entry("snapshot", Source("url", url=f"https://agg.test/snapshot/{snapshot_id}/descriptor"), observed, built.descriptor))
        self.built.append((snapshot_id, built, index))
        self.serve()
        return snapshot_id

    def serve(self, *, checkpoint: bytes | None = None) -> None:
        snapshot_id, built, index = self.built[-1]
        note = sign_checkpoint(Checkpoint(LOG, self.size, self.root), self.signer)
        for witness in self.witnesses:
            note = cosign(note, witness, int(NOW.timestamp()))
        node = TreeReader(self.size, self.tiles.__getitem__).node
        site = self.site
        site.serve("/log/checkpoint", checkpoint or note)
        for tile, data in self.tiles.items():
            site.serve("/log/" + tile.path, data)
        site.serve("/v1/snapshot", json.dumps({"id": snapshot_id, "size": self.size - 1, "log_index": index}))
        site.serve("/v1/proof/inclusion", proof_json(inclusion_proof(index, self.size, node)))
        site.serve("/v1/proof/consistency", proof_json(consistency_proof(self.size - 1, self.size, node)))
        site.serve(f"/snapshot/{snapshot_id}/descriptor", built.descriptor)
        for name, data in built.parts.items():
            site.serve(f"/snapshot/{snapshot_id}/{name}", data)


def proof_json(hashes: list[bytes]) -> str:
    return json.dumps({"proof": [base64.b64encode(h).decode() for h in hashes]})


@pytest.fixture
async def log():
    site = await Site().start()
    yield SnapshotLog(site, witnesses=2)
    await site.stop()


PDQ = hashlib.sha256(b"a perceptual hash").hexdigest()
ARTIST = artist_envelope("artist", names=[{"name": "Mira Okonkwo"}], pdq={"hasher": HASHER},
                         works=[{"sha256": hashlib.sha256(b"sunset").hexdigest(), "pdq": PDQ}])
OTHER = artist_envelope("other", names=[{"name": "Tobias Reinholt"}])


async def test_a_pulled_snapshot_is_written_whole_and_verifies_again_offline(log, tmp_path):
    snapshot_id = log.publish(ARTIST, OTHER)
    pulled = await pull(log.site.origin, tmp_path / "snap", log.trust(min_witnesses=2), now=NOW)
    assert pulled.evidenced.id == snapshot_id and not pulled.delta
    assert sorted(p.name for p in (tmp_path / "snap").iterdir()) == ["checkpoint", "descriptor", "log.vkey", "origins", "pdq", "proof.json", "statements", "works"]
    assert [p.name for p in tmp_path.iterdir()] == ["snap"]  # no staging directory left behind
    again = verify(tmp_path / "snap", log.trust(min_witnesses=2), now=NOW)
    described = again.describe()
    assert described["id"] == snapshot_id and described["inclusion"]["index"] == 2 and described["witnesses"] == ["witness0.test", "witness1.test"]
    assert described["checkpoint"].startswith(f"{LOG}\n3\n")


async def refused(coroutine) -> str:
    with pytest.raises(NotrainError) as caught:
        await coroutine
    return caught.value.code


async def test_a_part_that_is_not_the_descriptors_is_refused_and_nothing_is_written(log, tmp_path):
    snapshot_id = log.publish(ARTIST)
    statements = log.built[-1][1].parts["statements"]
    log.site.serve(f"/snapshot/{snapshot_id}/statements", statements.replace(b'"n"', b'"y"'))
    assert await refused(pull(log.site.origin, tmp_path / "snap", log.trust(), now=NOW)) == "E_SNAPSHOT_DIGEST"
    log.site.serve(f"/snapshot/{snapshot_id}/statements", statements + b"x" * 10_000_000)  # streamed: stops past its size
    assert await refused(pull(log.site.origin, tmp_path / "snap", log.trust(), now=NOW)) == "E_SNAPSHOT_DIGEST"
    assert list(tmp_path.iterdir()) == []


async def test_the_checkpoint_must_be_the_logs_and_cosigned_by_enough_witnesses(log, tmp_path):
    log.publish(ARTIST)
    other_log = Trust(NoteSigner(LOG, make_key("another log")).verifier.to_vkey())
    assert await refused(pull(log.site.origin, tmp_path / "a", other_log, now=NOW)) == "E_NOTE_UNKNOWN_KEY"
    stranger = NoteSigner("witness9.test", make_key("witness 9"), kind=COSIGNATURE_V1).verifier.to_vkey()
    three = Trust(log.vkey, (*log.trust().witnesses, stranger), min_witnesses=3)
    assert await refused(pull(log.site.origin, tmp_path / "b", three, now=NOW)) == "E_NOTE_UNKNOWN_KEY"
    assert (await pull(log.site.origin, tmp_path / "c", Trust(log.vkey, three.witnesses, min_witnesses=2), now=NOW)).evidenced


async def test_the_descriptor_must_be_the_logged_entry_and_proven_in_the_checkpoint(log, tmp_path):
    snapshot_id = log.publish(ARTIST, OTHER)
    log.site.serve("/v1/snapshot", json.dumps({"id": snapshot_id, "log_index": 1}))  # a manifest entry, not the snapshot
    assert await refused(pull(log.site.origin, tmp_path / "snap", log.trust(), now=NOW)) == "E_LOG_ENTRY"
    log.serve()
    log.site.serve("/v1/proof/inclusion", proof_json([hashlib.sha256(b"x").digest()] * 2))
    assert await refused(pull(log.site.origin, tmp_path / "snap", log.trust(), now=NOW)) == "E_PROOF"
    log.serve()
    log.site.serve("/v1/proof/consistency", proof_json([]))
    assert await refused(pull(log.site.origin, tmp_path / "snap", log.trust(), now=NOW)) == "E_PROOF"


async def test_a_snapshot_logged_longer_ago_than_the_maximum_age_is_refused(log, tmp_path):
    log.publish(ARTIST, observed=NOW - timedelta(days=8))
    week = log.trust(max_age=timedelta(days=7))
    assert await refused(pull(log.site.origin, tmp_path / "snap", week, now=NOW)) == "E_EXPIRED"
    await pull(log.site.origin, tmp_path / "snap", log.trust(max_age=timedelta(days=9)), now=NOW)
    with pytest.raises(NotrainError) as caught:
        verify(tmp_path / "snap", week, now=NOW)
    assert caught.value.code == "E_EXPIRED"


async def test_offline_verify_catches_any_file_changed_on_disk(log, tmp_path):
    log.publish(ARTIST, OTHER)
    await pull(log.site.origin, tmp_path / "good", log.trust(), now=NOW)
    changes = {"works": (lambda b: b[:-1] + bytes([b[-1] ^ 1]), "E_SNAPSHOT_DIGEST"),
               "statements": (lambda b: b"", "E_SNAPSHOT_DIGEST"),
               "descriptor": (lambda b: b.replace(b"size 2", b"size 1"), "E_LOG_ENTRY"),
               "proof.json": (lambda b: b.replace(b'"index":2', b'"index":1'), "E_PROOF"),
               "checkpoint": (lambda b: b.replace(b"\n3\n", b"\n4\n", 1), "E_NOTE_SIGNATURE")}
    for name, (change, code) in changes.items():
        copy = tmp_path / name
        shutil.copytree(tmp_path / "good", copy)
        (copy / name).write_bytes(change((copy / name).read_bytes()))
        with pytest.raises(NotrainError) as caught:
            verify(copy, log.trust(), now=NOW)
        assert caught.value.code == code, name
    shutil.copytree(tmp_path / "good", tmp_path / "shape")
    (tmp_path / "shape" / "proof.json").write_text('{"index":"2"}')
    with pytest.raises(NotrainError, match="proof.json holds") as caught:
        verify(tmp_path / "shape", log.trust(), now=NOW)
    assert caught.value.code == "E_PROOF"
    os.truncate(tmp_path / "good" / "works", 64 * 1024 * 1024)  # a part far over its size is read no further than that size
    tracemalloc.start()
    with pytest.raises(NotrainError) as caught:
        verify(tmp_path / "good", log.trust(), now=NOW)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert caught.value.code == "E_SNAPSHOT_DIGEST" and peak < 4 * 1024 * 1024
    shutil.copy(tmp_path / "statements" / "works", tmp_path / "good" / "works")
    (tmp_path / "good" / "pdq").unlink()
    with pytest.raises(NotrainError, match="pdq is missing"):
        verify(tmp_path / "good", log.trust(), now=NOW)


async def test_a_newer_snapshot_comes_by_delta_when_offered_and_replaces_the_old_one(log, tmp_path):
    first = log.publish(ARTIST)
    await pull(log.site.origin, tmp_path / "snap", log.trust(), now=NOW)
    second = log.publish(OTHER)
    old, new = log.built[0][1], log.built[1][1]
    log.site.serve(f"/snapshot/{second}/delta/{first}", make_delta(old.descriptor, old.parts["statements"], new.descriptor, new.parts["statements"]))
    pulled = await pull(log.site.origin, tmp_path / "snap", log.trust(), now=NOW)
    assert pulled.delta and pulled.evidenced.id == second and log.site.hits[f"/snapshot/{second}/statements"] == 0
    assert verify(tmp_path / "snap", log.trust(), now=NOW).id == second
    # A wrong delta is refused quietly: every part is fetched whole instead.
    third = log.publish(artist_envelope("third", names=[{"name": "Third Artist"}]))
    log.site.serve(f"/snapshot/{third}/delta/{second}", f"notrain-snapshot-delta/v1\nfrom {second}\nto {third}\n")
    pulled = await pull(log.site.origin, tmp_path / "snap", log.trust(), now=NOW)
    assert not pulled.delta and pulled.evidenced.id == third and log.site.hits[f"/snapshot/{third}/statements"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snap"]


async def test_a_snapshot_source_matches_works_and_names_and_cites_the_snapshot(log, tmp_path):
    expired = artist_envelope("expired", names=[{"name": "Long Gone"}], issued="2025-01-01T00:00:00Z", expires="2025-06-01T00:00:00Z")
    snapshot_id = log.publish(ARTIST, expired)
    await pull(log.site.origin, tmp_path / "snap", log.trust(), now=NOW)
    source = parse_source(f"snapshot:{tmp_path / 'snap'}")  # the key the pull saved
    source.now = NOW
    catalog = source.catalog()
    (by_work,) = catalog.content_statements(ContentHash(sha256=hashlib.sha256(b"sunset").digest()))
    (by_name,) = catalog.text_statements("a study after Mira Okonkwo, oil")
    assert by_work.evidence.publisher == by_name.evidence.publisher == make_key("artist").public.did_key
    assert by_name.evidence.source == f"snapshot {snapshot_id}" and by_name.prefs["train-ai"].value == "disallowed"
    assert catalog.content_statements(ContentHash(sha256=hashlib.sha256(b"other").digest())) == []
    assert catalog.text_statements("Long Gone") == []  # its manifest expired: left out
    pdq = bytes.fromhex(PDQ)
    (both,) = catalog.content_statements(ContentHash(sha256=hashlib.sha256(b"sunset").digest(), pdq=pdq))  # one work, one statement
    (near,) = catalog.content_statements(ContentHash(pdq=bytes([pdq[0] ^ 0b111]) + pdq[1:]))
    assert both.evidence.detail == "sha256 match" and near.evidence.detail == "pdq distance 3 <= 31"
    assert catalog.content_statements(ContentHash(pdq=bytes(32))) == []
    described = source.describe()
    assert described["kind"] == "snapshot" and described["id"] == snapshot_id and described["publishers"] == 1
    wrong = SnapshotSource(tmp_path / "snap", log_key=NoteSigner(LOG, make_key("x")).verifier.to_vkey())
    with pytest.raises(NotrainError):
        wrong.catalog()


async def test_notrain_sources_spells_a_snapshot_as_a_string_or_a_dict(log, tmp_path):
    log.publish(ARTIST, observed=datetime.now(UTC) - timedelta(hours=2))
    await pull(log.site.origin, tmp_path / "snap", log.trust())
    keyed = _source(f"snapshot:{tmp_path / 'snap'}#{log.vkey}", None)
    assert isinstance(keyed, SnapshotSource) and keyed.log_key == log.vkey and keyed.catalog()
    assert load_sources([{"snapshot": str(tmp_path / "snap"), "max_age": 3 * 3600}], None).snapshots()[0]["inclusion"]["index"] == 1
    with pytest.raises(SettingsError, match="E_EXPIRED"):  # an older snapshot stops the crawl before it starts
        load_sources([{"snapshot": str(tmp_path / "snap"), "log_key": log.vkey, "max_age": 3600}], None)
    for wrong in ({"snapshot": "x", "max_age": "7d"}, {"snapshot": "x", "key": log.vkey}, "snapshot:"):
        with pytest.raises(SettingsError, match="NOTRAIN_SOURCES"):
            _source(wrong, None)


async def test_the_cli_pulls_and_verifies_with_typed_errors(log, tmp_path):
    snapshot_id = log.publish(ARTIST)
    witnesses = [arg for w in log.trust().witnesses for arg in ("--witness", w)]

    def notrain(*args):
        return subprocess.run([sys.executable, "-m", "notrain.cli", "snapshot", *args], check=False, capture_output=True, text=True, timeout=60)

    pulled = await asyncio.to_thread(notrain, "pull", log.site.origin, "--log-key", log.vkey, "--out", str(tmp_path / "snap"),
                                     "--max-age", "3650d", *witnesses, "--min-witnesses", "2", "--json")
    assert pulled.returncode == 0, pulled.stderr
    assert json.loads(pulled.stdout)["id"] == snapshot_id
    checked = await asyncio.to_thread(notrain, "verify", str(tmp_path / "snap"), "--log-key", log.vkey)
    assert checked.returncode == 0 and f"snapshot {snapshot_id}" in checked.stdout
    (tmp_path / "snap" / "works").write_bytes(b"")
    broken = await asyncio.to_thread(notrain, "verify", str(tmp_path / "snap"), "--log-key", log.vkey, "--json")
    assert broken.returncode == 1 and json.loads(broken.stdout)["error"]["code"] == "E_SNAPSHOT_DIGEST"
    assert broken.stderr.startswith("error: E_SNAPSHOT_DIGEST: ") and len(broken.stderr.splitlines()) == 1
    stale = await asyncio.to_thread(notrain, "pull", log.site.origin, "--log-key", log.vkey, "--out", str(tmp_path / "s2"), "--max-age", "1s")
    assert stale.returncode == 1 and stale.stderr.startswith("error: E_EXPIRED")


async def test_pulling_from_a_real_aggregator_and_then_by_delta(tmp_path):
    """The aggregator builds, logs and serves its snapshots; the client checks them as it would any."""
    config = aggregator_config(tmp_path / "aggregator", snapshots={"interval": 3600, "public_url": "http://snapshots.test"})
    app = create_app(config)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with ClientSession(base_url=str(server.make_url(""))) as session:
            url, builder = str(server.make_url("")), app[SERVICE].snapshots

            async def publish(envelope: bytes) -> str:
                status, body = await submit(session, envelope)
                assert status == 202, body
                await integrated(session, body["entry"])
                stored = await builder.build_once()
                await integrated(session, stored.entry_id)  # the descriptor's entry, in a signed checkpoint
                return stored.id

            first = await publish(ARTIST)
            async with session.get("/v1/log") as response:
                trust = Trust((await response.json())["vkey"], max_age=timedelta(days=1))
            pulled = await pull(url, tmp_path / "snap", trust)
            assert pulled.evidenced.id == first and not pulled.delta
            second = await publish(OTHER)
            pulled = await pull(url, tmp_path / "snap", trust)
            assert pulled.evidenced.id == second and pulled.delta
            catalog = SnapshotSource(tmp_path / "snap").catalog()
            assert [s.evidence.publisher for s in catalog.text_statements("Tobias Reinholt sketch")] == [make_key("other").public.did_key]
    finally:
        await server.close()
