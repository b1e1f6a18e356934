"""notrain export: one manifest, every legacy mechanism, read back by notrain's own parsers.

The round trip: export a manifest, read each file with the parser a crawler uses
(signals.robots, signals.tdmrep, signals.headers, signals.html) and compare, per
URL and category, the decision on what it says with the manifest's own decision
(core Catalog statements through core.decide).  Where a mechanism cannot say
something, the expected value is the documented stand-in (the ``expected_*``
functions).  The nginx and Apache snippets are checked by the real servers
(config test, then real requests), and their location choice is simulated for
many more URLs.
"""

from __future__ import annotations

import functools
import grp
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote_to_bytes

import pytest
from click.testing import CliRunner
from conftest import ORIGIN, make_key, manifest_bytes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from services import require

from notrain.cli import main
from notrain.core import AI_USE, CATEGORIES, SEARCH, TRAIN_AI, Catalog, State, decide, dsse
from notrain.core.manifest import MANIFEST_TYPE, Manifest, parse_payload
from notrain.export import Export, ExportError, ExportOptions, export, regions
from notrain.signals.headers import header_statements, tdmrep_header_values
from notrain.signals.html import html_signals
from notrain.signals.robots import RobotsTxt
from notrain.signals.tdmrep import TdmRules, parse_tdmrep, tdmrep_statement

Y, N, U = State.ALLOWED, State.DISALLOWED, State.UNKNOWN
STRICTNESS = {Y: 0, U: 1, N: 2}  # what "strictest" means: never grant what the manifest does not
TOKEN = "notrain"
POLICY = "https://art.example/tdm-policy.json"
OPTIONS = ExportOptions(block_training_crawlers=True, content_signal=True, tdm_policy=POLICY)

MANIFESTS = {
    "default-only": ({"train-ai": "n", "ai-use": "n"}, []),
    "default-and-prefixes": (
        {"train-ai": "n", "ai-use": "n", "search": "y"},
        [
            ("/press/", {"train-ai": "y", "ai-use": "y"}),
            ("/press/private/", {"train-ai": "n"}),
            ("/blog/", {"search": "n"}),
            ("/open/", {"train-ai": "y", "ai-use": "y", "search": "y"}),
            ("/café/", {"ai-use": "y"}),
        ],
    ),
    "wildcards-and-anchors": (
        {"train-ai": "n", "ai-use": "n"},
        [
            ("/*.psd$", {"search": "n"}),
            ("/press/", {"train-ai": "y", "ai-use": "y"}),
            ("/press/*.jpg$", {"ai-use": "n"}),
            ("/$", {"train-ai": "y", "ai-use": "y", "search": "y"}),
            ("/about$", {"ai-use": "y"}),
            ("/fish*", {"train-ai": "y"}),
            ("/a/*/c", {"search": "y"}),
        ],
    ),
    "search-differs": (
        {"train-ai": "n", "ai-use": "n"},
        [
            ("/public/", {"search": "y"}),
            ("/drafts/", {"search": "n"}),
            ("/public/drafts/", {"search": "n", "train-ai": "y"}),
            ("/search?q=", {"search": "n"}),
        ],
    ),
    "equal-length": (
        {"ai-use": "y"},
        [
            ("/a*", {"train-ai": "y"}),
            ("/ab", {"train-ai": "n"}),
            ("/x", {"train-ai": "y"}),
            ("/x", {"train-ai": "n", "search": "y"}),
            ("/cd", {"ai-use": "n"}),
            ("/c*", {"search": "n"}),
        ],
    ),
    "spec-example": (  # spec/manifest.md: /press/ and /*.psd$ have the same length
        {"train-ai": "n", "ai-use": "n"},
        [
            ("/", {"train-ai": "n", "ai-use": "n", "search": "y"}),
            ("/press/", {"train-ai": "y", "ai-use": "y"}),
            ("/*.psd$", {"search": "n"}),
        ],
    ),
}

FIXED_PATHS = [
    "/", "/x", "/xy", "/ab", "/abc", "/ac", "/cd", "/cdx", "/cx", "/a/b/c", "/a/b/cd", "/about", "/about/", "/fish",
    "/fishbowl", "/fish.psd", "/a.psd", "/a.psd.txt", "/press/", "/press/kit.psd", "/press/kit.psd?v=2", "/press/a.jpg",
    "/press/a.jpg.psd", "/press/private/x", "/press/private/x.psd", "/blog/post", "/open/x", "/public/x",
    "/public/drafts/x", "/drafts/x", "/search?q=cats", "/search", "/caf%C3%A9/menu", "/gallery/x/full/y.psd",
]  # fmt: skip


def build(default: dict, paths: list) -> Manifest:
    return parse_payload(manifest_bytes(default=default, paths=[{"pattern": p, "prefs": q} for p, q in paths]))


# --- The views: what each mechanism says about a URL, as decided by core.decide --------------------


def states(statements) -> dict[str, State]:
    decision = decide(statements)
    return {category: decision.state(category) for category in CATEGORIES}


@dataclass
class Case:
    manifest: Manifest
    result: Export
    catalog: Catalog
    robots: RobotsTxt
    tdmrep: TdmRules

    def file(self, name: str) -> str:
        return self.result.files[name]

    def truth(self, url: str) -> dict[str, State]:
        return states(self.catalog.url_statements(url))

    def robots_view(self, url: str, token: str = TOKEN) -> dict[str, State]:
        return states(self.robots.statements(url, token))

    def tdmrep_view(self, url: str) -> dict[str, State]:
        statement = tdmrep_statement(self.tdmrep, None, None, url)
        return states([statement] if statement else [])

    def cautious(self, mechanism: str) -> bool:
        return any(w.mechanism == mechanism and "strictest possible value" in w.message for w in self.result.warnings)


def make_case(manifest: Manifest, options: ExportOptions = OPTIONS) -> Case:
    result = export(manifest, options)
    catalog = Catalog()
    catalog.add(manifest)
    robots = RobotsTxt.parse(result.files["robots.txt"].encode(), ORIGIN + "/robots.txt")
    tdmrep = parse_tdmrep(result.files["tdmrep.json"].encode(), ORIGIN + "/.well-known/tdmrep.json")
    assert robots.warnings == () and tdmrep.warnings == ()  # the parsers have nothing to complain about
    return Case(manifest, result, catalog, robots, tdmrep)


@functools.cache
def case(name: str) -> Case:
    return make_case(build(*MANIFESTS[name]))


def headers_view(headers: list[tuple[str, str]], url: str) -> dict[str, State]:
    """What a response's headers say: Content-Usage, X-Robots-Tag and TDMRep's tdm-* headers."""
    tdm = tdmrep_statement(None, tdmrep_header_values(headers, url), None, url)
    return states(header_statements(headers, url, agents=TOKEN) + ([tdm] if tdm else []))


# What a mechanism that cannot say everything says instead.


def tdm_switch(truth: dict[str, State]) -> State:
    """TDMRep's one switch: reserved where training or AI use is disallowed, free where both are allowed."""
    train, use = truth[TRAIN_AI], truth[AI_USE]
    return N if N in (train, use) else Y if train is use is Y else U


def expected_tdmrep(truth: dict[str, State]) -> dict[str, State]:
    switch = tdm_switch(truth)
    return {TRAIN_AI: switch, AI_USE: switch, SEARCH: U}  # no search in TDMRep


def expected_headers(truth: dict[str, State]) -> dict[str, State]:
    """Content-Usage says everything; a tdm-reservation: 1 also disallows the other of train-ai and ai-use."""
    return {**truth, TRAIN_AI: N, AI_USE: N} if tdm_switch(truth) is N else truth


def at_least_as_strict(got: dict[str, State], want: dict[str, State]) -> bool:
    return all(STRICTNESS[got[c]] >= STRICTNESS[want[c]] for c in CATEGORIES)


# --- URLs: fixed ones, and instances of the manifest's own patterns ----------------------------------

FILLER = st.text(st.sampled_from("ab.x-psdjg/"), max_size=5)


def instance(pattern: str, fills: list[str], tail: str) -> str:
    """A path ``pattern`` matches (``fills`` replace its '*'s; ``tail`` follows unless anchored)."""
    body = pattern.removesuffix("$")
    pieces = body.split("*")
    path = pieces[0] + "".join(fill + piece for fill, piece in zip(fills, pieces[1:], strict=True))
    return path if pattern.endswith("$") else path + tail


def paths_for(manifest: Manifest) -> st.SearchStrategy[str]:
    patterns = [rule.pattern for rule in manifest.paths] or ["/"]
    near = st.sampled_from(patterns).flatmap(
        lambda p: st.builds(instance, st.just(p), st.lists(FILLER, min_size=p.count("*"), max_size=p.count("*")), FILLER)
    )
    return st.one_of(near, st.sampled_from(FIXED_PATHS), FILLER.map(lambda s: "/" + s))


def with_query(paths: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Paths, some with a query.  Not a bare trailing '?': robots.txt matching keeps it (as Google and
    Protego do) where notrain drops it (spec/paths.md), so '$' rules differ there, by design."""
    return st.tuples(paths, st.one_of(st.just(""), FILLER.filter(bool).map(lambda q: "?" + q))).map(
        lambda pq: pq[0] if "?" in pq[0] else pq[0] + pq[1]
    )


def server_path(path: str) -> bool:
    """Paths a web server sees as written: no query, and nothing it normalises away first."""
    return "?" not in path and not re.search(r"//|/\.\.?(/|$)", path)


# --- Web servers: the snippets as the servers read them, simulated ----------------------------------


@dataclass
class Location:
    modifier: str  # "=", "^~" or "~"
    argument: str
    headers: list[tuple[str, str]]


def parse_nginx(text: str) -> tuple[list[tuple[str, str]], list[Location]]:
    """The server-level add_header lines and the location blocks of an exported nginx.conf."""
    server: list[tuple[str, str]] = []
    locations: list[Location] = []
    current: Location | None = None
    for line in (line.strip() for line in text.splitlines()):
        if not line or line.startswith("#"):
            continue
        if match := re.fullmatch(r'location (=|\^~|~) "([^"]*)" \{', line):
            current = Location(match[1], match[2], [])
            locations.append(current)
        elif match := re.fullmatch(r'add_header ([\w-]+) "([^"\\$]*)" always;', line):
            (current.headers if current else server).append((match[1], match[2]))
        else:
            assert line == "}" and current is not None, line
            current = None
    return server, locations


def pcre(regex: str) -> re.Pattern[str]:
    """Our PCREs in Python: \\z is Python's \\Z; nothing else we emit differs."""
    return re.compile(regex.replace(r"\z", r"\Z"))


def decoded(path: str) -> str:
    """The path as servers compare it: percent-decoded octets (one character per octet)."""
    return unquote_to_bytes(path.split("?", 1)[0]).decode("latin-1")


def nginx_headers(text: str, path: str) -> list[tuple[str, str]]:
    """nginx's choice: an exact (=) location, else the longest ^~ prefix, else the first matching regex."""
    server, locations = parse_nginx(text)
    uri = decoded(path)
    exact = [loc for loc in locations if loc.modifier == "=" and loc.argument == uri]
    prefixes = [loc for loc in locations if loc.modifier == "^~" and uri.startswith(loc.argument)]
    regexes = [loc for loc in locations if loc.modifier == "~" and pcre(loc.argument).search(uri)]
    chosen = exact or sorted(prefixes, key=lambda loc: len(loc.argument))[-1:] or regexes[:1]
    return chosen[0].headers if chosen else server


def apache_headers(text: str, path: str) -> list[tuple[str, str]]:
    """Apache applies every matching <LocationMatch> in file order; set replaces, unset removes."""
    uri, headers, applies = decoded(path), {}, False
    for line in (line.strip() for line in text.splitlines()):
        if match := re.fullmatch(r'<LocationMatch "([^"]*)">', line):
            applies = bool(pcre(match[1]).search(uri))
        elif applies and (match := re.fullmatch(r'Header always set ([\w-]+) "([^"\\$]*)"', line)):
            headers[match[1]] = match[2].replace("%%", "%")
        elif applies and (match := re.fullmatch(r"Header always unset ([\w-]+)", line)):
            headers.pop(match[1], None)
    return list(headers.items())


# --- The round trip, per mechanism ---------------------------------------------------------------


@pytest.mark.parametrize("name", MANIFESTS)
def test_fixed_manifests_are_exported_exactly(name):
    assert not case(name).cautious("Content-Usage") and not case(name).cautious("TDMRep")


@pytest.mark.parametrize("name", MANIFESTS)
@given(data=st.data())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_robots_txt_says_what_the_manifest_says(name, data):
    """Content-Usage lines carry every category exactly; Content-Signal and the crawler group agree."""
    this = case(name)
    url = ORIGIN + data.draw(with_query(paths_for(this.manifest)))
    truth = this.truth(url)
    assert this.robots_view(url) == truth
    assert this.robots.can_fetch(url, TOKEN)


@pytest.mark.parametrize("name", MANIFESTS)
@given(data=st.data())
@settings(max_examples=100, deadline=None)
def test_training_crawlers_are_kept_out_exactly_where_training_is_disallowed(name, data):
    """A training crawler may fetch only where train-ai is not n; where it may, its own group
    carries the same Content-Usage rules, so it learns the same preferences as everyone else."""
    this = case(name)
    url = ORIGIN + data.draw(with_query(paths_for(this.manifest)))
    truth = this.truth(url)
    allowed = truth[TRAIN_AI] is not N
    assert this.robots.can_fetch(url, "GPTBot") is allowed
    assert this.robots_view(url, "GPTBot") == (truth if allowed else {TRAIN_AI: N, AI_USE: U, SEARCH: U})


@pytest.mark.parametrize("name", MANIFESTS)
@given(data=st.data())
@settings(max_examples=150, deadline=None)
def test_tdmrep_json_reserves_where_training_or_ai_use_is_disallowed(name, data):
    this = case(name)
    url = ORIGIN + data.draw(with_query(paths_for(this.manifest)))
    assert this.tdmrep_view(url) == expected_tdmrep(this.truth(url))


@pytest.mark.parametrize("name", MANIFESTS)
@pytest.mark.parametrize("server", [nginx_headers, apache_headers], ids=["nginx", "apache"])
@given(data=st.data())
@settings(max_examples=100, deadline=None)
def test_server_headers_say_what_the_manifest_says(name, server, data):
    """Simulated location choice; URLs without a query (servers never see it)."""
    this = case(name)
    file = "nginx.conf" if server is nginx_headers else "apache.conf"
    path = data.draw(paths_for(this.manifest).filter(server_path))
    url = ORIGIN + path
    assert headers_view(server(this.file(file), path), url) == expected_headers(this.truth(url))


@pytest.mark.parametrize("name", MANIFESTS)
def test_meta_tags_say_the_default(name):
    this = case(name)
    url = ORIGIN + "/page-no-rule-covers"
    signals = html_signals(this.file("meta.html").encode(), url)
    tdm = tdmrep_statement(None, None, signals.tdmrep, url)
    default = {c: this.manifest.default.get(c, U) for c in CATEGORIES}
    assert states(list(signals.statements) + ([tdm] if tdm else [])) == expected_tdmrep(default)


def test_content_signal_only_for_what_holds_site_wide():
    robots = case("default-only").file("robots.txt")
    assert "Content-Signal: ai-input=no, ai-train=no" in robots  # search is not stated: left out
    warned = {w.message for w in case("default-and-prefixes").result.warnings if w.mechanism == "Content-Signal"}
    assert "Content-Signal: search=yes" not in case("default-and-prefixes").file("robots.txt")
    assert any("so search is left out" in message for message in warned)


def test_the_spec_example_gets_a_rule_for_the_press_kit_psd_files():
    """/press/ and /*.psd$ have the same length; where both match, robots.txt needs a rule of its own."""
    robots = case("spec-example").file("robots.txt")
    assert "Content-Usage: /press/*.psd$ train-ai=y, ai-use=y, search=n" in robots
    assert "Content-Usage: /*.psd$ train-ai=n, ai-use=n, search=n" in robots
    assert 'location ~ "(?s)^/press/.*\\.psd\\z" {' in case("spec-example").file("nginx.conf")


def test_equal_length_rules_combine_as_in_the_manifest():
    """/a* y and /ab n: /ab is written /ab* so that it outranks /a* where both match."""
    this = case("equal-length")
    assert "Content-Usage: /ab* train-ai=n, ai-use=y" in this.file("robots.txt")
    assert "Disallow: /ab*" in this.file("robots.txt")  # Allow would win an RFC 9309 tie
    assert this.robots_view(ORIGIN + "/abc")[TRAIN_AI] is N
    assert this.robots_view(ORIGIN + "/ac")[TRAIN_AI] is Y


def test_tdmrep_puts_the_most_specific_location_first():
    rules = json.loads(case("default-and-prefixes").file("tdmrep.json"))
    assert rules[0] == {"location": "/press/private/", "tdm-reservation": 1, "tdm-policy": POLICY}
    assert rules[-1] == {"location": "/", "tdm-reservation": 1, "tdm-policy": POLICY}
    assert {"location": "/press/", "tdm-reservation": 0} in rules  # no policy where nothing is reserved


def test_what_cannot_be_expressed_is_a_comment_and_a_warning():
    this = case("default-and-prefixes")
    warnings = {(w.mechanism, w.where): w.message for w in this.result.warnings}
    assert "reserves all mining, so it also reserves ai-use" in warnings["TDMRep", "/press/private/"]
    assert "no search category" in warnings["TDMRep", "search"]
    assert "need other meta tags" in warnings["HTML meta", "/paths"]
    assert "Not for pages matching" in this.file("meta.html")
    query = {(w.mechanism, w.where): w.message for w in case("search-differs").result.warnings}
    assert "query string" in query["web server", "/search?q="]
    assert "/search?q=" not in case("search-differs").file("nginx.conf")
    assert "# where /press/ and /*.psd$ overlap" in case("spec-example").file("robots.txt")


def test_escaping_for_the_servers():
    """Octets are decoded as the servers decode them; anything unusual becomes \\xHH."""
    assert 'location ~ "^/caf\\xC3\\xA9/" {' in case("default-and-prefixes").file("nginx.conf")
    assert 'location = "/about" {' in case("wildcards-and-anchors").file("nginx.conf")
    assert 'location ^~ "/press/private/" {' in case("default-and-prefixes").file("nginx.conf")
    odd = build({}, [('/a"b\\c%24d%25e%2Ff', {"train-ai": "n"})])
    result = export(odd, formats=["nginx", "apache"])
    assert 'location ~ "^/a\\x22b\\x5Cc\\x24d%e/f" {' in result.files["nginx.conf"]
    assert '<LocationMatch "^/a\\x22b\\x5Cc\\x24d%e/f">' in result.files["apache.conf"]
    assert any("%2F" in w.message for w in result.warnings)  # servers cannot tell %2F from /


def test_a_did_key_publisher_has_no_site_to_export_for():
    did = make_key("artist").public.did_key
    manifest = parse_payload(manifest_bytes(publisher=did))
    with pytest.raises(ExportError) as refused:
        export(manifest)
    assert refused.value.code == "E_EXPORT_NO_ORIGIN"


def test_works_and_names_are_not_exported():
    work = {"sha256": "ab" * 32, "title": "Harbour"}
    manifest = parse_payload(manifest_bytes(works=[work], names=[{"name": "Mira"}]))
    assert {w.where for w in export(manifest).warnings} >= {"/works", "/names"}


# --- Random manifests: exact, or stricter with a warning ------------------------------------------

RANDOM_PATTERNS = st.builds(
    lambda body, end: "/" + body + end, st.text(st.sampled_from("ab*/."), max_size=5), st.sampled_from(["", "$"])
)
RANDOM_PREFS = st.dictionaries(st.sampled_from(CATEGORIES), st.sampled_from(["y", "n"]))
RANDOM_PATHS = st.text(st.sampled_from("ab/."), max_size=7).map(lambda s: "/" + s)


@given(
    RANDOM_PREFS,
    st.lists(st.tuples(RANDOM_PATTERNS, RANDOM_PREFS.filter(bool)), max_size=6),
    st.lists(with_query(RANDOM_PATHS), min_size=1, max_size=8),
)
@settings(max_examples=400, deadline=None)
def test_random_manifests_are_exact_or_strictly_safer(default, rules, paths):
    this = make_case(build(default, rules))
    tdm_exact = not this.cautious("TDMRep") and not any("un-reserve" in w.message for w in this.result.warnings)
    crawl_exact = not any(w.mechanism == "robots.txt" for w in this.result.warnings)
    for path in paths:
        url = ORIGIN + path
        truth = this.truth(url)
        robots = this.robots_view(url)
        assert robots == truth if not this.cautious("Content-Usage") else at_least_as_strict(robots, truth)
        if crawl_exact:
            assert this.robots.can_fetch(url, "GPTBot") is (truth[TRAIN_AI] is not N)
        tdmrep, want = this.tdmrep_view(url), expected_tdmrep(truth)
        assert tdmrep == want if tdm_exact else at_least_as_strict(tdmrep, want)
        if server_path(path):
            for server, file in ((nginx_headers, "nginx.conf"), (apache_headers, "apache.conf")):
                got, want = headers_view(server(this.file(file), path), url), expected_headers(truth)
                assert got == want if not this.cautious("Content-Usage") else at_least_as_strict(got, want)


def warns(manifest: Manifest, mechanism: str, where: str, text: str) -> bool:
    return any(w.mechanism == mechanism and w.where == where and text in w.message for w in export(manifest).warnings)


def test_rules_no_pattern_can_separate_are_written_strictly_with_a_warning():
    """/g/*/full/ and /*.psd$ share URLs that no single pattern names (both have wildcards)."""
    manifest = build({"train-ai": "n"}, [("/g/*/full/", {"train-ai": "y"}), ("/*.psd$", {"search": "n"})])
    [region] = [r for r in regions(manifest) if r.pattern == "/g/*/full/"]
    assert region.cautious == (SEARCH,) and region.prefs[SEARCH] is N
    assert warns(manifest, "Content-Usage", "/g/*/full/", "the strictest possible value is written (n)")


# --- The real servers -----------------------------------------------------------------------------

NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
APACHE = shutil.which("apache2") or shutil.which("apache2", path="/usr/sbin:/sbin")
APACHE_MODULES = Path("/usr/lib/apache2/modules")
SERVED = list(MANIFESTS)


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def wait_for(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else "server exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port}")


@pytest.fixture(scope="module")
def servers():
    """Each exported snippet included in a real server (one port per manifest), checked and started."""
    found: dict[str, dict[str, int]] = {}
    processes = []
    root = Path(tempfile.mkdtemp(prefix="notrain-servers-"))  # not under pytest's 0700 directory:
    root.chmod(0o755)  # Apache serves as nobody, and answers 403 without our headers where it may not look
    (root / "www").mkdir()
    for name, starter in (("nginx", start_nginx), ("apache", start_apache)):
        if (NGINX if name == "nginx" else APACHE) is not None:
            ports = dict(zip(SERVED, free_ports(len(SERVED)), strict=True))
            processes.append(starter(root, ports))
            found[name] = ports
    yield found
    for process in processes:
        process.terminate()
        process.wait(timeout=10)
    shutil.rmtree(root)


def start_nginx(root: Path, ports: dict[str, int]) -> subprocess.Popen:
    servers = []
    for name, port in ports.items():
        (root / f"{name}.nginx.conf").write_text(case(name).file("nginx.conf"))
        servers.append(f"server {{ listen 127.0.0.1:{port}; root {root}/www; include {root}/{name}.nginx.conf; }}")
    temp = "\n".join(f"  {kind}_temp_path {root}/nginx-{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    config = root / "nginx-main.conf"
    config.write_text(
        f"daemon off;\nmaster_process off;\npid {root}/nginx.pid;\nerror_log {root}/nginx-error.log;\n"
        f"events {{ worker_connections 64; }}\nhttp {{\n  access_log off;\n{temp}\n  " + "\n  ".join(servers) + "\n}\n"
    )
    check = subprocess.run([NGINX, "-t", "-p", str(root), "-c", str(config)], check=False, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    process = subprocess.Popen([NGINX, "-p", str(root), "-c", str(config)], stderr=subprocess.PIPE)
    for port in ports.values():
        wait_for(port, process)
    return process


def start_apache(root: Path, ports: dict[str, int]) -> subprocess.Popen:
    hosts = []
    for name, port in ports.items():
        (root / f"{name}.apache.conf").write_text(case(name).file("apache.conf"))
        hosts.append(
            f"Listen 127.0.0.1:{port}\n<VirtualHost 127.0.0.1:{port}>\n  Include {root}/{name}.apache.conf\n</VirtualHost>"
        )
    as_root = os.geteuid() == 0
    group = "nogroup" if as_root and "nogroup" in {g.gr_name for g in grp.getgrall()} else "nobody"
    config = root / "apache-main.conf"
    config.write_text(
        f"ServerRoot {root}\nDefaultRuntimeDir {root}\nPidFile {root}/httpd.pid\nErrorLog {root}/apache-error.log\n"
        + "".join(f"LoadModule {m}_module {APACHE_MODULES}/mod_{m}.so\n" for m in ("mpm_event", "authz_core", "headers"))
        + (f"User nobody\nGroup {group}\n" if as_root else "")
        + f"ServerName localhost\nDocumentRoot {root}/www\n"
        + "\n".join(hosts)
        + "\n"
    )
    check = subprocess.run([APACHE, "-t", "-f", str(config)], check=False, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    process = subprocess.Popen([APACHE, "-X", "-f", str(config)], stderr=subprocess.PIPE)
    for port in ports.values():
        wait_for(port, process)
    return process


def fetch_headers(port: int, path: str) -> list[tuple[str, str]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.getheaders()
    finally:
        connection.close()


NOTRAIN_HEADERS = {"content-usage", "x-robots-tag", "tdm-reservation", "tdm-policy"}


@pytest.mark.parametrize("server", ["nginx", "apache"])
@pytest.mark.parametrize("name", SERVED)
def test_the_real_servers_send_what_the_manifest_says(servers, server, name):
    if server not in servers:
        require("nginx" if server == "nginx" else "apache2")  # fails in CI, skips elsewhere
    this = case(name)
    simulate, file = (nginx_headers, "nginx.conf") if server == "nginx" else (apache_headers, "apache.conf")
    for path in filter(
        server_path, FIXED_PATHS + [rule.pattern.removesuffix("$").replace("*", "x") for rule in this.manifest.paths]
    ):
        sent = fetch_headers(servers[server][name], path)
        mine = sorted((n.lower(), v) for n, v in sent if n.lower() in NOTRAIN_HEADERS)
        assert mine == sorted((n.lower(), v) for n, v in simulate(this.file(file), path)), path
        assert headers_view(sent, ORIGIN + path) == expected_headers(this.truth(ORIGIN + path)), path


# --- The command line -------------------------------------------------------------------------------


def run(*args, code: int = 0):
    result = CliRunner().invoke(main, [os.fspath(arg) for arg in args])
    assert "Traceback" not in result.output
    assert result.exit_code == code, result.output
    return result


@pytest.fixture
def payload(tmp_path) -> Path:
    path = tmp_path / "manifest.json"
    default, paths = MANIFESTS["spec-example"]
    path.write_bytes(manifest_bytes(default=default, paths=[{"pattern": p, "prefs": q} for p, q in paths]))
    return path


def test_cli_writes_every_file(tmp_path, payload):
    out = tmp_path / "legacy"
    result = run("export", payload, "--out", out)
    assert sorted(p.name for p in out.iterdir()) == ["apache.conf", "meta.html", "nginx.conf", "robots.txt", "tdmrep.json"]
    assert f"wrote {out / 'tdmrep.json'}: serve it as {ORIGIN}/.well-known/tdmrep.json" in result.stdout
    assert "warning: TDMRep: search: TDMRep has no search category" in result.stderr
    assert (out / "robots.txt").read_text() == export(parse_payload(payload.read_bytes())).files["robots.txt"]


def test_cli_reads_a_signed_envelope_without_verifying_it(tmp_path, payload):
    envelope = tmp_path / "notrain.json"
    envelope.write_bytes(dsse.sign(payload.read_bytes(), MANIFEST_TYPE, [make_key("site")]).to_bytes())
    run("export", envelope, "--out", tmp_path / "a", "--format", "tdmrep")
    run("export", payload, "--out", tmp_path / "b", "--format", "tdmrep")
    assert (tmp_path / "a" / "tdmrep.json").read_text() == (tmp_path / "b" / "tdmrep.json").read_text()


def test_cli_never_overwrites_without_force(tmp_path, payload):
    out = tmp_path / "legacy"
    run("export", payload, "--out", out, "--format", "robots")
    (out / "robots.txt").write_text("mine")
    result = run("export", payload, "--out", out, code=1)
    assert "E_EXISTS" in result.stderr and "--force" in result.stderr
    assert (out / "robots.txt").read_text() == "mine" and not (out / "tdmrep.json").exists()  # nothing written
    run("export", payload, "--out", out, "--force")
    assert (out / "robots.txt").read_text().startswith("# notrain export for")


def test_cli_json_summary_and_options(tmp_path, payload):
    out = tmp_path / "legacy"
    result = run(
        "export", payload, "--out", out, "--json", "--format", "robots", "--format", "tdmrep",
        "--block-training-crawlers", "--tdm-policy", POLICY,
    )  # fmt: skip
    summary = json.loads(result.stdout)
    assert summary["ok"] and not summary["verified"] and summary["publisher"] == ORIGIN
    assert [f["format"] for f in summary["files"]] == ["robots", "tdmrep"]
    assert {"mechanism": "TDMRep", "where": "search"} in [{k: w[k] for k in ("mechanism", "where")} for w in summary["warnings"]]
    assert "User-agent: GPTBot" in (out / "robots.txt").read_text()
    assert json.loads((out / "tdmrep.json").read_text())[-1]["tdm-policy"] == POLICY


def test_cli_refuses_a_did_key_manifest(tmp_path):
    path = tmp_path / "manifest.json"
    path.write_bytes(manifest_bytes(publisher=make_key("artist").public.did_key))
    result = run("export", path, "--out", tmp_path / "legacy", "--json", code=1)
    assert json.loads(result.stdout)["error"]["code"] == "E_EXPORT_NO_ORIGIN"
    assert not (tmp_path / "legacy").exists()


def test_cli_refuses_a_policy_url_it_cannot_quote(tmp_path, payload):
    result = run("export", payload, "--out", tmp_path / "legacy", "--tdm-policy", 'https://x.example/"$', code=2)
    assert "--tdm-policy" in result.output
