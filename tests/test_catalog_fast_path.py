"""The URL fast paths of core.catalog and the batch check give the answers of the full path, with the work they skip counted.

- An origin no manifest speaks for is answered from its memoised origin: one origin computation per host.
- A path that begins with no rule's literal text is answered by the manifest default without the matcher;
  a differential test checks OriginRules against the matcher on generated rules and paths.
- A batch's answers are encoded once per distinct answer, byte for byte what ``json.dumps`` writes.
"""

import json

import pytest
from aggregator_helpers import did_manifest
from conftest import ORIGIN, make_key, manifest_bytes
from hypothesis import given, settings
from hypothesis import strategies as st

from notrain.aggregator.api.check import encode_results
from notrain.aggregator.query import CheckError, CheckItem, Query
from notrain.core import catalog as catalog_module
from notrain.core import dsse, parse_payload
from notrain.core.catalog import Catalog, OriginRules
from notrain.core.paths import PathMatcher, url_path
from notrain.core.urls import split_url


def full_statements(rules: OriginRules, url: str) -> list:
    """What OriginRules said before its shortcut: every path through the matcher."""
    match = rules.matcher.match(url_path(split_url(url)))
    found = [rules._statement(rule.ref, c, state) for c, (state, rs) in match.by_category.items() for rule in rs if (c, state) in rule.prefs]
    return found + [rules._statement("/default", c, s) for c, s in rules.manifest.default.items() if c not in match.by_category]


pieces = st.sampled_from(["/", "a", "b", "*", "/a", "/b/", "%41", "?", "x.png"])
patterns = st.lists(pieces, min_size=1, max_size=5).map(lambda p: "/" + "".join(p)).map(lambda p: p.replace("**", "*"))
rule_lists = st.lists(st.tuples(patterns, st.booleans(), st.sampled_from(["train-ai", "ai-use"]), st.sampled_from(["y", "n"])), max_size=4)


@settings(max_examples=400, deadline=None)
@given(rule_lists, st.lists(pieces, max_size=6).map("".join))
def test_the_default_shortcut_agrees_with_the_matcher(rules, path):
    paths = [{"pattern": p + ("$" if anchored else ""), "prefs": {c: s}} for p, anchored, c, s in rules]
    rules_of = OriginRules(parse_payload(manifest_bytes(paths=paths, default={"train-ai": "y", "search": "n"})))
    url = ORIGIN + "/" + path
    assert rules_of.statements(url) == full_statements(rules_of, url)


def test_paths_outside_every_rule_skip_the_matcher(monkeypatch):
    catalog = Catalog()
    catalog.add(parse_payload(manifest_bytes(paths=[{"pattern": "/private/", "prefs": {"train-ai": "n"}}, {"pattern": "/drafts/*.png$", "prefs": {"ai-use": "n"}}],
                                             default={"train-ai": "y"})))
    matched = []
    original = PathMatcher.match
    monkeypatch.setattr(PathMatcher, "match", lambda self, path: matched.append(path) or original(self, path))
    assert [s.evidence.rule for s in catalog.url_statements(ORIGIN + "/public/1.png")] == ["/default"]
    assert [s.evidence.rule for s in catalog.url_statements(ORIGIN + "/drafts/x.png")] == ["/paths/1", "/default"]
    assert [s.evidence.rule for s in catalog.url_statements(ORIGIN + "/private/1.png")] == ["/paths/0"]
    assert matched == ["/drafts/x.png", "/private/1.png"]


def test_an_origin_without_a_manifest_is_worked_out_once_per_host(monkeypatch):
    catalog = Catalog()
    catalog.add(parse_payload(manifest_bytes(default={"train-ai": "n"})))
    computed = []
    original = catalog_module.origin_of_split
    monkeypatch.setattr(catalog_module, "origin_of_split", lambda parts, **kw: computed.append(parts.netloc) or original(parts, **kw))
    for i in range(1000):
        assert catalog.url_statements(f"https://host{i % 10}.example/{i}.png?x={i}") == []
    assert len(catalog.url_statements(ORIGIN + "/a")) == 1
    assert sorted(computed) == sorted({f"host{i}.example" for i in range(10)} | {"art.example"})
    # a hostile spelling is split in full: the request goes to evil.example, which says nothing
    assert catalog.url_statements("https://evil.example\\@art.example/") == []
    assert len(catalog.url_statements("HTTPS://ART.EXAMPLE/a")) == 1


def test_a_url_item_built_for_a_batch_equals_the_checked_one():
    assert CheckItem.of_url("https://a.example/") == CheckItem(url="https://a.example/")
    for bad in ("", "https://a.example/" + "a" * 9000):
        with pytest.raises(CheckError):
            CheckItem.of_url(bad)


async def test_a_batch_is_encoded_as_json_dumps_would():
    query = Query(storage=None)
    query.catalog.add(parse_payload(manifest_bytes(paths=[{"pattern": "/private/", "prefs": {"train-ai": "n"}}], default={"train-ai": "y"})))
    query.catalog.add(parse_payload(dsse.parse(did_manifest(make_key("artist"), names=[{"name": "Ada Example"}])).payload))
    items = [CheckItem.of_url(f"{ORIGIN}/{'private' if i % 3 else 'public'}/{i}") for i in range(300)]
    items += [CheckItem.of_url("https://nobody.example/"), CheckItem(text="by Ada Example"), CheckItem(text="by Ada Example")]
    purposes = ("train-ai", "search")
    results = await query.check(items, purposes)
    results.insert(2, {"error": {"code": "E_REQUEST", "message": "an item is an object", "where": "/items/2/item"}})
    assert len({id(r) for r in results}) < 10  # shared answers: what makes encoding them once worth it
    assert encode_results(purposes, results) == json.dumps({"purposes": list(purposes), "results": results})
    distinct = [{"decision": {"train-ai": {"state": "unknown", "n": i}}} for i in range(10)] + results[:3]  # encoded in one call
    assert encode_results(purposes, distinct) == json.dumps({"purposes": list(purposes), "results": distinct})
