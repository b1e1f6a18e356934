"""Hostile input at every entry point: a typed error or no statement, never a crash.

Four kinds of input crashed notrain once (issue 7 §4): timestamps at the end of year 9999, lone
surrogates in member names (they reached error locations, then every writer of an error), bytes
that are not UTF-8 in command-line arguments and files, and strings that are no URL at all. Each is
fed here to the core, the fetch layer, doctor and the command line, with real keys, real files, real
processes and real local sites; the Scrapy crawls are in test_scrapy_hostile.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from conftest import NOW, make_key, manifest_bytes
from scrapy.settings import Settings
from test_cli import error_code, run
from test_fetch_manifests import publish

from notrain.core import MANIFEST_TYPE, dsse, ijson
from notrain.core.catalog import Catalog, OriginRules
from notrain.core.errors import JSONError, NotrainError, PayloadError, PolicyError, URLError
from notrain.core.manifest import parse_payload
from notrain.core.verify import check_policy
from notrain.doctor import diagnose
from notrain.export import valid_policy_url
from notrain.fetch.http import HttpClient
from notrain.fetch.manifests import ManifestFetcher, ManifestState, Status
from notrain.fetch.site import SiteFetcher
from notrain.scrapy.options import Options
from notrain.scrapy.report import ComplianceReport

LAST_DAY = {"issued": "9999-12-31T00:00:00Z", "expires": "9999-12-31T23:59:59Z"}
ON_THE_LAST_DAY = datetime(9999, 12, 31, 12, tzinfo=timezone.utc)
LAST_INSTANT = datetime.max.replace(tzinfo=timezone.utc)
FIRST_INSTANT = datetime.min.replace(tzinfo=timezone.utc)
SURROGATE_MEMBER = {"\ud800": 1}  # json.dumps writes it as the escape "\ud800": valid JSON, not I-JSON
ESCAPED = "\\ud800"  # what an error location says instead: six characters, valid Unicode

# Strings that are no URL or have no origin: unclosed or misplaced brackets, ports out of range or not
# numbers, a netloc that NFKC turns into a delimiter, lone surrogates, non-canonical hosts, other schemes.
NO_ORIGIN = [
    "http://[::1", "http://[", "http://]/", "http://a]b/", "http://u@[::1/", "http://[::1]x/", "http://[v1.x]/",
    "http://a:99999/", "http://a:-1/", "http://a:port/", "http://a:1:2/", "https://art.example:99999/x", "https://art.example:0/",
    "http://%5B::1/", "http://ex\uff03ample.org/", "http://\ud800/", "http://a b/", "http://[fe80::1%25eth0]/",
    "http://[::ffff:1.2.3.4]/", "http://my_host.example/", "http://\u0130.org/", "", " ", "http://", "//a/b", "mailto:x@y",
    "javascript:alert(1)",
]
# URLs of the publisher's origin with hostile paths: its rules apply, without a crash.
ODD_PATHS = [
    "https://art.example/\udc80?\udfff#\ud800", "https://art.example/\x00", "https://art.example\\x", "https://art.example/" + "a" * 200_000,
    "https://guest:\ud800@art.example/",
]


def envelope_for(tmp_path: Path, name: str, body: bytes, key_name: str = "person") -> Path:
    path = tmp_path / name
    path.write_bytes(dsse.sign(body, MANIFEST_TYPE, [make_key(key_name)]).to_bytes())
    return path


def did(key_name: str = "person") -> str:
    return make_key(key_name).public.did_key


# -- timestamps at the end of year 9999 ---------------------------------------------------------------


def test_a_manifest_of_the_last_day_parses_and_verifies_on_that_day():
    manifest = parse_payload(manifest_bytes(**LAST_DAY))
    check_policy(manifest, now=ON_THE_LAST_DAY, previous=None)
    with pytest.raises(PolicyError) as refused:
        check_policy(manifest, now=NOW, previous=None)
    assert refused.value.code == "E_NOT_YET_VALID"


@pytest.mark.parametrize(
    "issued, expires",
    [("9998-11-25T23:59:59Z", "9999-12-31T23:59:59Z"), ("9999-12-31T23:59:59Z", "9999-12-31T23:59:59Z"),
     ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z")],
)
def test_validity_at_the_ends_of_time_is_a_typed_error(issued, expires):
    with pytest.raises(PayloadError) as refused:
        parse_payload(manifest_bytes(issued=issued, expires=expires))
    assert refused.value.code == "E_VALIDITY"


@pytest.mark.parametrize("now, code", [(LAST_INSTANT, "E_EXPIRED"), (FIRST_INSTANT, "E_NOT_YET_VALID")])
def test_policy_at_the_first_and_last_instants(now, code):
    with pytest.raises(PolicyError) as refused:
        check_policy(parse_payload(manifest_bytes()), now=now, previous=None)
    assert refused.value.code == code


async def test_the_fetch_layer_refuses_a_last_day_manifest_today_and_caches_it_on_that_day(site, client):
    publish(site, make_key("site"), **LAST_DAY)
    today = await ManifestFetcher(client, now=lambda: NOW).state(site.origin)
    assert today.status is Status.FAILED and today.error.startswith("E_NOT_YET_VALID")
    then = ManifestFetcher(client, now=lambda: ON_THE_LAST_DAY)
    state = await then.state(site.origin)
    assert state.status is Status.VERIFIED and then.cache.fresh(site.origin) is state  # cached until min(expiry, TTL)


async def test_doctor_explains_a_last_day_manifest(site):
    publish(site, make_key("site"), **LAST_DAY)
    site.serve("/p", "<p>page</p>", Content_Type="text/html")
    async with HttpClient(timeout=2.0) as client:
        diagnosis = await diagnose(site.origin + "/p", client)
    assert diagnosis.site.manifest.error.startswith("E_NOT_YET_VALID")
    assert not diagnosis.decision.allowed("train-ai")  # fail-closed, explained
    assert any("E_NOT_YET_VALID" in advice for advice in diagnosis.advice)


def test_cli_verify_at_the_end_of_time(tmp_path):
    last_day = envelope_for(tmp_path, "last.json", manifest_bytes(publisher=did(), **LAST_DAY))
    ordinary = envelope_for(tmp_path, "now.json", manifest_bytes(publisher=did()))
    assert "OK" in run("verify", last_day, "--at", "9999-12-31T12:00:00Z").output
    assert error_code(run("verify", last_day, code=1)) == "E_NOT_YET_VALID"
    assert error_code(run("verify", ordinary, "--at", "9999-12-31T23:59:59Z", code=1)) == "E_EXPIRED"
    assert error_code(run("verify", ordinary, "--at", str(253402300799), code=1)) == "E_EXPIRED"  # Unix time of the last second
    for beyond in ("9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00", "99999999999999"):
        assert "year 1 to 9999" in run("verify", ordinary, "--at", beyond, code=2).output
    payload = tmp_path / "last-payload.json"
    payload.write_bytes(manifest_bytes(publisher=did(), **LAST_DAY))
    assert "9999-12-31T23:59:59Z" in run("show", payload).output
    assert error_code(run("sign", payload, "--key", write_key(tmp_path), code=1)) == "E_NOT_YET_VALID"


def write_key(tmp_path: Path) -> Path:
    from notrain.keyfile import save_private_key

    path = tmp_path / "person.jwk"
    if not path.exists():
        save_private_key(path, make_key("person"))
    return path


# -- lone surrogates ------------------------------------------------------------------------------------


def test_error_locations_and_messages_are_always_valid_unicode():
    with pytest.raises(JSONError) as refused:
        ijson.loads(json.dumps(SURROGATE_MEMBER).encode(), max_size=100)
    assert refused.value.code == "E_JSON_SURROGATE" and refused.value.where == "/" + ESCAPED
    error = NotrainError("a \udcff message", where="/\ud800/x")
    assert error.where == f"/{ESCAPED}/x" and error.message == "a \\udcff message"
    for text in (error.where, error.message, str(error), json.dumps(error.to_json(), ensure_ascii=False)):
        text.encode("utf-8")  # raises on a lone surrogate


def cli(*args: str | bytes | os.PathLike, **env: str) -> subprocess.CompletedProcess:
    """The real `notrain` process, with a strict UTF-8 stdout unless told otherwise (a pipe on many systems)."""
    return subprocess.run(
        [sys.executable, "-m", "notrain.cli", *args], capture_output=True, timeout=120,
        env={**os.environ, "PYTHONIOENCODING": "utf-8", **env},
    )


def test_cli_json_and_text_output_of_a_surrogate_member_name(tmp_path):
    path = tmp_path / "m.json"
    path.write_bytes(manifest_bytes(**SURROGATE_MEMBER))
    linted = cli("lint", path, "--json")
    assert linted.returncode == 1 and b"Traceback" not in linted.stderr
    (error,) = json.loads(linted.stdout)["errors"]
    assert error == {"code": "E_JSON_SURROGATE", "message": error["message"], "where": "/" + ESCAPED}
    shown = cli("show", path)
    assert shown.returncode == 1 and shown.stderr.decode("utf-8").startswith("error: E_JSON_SURROGATE")


async def test_doctor_shows_a_manifest_refused_for_a_surrogate_member(site):
    publish(site, make_key("site"), **SURROGATE_MEMBER)
    site.serve("/p", "<p>page</p>", Content_Type="text/html")
    async with HttpClient(timeout=2.0) as client:
        diagnosis = await diagnose(site.origin + "/p", client)
    assert diagnosis.site.manifest.error.endswith(f"(at /{ESCAPED})")
    for args in (["--json"], []):
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "notrain.cli", "doctor", site.origin + "/p", *args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        )
        out, err = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0 and b"Traceback" not in err, err.decode(errors="replace")
        text = out.decode("utf-8")
        if args:
            assert json.loads(text)["manifest"]["error"].endswith(f"(at /{ESCAPED})")
        else:
            assert f"/{ESCAPED}" in text and "E_JSON_SURROGATE" in text


def test_the_compliance_report_is_written_whatever_text_reached_it(tmp_path):
    report = ComplianceReport(Options.from_settings(Settings()))
    report.errors.append({"origin": "http://a.example", "error": "raw \ud800 from another component"})
    report.origins["http://b.example/\udcff"] = {"robots_txt": "parsed"}
    written = json.loads(report.write(tmp_path / "report.json").read_bytes().decode("utf-8"))
    assert written["errors"] == [{"origin": "http://a.example", "error": f"raw {ESCAPED} from another component"}]
    assert "http://b.example/\\udcff" in written["origins"]


# -- bytes that are not UTF-8 -----------------------------------------------------------------------------


@pytest.fixture
def folder(tmp_path) -> Path:
    from pictures import encode, picture

    folder = tmp_path / "portfolio"
    folder.mkdir()
    (folder / "a.png").write_bytes(encode(picture(1)))
    return folder


@pytest.mark.parametrize(
    "args",
    [["init", "--name", b"caf\xe9"], ["init", "--account", b"https://bsky.app/profile/\xff"], ["doctor", b"http://127.0.0.1:9/\xff"],
     ["doctor", "--token", b"bot\xff", "http://127.0.0.1:9/"], ["doctor", "--token", "two words", "http://127.0.0.1:9/"]],
)
def test_arguments_that_are_not_utf8_text_are_usage_errors(args, folder, tmp_path):
    if args[0] == "init":
        args = [*args, "--from", folder, "--key", write_key(tmp_path), "--out", tmp_path / "out.json"]
    done = cli(*args)
    assert done.returncode == 2 and b"Traceback" not in done.stderr
    assert b"not valid UTF-8 text" in done.stderr or b"not a product token" in done.stderr
    assert not (tmp_path / "out.json").exists()


@pytest.mark.parametrize(
    "args, says",
    [(["init", "--publisher", "https://[::1"], "is not an origin"), (["init", "--publisher", "https://a.example:99999"], "is not an origin"),
     (["doctor", "--timeout", "nan", "http://127.0.0.1:9/"], "nan"), (["doctor", "--timeout", "-1", "http://127.0.0.1:9/"], "range"),
     (["doctor", "--timeout", "inf", "http://127.0.0.1:9/"], "range"), (["doctor", "http://[::1"], "http(s) URL")],
)
def test_hostile_arguments_are_usage_errors(args, says, folder, tmp_path):
    if args[0] == "init":
        args = [*args, "--from", folder, "--out", tmp_path / "out.json"]
    result = run(*args, code=2)
    assert says in result.output and not (tmp_path / "out.json").exists()


def test_file_names_that_are_not_utf8_are_printed_escaped(tmp_path, folder):
    made = cli("keygen", "--out", os.fsencode(tmp_path) + b"/k\xff.jwk", "--json")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["path"].endswith("/k\\udcff.jwk")
    written = cli("init", "--from", folder, "--key", os.fsencode(tmp_path) + b"/k\xff.jwk", "--out", os.fsencode(tmp_path) + b"/m\xfe.json")
    assert written.returncode == 0 and b"m\\udcfe.json" in written.stdout
    missing = cli("show", os.fsencode(tmp_path) + b"/absent\xfe.json")
    assert missing.returncode == 2 and b"Traceback" not in missing.stderr


@pytest.mark.parametrize("command", ["show", "lint", "verify", "sign", "export", "keyset", "rotate"])
def test_files_that_are_not_utf8_are_typed_errors(command, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'{"notrain": "caf\xe9"}')
    key = write_key(tmp_path)
    args = {
        "verify": ["verify", bad], "sign": ["sign", bad, "--key", key, "--out", tmp_path / "o.json"],
        "export": ["export", bad, "--out", tmp_path / "x"], "keyset": ["keyset", "--key", bad, "--publisher", "https://a.example"],
        "rotate": ["rotate", "--old", key, "--new", key, "--keyset", bad],
        "lint": ["lint", bad, "--json"],
    }.get(command, [command, bad])
    result = run(*args, code=1)
    assert error_code(result) == "E_JSON_UTF8" if command != "lint" else json.loads(result.output)["errors"][0]["code"] == "E_JSON_UTF8"


def test_a_bundle_entry_with_parts_its_manifest_lacks_is_rejected_not_fatal(tmp_path):
    from test_sources import entry

    from notrain.fetch.sources import LocalSource, bundle

    body = manifest_bytes(publisher=did(), **{"issued": "2026-01-01T00:00:00Z", "expires": "2026-12-31T00:00:00Z"})
    path = tmp_path / "bundle.json"
    path.write_bytes(bundle([entry(body, make_key("person"), parts=5), entry(body, make_key("person"), parts=["AA=="])]))
    source = LocalSource(path, now=NOW)
    assert len(source.catalog()) == 0
    assert [r.error.split(":")[0] for r in source.rejected] == ["E_SOURCE", "E_SOURCE"]


# -- strings that are no URL --------------------------------------------------------------------------------


def test_catalog_and_manifest_lookups_of_hostile_urls_yield_no_statement():
    manifest = parse_payload(manifest_bytes(paths=[{"pattern": "/*", "prefs": {"search": "n"}}]))
    catalog = Catalog()
    catalog.add(manifest)
    rules = OriginRules(manifest)
    verified = ManifestState(manifest.publisher, Status.VERIFIED, "test", rules=rules)
    assert catalog.statements(url="https://art.example/x")  # the manifest does speak for its own URLs
    for url in NO_ORIGIN:
        assert catalog.statements(url=url) == [], url
        assert isinstance(rules.statements(url), list) and isinstance(verified.statements(url), list)
    for url in ODD_PATHS:
        assert {s.evidence.rule for s in catalog.statements(url=url)} == {"/paths/0", "/default"}, url


async def test_site_signals_and_doctor_refuse_a_url_without_origin_with_a_typed_error(client):
    fetcher = SiteFetcher(client)
    for url in NO_ORIGIN:
        with pytest.raises(URLError):
            await fetcher.site(url)
    for url in ("http://[::1", "http://[::1]x/", "mailto:x@y"):
        with pytest.raises(URLError):
            await diagnose(url, client)


def test_policy_url_checks_never_raise(tmp_path):
    assert {valid_policy_url(url) for url in NO_ORIGIN + ODD_PATHS} == {True, False}
    assert not valid_policy_url("http://[::1") and not valid_policy_url("https://[")
    manifest = tmp_path / "m.json"
    manifest.write_bytes(manifest_bytes())
    assert "--tdm-policy" in run("export", manifest, "--tdm-policy", "http://[::1", code=2).output


def test_evidence_quoting_a_lone_surrogate_from_a_signal_is_written_escaped():
    from notrain.signals.tdmrep import parse_tdmrep, tdmrep_statement

    rules = parse_tdmrep(b'[{"location": "/\\ud800*", "tdm-reservation": 1, "tdm-policy": "https://a.example/\\udfff"}]',
                         "https://a.example/.well-known/tdmrep.json")
    statement = tdmrep_statement(rules, None, None, "https://a.example/%ED%A0%80x")
    evidence = json.dumps(statement.to_json(), ensure_ascii=False).encode("utf-8")  # raises on a lone surrogate
    assert b"https://a.example/\\\\udfff" in evidence and b'\\\\ud800*' in evidence
