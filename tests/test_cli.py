"""The `notrain` command line, run with real keys, real images and real files."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from pictures import encode, picture, png_claiming_size
from PIL import Image

from notrain import imaging
from notrain.cli import main
from notrain.core import ijson
from notrain.core.keys import PublicKey
from notrain.core.keyset import parse_keyset
from notrain.core.manifest import format_timestamp, parse_payload
from notrain.core.vocab import State
from notrain.core.works import hamming
from notrain.keyfile import load_private_key

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run(*args: str | os.PathLike[str], code: int = 0) -> Result:
    """Run `notrain args...`, checking the exit code and that no traceback escaped."""
    result = CliRunner().invoke(main, [os.fspath(arg) for arg in args])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == code, result.output
    return result


def error_code(result: Result) -> str:
    line = next(line for line in result.stderr.splitlines() if line.startswith("error: "))
    return line.removeprefix("error: ").split(":", 1)[0]


@pytest.fixture
def key(tmp_path) -> Path:
    path = tmp_path / "key.jwk"
    run("keygen", "--out", path)
    return path


@pytest.fixture
def portfolio(tmp_path) -> Path:
    folder = tmp_path / "portfolio"
    (folder / "series").mkdir(parents=True)
    (folder / "a.png").write_bytes(encode(picture(1)))
    (folder / "b.jpg").write_bytes(encode(picture(2), "JPEG", quality=90))
    (folder / "series" / "c.webp").write_bytes(encode(picture(3), "WEBP", quality=90))
    (folder / "notes.txt").write_text("not an image")
    (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    return folder


def init(portfolio: Path, key: Path, *extra: str) -> dict:
    out = portfolio.parent / "notrain.manifest.json"
    run("init", "--from", portfolio, "--key", key, "--out", out, *extra)
    data = out.read_bytes()
    parse_payload(data)
    return json.loads(data)


def signed(tmp_path: Path, portfolio: Path, key: Path, *init_args: str) -> Path:
    run("init", "--from", portfolio, "--key", key, "--out", tmp_path / "m.json", *init_args)
    run("sign", tmp_path / "m.json", "--key", key, "--out", tmp_path / "notrain.json")
    return tmp_path / "notrain.json"


def write_payload(path: Path, **fields) -> Path:
    now = datetime.now(UTC).replace(microsecond=0)
    doc = {
        "notrain": 1,
        "publisher": "https://example.org",
        "sequence": 1,
        "issued": format_timestamp(now - timedelta(days=1)),
        "expires": format_timestamp(now + timedelta(days=200)),
        "default": {"train-ai": "n"},
    } | fields
    path.write_bytes(ijson.dumps(doc, pretty=True))
    return path


# -- keygen -----------------------------------------------------------------------------


def test_keygen_writes_a_0600_private_key_and_prints_its_identity(tmp_path):
    path = tmp_path / "k.jwk"
    result = run("keygen", "--out", path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    public = load_private_key(path).public
    assert public.kid in result.stdout and public.did_key in result.stdout


def test_keygen_json_and_no_silent_overwrite(tmp_path):
    path = tmp_path / "k.jwk"
    first = json.loads(run("keygen", "--out", path, "--json").stdout)
    assert PublicKey.from_jwk(first["jwk"]).did_key == first["did"]
    assert PublicKey.from_did_key(first["did"]).kid == first["kid"]
    refused = run("keygen", "--out", path, code=1)
    assert error_code(refused) == "E_KEYFILE_EXISTS"
    assert load_private_key(path).public.kid == first["kid"]
    second = json.loads(run("keygen", "--out", path, "--json", "--force").stdout)
    assert load_private_key(path).public.kid == second["kid"] != first["kid"]


def test_io_errors_are_one_line(tmp_path):
    result = run("keygen", "--out", tmp_path / "missing-dir" / "k.jwk", code=1)
    assert error_code(result) == "E_IO"
    assert "missing-dir" in result.stderr


# -- init -------------------------------------------------------------------------------


def test_init_records_every_image_and_skips_the_rest(portfolio, key):
    result_doc = init(portfolio, key)
    titles = [work["title"] for work in result_doc["works"]]
    assert titles == ["a.png", "b.jpg", "series/c.webp"]
    for work in result_doc["works"]:
        data = (portfolio / work["title"]).read_bytes()
        assert work["sha256"] == hashlib.sha256(data).hexdigest()
        assert work["pdq"] == imaging.hash_bytes(data).pdq.hex()
    assert result_doc["pdq"] == {"hasher": imaging.HASHER, "threshold": 31}


def test_init_warns_about_non_images_by_name(portfolio, key, tmp_path):
    result = run("init", "--from", portfolio, "--key", key, "--out", tmp_path / "m.json")
    assert "warning: skipping notes.txt" in result.stderr
    assert ".DS_Store" not in result.stderr  # hidden files are not part of a portfolio


def test_recorded_pdq_finds_a_repost_but_not_another_work(portfolio, key):
    doc = init(portfolio, key)
    recorded = bytes.fromhex(doc["works"][0]["pdq"])
    with Image.open(portfolio / "a.png") as original:
        repost = encode(original.resize((240, 180), Image.Resampling.LANCZOS), "JPEG", quality=70)
    assert hamming(recorded, imaging.hash_bytes(repost).pdq) <= 31
    assert hamming(recorded, imaging.hash_bytes(encode(picture(99))).pdq) > 64


def test_init_defaults_and_flags(portfolio, key):
    before = int(datetime.now(UTC).timestamp())
    doc = init(
        portfolio,
        key,
        "--search",
        "y",
        "--ai-use",
        "y",
        "--name",
        "Example Artist",
        "--account",
        "https://bsky.app/profile/a.example",
        "--valid-days",
        "30",
    )
    manifest = parse_payload(ijson.dumps(doc))
    assert manifest.publisher == load_private_key(key).public.did_key
    assert manifest.default == {"train-ai": State.DISALLOWED, "ai-use": State.ALLOWED, "search": State.ALLOWED}
    assert before <= manifest.sequence <= before + 60
    assert manifest.expires - manifest.issued == timedelta(days=30)
    assert [n.name for n in manifest.names] == ["Example Artist"]
    assert [a.url for a in manifest.accounts] == ["https://bsky.app/profile/a.example"]


def test_init_default_prefs_leave_search_unstated(portfolio, key):
    assert init(portfolio, key)["default"] == {"train-ai": "n", "ai-use": "n"}


def test_init_records_flat_images_by_sha256_only(tmp_path, key):
    folder = tmp_path / "flat"
    folder.mkdir()
    (folder / "grey.png").write_bytes(encode(Image.new("RGB", (64, 64), (128, 128, 128))))
    result = run("init", "--from", folder, "--key", key, "--out", tmp_path / "m.json")
    (work,) = json.loads((tmp_path / "m.json").read_text())["works"]
    assert "pdq" not in work and "sha256" in work
    assert "grey.png: PDQ quality" in result.stderr


def test_init_survives_bombs_and_truncated_images(tmp_path, key):
    folder = tmp_path / "hostile"
    folder.mkdir()
    (folder / "bomb.png").write_bytes(png_claiming_size(30_000, 30_000))
    (folder / "cut.png").write_bytes(encode(picture(4))[:500])
    (folder / "ok.png").write_bytes(encode(picture(5)))
    result = run("init", "--from", folder, "--key", key, "--out", tmp_path / "m.json")
    assert "skipping bomb.png: image" in result.stderr and "pixels" in result.stderr
    assert "skipping cut.png" in result.stderr
    assert [w["title"] for w in json.loads((tmp_path / "m.json").read_text())["works"]] == ["ok.png"]


def test_init_records_duplicates_once(tmp_path, key):
    folder = tmp_path / "dupes"
    folder.mkdir()
    data = encode(picture(6))
    (folder / "one.png").write_bytes(data)
    (folder / "two.png").write_bytes(data)
    result = run("init", "--from", folder, "--key", key, "--out", tmp_path / "m.json")
    assert len(json.loads((tmp_path / "m.json").read_text())["works"]) == 1
    assert "two.png is a byte-identical copy of one.png" in result.stderr


def test_init_publisher_choices(portfolio, key, tmp_path):
    out = tmp_path / "m.json"
    run("init", "--from", portfolio, "--out", out, code=2)  # neither --publisher nor --key
    run(
        "init",
        "--from",
        portfolio,
        "--key",
        key,
        "--publisher",
        "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
        "--out",
        out,
        code=2,
    )
    run("init", "--from", portfolio, "--publisher", "https://example.org/gallery", "--out", out, code=2)
    run("init", "--from", portfolio, "--publisher", "https://Example.ORG/", "--out", out)
    assert json.loads(out.read_text())["publisher"] == "https://example.org"
    assert error_code(run("init", "--from", portfolio, "--publisher", "https://example.org", "--out", out, code=1)) == "E_EXISTS"


def test_init_rejects_invalid_accounts_before_writing(portfolio, key, tmp_path):
    out = tmp_path / "m.json"
    result = run("init", "--from", portfolio, "--key", key, "--account", "http://insecure.example/me", "--out", out, code=1)
    assert "E_FIELD_VALUE" in result.stderr and "/accounts/0/url" in result.stderr
    assert not out.exists()


# -- sign and verify --------------------------------------------------------------------


def test_sign_verify_round_trip_with_did_key(tmp_path, portfolio, key):
    envelope = signed(tmp_path, portfolio, key)
    result = run("verify", envelope)
    public = load_private_key(key).public
    assert result.stdout.startswith("OK")
    assert public.did_key in result.stdout and public.kid in result.stdout
    report = json.loads(run("verify", envelope, "--json").stdout)
    payload = base64.b64decode(json.loads(envelope.read_text())["payload"])
    assert payload == (tmp_path / "m.json").read_bytes()  # the exact bytes were signed
    assert report["ok"] and report["publisher"] == public.did_key and report["signed_by"] == [public.kid]
    assert report["digest"] == hashlib.sha256(payload).hexdigest()


def test_sign_verify_round_trip_with_origin_and_key_set(tmp_path, portfolio, key):
    run("keyset", "--key", key, "--publisher", "https://example.org", "--out", tmp_path / "keys.json")
    run("init", "--from", portfolio, "--publisher", "https://example.org", "--out", tmp_path / "m.json")
    run("sign", tmp_path / "m.json", "--key", key, "--out", tmp_path / "notrain.json")
    result = run("verify", tmp_path / "notrain.json", "--keyset", tmp_path / "keys.json")
    assert "https://example.org" in result.stdout
    run("verify", tmp_path / "notrain.json", code=2)  # an origin's keys come from its key set


def test_verify_fails_on_tampered_payload(tmp_path, portfolio, key):
    envelope = signed(tmp_path, portfolio, key)
    doc = json.loads(envelope.read_text())
    payload = json.loads(base64.b64decode(doc["payload"]))
    payload["default"]["train-ai"] = "y"
    doc["payload"] = base64.b64encode(ijson.dumps(payload)).decode()
    envelope.write_text(json.dumps(doc))
    result = run("verify", envelope, code=1)
    assert error_code(result) == "E_SIGNATURE_INVALID"
    assert "/signatures/0/sig" in result.stderr
    assert json.loads(run("verify", envelope, "--json", code=1).stdout)["error"]["code"] == "E_SIGNATURE_INVALID"


def test_verify_fails_with_the_wrong_key_set(tmp_path, portfolio, key):
    other = tmp_path / "other.jwk"
    run("keygen", "--out", other)
    run("keyset", "--key", other, "--publisher", "https://example.org", "--out", tmp_path / "keys.json")
    run("init", "--from", portfolio, "--publisher", "https://example.org", "--out", tmp_path / "m.json")
    run("sign", tmp_path / "m.json", "--key", key, "--out", tmp_path / "notrain.json")
    result = run("verify", tmp_path / "notrain.json", "--keyset", tmp_path / "keys.json", code=1)
    assert error_code(result) == "E_UNKNOWN_KEY"


def test_verify_at_a_future_time_finds_it_expired(tmp_path, portfolio, key):
    envelope = signed(tmp_path, portfolio, key, "--valid-days", "10")
    run("verify", envelope, "--at", format_timestamp(datetime.now(UTC) + timedelta(days=9)))
    result = run("verify", envelope, "--at", "2099-01-01T00:00:00Z", code=1)
    assert error_code(result) == "E_EXPIRED" and "(at /expires)" in result.stderr


def test_verify_expects_the_publisher_it_is_told(tmp_path, portfolio, key):
    envelope = signed(tmp_path, portfolio, key)
    other = tmp_path / "other.jwk"
    run("keygen", "--out", other)
    result = run("verify", envelope, "--publisher", load_private_key(other).public.did_key, code=1)
    assert error_code(result) == "E_UNKNOWN_KEY"


def test_verify_refuses_an_unsigned_payload(tmp_path):
    result = run("verify", write_payload(tmp_path / "m.json"), code=1)
    assert error_code(result) == "E_UNSIGNED"


def test_sign_refuses_expired_payloads(tmp_path, key):
    past = datetime.now(UTC) - timedelta(days=30)
    payload = write_payload(
        tmp_path / "m.json", issued=format_timestamp(past - timedelta(days=1)), expires=format_timestamp(past)
    )
    result = run("sign", payload, "--key", key, "--out", tmp_path / "notrain.json", code=1)
    assert error_code(result) == "E_EXPIRED"
    assert not (tmp_path / "notrain.json").exists()


def test_sign_refuses_invalid_payloads(tmp_path, key):
    payload = tmp_path / "m.json"
    payload.write_bytes(b'{"notrain": 1, "notrain": 1}')
    assert error_code(run("sign", payload, "--key", key, code=1)) == "E_JSON_DUPLICATE_KEY"


def test_sign_did_key_manifest_needs_its_own_key(tmp_path, portfolio, key):
    other = tmp_path / "other.jwk"
    run("keygen", "--out", other)
    run("init", "--from", portfolio, "--key", key, "--out", tmp_path / "m.json")
    result = run("sign", tmp_path / "m.json", "--key", other, "--out", tmp_path / "notrain.json", code=1)
    assert error_code(result) == "E_PUBLISHER_MISMATCH"


def test_sign_with_two_keys(tmp_path, portfolio, key):
    other = tmp_path / "other.jwk"
    run("keygen", "--out", other)
    run("init", "--from", portfolio, "--key", key, "--out", tmp_path / "m.json")
    run("sign", tmp_path / "m.json", "--key", key, "--key", other, "--out", tmp_path / "notrain.json")
    assert len(json.loads((tmp_path / "notrain.json").read_text())["signatures"]) == 2
    assert json.loads(run("verify", tmp_path / "notrain.json", "--json").stdout)["ok"]


# -- key sets and rotation --------------------------------------------------------------


def test_rotate_hands_over_to_the_new_key(tmp_path):
    old_path, new_path, keys = tmp_path / "old.jwk", tmp_path / "new.jwk", tmp_path / "keys.json"
    run("keygen", "--out", old_path)
    run("keygen", "--out", new_path)
    old, new = load_private_key(old_path).public, load_private_key(new_path).public
    run("keyset", "--key", old_path, "--publisher", "https://example.org", "--out", keys)
    run("rotate", "--old", old_path, "--new", new_path, "--keyset", keys)
    kept = parse_keyset(keys.read_bytes(), "https://example.org")
    assert set(kept.keys) == {old.kid, new.kid}
    assert set(kept.trusted({old.kid: old})) == {old.kid, new.kid}


def test_rotate_drop_old_is_followed_from_a_pinned_old_key(tmp_path):
    old_path, new_path, keys = tmp_path / "old.jwk", tmp_path / "new.jwk", tmp_path / "keys.json"
    run("keygen", "--out", old_path)
    run("keygen", "--out", new_path)
    old, new = load_private_key(old_path).public, load_private_key(new_path).public
    run("keyset", "--key", old_path, "--publisher", "https://example.org", "--out", keys)
    run("rotate", "--old", old_path, "--new", new_path, "--keyset", keys, "--drop-old")
    rotated = parse_keyset(keys.read_bytes(), "https://example.org")
    assert rotated.trusted({old.kid: old}) == {new.kid: new}
    assert rotated.rotations[0].verify_with(old)


def test_rotate_refuses_an_old_key_not_in_the_set(tmp_path):
    paths = [tmp_path / f"{name}.jwk" for name in ("a", "b", "c")]
    for path in paths:
        run("keygen", "--out", path)
    run("keyset", "--key", paths[0], "--publisher", "https://example.org", "--out", tmp_path / "keys.json")
    result = run("rotate", "--old", paths[1], "--new", paths[2], "--keyset", tmp_path / "keys.json", code=1)
    assert error_code(result) == "E_KEY"


def test_keyset_refuses_did_key_publishers(tmp_path, key):
    result = run("keyset", "--key", key, "--publisher", load_private_key(key).public.did_key, code=1)
    assert error_code(result) == "E_KEYSET"


# -- show and lint ----------------------------------------------------------------------


def test_show_says_not_verified_and_summarises(tmp_path, portfolio, key):
    envelope = signed(tmp_path, portfolio, key, "--name", "Example Artist")
    public = load_private_key(key).public
    text = run("show", envelope).stdout
    assert "NOT VERIFIED" in text
    for expected in (public.did_key, "a.png", "series/c.webp", "Example Artist", public.kid, "train-ai=n", "works:      3"):
        assert expected in text
    summary = json.loads(run("show", envelope, "--json").stdout)
    assert summary["verified"] is False and summary["signed"] is True
    assert [w["title"] for w in summary["works"]] == ["a.png", "b.jpg", "series/c.webp"]
    assert summary["signatures"] == [{"keyid": public.kid, "publisher_key": True}]


def test_show_reads_a_bare_payload(tmp_path):
    payload = write_payload(tmp_path / "m.json", paths=[{"pattern": "/art/", "prefs": {"train-ai": "n", "search": "y"}}])
    text = run("show", payload).stdout
    assert "NOT VERIFIED" in text and "signatures: none" in text and "/art/" in text
    assert json.loads(run("show", payload, "--json").stdout)["signed"] is False


def test_show_never_writes_control_characters_from_a_document(tmp_path):
    """A publisher's title or name holding ESC [ ... would drive the reader's terminal: it is shown escaped."""
    hostile = "\x1b]0;owned\x07\x1b[2J\x9b31m"
    payload = write_payload(tmp_path / "m.json", names=[{"name": "Mira" + hostile}])
    for args in (("show", payload), ("show", payload, "--json")):
        out = run(*args).stdout
        assert not any(ch in out for ch in "\x1b\x07\x9b")
    assert "Mira\\u001b]0;owned\\u0007" in run("show", payload).stdout
    assert json.loads(run("show", payload, "--json").stdout)["names"][0].startswith("Mira" + hostile[:3])


def test_lint_is_quiet_on_a_good_manifest(tmp_path, portfolio, key):
    envelope = signed(tmp_path, portfolio, key, "--name", "Example Artist")
    assert json.loads(run("lint", envelope, "--json").stdout) == {"ok": True, "errors": [], "warnings": []}
    assert "0 error(s), 0 warning(s)" in run("lint", tmp_path / "m.json").stdout


def test_lint_warns_about_likely_mistakes(tmp_path):
    now = datetime.now(UTC).replace(microsecond=0)
    sha = hashlib.sha256(b"work").hexdigest()
    payload = write_payload(
        tmp_path / "m.json",
        issued=format_timestamp(now - timedelta(days=1)),
        expires=format_timestamp(now + timedelta(days=10)),
        default={"train-ai": "y", "ai-use": "y", "search": "y"},
        paths=[{"pattern": "/a/", "prefs": {"train-ai": "n"}}, {"pattern": "/a/", "prefs": {"search": "y"}}],
        pdq={"hasher": imaging.HASHER, "threshold": 40},
        works=[{"sha256": sha}, {"sha256": sha, "title": "again"}],
        names=[{"name": "Al"}, {"name": "Example Artist"}],
    )
    report = json.loads(run("lint", payload, "--json").stdout)
    found = {(w["code"], w["where"]) for w in report["warnings"]}
    assert report["ok"] and not report["errors"]
    assert found == {
        ("W_EXPIRES_SOON", "/expires"),
        ("W_ALLOWS_ALL", "/default"),
        ("W_DUPLICATE_WORK", "/works/1/sha256"),
        ("W_SHORT_NAME", "/names/0/name"),
        ("W_PDQ_THRESHOLD", "/pdq/threshold"),
        ("W_SHADOWED_PATH", "/paths/1"),
    }
    assert "warning: W_SHORT_NAME" in run("lint", payload).stdout


def test_lint_warns_about_entries_without_preferences_and_expiry(tmp_path):
    past = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    payload = write_payload(
        tmp_path / "m.json",
        publisher="did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
        issued=format_timestamp(past - timedelta(days=5)),
        expires=format_timestamp(past),
        default={},
        works=[
            {"sha256": hashlib.sha256(b"a").hexdigest()},
            {"sha256": hashlib.sha256(b"b").hexdigest(), "prefs": {"train-ai": "n"}},
        ],
        names=[{"name": "Example Artist"}],
    )
    report = json.loads(run("lint", payload, "--json").stdout)
    assert {(w["code"], w["where"]) for w in report["warnings"]} == {
        ("W_EXPIRED", "/expires"),
        ("W_NO_PREFS", "/works/0"),
        ("W_NO_PREFS", "/names/0"),
    }


def test_lint_reports_errors_with_exit_1(tmp_path):
    broken = write_payload(tmp_path / "m.json", works=[{"sha256": "ABC"}])
    report = json.loads(run("lint", broken, "--json", code=1).stdout)
    assert report["ok"] is False and report["errors"][0]["code"] == "E_HASH" and report["errors"][0]["where"] == "/works/0/sha256"
    assert "error: E_HASH" in run("lint", broken, code=1).stdout


# -- the README's example ---------------------------------------------------------------


def test_publish_example_runs_from_any_directory(tmp_path):
    env = os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}", "TMPDIR": str(tmp_path)}
    result = subprocess.run(
        ["sh", EXAMPLES / "publish.sh"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK: " in result.stdout and "NOT VERIFIED" in result.stdout
    assert "skipping notes.txt" in result.stderr and "Traceback" not in result.stderr
    (out,) = tmp_path.glob("notrain-example.*")
    assert stat.S_IMODE((out / "key.jwk").stat().st_mode) == 0o600
    manifest = parse_payload((out / "notrain.manifest.json").read_bytes())
    assert len(manifest.works) == 7 and all(work.pdq for work in manifest.works)
    assert "sketches/spiral.png" in {work.title for work in manifest.works}
