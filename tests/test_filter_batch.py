"""The dataset filter's batch core against the scalar core, row by row (issue 10 §3).

Every row of a generated batch (hostile URLs and captions included) must get from
BatchFilter exactly what decide(catalog.statements(...)) gives it: the same keep/refuse
answer and the same statements as evidence.  The catalog is a real bundle of manifests
signed with real keys and verified by LocalSource.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pyarrow as pa
import pytest
from conftest import make_key

from notrain.core import MANIFEST_TYPE, ContentHash, State, decide, dsse, make_keyset
from notrain.core.catalog import _split
from notrain.core.ijson import dumps
from notrain.core.manifest import origin_of_split
from notrain.core.names import MAX_CAPTION_CHARS
from notrain.fetch.sources import LocalSource, bundle
from notrain.filter import BatchFilter, Columns, FilterError
from notrain.filter.batch import strip_names
from notrain.filter.origins import plain_hosts

NOW = datetime(2026, 12, 1, tzinfo=UTC)
SITES = ["https://art.example", "http://gallery.example:8080", "https://1.2.3.4", "https://[2001:db8::1]"]
WORK = bytes.fromhex("ab" * 32)
PDQ = bytes.fromhex("f0" * 32)
NAMES = ["Mira Okafor", "janedoe_art", "Zoë Quist", "Ёжик Туманов", "山田花子", "Ann"]


def _manifest(publisher: str, **members) -> bytes:
    doc = {"notrain": 1, "publisher": publisher, "sequence": 1, "issued": "2026-11-01T00:00:00Z",
           "expires": "2027-11-01T00:00:00Z", "default": {"train-ai": "n"}, **members}
    return dumps(doc)


def make_bundle(path) -> LocalSource:
    """A bundle of four sites with path rules and one person with works, names and an account."""
    entries = []
    for i, site in enumerate(SITES):
        key = make_key(f"filter-site-{i}")
        paths = [{"pattern": "/open/", "prefs": {"train-ai": "y", "ai-use": "y"}}, {"pattern": "/*.png$", "prefs": {"search": "n"}},
                 {"pattern": "/open/secret", "prefs": {"train-ai": "n", "ai-use": "n"}}]
        entries.append({"envelope": dsse.sign(_manifest(site, paths=paths), MANIFEST_TYPE, [key]).to_json(),
                        "keyset": make_keyset(site, [key.public]).to_json()})
    person = make_key("filter-person")
    body = _manifest(person.public.did_key, default={"train-ai": "n", "ai-use": "n"}, names=[{"name": n} for n in NAMES], works=[{"sha256": WORK.hex()}, {"pdq": PDQ.hex()}],
                     pdq={"hasher": "pdqhash-0.2", "threshold": 31}, accounts=[{"url": "https://social.example/@mira"}])
    entries.append({"envelope": dsse.sign(body, MANIFEST_TYPE, [person]).to_json()})
    path.write_bytes(bundle(entries))
    source = LocalSource(path, now=NOW)
    catalog = source.catalog()
    assert len(catalog) == len(SITES) + 1, source.rejected
    catalog.set_proven_accounts(person.public.did_key, {"https://social.example/@mira"})
    return source


HOSTS = ["art.example", "ART.Example", "gallery.example:8080", "gallery.example", "gallery.example:08080", "1.2.3.4", "01.2.3.4",
         "[2001:db8::1]", "[2001:DB8::1]", "[2001:db8:0::1]", "other.example", "social.example", "art.example.", "art.example:443",
         "art.example:0", "art.example:65536", "art.example:99999", "guest@art.example", "art.example@evil.example",
         "evil.example\\@art.example", "\u212Aart.example", "art\t.example", "art.exa%6dple", "xn--rt-sia.example", "-art.example",
         "art..example", "[::1", "art.example:", "gallery.example:80", "ärt.example", ""]
SCHEMES = ["https://", "http://", "HTTPS://", "https:", "https:/", "https:\\\\", " https://", "\x01https://", "ftp://", "https:///", "//"]
PATHS = ["", "/", "/open/", "/open/secret", "/open/x.png", "/a.png", "/x?y#z", "?q", "#f", "/%6Fpen/", "\\open\\", "/open/\t", " ",
         "/@mira", "/@mira/post/1", "/@mira/../x", "/ü/", "/open/secret\x00"]
CAPTIONS = ["a cat", "Portrait by Mira Okafor", "mira  okafor!", "MIRA_OKAFOR", "miraokafor", "Ｍｉｒａ Ｏｋａｆｏｒ",
            "janedoe art", "JaneDoe-Art poster", "zoe quist", "Zoë Quist", "zoe\u0308 quist", "ёжик туманов в тумане", "山田花子の絵",
            "山田 花子", "ann", "anne", "Ann!", "", None, "x" * (MAX_CAPTION_CHARS - 4) + " Ann", "x" * (MAX_CAPTION_CHARS - 2) + " Annabel",
            "mira okafor" * 2, "o\u0301kafor mira okafor", "ſtraße ann", "ＡＮＮ"]
HASHES = [None, WORK.hex(), WORK.hex().upper(), "ab" * 31, "zz" * 32, "cd" * 32]


def _rows(count: int, seed: int) -> dict[str, list]:
    rng = random.Random(seed)
    urls = [rng.choice(SCHEMES) + rng.choice(HOSTS) + rng.choice(PATHS) for _ in range(count)]
    urls[::97] = [None] * len(urls[::97])
    return {
        "url": urls,
        "caption": [rng.choice(CAPTIONS) for _ in range(count)],
        "sha256": [rng.choice(HASHES) for _ in range(count)],
        "pdq": [rng.choice([None, None, PDQ.hex(), "0f" * 32, (bytes([0xF1]) + PDQ[1:]).hex()]) for _ in range(count)],
    }


def _expected(catalog, row: dict, purpose: str, unknown_as: State) -> tuple[bool, list]:
    content = None
    if row["sha256"] or row["pdq"]:
        def raw(h):
            return bytes.fromhex(h) if h and len(h) == 64 and all(c in "0123456789abcdefABCDEF" for c in h) else None
        content = ContentHash(sha256=raw(row["sha256"]), pdq=raw(row["pdq"]))
    decision = decide(catalog.statements(url=row["url"], content=content, text=row["caption"]), unknown_as=unknown_as)
    return decision.allowed(purpose), [s.to_json() for s in decision.disallowed_by(purpose)]


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    return make_bundle(tmp_path_factory.mktemp("bundle") / "bundle.json")


@pytest.mark.parametrize("purpose,unknown_as,reasons", [
    ("train-ai", State.ALLOWED, {"url", "work", "name"}),
    ("search", State.ALLOWED, {"url"}),  # only the sites' '/*.png$' rule speaks about search
    ("ai-use", State.DISALLOWED, {"url", "work", "name", "unknown"}),
])
def test_batch_decisions_equal_the_scalar_core_row_by_row(source, purpose, unknown_as, reasons):
    catalog = source.catalog()
    data = _rows(3000, seed=len(purpose))
    batch = pa.RecordBatch.from_pydict(data)
    result = BatchFilter(catalog, purpose=purpose, unknown_as=unknown_as).apply(batch, Columns("url", "caption", "sha256", "pdq"))
    out = result.to_pydict()
    kinds = set()
    for i in range(len(batch)):
        row = {k: v[i] for k, v in data.items()}
        keep, because = _expected(catalog, row, purpose, unknown_as)
        assert out["notrain_keep"][i] == keep, row
        assert json.loads(out["notrain_evidence"][i] or "[]") == because, row
        kinds.update((out["notrain_reason"][i] or "kept").split("+"))
    assert kinds == reasons | {"kept"}  # the generated rows reach every way of being refused


def test_plain_hosts_are_the_hosts_of_the_scalar_origins(source):
    """Every URL the vectorised probe reads has, if any origin at all, one with that host."""
    urls = [s + h + p for s in SCHEMES for h in HOSTS for p in PATHS[:8]]
    read = 0
    for url, host in zip(urls, plain_hosts(pa.array(urls)).to_pylist()):
        if host is None:
            continue
        read += 1
        parts = _split(url)
        try:
            origin = origin_of_split(parts, of_url=True) if parts is not None else None
        except ValueError:
            origin = None
        assert origin is None or urlsplit(origin).hostname == host, url
    assert read > 300


def test_rows_without_statements_never_reach_the_scalar_core(source, monkeypatch):
    """The point of the column pass: unrelated rows are answered without a per-row lookup."""
    catalog = source.catalog()
    calls = []
    monkeypatch.setattr(catalog, "url_statements", lambda url: calls.append(url) or [])
    monkeypatch.setattr(catalog, "text_statements", lambda text: calls.append(text) or [])
    n = 5000
    batch = pa.RecordBatch.from_pydict({"url": [f"https://img{i}.cdn.example/p/{i}.jpg" for i in range(n)],
                                        "caption": [f"a photo of a cat number {i}" for i in range(n)]})
    result = BatchFilter(catalog).apply(batch, Columns(caption="caption"))
    assert result.column("notrain_keep").to_pylist() == [True] * n and calls == []
    batch = pa.RecordBatch.from_pydict({"url": ["https://art.example/a", "https://x.example/"], "caption": ["by Mira Okafor", "cat"]})
    BatchFilter(catalog).apply(batch, Columns(caption="caption"))
    assert calls == ["https://art.example/a", "by Mira Okafor"]


def test_strip_keeps_a_row_refused_only_for_a_name(source):
    catalog = source.catalog()
    batch = pa.RecordBatch.from_pydict({
        "url": ["https://x.example/1", "https://x.example/2", "https://art.example/3", "https://x.example/4"],
        "caption": ["Portrait by Mira_Okafor, oil", "山田花子の絵", "by Mira Okafor", "a cat"]})
    out = BatchFilter(catalog, names="strip").apply(batch, Columns(caption="caption")).to_pydict()
    assert out["notrain_keep"] == [True, False, False, True]
    assert out["notrain_caption"][0] == "Portrait by , oil" and out["notrain_reason"][0] == "name-stripped"
    assert out["notrain_reason"][1] == "name"  # unspaced script: the word cut cannot remove it, so the row goes
    assert out["notrain_reason"][2] == "url+name"  # the site refuses it anyway
    assert decide(catalog.statements(text=out["notrain_caption"][0])).allowed("train-ai")


def test_strip_names_cuts_whole_words_only():
    assert strip_names("Ann and Anne by ANN", ["ann"]) == "and Anne by"
    assert strip_names("jane-doe jane does", ["jane doe"]) == "jane does"


def test_missing_and_mistyped_columns_are_typed_errors(source):
    batch = pa.RecordBatch.from_pydict({"link": ["https://x.example/"], "n": [1]})
    with pytest.raises(FilterError) as caught:
        BatchFilter(source.catalog()).apply(batch)
    assert caught.value.code == "E_FILTER_COLUMN" and caught.value.where == "url"
    with pytest.raises(FilterError) as caught:
        BatchFilter(source.catalog()).apply(batch, Columns(url="link", caption="n"))
    assert caught.value.code == "E_FILTER_COLUMN"
    with pytest.raises(FilterError) as caught:
        BatchFilter(source.catalog(), purpose="train")
    assert caught.value.code == "E_FILTER_OPTION"


def test_binary_hash_columns(source):
    batch = pa.RecordBatch.from_pydict({"url": ["https://x.example/a"] * 3, "sha": [WORK, b"\x00" * 32, b"short"]},
                                       schema=pa.schema([("url", pa.string()), ("sha", pa.binary())]))
    out = BatchFilter(source.catalog()).apply(batch, Columns(sha256="sha")).to_pydict()
    assert out["notrain_keep"] == [False, True, True] and out["notrain_reason"][0] == "work"
