"""Snapshots (spec/snapshot.md): the conformance vectors, deterministic builds, filter correctness
and false-positive rate, refusals of malformed input, and the loader's memory bound."""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from conftest import make_key

from notrain.core import Catalog, ContentHash, NotrainError, dsse, ijson, parse_payload
from notrain.core.keyset import make_keyset
from notrain.core.logentry import Source, encode_entry
from notrain.core.manifest import MANIFEST_TYPE
from notrain.core.snapshotlog import build_from_log, current_from_log
from notrain.core.tiles import ENTRIES, integrate
from notrain.core.snapshot import Logged, build, load, parse_descriptor, parts_from_statements
from notrain.core.snapshotdelta import apply as apply_delta, make as make_delta
from notrain.core.snapshotfilter import FuseFilter, build as build_filter, origin_key, parameters, work_keys
from notrain.core.snapshoterrors import SnapshotError
from notrain.core.snapshotparts import PLAIN_WORK_LINE, WORK_LINE, records_but

VECTORS = Path(__file__).resolve().parent.parent / "spec" / "vectors"
CASES = json.loads((VECTORS / "snapshot.json").read_text(encoding="utf-8"))["vectors"]
LOG, ROOT = "log.test.example", hashlib.sha256(b"root").digest()


def case_parts(case: dict) -> dict[str, bytes]:
    return {name[:-len("_hex")]: bytes.fromhex(value) for name, value in case["parts"].items()}


def payload(publisher: str, sequence: int = 1, **members) -> bytes:
    doc = {"notrain": 1, "publisher": publisher, "sequence": sequence, "issued": "2026-11-01T00:00:00Z",
           "expires": "2027-11-01T00:00:00Z", "default": {"train-ai": "n"}, **members}
    return json.dumps(doc).encode()


def logged(index: int, manifest, keys: frozenset[str] = frozenset({"key-1"})) -> Logged:
    """A manifest logged at ``index``, signed by and verified with ``keys``."""
    return Logged(index, manifest, keys, keys)


def many_works(publishers: int, works: int) -> list[Logged]:
    entries = []
    for p in range(publishers):
        listed = [{"sha256": hashlib.sha256(f"{p}/{w}".encode()).hexdigest()} for w in range(works)]
        paths = [{"pattern": f"/p{p}/*", "prefs": {"ai-use": "n"}}] if p % 2 else []
        entries.append(logged(p, parse_payload(payload(f"https://site{p}.example", works=listed, paths=paths))))
    return entries


# -- conformance vectors ------------------------------------------------------------------------


def test_vectors_are_fresh():
    result = subprocess.run([sys.executable, str(VECTORS / "generate_snapshot.py"), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def apply_delta_case(case: dict):
    """Apply a delta vector: the new statements, then every other part rebuilt, then loaded in full."""
    old, new = case["from"], case["to"]
    statements = apply_delta(old["descriptor"].encode(), old["statements"].encode(), case["delta"].encode(), new["descriptor"].encode())
    parts = parts_from_statements(statements, size=parse_descriptor(new["descriptor"].encode()).size)
    assert parts == case_parts(new)
    return load(new["descriptor"].encode(), parts, full=True)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_vector(case):
    expect = case["expect"]
    if "delta" in case:
        if expect["valid"]:
            assert apply_delta_case(case).id == expect["id"]
        else:
            with pytest.raises(SnapshotError) as caught:
                apply_delta_case(case)
            assert caught.value.code == expect["error"]
        return
    if not expect["valid"]:
        with pytest.raises(SnapshotError) as caught:
            load(case["descriptor"].encode(), case_parts(case), full=True)
        assert caught.value.code == expect["error"]
        return
    snapshot = load(case["descriptor"].encode(), case_parts(case), full=True)
    records = list(snapshot.records())
    assert snapshot.id == expect["id"]
    assert sorted(r["publisher"] for r in records if r["kind"] == "publisher") == expect["publishers"]
    assert len(records) == expect["statements"] and len(snapshot.pdq) == expect["pdq_rows"]
    # Readers that skip lines by their first octets (canonical form) get every other record, parsed.
    statements = snapshot.parts["statements"]
    assert list(records_but(statements, PLAIN_WORK_LINE)) == [r for r in records if r["kind"] != "work" or "pdq" in r]
    assert list(records_but(statements, WORK_LINE)) == [r for r in records if r["kind"] != "work"]
    for probe in case["probes"]["works"]:
        assert bool(snapshot.works_may_match(bytes.fromhex(probe["sha256"]))[0]) is probe["maybe"]
        assert bool(snapshot.confirm_work(bytes.fromhex(probe["sha256"]))) is probe["maybe"]
    for probe in case["probes"]["origins"]:
        assert bool(snapshot.origins_may_match([probe["origin"]])[0]) is probe["maybe"]
    for current in expect.get("current", []):
        record = snapshot.rules(current["publisher"])[0]
        assert (record["index"], record["sequence"]) == (current["index"], current["sequence"])


def test_the_specs_example_descriptor_is_the_small_vectors():
    text = (VECTORS.parent / "snapshot.md").read_text(encoding="utf-8")
    example = text.split("```\nnotrain-snapshot/v1\n", 1)[1].split("```", 1)[0]
    assert "notrain-snapshot/v1\n" + example == next(c for c in CASES if c["id"] == "small")["descriptor"]


@pytest.mark.parametrize("case", [c for c in CASES if "build" in c], ids=[c["id"] for c in CASES if "build" in c])
def test_vector_bytes_are_rebuilt_from_the_logged_manifests(case):
    spec = case["build"]
    entries = [Logged(m["index"], parse_payload(m["payload"].encode()), frozenset(m["signed_by"]), frozenset(m["trusted"]))
               for m in spec["manifests"]]
    built = build(entries, log=spec["log"], size=spec["size"], root=bytes.fromhex(spec["root_hex"]))
    assert built.descriptor.decode() == case["descriptor"] and built.parts == case_parts(case)


@pytest.mark.parametrize("case", [c for c in CASES if "log" in c], ids=[c["id"] for c in CASES if "log" in c])
def test_vector_bytes_are_rebuilt_from_the_logged_entries(case):
    entries = [entry.encode() for entry in case["log"]["entries"]]
    size, root, tiles = log_of(entries)
    built = build_from_log(case["log"]["origin"], size, root, tiles.__getitem__, {}.__getitem__)
    assert built.descriptor.decode() == case["descriptor"] and built.parts == case_parts(case)


# -- determinism ----------------------------------------------------------------------------------


def test_build_is_deterministic_whatever_the_input_order():
    entries = many_works(40, 25)
    first = build(entries, log=LOG, size=100, root=ROOT)
    shuffled = entries[:]
    random.Random(7).shuffle(shuffled)
    again = build(shuffled, log=LOG, size=100, root=ROOT)
    assert again.descriptor == first.descriptor and again.parts == first.parts
    keys = np.random.default_rng(1).integers(0, 2**64, 50_000, dtype=np.uint64)
    assert build_filter(keys) == build_filter(np.random.default_rng(2).permutation(np.concatenate([keys, keys[:100]])))


def test_under_one_key_the_current_manifest_is_the_highest_sequence():
    old = logged(1, parse_payload(payload("https://a.example", 1, works=[{"sha256": "11" * 32}])))
    new = logged(5, parse_payload(payload("https://a.example", 2, works=[{"sha256": "22" * 32}])))
    snapshot_of = lambda entries: load(*astuple(build(entries, log=LOG, size=10, root=ROOT)))
    for entries in ([old, new], [new, old]):
        snapshot = snapshot_of(entries)
        assert snapshot.works_may_match(bytes.fromhex("22" * 32))[0] and not snapshot.confirm_work(bytes.fromhex("11" * 32))
    with pytest.raises(ValueError):
        build([new], log=LOG, size=5, root=ROOT)  # index 5 is not in a log of 5 entries


def test_after_a_theft_and_a_rotation_the_new_keys_manifest_is_current_whatever_its_sequence():
    stolen, new = frozenset({"old-key"}), frozenset({"new-key"})
    theft = logged(3, parse_payload(payload("https://a.example", 2**53 - 1, works=[{"sha256": "11" * 32}])), stolen)
    own = logged(7, parse_payload(payload("https://a.example", 1, works=[{"sha256": "22" * 32}])), new)
    for entries in ([theft, own], [own, theft]):  # (a replay signed by the stolen key no longer verifies: never Logged)
        snapshot = load(*astuple(build(entries, log=LOG, size=10, root=ROOT)))
        assert snapshot.confirm_work(bytes.fromhex("22" * 32)) and not snapshot.confirm_work(bytes.fromhex("11" * 32))
    # a later manifest signed by the stolen key while it is still trusted: the thief's floor binds it
    lower = Logged(9, parse_payload(payload("https://a.example", 5, works=[{"sha256": "33" * 32}])), stolen, stolen)
    snapshot = load(*astuple(build([theft, lower], log=LOG, size=10, root=ROOT)))
    assert snapshot.confirm_work(bytes.fromhex("11" * 32)) and not snapshot.confirm_work(bytes.fromhex("33" * 32))
    # an equal sequence with other bytes under the same floor (equivocation): the first stays current
    twin = logged(8, parse_payload(payload("https://a.example", 1, works=[{"sha256": "44" * 32}])), new)
    snapshot = load(*astuple(build([own, twin], log=LOG, size=10, root=ROOT)))
    assert snapshot.confirm_work(bytes.fromhex("22" * 32)) and not snapshot.confirm_work(bytes.fromhex("44" * 32))


def test_a_delta_between_random_snapshots_rebuilds_the_next():
    first, second = many_works(30, 10), many_works(30, 10)
    second[3] = logged(50, parse_payload(payload("https://site3.example", 2, works=[{"sha256": "33" * 32}])))
    del second[7]
    a, b = build(first, log=LOG, size=60, root=ROOT), build(second, log=LOG, size=60, root=ROOT)
    delta = make_delta(a.descriptor, a.parts["statements"], b.descriptor, b.parts["statements"])
    assert delta.count(b"\n") == 3 + 2 + 1  # header, site3's two records, one drop
    statements = apply_delta(a.descriptor, a.parts["statements"], delta, b.descriptor)
    assert parts_from_statements(statements, size=60) == b.parts


def test_confirmation_compares_whole_digests_not_filter_keys():
    twins = ["11" * 8 + "22" * 24, "11" * 8 + "33" * 24]  # the same filter key
    entries = [logged(0, parse_payload(payload("https://a.example", works=[{"sha256": twins[0]}]))),
               logged(1, parse_payload(payload("https://b.example", works=[{"sha256": twins[1]}])))]
    snapshot = load(*astuple(build(entries, log=LOG, size=2, root=ROOT)))
    assert [r["publisher"] for r in snapshot.confirm_work(bytes.fromhex(twins[1]))] == ["https://b.example"]
    assert snapshot.confirm_work(bytes.fromhex("11" * 8 + "44" * 24)) == []
    assert [r["kind"] for r in snapshot.rules("https://a.example")] == ["publisher"] and snapshot.rules("https://c.example") == []


def test_hostile_deltas_are_refused_with_a_code():
    a = build(many_works(3, 2), log=LOG, size=5, root=ROOT)
    b = build(many_works(4, 2), log=LOG, size=5, root=ROOT)
    delta = make_delta(a.descriptor, a.parts["statements"], b.descriptor, b.parts["statements"])
    header = b"".join(line + b"\n" for line in delta.split(b"\n")[:3])
    for body in (b"{" + b" " * 10_000 + b"}\n", b"not json\n", b'{"kind":"work","publisher":"x"}\n', b"drop \xff\n"):
        with pytest.raises(SnapshotError) as caught:
            apply_delta(a.descriptor, a.parts["statements"], header + body, b.descriptor)
        assert caught.value.code in ("E_SNAPSHOT", "E_SNAPSHOT_DIGEST")
    assert not load(*astuple(a)).origins_may_match(["https://\udcffé.example"])[0]


def astuple(built):
    return built.descriptor, built.parts


def test_confirmed_works_are_the_catalogs():
    entries = many_works(5, 4) + [logged(9, parse_payload(payload("https://b.example", works=[{"sha256": hashlib.sha256(b"0/1").hexdigest()}])))]
    snapshot = load(*astuple(build(entries, log=LOG, size=10, root=ROOT)))
    catalog = Catalog()
    for entry in entries:
        catalog.add(entry.manifest)
    digest = hashlib.sha256(b"0/1").digest()
    from_catalog = sorted(s.evidence.publisher for s in catalog.content_statements(ContentHash(sha256=digest)))
    assert sorted(r["publisher"] for r in snapshot.confirm_work(digest)) == from_catalog == ["https://b.example", "https://site0.example"]
    assert [r["pattern"] for r in snapshot.rules("https://site1.example") if r["kind"] == "path"] == ["/p1/*"]
    assert snapshot.origins_may_match(["https://site1.example", "https://site0.example"]).all()  # site0: its default


# -- filters ------------------------------------------------------------------------------------------


def reference_probe(table: bytes, seed: int, length: int, count: int, key: int) -> bool:
    """spec/snapshot.md "Probing", written again with Python integers: a second implementation."""
    mask64 = 2**64 - 1
    h = (key + seed) & mask64
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & mask64
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & mask64
    h ^= h >> 33
    p0 = (h * (length * count)) >> 64
    p1 = (p0 + length) ^ ((h >> 18) & (length - 1))
    p2 = (p0 + 2 * length) ^ (h & (length - 1))
    value = lambda i: int.from_bytes(table[2 * i:2 * i + 2], "little")
    return ((h ^ (h >> 32)) & 0xFFFF) == value(p0) ^ value(p1) ^ value(p2)


def test_no_false_negatives_and_the_reference_probe_agrees():
    rng = np.random.default_rng(3)
    keys = rng.integers(0, 2**64, 200_000, dtype=np.uint64)
    data = build_filter(keys)
    fuse = FuseFilter(data)
    assert fuse.contains(keys).all()
    others = rng.integers(0, 2**64, 2_000, dtype=np.uint64)
    vectorised = fuse.contains(np.concatenate([keys[:2_000], others]))
    table = data[32:]
    for key, answer in zip([*keys[:2_000].tolist(), *others.tolist()], vectorised.tolist()):
        assert reference_probe(table, fuse.seed, fuse.segment_length, fuse.segment_count, key) is answer


def test_false_positive_rate_on_a_million_non_keys():
    rng = np.random.default_rng(4)
    keys = rng.integers(0, 2**64, 100_000, dtype=np.uint64)
    fuse = FuseFilter(build_filter(keys))
    others = rng.integers(0, 2**64, 1_000_000, dtype=np.uint64)
    others = others[~np.isin(others, keys)]
    hits = int(fuse.contains(others).sum())
    # 2^-16 expects 15.3 hits in a million; 40 is 6 standard deviations above: a broken filter exceeds it
    assert 0 < hits <= 40, hits


@pytest.mark.parametrize("n", [10**6, 10**7, 10**8, 2**31])
def test_bits_per_key_at_scale(n):
    length, count = parameters(n)
    assert 16 * (count + 2) * length / n <= 18.5
    assert (count + 2) * length >= n * 9 // 8 and length * count < 2**32


def test_small_filters():
    for n in range(0, 40):
        keys = np.arange(1, n + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        fuse = FuseFilter(build_filter(keys))
        assert fuse.key_count == n and fuse.contains(keys).all()
    assert not FuseFilter(build_filter(np.array([], dtype=np.uint64))).contains(np.arange(1000, dtype=np.uint64)).any()


def test_work_keys_of_a_column_and_of_bytes_agree():
    digests = [hashlib.sha256(bytes([i])).digest() for i in range(5)]
    column = np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(5, 32)
    assert work_keys(b"".join(digests)).tolist() == work_keys(column).tolist() == [int.from_bytes(d[:8], "little") for d in digests]
    assert origin_key("https://a.example") == int.from_bytes(hashlib.sha256(b"notrain-snapshot-origin/v1\nhttps://a.example").digest()[:8], "little")


# -- refusals ---------------------------------------------------------------------------------------


def test_mutated_filters_are_refused_with_a_code():
    data = build_filter(np.arange(1, 500, dtype=np.uint64))
    rng = random.Random(5)
    for _ in range(300):
        mutated = bytearray(data[:rng.randrange(0, 40)] if rng.random() < 0.3 else data)
        for _ in range(rng.randrange(1, 4)):
            if mutated:
                mutated[rng.randrange(min(len(mutated), 40))] ^= 1 << rng.randrange(8)
        try:
            FuseFilter(bytes(mutated))
        except SnapshotError as exc:
            assert exc.code == "E_SNAPSHOT"


def test_mutated_statements_are_refused_with_a_code_never_a_crash():
    built = build(many_works(3, 3), log=LOG, size=10, root=ROOT)
    rng = random.Random(6)
    statements = built.parts["statements"]
    for _ in range(300):
        mutated = bytearray(statements)
        mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        parts = {**built.parts, "statements": bytes(mutated)}
        try:
            load(built.descriptor, parts)
        except NotrainError as exc:
            assert exc.code == "E_SNAPSHOT_DIGEST"  # the descriptor names other bytes
    from notrain.core.snapshot import Descriptor, parse_descriptor, PART_NAMES
    for _ in range(200):
        mutated = bytearray(statements)
        mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        parts = {**built.parts, "statements": bytes(mutated)}
        d = parse_descriptor(built.descriptor)
        descriptor = Descriptor(d.log, d.size, d.root, tuple((n, len(parts[n]), hashlib.sha256(parts[n]).digest()) for n in PART_NAMES)).encode()
        try:
            load(descriptor, parts)
        except NotrainError as exc:
            assert exc.code == "E_SNAPSHOT"


def test_a_huge_line_is_refused_without_parsing_it():
    built = build([], log=LOG, size=1, root=ROOT)
    parts = {**built.parts, "statements": b"{" + b" " * (1 << 22) + b"}\n"}
    from notrain.core.snapshot import Descriptor, parse_descriptor, PART_NAMES
    d = parse_descriptor(built.descriptor)
    descriptor = Descriptor(d.log, d.size, d.root, tuple((n, len(parts[n]), hashlib.sha256(parts[n]).digest()) for n in PART_NAMES)).encode()
    with pytest.raises(SnapshotError, match="over 8192"):
        load(descriptor, parts)


def test_the_wrong_log_is_refused():
    built = build([], log=LOG, size=0, root=hashlib.sha256(b"").digest())
    with pytest.raises(SnapshotError) as caught:
        load(built.descriptor, built.parts, log="log.other.example")
    assert caught.value.code == "E_SNAPSHOT"


# -- memory ------------------------------------------------------------------------------------------


def test_loading_uses_memory_proportional_to_keys_not_to_statements():
    built = build(many_works(20, 1_000), log=LOG, size=100, root=ROOT)
    total = sum(map(len, built.parts.values()))
    tracemalloc.start()
    try:
        snapshot = load(built.descriptor, built.parts)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert snapshot.works.key_count == 20_000
    # the keys and line offsets (16 octets a work) with a probe's temporaries (~64 octets a key, at
    # most 2^20 keys at once) and one line at a time: the parts are never copied
    assert peak < 100 * 20_000 and peak < total * 0.6, (peak, total)


# -- building from a log's own bytes (core/snapshotlog.py) --------------------------------------------


def log_of(entries: list[bytes]):
    """(size, root, tiles): a log of ``entries`` made by core.tiles, as a log serves it."""
    def nothing(tile):
        raise KeyError(tile)
    done = integrate(0, entries, nothing)
    return done.size, done.root, done.tiles


def envelope(key, publisher: str, sequence: int = 1, **members) -> bytes:
    return dsse.sign(payload(publisher, sequence, **members), MANIFEST_TYPE, [key]).to_bytes()


OBSERVED = datetime(2026, 11, 15, tzinfo=UTC)


def entry(kind: str, body: bytes, url: str = "", when: datetime = OBSERVED) -> bytes:
    return encode_entry(kind, Source("url", url=url) if url else Source("submission"), when, body)


def test_a_builder_verifies_each_manifest_with_what_the_log_held_before_it():
    site, stranger, artist = make_key("log site"), make_key("log stranger"), make_key("log artist")
    origin, keys_url = "https://site.example", "https://site.example/.well-known/notrain-keys.json"
    keyset = ijson.dumps(make_keyset(origin, [site.public]).to_json())
    entries = [
        entry("manifest", envelope(site, origin, 9)),  # before any key set of its origin: left out
        entry("keyset", keyset, keys_url),
        entry("manifest", envelope(stranger, origin, 8)),  # a key its key set does not hold: left out
        entry("manifest", envelope(site, origin, 2, works=[{"sha256": "22" * 32}])),
        entry("manifest", envelope(artist, artist.public.did_key, works=[{"sha256": "33" * 32}])),
        entry("manifest", envelope(artist, artist.public.did_key, 5), when=datetime(2028, 1, 1, tzinfo=UTC)),  # expired when observed
        entry("manifest", b"not an envelope"),
    ]
    size, root, tiles = log_of(entries)
    current = {m.manifest.publisher: m for m in current_from_log(size, root, tiles.__getitem__, {}.__getitem__)}
    assert {p: (m.index, m.manifest.sequence) for p, m in current.items()} == {origin: (3, 2), artist.public.did_key: (4, 1)}
    assert current[origin].signed_by == current[origin].trusted == {site.public.kid}
    built = build_from_log(LOG, size, root, tiles.__getitem__, {}.__getitem__)
    assert load(built.descriptor, built.parts, full=True).confirm_work(bytes.fromhex("22" * 32))

    tampered = dict(tiles)
    bundle = next(t for t in tiles if t.level == ENTRIES)
    tampered[bundle] = tiles[bundle].replace(b"observed 2026-11-15", b"observed 2026-11-16", 1)  # still a valid entry
    assert tampered[bundle] != tiles[bundle]
    with pytest.raises(NotrainError) as caught:
        current_from_log(size, root, tampered.__getitem__, {}.__getitem__)
    assert caught.value.code == "E_TILE"


def test_a_detached_body_must_be_the_one_its_entry_commits_to():
    artist = make_key("log artist")
    big = envelope(artist, artist.public.did_key, works=[{"sha256": f"{i:064x}"} for i in range(1000)])
    size, root, tiles = log_of([entry("manifest", big)])
    digest = hashlib.sha256(big).digest()
    assert len(current_from_log(size, root, tiles.__getitem__, {digest: big}.__getitem__)) == 1
    with pytest.raises(NotrainError) as caught:  # a wrong body breaks the log: never silently left out
        current_from_log(size, root, tiles.__getitem__, {digest: big[:-1] + b" "}.__getitem__)
    assert caught.value.code == "E_LOG_ENTRY"

