import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notrain.core import PayloadError, State
from notrain.core.paths import PathMatcher, PathRule, check_pattern, normalise, pattern_matches, url_path

Y, N = State.ALLOWED, State.DISALLOWED


def naive(rules, path):
    """The definition, spelled out: test every rule, keep the longest per category."""
    best = {}
    for rule in rules:
        body = rule.pattern[:-1] if rule.pattern.endswith("$") else rule.pattern
        regex = "".join(".*" if c == "*" else re.escape(c) for c in body) + (r"\Z" if rule.pattern.endswith("$") else "")
        if not re.match(regex, path, re.DOTALL):
            continue
        for category, state in rule.prefs:
            length = len(rule.pattern)
            if category not in best or length > best[category][0]:
                best[category] = (length, state)
            elif length == best[category][0] and state is N:
                best[category] = (length, N)
    return {c: s for c, (_, s) in best.items()}


alphabet = st.sampled_from("/ab*.$")
patterns = st.builds(lambda body, end: "/" + body.replace("$", "") + end, st.text(alphabet, max_size=6), st.sampled_from(["", "$"]))
rule_lists = st.lists(
    st.builds(
        lambda pattern, cat, state, i: PathRule(pattern, ((cat, state),), f"/paths/{i}"),
        patterns,
        st.sampled_from(["train-ai", "search"]),
        st.sampled_from([Y, N]),
        st.integers(0, 99),
    ),
    max_size=12,
)


@given(rule_lists, st.text(st.sampled_from("/ab.x"), max_size=10).map(lambda s: "/" + s))
@settings(max_examples=500)
def test_trie_agrees_with_the_naive_definition(rules, path):
    got = {c: s for c, (s, _) in PathMatcher(rules).match(path).by_category.items()}
    assert got == naive(rules, path)


@given(patterns, st.text(st.sampled_from("/ab.x"), max_size=10).map(lambda s: "/" + s))
@settings(max_examples=500)
def test_single_pattern_matching_agrees_with_the_definition(pattern, path):
    rule = PathRule(pattern, (("train-ai", N),), "/paths/0")
    assert pattern_matches(pattern, path) == bool(naive([rule], path))


def test_evidence_names_the_winning_rules():
    rules = [PathRule("/a", (("train-ai", Y),), "/paths/0"), PathRule("/a/b", (("train-ai", N),), "/paths/1")]
    state, winners = PathMatcher(rules).match("/a/b/c").by_category["train-ai"]
    assert state is N and [r.ref for r in winners] == ["/paths/1"]


def test_equal_length_rules_combine_and_both_are_evidence():
    rules = [PathRule("/a*", (("train-ai", Y),), "/paths/0"), PathRule("/ab", (("train-ai", N),), "/paths/1")]
    state, winners = PathMatcher(rules).match("/abc").by_category["train-ai"]
    assert state is N and {r.ref for r in winners} == {"/paths/0", "/paths/1"}


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("https://a.example", "/"),
        ("https://a.example/x?y=1#frag", "/x?y=1"),
        ("https://a.example/caf%c3%a9", "/caf%C3%A9"),
        ("https://a.example/café", "/caf%C3%A9"),
        ("https://a.example/%7e%41", "/~A"),
        ("https://a.example/a%2fb", "/a%2Fb"),
    ],
)
def test_url_path_normal_form(url, path):
    assert url_path(url) == path


@pytest.mark.parametrize("bad", ["", "a", "/a$b", "/a b", "/a\tb", "/a#", "/%zz", "/%4", "/" + "x" * 2048, "/\x7f"])
def test_bad_patterns_are_rejected(bad):
    with pytest.raises(PayloadError) as caught:
        check_pattern(bad, "/paths/0/pattern")
    assert caught.value.code == "E_PATTERN" and caught.value.where == "/paths/0/pattern"


def test_pattern_normal_form_matches_url_normal_form():
    assert check_pattern("/%7euser/café", "") == normalise("/~user/caf%c3%a9") == "/~user/caf%C3%A9"


def test_many_literal_rules_do_not_change_the_answer():
    rules = [PathRule(f"/u/{i}/", (("train-ai", N if i % 2 else Y),), f"/paths/{i}") for i in range(5000)]
    matcher = PathMatcher(rules)
    assert matcher.match("/u/4321/x").by_category["train-ai"][0] is N
    assert matcher.match("/u/4320/x").by_category["train-ai"][0] is Y
    assert matcher.match("/v/1").by_category == {}
