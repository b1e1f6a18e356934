"""Every matcher and parser on the worst input its limits admit: a bound on work, never on time.

Work is counted where the code counts it (substring searches of path rules,
name hits) and otherwise bounded by tracemalloc's peak under a generous
ceiling: the inputs below used to take seconds to minutes and gigabytes
(issue 7 §4), so an unbounded regression fails here on memory or on steps.
"""

import io
import json
import re
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from notrain.core import State, ijson
from notrain.core.errors import NotrainError
from notrain.core.manifest import parse_payload
from notrain.core.names import NameIndex, normalise
from notrain.core.paths import MAX_PATTERN_OCTETS, MAX_WILDCARD_REACH, PathMatcher, PathRule, check_wildcard_reach
from notrain.signals import html as html_module
from notrain.signals.aipref import parse_content_signal, parse_content_usage
from notrain.signals.aitxt import AiTxt
from notrain.signals.c2pa import c2pa_statements
from notrain.signals.headers import header_statements, parse_link_header
from notrain.signals.html import html_signals
from notrain.signals.robots import MAX_OCTETS as ROBOTS_MAX
from notrain.signals.robots import RobotsTxt
from notrain.signals.tdmrep import MAX_FILE_BYTES, parse_tdmrep
from notrain.signals.xmp import xmp_statements

MiB = 1024 * 1024
N = State.DISALLOWED


def peak_bytes(fn, *args, **kwargs) -> int:
    """Peak Python memory while ``fn`` runs (the result is kept alive, so it counts too)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        fn(*args, **kwargs)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# --- path rules --------------------------------------------------------------------------------


def test_wildcard_chains_cost_one_search_per_piece():
    """Issue 7's input: '/*XY' then 1,000 '*a' (and 99 variants), a 600-character path.
    The lazy DFA it replaced took 10 s and 1.5 GB here."""
    rules = [PathRule("/*XY" + "*a" * 1000 + "*" * i, (("train-ai", N),), str(i)) for i in range(100)]
    matcher = PathMatcher(rules)
    assert matcher.piece_count == 1001  # shared by all 100 rules; trailing stars add nothing
    path = "/XY" + "a" * 600
    match = matcher.match(path)
    assert match.searches <= matcher.piece_count and match.by_category == {}
    assert peak_bytes(matcher.match, path) < 64 * 1024
    assert "train-ai" in matcher.match("/XY" + "a" * 1000).by_category


def test_many_distinct_wildcard_rules_within_the_payload_limit():
    """A 1 MiB manifest's worth of distinct long pieces that nearly match everywhere:
    still one search each, and no memory per lookup beyond one padded copy of the path."""
    piece = 1000
    rules = [PathRule("/*" + "a" * k + "b" + "a" * (piece - k), (("train-ai", N),), str(k)) for k in range(MiB // (piece + 40))]
    matcher = PathMatcher(rules)
    path = "/" + "a" * 2000
    assert matcher.match(path).searches == len(rules) == matcher.piece_count
    assert peak_bytes(matcher.match, path) < 256 * 1024


def test_pattern_at_the_length_limit_with_every_other_octet_a_star():
    pattern = "/" + "*a" * ((MAX_PATTERN_OCTETS - 1) // 2)
    matcher = PathMatcher([PathRule(pattern, (("train-ai", N),), "0")])
    assert matcher.match("/" + "a" * 1023).searches <= matcher.piece_count == 1023
    assert "train-ai" in matcher.match("/" + "a" * 1023).by_category


def naive(rules, path):
    best = {}
    for rule in rules:
        body = rule.pattern[:-1] if rule.pattern.endswith("$") else rule.pattern
        regex = "".join(".*" if c == "*" else re.escape(c) for c in body) + (r"\Z" if rule.pattern.endswith("$") else "")
        if re.match(regex, path, re.DOTALL):
            for category, state in rule.prefs:
                length = len(rule.pattern)
                if category not in best or length > best[category][0]:
                    best[category] = (length, state)
                elif length == best[category][0] and state is N:
                    best[category] = (length, N)
    return {c: s for c, (_, s) in best.items()}


long_patterns = st.builds(
    lambda body, end: "/" + body.replace("$", "") + end, st.text(st.sampled_from("/ab*"), max_size=14), st.sampled_from(["", "$"])
)


@given(
    st.lists(st.builds(lambda p, s, i: PathRule(p, (("train-ai", s),), str(i)), long_patterns, st.sampled_from([State.ALLOWED, N]), st.integers(0, 9)), max_size=20),
    st.text(st.sampled_from("/ab"), max_size=24).map(lambda s: "/" + s),
)
@settings(max_examples=300, deadline=None)
def test_piece_trie_agrees_with_the_definition_on_star_heavy_rules(rules, path):
    matcher = PathMatcher(rules)
    match = matcher.match(path)
    assert {c: s for c, (s, _) in match.by_category.items()} == naive(rules, path)
    assert match.searches <= matcher.reach <= matcher.piece_count


# --- the wildcard reach cap (spec/paths.md, "Wildcard reach") ------------------------------------


def reach_by_definition(rules) -> int:
    """spec/paths.md word for word: distinct (beginning, p1..pk) under each beginning's prefixes."""
    prefixes = set()
    for rule in rules:
        first, *rest = rule.pattern.removesuffix("$").split("*")
        pieces = [piece for piece in rest if piece]
        prefixes |= {(first, tuple(pieces[: k + 1])) for k in range(len(pieces))} if rest else set()
    beginnings = {first for first, _ in prefixes}
    return max((sum(1 for b, _ in prefixes if start.startswith(b)) for start in beginnings), default=0)


@given(
    st.lists(st.builds(lambda p, i: PathRule(p, (("train-ai", N),), str(i)), long_patterns, st.integers(0, 9)), max_size=30),
    st.integers(0, 12),
    st.text(st.sampled_from("/ab"), max_size=24).map(lambda s: "/" + s),
)
@settings(max_examples=300, deadline=None)
def test_reach_cap_follows_the_spec_definition(rules, limit, path):
    """The incremental count agrees with the definition; admitted rules stay within the limit,
    each refused one would have gone over it, and a lookup never searches more than the reach."""
    matcher = PathMatcher(rules, limit=limit)
    admitted = [r for r in rules if r not in matcher.dropped]
    assert matcher.reach == reach_by_definition(admitted) <= limit
    for index, rule in enumerate(rules):
        if rule in matcher.dropped:
            before = [r for r in rules[:index] if r in admitted]
            assert reach_by_definition([*before, rule]) > limit
    assert matcher.match(path).searches <= matcher.reach


def test_worst_admissible_rules_cost_at_most_64_searches_per_lookup():
    """64 distinct 1,000-octet pieces that nearly match everywhere, under '/' (the costliest
    search there is), plus 10,000 scoped wildcard rules: every lookup is at most 64 searches."""
    root = [PathRule("/*" + "a" * k + "b" + "a" * (999 - k), (("train-ai", N),), f"/paths/{k}") for k in range(62)]
    scoped = [PathRule(f"/u/{i}/*x*y", (("train-ai", N),), f"/paths/{62 + i}") for i in range(10_000)]
    checker = check_wildcard_reach(root + scoped)
    assert checker.reach == MAX_WILDCARD_REACH
    matcher = PathMatcher(root + scoped)
    for path in ("/" + "a" * 2000, "/u/7/" + "x" * 3000 + "y", "/u/9999/" + "a" * 8000):
        assert matcher.match(path).searches <= MAX_WILDCARD_REACH
    assert peak_bytes(matcher.match, "/" + "a" * 2000) < 256 * 1024
    with pytest.raises(NotrainError) as refused:
        check_wildcard_reach(root + scoped + [PathRule("/u/5/*z", (("train-ai", N),), "/paths/10062")])
    assert (refused.value.code, refused.value.where) == ("E_PATTERN", "/paths/10062/pattern")


def test_issue_7_robots_file_is_capped_and_fails_safe():
    """Issue 7's robots.txt (100 lines of '/*XY' + 1,000 '*a'): the lines go over the cap, so
    they are dropped with a warning and the path under their beginning says train-ai=n."""
    line = "Content-Usage: /*XY" + "*a" * 1000 + " train-ai=n\n"
    robots = RobotsTxt.parse(("User-agent: *\nContent-Usage: /blog/ train-ai=y\n" + line * 100).encode(), "https://e.example/robots.txt")
    assert any("wildcard" in w and "line 3" in w for w in robots.warnings)
    for url in ("https://e.example/XY" + "a" * 600, "https://e.example/blog/post"):
        states = {s.prefs.get("train-ai") for s in robots.statements(url, "mybot")}
        assert N in states  # never more permissive than the dropped rules
    selection = robots._select(robots._rules.select("mybot"))
    assert selection.usage._matcher.reach <= MAX_WILDCARD_REACH


def test_robots_file_at_the_size_limit_of_wildcard_rules_stays_within_the_cap():
    """500 KiB of distinct wildcard Content-Usage and Disallow lines (some 10,000 pieces)."""
    lines = "".join(f"Content-Usage: /*{i}x*y{i} train-ai=n\nDisallow: /*{i}q*r\n" for i in range(20_000))
    body = ("User-agent: GPTBot\nUser-agent: *\n" + lines).encode()[: ROBOTS_MAX]
    robots = RobotsTxt.parse(body, "https://e.example/robots.txt")
    selection = robots._select(robots._rules.select("mybot"))
    assert selection.usage._matcher.reach <= MAX_WILDCARD_REACH
    assert selection.disallows._matcher.reach <= MAX_WILDCARD_REACH
    states = {s.prefs.get("train-ai") for s in robots.statements("https://e.example/anything", "mybot")}
    assert N in states and State.ALLOWED not in states


def test_ai_txt_over_the_cap_fails_safe_for_disallow_only():
    body = "User-agent: *\n" + "".join(f"Allow: *.a{i}\n" for i in range(70)) + "Disallow: *.mp3\n"
    ai = AiTxt.parse(body.encode(), "https://e.example/ai.txt")
    assert sum("wildcard" in w for w in ai.warnings) == 7  # six Allow lines and the Disallow
    assert [s.prefs for s in ai.statements("https://e.example/song.mp3", "bot")] == [{"train-ai": N}]
    assert {s.prefs["train-ai"] for s in ai.statements("https://e.example/pic.a1", "bot")} == {State.ALLOWED, N}
    assert ai._select(ai._file.select("bot"))[0]._matcher.reach <= MAX_WILDCARD_REACH


def test_tdmrep_file_of_wildcard_locations_keeps_64_pieces():
    rules = [{"location": "/" + "*a" * 30 + f"/{i}", "tdm-reservation": i % 2} for i in range(200)]
    data = json.dumps(rules).encode()[:MAX_FILE_BYTES]
    data = json.dumps(json.loads(data[: data.rfind(b"},") + 1] + b"]")).encode()
    parsed = parse_tdmrep(data, "https://e.example/.well-known/tdmrep.json")
    assert sum(p.pattern.count("*") for p in (r for r in parsed.rules)) <= MAX_WILDCARD_REACH
    assert any(r.pattern == "/" and r.values.reservation == 1 for r in parsed.rules)  # a reservation stands in, fail-safe


# --- names -------------------------------------------------------------------------------------


def naive_names(names, caption):
    words = normalise(caption).split(" ")
    found = set()
    for i, name in enumerate(names):
        normal = normalise(name)
        if not normal:
            continue
        if re.search("[\u3040-\u30ff\u4e00-\u9fff\u0e00-\u0eff]", normal):
            if normal.replace(" ", "") in "".join(words):
                found.add(i)
        elif f" {normal} " in f" {' '.join(words)} ":
            found.add(i)
    return found


@given(
    st.lists(st.text(st.sampled_from(["a", "b", " ", "_", "水", "ミ", "é"]), max_size=8), max_size=12),
    st.text(st.sampled_from(["a", "b", " ", "-", "水", "ミ", "e", "\u0301"]), max_size=30),
)
@settings(max_examples=300, deadline=None)
def test_name_automata_agree_with_the_definition(names, caption):
    index: NameIndex[str] = NameIndex()
    for i, name in enumerate(names):
        index.add("o", i, name)
    assert {hit.index for hit in index.match(caption)} == naive_names(names, caption)


def test_names_added_removed_and_re_added_in_batches():
    index: NameIndex[int] = NameIndex()
    for owner in range(40):
        for i in range(owner % 5 + 1):
            index.add(owner, i, f"artist {owner} {i}")
        index.match("warm")  # a match between adds: batches merge, never a rebuild per add
    for owner in range(0, 40, 2):
        index.remove_owner(owner)
    index.add(4, 0, "artist 4 0")
    hits = index.match(" ".join(f"artist {o} {i}" for o in range(40) for i in range(5)))
    assert sorted({hit.owner for hit in hits}) == sorted([4, *range(1, 40, 2)])
    assert len(index._levels) <= 7  # log2 of the names, not one level per manifest


def test_crafted_names_against_a_long_caption():
    """Issue 7's input: 1,000 names sharing 127 first words against an 8,000-word caption (8 s before)."""
    index: NameIndex[str] = NameIndex()
    for i in range(1000):
        index.add("o", i, " ".join(["a"] * 127 + [f"z{i}"]))
    caption = " ".join(["a"] * 8000)
    assert index.match(caption) == []
    assert peak_bytes(index.match, caption) < 4 * MiB


def test_names_of_a_full_manifest_against_the_longest_caption():
    """A 1 MiB payload's names (4,000 of 256 characters) against 64 KiB: one scan (> 60 s before)."""
    index: NameIndex[str] = NameIndex()
    for i in range(4000):
        index.add("o", i, " ".join(["a"] * 120 + [str(i)]))
    caption = "a " * 40000  # cut to 65,536 characters
    assert index.match(caption) == []
    assert peak_bytes(index.match, caption) < 4 * MiB


# --- HTML ----------------------------------------------------------------------------------------


class CountingSoup:
    """Counts the characters handed to BeautifulSoup."""

    def __init__(self, real):
        self.real, self.fed = real, 0

    def __call__(self, markup, *args, **kwargs):
        self.fed += len(markup)
        return self.real(markup, *args, **kwargs)


@pytest.mark.parametrize(
    "body",
    [
        "<meta " * 350_000 + '"',  # issue 7: the tag regex rescanned the rest of the page from every '<meta'
        "<meta content='" * 140_000,
        "<!--" * 500_000,
        "<script" * 300_000,
        "<meta name=robots content=noai>" * 70_000,
        '<meta name=robots content="noai"' + " x" * 1_000_000 + ">",
        ("<meta name=robots " + "a=b " * 1000 + ">") * 500,
    ],
    ids=["unclosed-quote", "open-quotes", "comments", "scripts", "many-metas", "huge-tag", "many-attributes"],
)
def test_html_worst_pages_feed_beautifulsoup_at_most_16_kib(monkeypatch, body):
    soup = CountingSoup(html_module.BeautifulSoup)
    monkeypatch.setattr(html_module, "BeautifulSoup", soup)
    result = html_signals(body, "https://e.example/")
    assert soup.fed <= html_module.MAX_READ_CHARS
    assert len(result.statements) <= html_module.MAX_READ_CHARS // 30  # a robots meta is 30+ characters
    assert peak_bytes(html_signals, body, "https://e.example/") < 48 * MiB  # the 2 MiB page itself, decoded, twice


def test_html_still_reads_the_signals_before_the_budget():
    page = "<meta name=robots content=noai>" + "<meta name=robots content=nofollow>" * 2000
    result = html_signals(page, "https://e.example/")
    assert result.statements and any("not read" in w for w in result.warnings)


# --- the other parsers at their size limits --------------------------------------------------------


def robots_worst() -> bytes:
    line = "Content-Usage: /*XY" + "*a" * 1000 + " train-ai=n\n"
    return ("User-agent: *\n" + line * (ROBOTS_MAX // len(line))).encode()


def test_robots_txt_at_its_limit_with_wildcard_chains():
    robots = RobotsTxt.parse(robots_worst(), "https://e.example/robots.txt")
    url = "https://e.example/XY" + "a" * 600
    assert peak_bytes(robots.statements, url, "mybot") < 64 * MiB
    assert robots.can_fetch(url, "mybot")


def test_ai_txt_at_its_limit():
    body = ("User-agent: *\n" + ("Disallow: *" + "*a" * 500 + "\n") * (ROBOTS_MAX // 1012)).encode()
    ai = AiTxt.parse(body, "https://e.example/ai.txt")
    assert peak_bytes(ai.statements, "https://e.example/" + "a" * 600, "mybot") < 64 * MiB


def test_tdmrep_at_its_limit():
    rule = {"location": "/*" + "*a" * 200, "tdm-reservation": 1}
    data = json.dumps([rule] * (MAX_FILE_BYTES // 450)).encode()
    assert len(data) <= MAX_FILE_BYTES
    rules = parse_tdmrep(data, "https://e.example/.well-known/tdmrep.json")
    assert peak_bytes(rules.match, "https://e.example/" + "a" * 2000) < 16 * MiB


@pytest.mark.parametrize("value", ["a=" + "(" * 4000, ", ".join(f"k{i}=?1" for i in range(1000)), '"' + "\\\\" * 4000 + '"'])
def test_structured_field_values_at_their_limit(value):
    assert peak_bytes(parse_content_usage, value) < 8 * MiB
    assert peak_bytes(parse_content_signal, value) < 8 * MiB


def test_headers_at_their_limit():
    headers = [("X-Robots-Tag", "noai, " * 1300), ("Link", '<a>; rel="notrain", ' * 400), ("Content-Usage", "train-ai=n, " * 600)]
    assert peak_bytes(header_statements, headers, "https://e.example/x", agents="mybot") < 16 * MiB
    assert peak_bytes(parse_link_header, "<" * 8000) < 8 * MiB


def png_with(text: bytes) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "PNG")
    data = buffer.getvalue()
    import struct
    import zlib

    chunk = b"iTXt" + b"XML:com.adobe.xmp\0\0\0\0\0" + text
    return data[:-12] + struct.pack(">I", len(chunk) - 4) + chunk + struct.pack(">I", zlib.crc32(chunk)) + data[-12:]


@pytest.mark.parametrize(
    "packet",
    [
        b"<x:xmpmeta xmlns:x='adobe:ns:meta/'>" + b"<a>" * 20000 + b"</x:xmpmeta>",  # deep nesting, unclosed
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "' + b"a" * 1000 + b'">]><x>&a;&a;&a;</x>',  # entities refused
        b"<x " + b"a='b' " * 150_000 + b"/>",  # many attributes, within the 1 MiB packet limit
    ],
    ids=["deep", "entities", "attributes"],
)
def test_xmp_packets_at_their_limit(packet):
    image = png_with(packet)
    assert peak_bytes(xmp_statements, image, "https://e.example/a.png") < 64 * MiB


def test_c2pa_garbage_at_size():
    data = b"\xff\xd8" + b"\xff\xeb" * 100_000
    try:
        assert peak_bytes(c2pa_statements, data, "image/jpeg", "https://e.example/a.jpg") < 64 * MiB
    except NotrainError:
        pass  # refused with a code is a bounded answer too


@pytest.mark.parametrize(
    "data",
    [
        b"[" * 100_000,
        b'{"a":' * 50_000,
        b'"' + b"\\ud800" * 170_000 + b'"',
        b"[" + b"1," * 500_000 + b"1]",
        b'{"k' + b'":1,"k' * 100_000 + b'":1}',
    ],
    ids=["deep-arrays", "deep-objects", "lone-surrogates", "long-array", "duplicate-keys"],
)
def test_strict_json_at_the_payload_limit(data):
    def run():
        try:
            ijson.loads(data, max_size=MiB, max_depth=16)
        except NotrainError:
            pass  # a code from spec/errors.md, or a value: either is an answer

    assert peak_bytes(run) < 256 * MiB  # json's own objects for 1 MiB of input


def test_manifest_payload_of_wildcard_rules_at_the_limit():
    rule = {"pattern": "/*" + "a" * 99 + "b*a", "prefs": {"train-ai": "n"}}
    count = MiB // (len(json.dumps(rule)) + 2) - 10
    paths = [dict(rule, pattern=f"/{i}*" + "a" * 99 + "b*a") for i in range(count)]
    payload = {
        "notrain": 1, "publisher": "https://e.example", "sequence": 1,
        "issued": "2026-01-01T00:00:00Z", "expires": "2026-06-01T00:00:00Z", "paths": paths,
    }
    data = json.dumps(payload, separators=(",", ":")).encode()
    assert len(data) <= MiB
    manifest = parse_payload(data)
    matcher = PathMatcher(manifest.paths)
    assert matcher.match("/7" + "a" * 2000).searches == 1  # only the rule starting '/7*' is reached, and it fails
    assert peak_bytes(PathMatcher, manifest.paths) < 256 * MiB


# --- fuzzing -------------------------------------------------------------------------------------


def test_quick_fuzz_run_finds_nothing():
    """bench/fuzz.py --quick: 10,000 mutated inputs from spec/vectors and tests/outside over every parser."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "bench" / "fuzz.py"
    done = subprocess.run([sys.executable, str(script), "--quick"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "10,000 inputs over 13 parsers" in done.stdout and "failures: 0" in done.stdout
