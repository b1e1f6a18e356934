import hashlib
import random

import pytest
from conftest import ORIGIN, make_key, manifest_bytes

from notrain.core import Catalog, ContentHash, PolicyError, State, decide, has_proof, merge_part, parse_payload, proof_token
from notrain.core.ijson import dumps
from notrain.core.names import NameIndex
from notrain.core.works import WorkIndex, hamming


def test_rollback_and_equivocation_are_refused():
    catalog = Catalog()
    assert catalog.add(parse_payload(manifest_bytes(sequence=5)))
    assert not catalog.add(parse_payload(manifest_bytes(sequence=5)))  # same bytes: no change
    with pytest.raises(PolicyError, match="older"):
        catalog.add(parse_payload(manifest_bytes(sequence=4)))
    with pytest.raises(PolicyError, match="other content"):
        catalog.add(parse_payload(manifest_bytes(sequence=5, names=[{"name": "x y"}])))


def test_a_newer_manifest_replaces_every_index_entry_of_the_old_one():
    catalog = Catalog()
    catalog.add(parse_payload(manifest_bytes(sequence=1, works=[{"sha256": "aa" * 32}], names=[{"name": "Old Name"}])))
    catalog.add(parse_payload(manifest_bytes(sequence=2, works=[{"sha256": "bb" * 32}], names=[{"name": "New Name"}])))
    assert catalog.content_statements(ContentHash(sha256=bytes.fromhex("aa" * 32))) == []
    assert len(catalog.content_statements(ContentHash(sha256=bytes.fromhex("bb" * 32)))) == 1
    assert catalog.text_statements("by Old Name") == []
    assert len(catalog.text_statements("by New Name")) == 1
    catalog.remove(ORIGIN)
    assert catalog.statements(url=ORIGIN + "/", text="New Name") == []


def test_works_without_any_preference_say_nothing():
    catalog = Catalog()
    catalog.add(parse_payload(manifest_bytes(default=None, works=[{"sha256": "aa" * 32}])))
    assert catalog.content_statements(ContentHash(sha256=bytes.fromhex("aa" * 32))) == []


def test_url_statements_carry_evidence():
    catalog = Catalog()
    manifest = parse_payload(manifest_bytes(paths=[{"pattern": "/free/", "prefs": {"train-ai": "y"}}], default={"train-ai": "n", "ai-use": "n"}))
    catalog.add(manifest)
    decision = decide(catalog.statements(url=ORIGIN + "/free/x"))
    assert decision.allowed("train-ai") and not decision.allowed("ai-use")
    (statement,) = decision.disallowed_by("ai-use")
    assert (statement.evidence.rule, statement.evidence.manifest_digest, statement.evidence.sequence) == ("/default", manifest.digest, 1)
    assert decision.outcomes["train-ai"].because[0].evidence.rule == "/paths/0"


def test_parts_extend_the_catalogue():
    part = dumps({"notrain-part": 1, "publisher": ORIGIN, "sequence": 1, "works": [{"sha256": "cc" * 32}]})
    manifest = parse_payload(manifest_bytes(parts=[{"sha256": hashlib.sha256(part).hexdigest(), "size": len(part)}]))
    full = merge_part(manifest, 0, part)
    assert merge_part(full, 0, part) is full  # idempotent
    catalog = Catalog()
    catalog.add(full)
    (statement,) = catalog.content_statements(ContentHash(sha256=bytes.fromhex("cc" * 32)))
    assert statement.evidence.rule == "/parts/0/works/0"


def test_pdq_index_agrees_with_brute_force():
    rng = random.Random(7)
    index: WorkIndex[str] = WorkIndex()
    stored = [rng.randbytes(32) for _ in range(500)]
    for i, value in enumerate(stored):
        index.add("m", i, sha256=None, pdq=value, threshold=100 if i % 2 else 120)
    for _ in range(20):
        query = rng.randbytes(32)
        expected = {i for i, v in enumerate(stored) if hamming(v, query) <= (100 if i % 2 else 120)}
        assert {hit.index for hit in index.match(pdq=query)} == expected


def test_name_index_removal_is_per_owner():
    index: NameIndex[str] = NameIndex()
    index.add("a", 0, "Jane Doe")
    index.add("b", 0, "Jane Smith")
    index.add("b", 1, "山田")
    index.remove_owner("b")
    assert [m.owner for m in index.match("jane doe and jane smith, 山田")] == ["a"]


def test_account_proofs():
    did = make_key("p").public.did_key
    assert has_proof(f"<p>Artist. {proof_token(did)}</p>", did)
    assert has_proof(f"key: {proof_token(did).replace(':', '&#58;')}", did)  # entities are decoded
    assert not has_proof(f"{proof_token(did)}x", did)
    assert not has_proof(did, did)


def test_decide_rejects_an_unknown_policy():
    with pytest.raises(ValueError):
        decide([], unknown_as=State.UNKNOWN)


def test_a_proven_account_covers_the_urls_under_it_with_the_publishers_default():
    artist = make_key("artist").public.did_key
    account, other = "https://bsky.app/profile/mira.example", "https://bsky.app/profile/someone"
    catalog = Catalog()
    catalog.add(parse_payload(manifest_bytes(publisher=artist, default={"train-ai": "n", "search": "y"},
                                             accounts=[{"url": account}, {"url": other}])))
    post = account + "/post/3k2"
    assert catalog.url_statements(post) == []  # listed, not proven: nothing
    catalog.set_proven_accounts(artist, {account, "https://bsky.app/profile/not-listed"})
    found = catalog.url_statements(post)
    assert {(s.evidence.rule, c, v) for s in found for c, v in s.prefs.items()} == {
        ("/accounts/0", "train-ai", State.DISALLOWED), ("/accounts/0", "search", State.ALLOWED)}
    assert decide(found).state("train-ai") is State.DISALLOWED
    assert catalog.url_statements(other + "/post/1") == [] and catalog.url_statements(account + ".evil/post") == []
    # A new manifest that no longer lists the account ends the coverage; listing it again restores it.
    catalog.add(parse_payload(manifest_bytes(publisher=artist, sequence=2, accounts=[{"url": other}])))
    assert catalog.url_statements(post) == []
    catalog.add(parse_payload(manifest_bytes(publisher=artist, sequence=3, accounts=[{"url": account}])))
    assert len(catalog.url_statements(post)) == 1
    catalog.set_proven_accounts(artist, set())  # the proof was removed
    assert catalog.url_statements(post) == []


def test_account_lookups_cost_one_dict_probe_per_path_segment():
    """Thousands of proven accounts on one service: a URL looks up its own ancestors only."""
    catalog = Catalog()
    for n in range(2000):
        publisher = make_key(f"artist {n}").public.did_key
        url = f"https://bsky.app/profile/artist{n}"
        catalog.add(parse_payload(manifest_bytes(publisher=publisher, accounts=[{"url": url}])))
        catalog.set_proven_accounts(publisher, {url})
    probes = []

    class Counting(dict):
        def get(self, key, default=None):
            probes.append(key)
            return super().get(key, default)

    catalog._accounts["https://bsky.app"] = Counting(catalog._accounts["https://bsky.app"])
    found = catalog.url_statements("https://bsky.app/profile/artist1999/post/1")
    assert [s.evidence.publisher for s in found] == [make_key("artist 1999").public.did_key]
    assert probes == ["/profile", "/profile/artist1999", "/profile/artist1999/post", "/profile/artist1999/post/1"]
