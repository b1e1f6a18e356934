"""The transparency-log core: properties of proofs and tiles, a real log rebuilt from
its tiles alone, and the bounds on work for the worst inputs the limits admit."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notrain.core import PrivateKey, merkle
from notrain.core.checkpoint import Checkpoint, cosign, open_checkpoint, sign_checkpoint
from notrain.core.logentry import Source, encode_entry, parse_entry
from notrain.core.logerrors import LogError, NoteError, ProofError, TileError
from notrain.core.merkle import consistency_proof, inclusion_proof, leaf_hash, verify_consistency, verify_inclusion
from notrain.core.note import COSIGNATURE_V1, MAX_NOTE_BYTES, NoteSigner, NoteVerifier, open_note, sign_note
from notrain.core.receipt import make_receipt, open_receipt
from notrain.core.tiles import (
    ENTRIES,
    MAX_BUNDLE_BYTES,
    TileId,
    TreeReader,
    decode_bundle,
    encode_bundle,
    integrate,
    parse_tile_path,
    tiles_for,
    verify_tiles,
)

ORIGIN = "log.test.example/main"
T0 = datetime(2026, 12, 1, tzinfo=UTC)


def build(batches: list[int], seed: int = 0) -> tuple[dict[TileId, bytes], list[bytes], list[tuple[int, bytes]]]:
    """A log grown batch by batch through integrate(); returns tiles, entries and (size, root) after each batch."""
    rng, tiles, entries, heads = random.Random(seed), {}, [], []
    for count in batches:
        batch = [rng.randbytes(rng.randrange(0, 64)) for _ in range(count)]
        result = integrate(len(entries), batch, tiles.__getitem__)
        for tile, data in result.tiles.items():
            if tile.width == 256 and tile in tiles:
                assert tiles[tile] == data  # a full tile never changes
        tiles.update(result.tiles)
        entries += batch
        heads.append((result.size, result.root))
    return tiles, entries, heads


def flip(data: bytes, bit: int) -> bytes:
    bit %= len(data) * 8
    return data[: bit // 8] + bytes([data[bit // 8] ^ (1 << bit % 8)]) + data[bit // 8 + 1 :]


batches = st.lists(st.sampled_from([1, 2, 7, 200, 255, 256, 257, 600]), min_size=1, max_size=6)


@settings(max_examples=60, deadline=None)
@given(batches, st.data())
def test_every_generated_proof_verifies_and_every_tampered_one_fails(sizes, data):
    tiles, entries, heads = build(sizes, seed=len(sizes))
    size, root = heads[-1]
    assert root == merkle.root([leaf_hash(e) for e in entries])
    reader = TreeReader(size, tiles.__getitem__)
    index = data.draw(st.integers(0, size - 1))
    proof = inclusion_proof(index, size, reader.node)
    verify_inclusion(index, size, leaf_hash(entries[index]), proof, root)
    if proof:
        at, bit = data.draw(st.integers(0, len(proof) - 1)), data.draw(st.integers(0, 255))
        with pytest.raises(ProofError):
            verify_inclusion(index, size, leaf_hash(entries[index]), proof[:at] + [flip(proof[at], bit)] + proof[at + 1 :], root)
        with pytest.raises(ProofError):
            verify_inclusion(index, size, leaf_hash(entries[index]), proof[:-1], root)
    with pytest.raises(ProofError):
        verify_inclusion(index, size, leaf_hash(entries[index] + b"x"), proof, root)
    old_size, old_root = heads[data.draw(st.integers(0, len(heads) - 1))]
    proof = consistency_proof(old_size, size, reader.node)
    verify_consistency(old_size, size, old_root, root, proof)
    if proof:
        at, bit = data.draw(st.integers(0, len(proof) - 1)), data.draw(st.integers(0, 255))
        with pytest.raises(ProofError):
            verify_consistency(old_size, size, old_root, root, proof[:at] + [flip(proof[at], bit)] + proof[at + 1 :])
    with pytest.raises(ProofError):
        verify_consistency(old_size, size, flip(old_root, 3), root, proof)


@given(st.integers(-1, 63), st.integers(0, 10**12), st.integers(1, 256))
def test_tile_paths_round_trip(level, index, width):
    tile = TileId(level, index, width)
    assert parse_tile_path(tile.path) == tile


@given(st.lists(st.binary(max_size=300), min_size=1, max_size=256))
def test_bundles_round_trip(entries):
    data = encode_bundle(entries)
    assert decode_bundle(data, len(entries)) == entries
    with pytest.raises(TileError):
        decode_bundle(data + b"\x00", len(entries))


def test_integrate_writes_exactly_the_new_tiles():
    tiles, _, heads = build([300, 1, 255, 70000 - 556])
    assert heads[-1][0] == 70000
    assert set(tiles) == set(tiles_for(70000)) | set(tiles_for(300)) | set(tiles_for(301)) | set(tiles_for(556))
    assert [t.path for t in tiles_for(70000, since=69999)] == ["tile/0/273.p/112", "tile/entries/273.p/112"]


def test_a_log_of_1500_signed_entries_is_rebuilt_from_its_tiles_alone(tmp_path: Path):
    """Grow a log in batches with real signed checkpoints, serve it as files, then check
    it from the files alone: every entry, every tile, every checkpoint consistent."""
    log = NoteSigner(ORIGIN, PrivateKey.generate())
    rng = random.Random(7)
    tiles: dict[TileId, bytes] = {}
    observed, checkpoints, size = [], [], 0
    while size < 1500:
        batch = []
        for _ in range(rng.choice([1, 9, 64, 256, 300])):
            body = rng.randbytes(rng.choice([10, 500, 70000]))
            via = rng.choice([Source("submission"), Source("url", url=f"https://site{size}.example/.well-known/notrain.json"),
                              Source("peer", origin="peer.example/log", index=size)])
            batch.append(encode_entry(rng.choice(["manifest", "keyset", "account-proof"]), via, T0 + timedelta(seconds=size), body))
        result = integrate(size, batch, tiles.__getitem__)
        tiles.update(result.tiles)
        size = result.size
        observed += batch
        checkpoints.append(sign_checkpoint(Checkpoint(ORIGIN, size, result.root), log))
    for tile, data in tiles.items():
        (tmp_path / tile.path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / tile.path).write_bytes(data)
    (tmp_path / "checkpoint").write_bytes(checkpoints[-1])

    reads: list[str] = []

    def read(tile: TileId) -> bytes:
        reads.append(tile.path)
        return (tmp_path / tile.path).read_bytes()

    latest = open_checkpoint((tmp_path / "checkpoint").read_bytes(), ORIGIN, log.verifier).checkpoint
    rebuilt: list[bytes] = []
    verify_tiles(latest.size, latest.root, read, lambda index, entry: rebuilt.append(entry))
    assert rebuilt == observed and latest.size == len(observed) >= 1500
    assert sorted(reads) == sorted(t.path for t in tiles_for(latest.size))  # each tile read once
    assert any(parse_entry(e).body is None for e in rebuilt) and all(parse_entry(e).kind for e in rebuilt)

    reader = TreeReader(latest.size, read)
    for data in checkpoints[:-1]:
        old = open_checkpoint(data, ORIGIN, log.verifier).checkpoint
        verify_consistency(old.size, latest.size, old.root, latest.root, consistency_proof(old.size, latest.size, reader.node))
    for index in rng.sample(range(latest.size), 50):
        verify_inclusion(index, latest.size, leaf_hash(observed[index]), inclusion_proof(index, latest.size, reader.node), latest.root)

    bundle = tmp_path / TileId(ENTRIES, 3).path
    bundle.write_bytes(flip(bundle.read_bytes(), 8 * 40))
    with pytest.raises(TileError):
        verify_tiles(latest.size, latest.root, read)


def test_a_tampered_upper_tile_is_caught():
    tiles, _, heads = build([256 * 256 + 3])
    size, root = heads[-1]
    verify_tiles(size, root, tiles.__getitem__)
    tiles[TileId(1, 0)] = flip(tiles[TileId(1, 0)], 1000)
    with pytest.raises(TileError) as caught:
        verify_tiles(size, root, tiles.__getitem__)
    assert caught.value.where == "tile/1/000"


# -- bounds on work -----------------------------------------------------------------------------


@pytest.fixture
def hash_count(monkeypatch):
    calls = []
    real = merkle.node_hash

    def counting(left, right):
        calls.append(1)
        return real(left, right)

    monkeypatch.setattr(merkle, "node_hash", counting)
    return calls


def test_over_long_proofs_are_refused_before_any_hashing(hash_count):
    junk = [bytes(32)] * 65  # one more than the longest proof (consistency from 3 to 2^63 - 1)
    for check in (
        lambda: verify_inclusion(2**62, 2**63 - 1, bytes(32), junk, bytes(32)),
        lambda: verify_consistency(3, 2**63 - 1, bytes(32), bytes(32), junk),
        lambda: verify_inclusion(0, 8, bytes(32), [bytes(32)] * 4, bytes(32)),  # wrong length for the sizes
        lambda: verify_consistency(3, 8, bytes(32), bytes(32), [bytes(32)] * 40),
    ):
        with pytest.raises(ProofError):
            check()
    assert hash_count == []


def test_the_largest_trees_need_at_most_63_hashes(hash_count):
    size = 2**63 - 1
    for index in (0, 2**62, size - 1, 12345678901234):
        proof_length = sum(merkle._inclusion_shape(index, size))
        assert proof_length <= 63
        with pytest.raises(ProofError):  # right length, wrong hashes: hashed, then refused
            verify_inclusion(index, size, bytes(32), [bytes(32)] * proof_length, bytes(32))
    assert 0 < len(hash_count) <= 4 * 63


def test_proofs_from_tiles_read_few_tiles():
    tiles, _, heads = build([256 * 256 + 1000])
    size, _ = heads[-1]
    reads = []
    reader = TreeReader(size, lambda t: reads.append(t) or tiles[t])
    inclusion_proof(12345, size, reader.node)
    consistency_proof(777, size, reader.node)
    assert len(set(reads)) == len(reads) <= 8  # each tile once; a handful per level


def test_note_limits():
    signer = NoteSigner(ORIGIN, PrivateKey.generate())
    others = [NoteSigner(f"witness{i}.example", PrivateKey.generate()) for i in range(31)]
    note = sign_note("hello\n", [*others, signer])  # 32 signatures: accepted
    assert [v.name for v in open_note(note, [signer.verifier]).verified] == [ORIGIN]
    too_many = note + f"\u2014 extra.example {'A' * 92}\n".encode()
    with pytest.raises(NoteError) as caught:
        open_note(too_many, [signer.verifier])
    assert caught.value.code == "E_NOTE"
    text = "x" * (MAX_NOTE_BYTES // 2 - 1) + "\n"
    big = sign_note(text, [signer])
    assert open_note(big, [signer.verifier]).text == text
    with pytest.raises(NoteError):
        open_note(b"y" * (MAX_NOTE_BYTES - len(big) + 1) + big, [signer.verifier])


def test_entries_are_inline_up_to_the_bundle_limit_then_detached():
    def entry(n):
        return encode_entry("manifest", Source("submission"), T0, b"a" * n)

    header = len(entry(10000)) - 10000  # for any five-digit size
    assert len(entry(65535 - header)) == 65535 and parse_entry(entry(65535 - header)).body is not None
    assert parse_entry(entry(65536 - header)).body is None  # one more byte and the body is detached
    detached = parse_entry(entry(70000))
    assert detached.check_body(b"a" * 70000) == b"a" * 70000
    with pytest.raises(LogError):
        detached.check_body(b"b" * 70000)
    with pytest.raises(LogError):
        parse_entry(entry(100) + b"x" * 65536)


def test_receipts_and_cosignatures_round_trip():
    log = NoteSigner(ORIGIN, PrivateKey.generate())
    witness = NoteSigner("witness.example/w", PrivateKey.generate(), COSIGNATURE_V1)
    entry = encode_entry("manifest", Source("submission"), T0, b"{}")
    receipt = open_receipt(make_receipt(log, entry, T0, T0 + timedelta(seconds=5)), ORIGIN, log.verifier)
    receipt.check_entry(entry)
    assert receipt.integrate_by - receipt.time == timedelta(seconds=5)
    checkpoint = sign_checkpoint(Checkpoint(ORIGIN, 1, leaf_hash(entry)), log)
    cosigned = cosign(checkpoint, witness, 1764547200)
    assert [c.timestamp for c in open_checkpoint(cosigned, ORIGIN, log.verifier, [witness.verifier]).cosignatures] == [1764547200]
    with pytest.raises(NoteError):
        cosign(cosigned, witness, 1764547201)
    impostor = NoteSigner(ORIGIN, PrivateKey.generate())  # the log's name, another key
    with pytest.raises(NoteError) as caught:  # cosigned, but not by the log: refused
        open_checkpoint(cosign(sign_checkpoint(Checkpoint(ORIGIN, 1, bytes(32)), impostor), witness, 1),
                        ORIGIN, log.verifier, [witness.verifier])
    assert caught.value.code == "E_NOTE_UNKNOWN_KEY"




def test_input_size_limits_are_checked_first():
    with pytest.raises(TileError):  # a 16 MiB bundle of width 256 would need entries over 65,535 bytes
        decode_bundle(b"\xff" * (MAX_BUNDLE_BYTES + 1), 256)
    assert len(decode_bundle(b"".join(b"\xff\xff" + b"e" * 65535 for _ in range(256)), 256)) == 256  # the largest bundle
    with pytest.raises(TileError):
        parse_tile_path("tile/0/" + "x123/" * 25 + "456")
    with pytest.raises(NoteError):
        NoteVerifier.from_vkey("a" * 300 + "+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k")
    with pytest.raises(LogError):
        parse_entry(b"notrain-log-entry/v1\nkind manifest\n" + b"x" * 5000 + b"\n\nbody")  # no blank line within 4,096
