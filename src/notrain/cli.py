"""The ``notrain`` command line: what a publisher runs.

keygen -> init -> sign -> verify is the whole publishing path; ``keyset`` and
``rotate`` serve sites that publish ``/.well-known/notrain-keys.json``, and
``show`` and ``lint`` help authors read what they are about to publish, and
``doctor`` shows a site owner what crawlers see for one of their URLs;
``export`` says what a site's manifest says in robots.txt, tdmrep.json,
server headers and meta tags, for crawlers that do not read notrain;
``snapshot pull`` and ``snapshot verify`` fetch and check an aggregator's
signed snapshot for offline crawls and dataset filters.

Conventions: results go to stdout (JSON with ``--json``), progress and
warnings to stderr.  Every document is parsed back with the core's strict
parser before it is written, so the CLI never writes what a verifier would
refuse.  Output files are never overwritten without ``--force``.  Errors are
printed as ``error: CODE: message (at where)``, never as a traceback; the exit
status is 1 for a refused document and 2 for a usage error.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from . import imaging, render
from .core import dsse, ijson
from .core.errors import NotrainError, PolicyError, scalar_string, scalar_strings
from .core.keys import PrivateKey, PublicKey
from .core.keyset import MAX_KEYSET_BYTES, make_keyset, make_rotation, parse_keyset
from .core.manifest import (
    DEFAULT_PDQ_THRESHOLD,
    MANIFEST_TYPE,
    MAX_VALIDITY,
    Manifest,
    canonical_origin,
    check_publisher,
    format_timestamp,
    parse_payload,
)
from .core.names import normalise as normalise_name
from .core.urls import split_url
from .core.verify import check_policy, is_envelope, peek_publisher, trusted_keys, verify_manifest
from .core.vocab import AI_USE, SEARCH, TRAIN_AI, State
from .doctor import DEFAULT_TOKEN, diagnose
from .doctor import render as render_diagnosis
from .export import FORMATS, ExportOptions, valid_policy_url
from .export import export as export_legacy
from .fetch.http import HttpClient
from .keyfile import load_private_key, load_public_key, save_private_key

EXPIRY_WARNING = timedelta(days=30)
_JSON_META = "notrain.json"
_YN = click.Choice(["y", "n"])


# -- plumbing ---------------------------------------------------------------------------


class _Main(click.Group):
    """Turns notrain's typed errors into one line on stderr (and JSON with --json)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except NotrainError as exc:
            _fail(ctx, exc.to_json())
        except OSError as exc:
            where = exc.filename if exc.filename is not None else ""
            _fail(ctx, {"code": "E_IO", "message": exc.strerror or str(exc), "where": os.fsdecode(where)})


def _fail(ctx: click.Context, error: dict) -> None:
    if ctx.meta.get(_JSON_META):
        _emit({"ok": False, "error": error})
    _echo(f"error: {_describe(error)}", err=True)
    ctx.exit(1)


def _describe(error: dict) -> str:
    return f"{error['code']}: {error['message']}" + (f" (at {error['where']})" if error.get("where") else "")


def _remember_json(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    ctx.meta[_JSON_META] = value
    return value


json_option = click.option(
    "--json", "as_json", is_flag=True, is_eager=True, callback=_remember_json, help="Machine-readable output on stdout."
)
force_option = click.option("--force", is_flag=True, help="Overwrite the output file if it exists.")


def _echo(message: str, *, err: bool = False) -> None:
    """Print a line; lone surrogates (from non-UTF-8 file names, say) are escaped, never fatal, and so are
    control characters from documents (a title holding ESC [ ... could otherwise drive the user's terminal)."""
    click.echo(_CONTROLS.sub(lambda m: f"\\u{ord(m.group()):04x}", scalar_string(message)), err=err)


# C0 controls but tab and newline, DEL and C1: written as a \u escape (ESC as \u001b), which is also how JSON escapes them.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _emit(doc: object) -> None:
    _echo(json.dumps(scalar_strings(doc), indent=2, ensure_ascii=False))


def _warn(message: str) -> None:
    _echo(f"warning: {message}", err=True)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _read(path: Path, limit: int) -> bytes:
    """At most ``limit + 1`` bytes: enough for the core's size check to refuse an oversized file."""
    with open(path, "rb") as file:
        return file.read(limit + 1)


def _write(path: Path, data: bytes, *, force: bool) -> None:
    """Write a new file; an existing one only with ``force``."""
    try:
        with open(path, "wb" if force else "xb") as file:
            file.write(data)
    except FileExistsError:
        raise NotrainError(f"{path} already exists; pass --force to overwrite it", code="E_EXISTS", where=str(path)) from None


def _replace(path: Path, data: bytes) -> None:
    """Update a file atomically, so an interrupted run cannot leave half a key set."""
    temp = path.with_name(f".{path.name}.tmp")
    _write(temp, data, force=True)
    os.replace(temp, path)


class _Publisher(click.ParamType):
    """An origin (``https://Example.org/`` is accepted as ``https://example.org``) or a did:key."""

    name = "ORIGIN|DID"

    def convert(self, value, param, ctx):
        if value.startswith("did:"):
            try:
                return check_publisher(value)
            except NotrainError as exc:
                self.fail(exc.message, param, ctx)
        origin = canonical_origin(value)
        parts = split_url(value) if origin is not None else None  # splits: canonical_origin did
        if parts is None or parts.path not in ("", "/") or parts.query or parts.fragment:
            self.fail(f"{value!r} is not an origin (scheme://host[:port]) or a did:key", param, ctx)
        return origin


class _Seconds(click.FloatRange):
    """A timeout: more than 0, at most 10 minutes (``nan`` is no number of seconds)."""

    def __init__(self) -> None:
        super().__init__(0, 600, min_open=True)

    def convert(self, value, param, ctx):
        seconds = super().convert(value, param, ctx)
        if math.isnan(seconds):
            self.fail("nan is not a number of seconds", param, ctx)
        return seconds


class _Timestamp(click.ParamType):
    """RFC 3339 (``2030-01-01T00:00:00Z``; no zone means UTC) or Unix seconds."""

    name = "TIMESTAMP"

    def convert(self, value, param, ctx):
        if isinstance(value, datetime):
            return value
        try:
            if value.isdigit():
                return datetime.fromtimestamp(int(value), UTC)
            moment = datetime.fromisoformat(value)
            return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
        except (ValueError, OverflowError, OSError):
            self.fail(f"{value!r} is not an RFC 3339 timestamp or Unix time from year 1 to 9999 (UTC)", param, ctx)


class _Text(click.ParamType):
    """Text that can be written as UTF-8: an argument with bytes that are not UTF-8
    reaches Python as lone surrogates (PEP 383), which no document may hold."""

    name = "TEXT"

    def convert(self, value, param, ctx):
        shown = scalar_string(value)
        if shown != value:
            self.fail(f"'{shown}' is not valid UTF-8 text", param, ctx)
        return value


class _Token(_Text):
    """A crawler product token: printable, no spaces (it goes into a User-Agent header)."""

    name = "TOKEN"

    def convert(self, value, param, ctx):
        value = super().convert(value, param, ctx)
        if not value.isprintable() or not value or " " in value:
            self.fail(f"{value!r} is not a product token (printable, without spaces)", param, ctx)
        return value


_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
_OUT = click.Path(dir_okay=False, writable=True, path_type=Path)


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="notrain")
def main() -> None:
    """Say "do not train AI on my work" with a signed manifest."""


# -- keys -------------------------------------------------------------------------------


@main.command()
@click.option(
    "--out", type=_OUT, default="notrain-key.jwk", show_default=True, help="Where to write the private key (mode 0600)."
)
@force_option
@json_option
def keygen(out: Path, force: bool, as_json: bool) -> None:
    """Create an Ed25519 signing key.

    Keep the private key file secret and backed up: for a did:key publisher
    it *is* the identity.  Publish only the public JWK printed here.
    """
    key = PrivateKey.generate()
    save_private_key(out, key, overwrite=force)
    public = key.public
    if as_json:
        _emit({"path": str(out), "kid": public.kid, "did": public.did_key, "jwk": public.to_jwk()})
        return
    _echo(f"wrote private key {out} (mode 0600)")
    _echo(f"kid:     {public.kid}")
    _echo(f"did:key: {public.did_key}")
    _echo(f"public JWK: {json.dumps(public.to_jwk())}")


@main.command()
@click.option("--key", "key_paths", type=_FILE, multiple=True, required=True, help="A public or private JWK file (repeatable).")
@click.option("--publisher", type=_Publisher(), required=True, help="The site's origin, e.g. https://example.org.")
@click.option("--out", type=_OUT, default="notrain-keys.json", show_default=True)
@force_option
def keyset(key_paths: tuple[Path, ...], publisher: str, out: Path, force: bool) -> None:
    """Write the key set a site serves at /.well-known/notrain-keys.json."""
    keys = [load_public_key(path) for path in key_paths]
    data = ijson.dumps(make_keyset(publisher, keys).to_json(), pretty=True)
    parse_keyset(data, publisher)
    _write(out, data, force=force)
    _echo(f"wrote {out}: {len(keys)} key(s) for {publisher}; serve it at {publisher}/.well-known/notrain-keys.json")


@main.command()
@click.option("--old", "old_path", type=_FILE, required=True, help="The current private key (signs the rotation).")
@click.option("--new", "new_path", type=_FILE, required=True, help="The new key (public or private JWK).")
@click.option("--keyset", "keyset_path", type=_FILE, required=True, help="The key set to update in place.")
@click.option("--drop-old", is_flag=True, help="Remove the old key from the set (verifiers that pinned it follow the rotation).")
def rotate(old_path: Path, new_path: Path, keyset_path: Path, drop_old: bool) -> None:
    """Hand over from the old key to a new one with a rotation signed by the old key."""
    data = _read(keyset_path, MAX_KEYSET_BYTES)
    current = parse_keyset(data, _keyset_publisher(data))
    old, new = load_private_key(old_path), load_public_key(new_path)
    if old.public.kid not in current.keys:
        raise NotrainError(f"the old key {old.public.kid} is not in {keyset_path}", code="E_KEY", where=str(old_path))
    if new.kid == old.public.kid:
        raise NotrainError("the new key is the old key", code="E_KEY", where=str(new_path))
    keys = {**current.keys, new.kid: new}
    if drop_old:
        del keys[old.public.kid]
    rotation = make_rotation(current.publisher, old, new, _now())
    updated = make_keyset(current.publisher, list(keys.values()), current.rotations + (rotation,))
    result = ijson.dumps(updated.to_json(), pretty=True)
    parse_keyset(result, current.publisher)
    _replace(keyset_path, result)
    _echo(f"rotated {old.public.kid} -> {new.kid} in {keyset_path}" + (" (old key dropped)" if drop_old else ""))
    _echo("sign new manifests with the new key; verifiers that pinned the old key follow the signed rotation")


def _keyset_publisher(data: bytes) -> str:
    """The publisher a key set file names (checked again by parse_keyset)."""
    doc = ijson.loads(data, max_size=MAX_KEYSET_BYTES, max_depth=8, what="key set")
    publisher = doc.get("publisher") if isinstance(doc, dict) else None
    if not isinstance(publisher, str):
        raise NotrainError("the key set names no publisher", code="E_KEYSET", where="/publisher")
    return publisher


# -- authoring --------------------------------------------------------------------------


@main.command()
@click.option(
    "--from",
    "source",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="Folder of images (walked recursively).",
)
@click.option("--publisher", type=_Publisher(), help="Your site's origin, or your did:key (default: the did:key of --key).")
@click.option("--key", "key_path", type=_FILE, help="Your key file; its did:key is the publisher if --publisher is not given.")
@click.option("--out", type=_OUT, default="notrain.manifest.json", show_default=True)
@click.option("--train-ai", type=_YN, default="n", show_default=True, help="Training AI models on these works.")
@click.option("--ai-use", type=_YN, default="n", show_default=True, help="Any other AI use (e.g. as input to generative AI).")
@click.option("--search", type=_YN, help="Search indexing (unset: say nothing).")
@click.option(
    "--name", "names", type=_Text(), multiple=True, help="A name or pseudonym that must not be used as a caption or prompt (repeatable)."
)
@click.option("--account", "accounts", type=_Text(), multiple=True, help="An https URL of one of your profiles (repeatable).")
@click.option("--valid-days", type=click.IntRange(1, MAX_VALIDITY.days), default=365, show_default=True)
@force_option
def init(
    source: Path,
    publisher: str | None,
    key_path: Path | None,
    out: Path,
    train_ai: str,
    ai_use: str,
    search: str | None,
    names: tuple[str, ...],
    accounts: tuple[str, ...],
    valid_days: int,
    force: bool,
) -> None:
    """Hash every image in a folder into an unsigned manifest payload.

    Each image is recorded by SHA-256 and PDQ (which also finds resized or
    recompressed reposts), titled with its path relative to the folder.
    Files whose names start with '.' are skipped.  The sequence number is the
    current Unix time, so a later run always supersedes an earlier one.
    """
    publisher = _init_publisher(publisher, key_path)
    works = _hash_folder(source)
    now = _now()
    default = {TRAIN_AI: train_ai, AI_USE: ai_use} | ({SEARCH: search} if search else {})
    doc = {
        "notrain": 1,
        "publisher": publisher,
        "sequence": int(now.timestamp()),
        "issued": format_timestamp(now),
        "expires": format_timestamp(now + timedelta(days=valid_days)),
        "default": default,
        "pdq": {"hasher": imaging.HASHER, "threshold": DEFAULT_PDQ_THRESHOLD},
        "works": works,
        "names": [{"name": name} for name in names],
        "accounts": [{"url": url} for url in accounts],
    }
    data = ijson.dumps(doc, pretty=True)
    manifest = parse_payload(data)
    _write(out, data, force=force)
    with_pdq = sum(1 for work in manifest.works if work.pdq)
    _echo(f"wrote {out}: {len(manifest.works)} works ({with_pdq} with PDQ), publisher {publisher}, expires {doc['expires']}")
    _echo(f"next: notrain sign {out} --key KEY")


def _init_publisher(publisher: str | None, key_path: Path | None) -> str:
    if key_path is None:
        if publisher is None:
            raise click.UsageError("give --publisher (your origin or did:key) or --key (to publish as its did:key)")
        return publisher
    did = load_public_key(key_path).did_key
    if publisher is None:
        return did
    if publisher.startswith("did:") and publisher != did:
        raise click.UsageError(f"--publisher {publisher} is not the did:key of {key_path} ({did})")
    return publisher


def _hash_folder(source: Path) -> list[dict]:
    """Work entries for every image under ``source``, in sorted path order."""
    files = sorted(
        (path for path in source.rglob("*") if path.is_file() and not _hidden(path.relative_to(source))),
        key=lambda path: path.relative_to(source).as_posix(),
    )
    works: list[dict] = []
    seen: dict[str, str] = {}
    problems: list[str] = []
    with click.progressbar(files, label="hashing images", file=sys.stderr, show_pos=True) as progress:
        for path in progress:
            title = path.relative_to(source).as_posix()
            entry = _work_entry(path, title, problems)
            if entry is None:
                continue
            if entry["sha256"] in seen:
                problems.append(f"{title} is a byte-identical copy of {seen[entry['sha256']]}; recorded once")
                continue
            seen[entry["sha256"]] = title
            works.append(entry)
    for problem in problems:
        _warn(problem)
    if not works:
        _warn(f"no images found in {source}")
    return works


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def _work_entry(path: Path, title: str, problems: list[str]) -> dict | None:
    try:
        hashed = imaging.hash_file(path)
    except imaging.ImageError as exc:
        problems.append(f"skipping {title}: {exc.message}")
        return None
    entry = {"sha256": hashed.sha256.hex(), "title": title}
    if hashed.reliable:
        entry["pdq"] = hashed.pdq.hex()
    else:
        problems.append(
            f"{title}: PDQ quality {hashed.quality} < {imaging.MIN_QUALITY}, too flat to match reliably; recorded by SHA-256 only"
        )
    if not _utf8(title):
        del entry["title"]
        problems.append(f"{title!a}: the file name is not valid UTF-8; recorded without a title")
    return entry


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@main.command()
@click.argument("payload_path", metavar="PAYLOAD", type=_FILE)
@click.option(
    "--key", "key_paths", type=_FILE, multiple=True, required=True, help="Private key file (repeatable: each adds a signature)."
)
@click.option("--out", type=_OUT, default="notrain.json", show_default=True)
@force_option
def sign(payload_path: Path, key_paths: tuple[Path, ...], out: Path, force: bool) -> None:
    """Sign a manifest payload into a DSSE envelope (publish it as /.well-known/notrain.json).

    The payload's exact bytes are signed; nothing is re-serialised.
    """
    data = _read(payload_path, dsse.MAX_PAYLOAD_BYTES)
    manifest = parse_payload(data)
    check_policy(manifest, now=_now(), previous=None)
    keys = [load_private_key(path) for path in key_paths]
    if manifest.is_did_key and PublicKey.from_did_key(manifest.publisher).kid not in {k.public.kid for k in keys}:
        raise PolicyError(
            f"the publisher {manifest.publisher} is a did:key, so its own key must sign",
            code="E_PUBLISHER_MISMATCH",
            where="/publisher",
        )
    envelope = dsse.sign(data, MANIFEST_TYPE, keys)
    _write(out, envelope.to_bytes(), force=force)
    _echo(f"wrote {out}: signed by {', '.join(k.public.kid for k in keys)}")
    _echo(f"manifest sha256 {manifest.digest}; valid until {format_timestamp(manifest.expires)}")


_EXPORT_USE = {
    "robots": "merge its groups into {origin}/robots.txt",
    "tdmrep": "serve it as {origin}/.well-known/tdmrep.json",
    "nginx": "include it inside the server block of {origin}",
    "apache": "include it in the VirtualHost of {origin} (needs mod_headers)",
    "meta": "put the tags in the <head> of pages no path rule covers",
}


def _policy_url(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not valid_policy_url(value):
        raise click.BadParameter("an absolute http(s) URL of printable ASCII, without quotes, '\\' or '$'")
    return value


@main.command("export")
@click.argument("path", metavar="MANIFEST", type=_FILE)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default="notrain-export",
    show_default=True,
    help="Directory for the files (created if missing).",
)
@click.option(
    "--format",
    "formats",
    type=click.Choice(list(FORMATS)),
    multiple=True,
    help="Write only this format (repeatable; default: all).",
)
@click.option(
    "--block-training-crawlers",
    is_flag=True,
    help="robots.txt: also Disallow AI training crawlers (GPTBot, CCBot...) where train-ai is n. This stops them crawling there.",
)
@click.option("--content-signal", is_flag=True, help="robots.txt: add a Cloudflare Content-Signal line for what holds site-wide.")
@click.option("--tdm-policy", metavar="URL", callback=_policy_url, help="TDMRep policy to name wherever mining is reserved.")
@force_option
@json_option
def export_command(
    path: Path,
    out_dir: Path,
    formats: tuple[str, ...],
    block_training_crawlers: bool,
    content_signal: bool,
    tdm_policy: str | None,
    force: bool,
    as_json: bool,
) -> None:
    """Say what MANIFEST says in robots.txt, tdmrep.json, nginx/Apache headers and HTML meta tags.

    MANIFEST is a signed envelope or a bare payload of a site (an origin publisher). It is NOT
    verified here: check it with `notrain verify` first. Where a format cannot say something
    exactly, its file has a comment, a warning is printed, and the stricter value is written,
    never a more permissive one. Works and names cannot be exported: only the manifest carries them.
    """
    manifest, _ = _open_document(path)
    chosen = [name for name in FORMATS if name in formats] if formats else list(FORMATS)
    result = export_legacy(manifest, ExportOptions(block_training_crawlers, content_signal, tdm_policy), chosen)
    targets = {name: out_dir / FORMATS[name] for name in chosen}
    existing = [str(target) for target in targets.values() if target.exists()]
    if existing and not force:
        raise NotrainError(f"{', '.join(existing)} already exist; pass --force to overwrite", code="E_EXISTS", where=existing[0])
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, target in targets.items():
        _write(target, result.files[FORMATS[name]].encode(), force=force)
    uses = {name: _EXPORT_USE[name].format(origin=manifest.publisher) for name in chosen}
    if as_json:
        _emit(
            {
                "ok": True,
                "verified": False,
                "publisher": manifest.publisher,
                "sequence": manifest.sequence,
                "digest": manifest.digest,
                "files": [{"format": name, "path": str(targets[name]), "use": uses[name]} for name in chosen],
                "warnings": [warning.to_json() for warning in result.warnings],
            }
        )
        return
    for warning in result.warnings:
        _warn(f"{warning.mechanism}: {warning.where}: {warning.message}")
    for name in chosen:
        _echo(f"wrote {targets[name]}: {uses[name]}")


# -- reading ----------------------------------------------------------------------------


@main.command()
@click.argument("path", metavar="FILE", type=_FILE)
@click.option(
    "--keyset", "keyset_path", type=_FILE, help="The origin's key set (notrain-keys.json); needed for origin publishers."
)
@click.option("--publisher", type=_Publisher(), help="The publisher you expect (default: the one the manifest claims).")
@click.option("--at", type=_Timestamp(), help="Verify as of this time instead of now.")
@json_option
def verify(path: Path, keyset_path: Path | None, publisher: str | None, at: datetime | None, as_json: bool) -> None:
    """Verify a signed manifest: signature, publisher, validity."""
    data = _read(path, dsse.MAX_ENVELOPE_BYTES)
    if not is_envelope(data):
        raise NotrainError(
            f"{path} is an unsigned payload, not a signed envelope (sign it with `notrain sign`)",
            code="E_UNSIGNED",
            where=str(path),
        )
    publisher = publisher or peek_publisher(data)
    keyset = None
    if keyset_path is not None:
        if publisher.startswith("did:"):
            raise click.UsageError("--keyset is for origin publishers: a did:key is its own key")
        keyset = parse_keyset(_read(keyset_path, MAX_KEYSET_BYTES), publisher)
    elif not publisher.startswith("did:"):
        raise click.UsageError(f"{publisher} is an origin: pass --keyset with its notrain-keys.json")
    verified = verify_manifest(data, publisher=publisher, keys=trusted_keys(publisher, keyset), now=at or _now())
    manifest = verified.manifest
    if as_json:
        _emit(
            {
                "ok": True,
                "publisher": manifest.publisher,
                "sequence": manifest.sequence,
                "digest": manifest.digest,
                "envelope_digest": verified.envelope_digest,
                "signed_by": list(verified.signed_by),
                "issued": format_timestamp(manifest.issued),
                "expires": format_timestamp(manifest.expires),
            }
        )
        return
    _echo(f"OK: {path} is signed by {manifest.publisher}")
    _echo(f"publisher: {manifest.publisher}")
    _echo(f"sequence:  {manifest.sequence}")
    _echo(f"digest:    sha256:{manifest.digest}")
    _echo(f"signed by: {', '.join(verified.signed_by)}")
    _echo(f"valid:     {format_timestamp(manifest.issued)} to {format_timestamp(manifest.expires)}")


def _open_document(path: Path) -> tuple[Manifest, tuple[dsse.Signature, ...] | None]:
    """The manifest in an envelope or a bare payload (not verified), and the envelope's signatures."""
    data = _read(path, dsse.MAX_ENVELOPE_BYTES)
    if not is_envelope(data):
        return parse_payload(data), None
    envelope = dsse.parse(data)
    return parse_payload(envelope.payload), envelope.signatures


@main.command()
@click.argument("path", metavar="FILE", type=_FILE)
@json_option
def show(path: Path, as_json: bool) -> None:
    """Show what a manifest says (without verifying it)."""
    manifest, signatures = _open_document(path)
    summary = render.summary(manifest, signatures, _now())
    if as_json:
        _emit(summary)
        return
    _echo("NOT VERIFIED: this is what the file claims; check it with `notrain verify`.")
    for line in render.summary_lines(summary):
        _echo(line)


@main.command()
@click.argument("path", metavar="FILE", type=_FILE)
@json_option
def lint(path: Path, as_json: bool) -> None:
    """Check a manifest (payload or envelope) strictly and point out likely mistakes.

    Exit status 1 if the manifest would be refused, 0 if there are only warnings.
    """
    try:
        manifest, _ = _open_document(path)
    except NotrainError as exc:
        errors, warnings = [exc.to_json()], []
    else:
        errors, warnings = [], _lint(manifest, _now())
    if as_json:
        _emit({"ok": not errors, "errors": errors, "warnings": warnings})
    else:
        for error in errors:
            _echo(f"error: {_describe(error)}")
        for warning in warnings:
            _echo(f"warning: {_describe(warning)}")
        _echo(f"{path}: {len(errors)} error(s), {len(warnings)} warning(s)")
    if errors:
        click.get_current_context().exit(1)


def _lint(manifest: Manifest, now: datetime) -> list[dict]:
    """Warnings about a valid manifest that probably does not say what its author meant."""
    found: list[dict] = []

    def warn(code: str, message: str, where: str) -> None:
        found.append({"code": code, "message": message, "where": where})

    if manifest.expires <= now:
        warn("W_EXPIRED", f"the manifest expired at {format_timestamp(manifest.expires)}; verifiers refuse it", "/expires")
    elif manifest.expires - now <= EXPIRY_WARNING:
        warn("W_EXPIRES_SOON", f"the manifest expires at {format_timestamp(manifest.expires)}; re-sign it soon", "/expires")
    if manifest.default and State.DISALLOWED not in manifest.default.values():
        warn("W_ALLOWS_ALL", "the default disallows nothing: unless a rule says otherwise, every use is allowed", "/default")
    for entry in (*manifest.works, *manifest.names):
        if not manifest.prefs_for(entry.prefs):
            warn("W_NO_PREFS", "no preferences apply (no 'prefs' and an empty default), so this entry says nothing", entry.ref)
    first_of: dict[bytes, str] = {}
    for work in manifest.works:
        if work.sha256 is not None and first_of.setdefault(work.sha256, work.ref) != work.ref:
            warn("W_DUPLICATE_WORK", f"the same sha256 as {first_of[work.sha256]}", f"{work.ref}/sha256")
    for name in manifest.names:
        if len(normalise_name(name.name).replace(" ", "")) < 3:
            warn(
                "W_SHORT_NAME",
                f"{name.name!r} is shorter than 3 characters and will match unrelated captions",
                f"{name.ref}/name",
            )
    if manifest.pdq and manifest.pdq.threshold > DEFAULT_PDQ_THRESHOLD:
        warn("W_PDQ_THRESHOLD", f"a threshold above {DEFAULT_PDQ_THRESHOLD} matches unrelated images", "/pdq/threshold")
    pattern_at: dict[str, str] = {}
    for rule in manifest.paths:
        if pattern_at.setdefault(rule.pattern, rule.ref) != rule.ref:
            warn(
                "W_SHADOWED_PATH",
                f"the same pattern as {pattern_at[rule.pattern]}: the two rules combine and the more restrictive value wins",
                rule.ref,
            )
    return found


# -- serve ------------------------------------------------------------------------------


@main.command()
@click.option("--config", "config_path", type=_FILE, help="A TOML configuration file (every key has a default).")
@click.option("--demo", is_flag=True, help="Start on a new temporary data directory with an example artist loaded.")
@click.option("--host", help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), help="Port to listen on (default 8470).")
def serve(config_path: Path | None, demo: bool, host: str | None, port: int | None) -> None:
    """Run an aggregator: accept and crawl manifests, keep a transparency log, answer checks."""
    from .aggregator import config as aggregator_config  # the service's dependencies load only here
    from .aggregator.serve import run

    config = aggregator_config.load(config_path)
    overrides = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    run(config.with_overrides(server=overrides) if overrides else config, demo=demo)


@main.command("peer-reset")
@click.argument("origin")
@click.option("--config", "config_path", type=_FILE, help="The aggregator's TOML configuration file.")
@json_option
def peer_reset(origin: str, config_path: Path | None, as_json: bool) -> None:
    """Forget a peer log's state, a fork included (its evidence stays): its next checkpoint is trusted anew."""
    from .aggregator import config as aggregator_config
    from .aggregator.federation.reset import reset_peer

    forgotten = asyncio.run(reset_peer(aggregator_config.load(config_path), origin))
    if as_json:
        _emit({"ok": True, "origin": origin, "status": forgotten.status, "size": forgotten.size, "copied": forgotten.copied})
    else:
        _echo(f"forgot {origin} ({forgotten.status}, size {forgotten.size}, {forgotten.copied} copied); the evidence is kept")


# -- filter -----------------------------------------------------------------------------


_AGE_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


class _Age(click.ParamType):
    """A maximum age: a number and a unit, ``7d``, ``12h``, ``30m`` or ``90s``."""

    name = "AGE"

    def convert(self, value, param, ctx):
        if isinstance(value, timedelta):
            return value
        match = re.fullmatch(r"([0-9]{1,6})([dhms])", value)
        if match is None:
            self.fail(f"{value!r} is not an age such as 7d, 12h, 30m or 90s", param, ctx)
        return timedelta(**{_AGE_UNITS[match[2]]: int(match[1])})


def _filter_source_options(command):
    """--bundle, --snapshot, --log-key and --max-age: where ``notrain filter`` and ``filter-shards`` take manifests from."""
    for option in reversed((
        click.option("--bundle", "bundle_path", type=_FILE, help="A bundle of signed manifests (each verified on load)."),
        click.option("--snapshot", "snapshot_path", type=click.Path(exists=True, file_okay=False, path_type=Path),
                     help="A snapshot directory from 'notrain snapshot pull' (verified again on load)."),
        click.option("--log-key", type=_Text(), help="With --snapshot: the log's verifier key (default: the one the pull saved)."),
        click.option("--max-age", type=_Age(), help="With --snapshot: refuse one logged longer ago than this (7d, 12h, 90s...)."),
        click.option("--purpose", type=click.Choice(["train-ai", "ai-use", "search"]), default="train-ai", show_default=True),
        click.option("--unknown", type=click.Choice(["allowed", "disallowed"]), default="allowed", show_default=True,
                     help="What a row nothing speaks about is."),
    )):
        command = option(command)
    return command


def _filter_core(bundle_path: Path | None, snapshot_path: Path | None, log_key: str | None, max_age: timedelta | None, purpose: str, unknown: str,
                 names: str = "drop"):
    """The manifest source (exactly one of a bundle and a snapshot) and the batch core deciding against it."""
    from .fetch.sources import LocalSource  # pyarrow loads only here
    from .filter import BatchFilter
    from .filter.sources import SnapshotFilterSource

    if (bundle_path is None) == (snapshot_path is None):
        raise click.UsageError("give exactly one source: --bundle FILE or --snapshot DIR")
    if (log_key is not None or max_age is not None) and snapshot_path is None:
        raise click.UsageError("--log-key and --max-age go with --snapshot")
    if snapshot_path is not None:
        source = SnapshotFilterSource(snapshot_path, log_key=log_key, max_age=max_age)
        return source, BatchFilter(source.catalog(), purpose=purpose, unknown_as=State(unknown), names=names, prefilter=source.prefilter())
    source = LocalSource(bundle_path)
    return source, BatchFilter(source.catalog(), purpose=purpose, unknown_as=State(unknown), names=names)


@main.command("filter")
@click.argument("input_path", metavar="IN", type=click.Path(exists=True, path_type=Path))
@_filter_source_options
@click.option("--out", "out_path", type=click.Path(path_type=Path), required=True, help="Kept rows: a file, or a directory for a directory of shards.")
@click.option("--url-col", default="url", show_default=True, help="The column of image URLs.")
@click.option("--caption-col", help="The column of captions, checked for opted-out names.")
@click.option("--sha256-col", help="A column of SHA-256 hashes of the files (hex or 32 bytes).")
@click.option("--pdq-col", help="A column of PDQ hashes of the images (hex or 32 bytes).")
@click.option("--names", type=click.Choice(["drop", "strip"]), default="drop", show_default=True, help="A caption with an opted-out name: drop the row, or strip the name.")
@click.option("--rejected", "rejected_path", type=click.Path(dir_okay=False, path_type=Path), help="Refused rows with reason and evidence (default: OUT.rejected.EXT).")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path), help="The JSON report (default: OUT.report.json, or notrain-report.json in OUT).")
@click.option("--receipt-key", type=_FILE, help="Sign a filtering receipt with this private key (JWK) into OUT.receipt.json.")
@click.option("--batch-size", type=click.IntRange(1, 1 << 20), default=65536, show_default=True)
@force_option
@json_option
def filter_(input_path, bundle_path, snapshot_path, log_key, max_age, out_path, url_col, caption_col, sha256_col, pdq_col, purpose, unknown, names,
            rejected_path, report_path, receipt_key, batch_size, force, as_json) -> None:
    """Drop the rows of a URL/caption dataset (parquet, CSV, JSONL) whose publishers opted out, before download."""
    from .filter import Columns, receipts
    from .filter import run as filter_run

    key = load_private_key(receipt_key) if receipt_key else None
    receipt = receipts.receipt_path(out_path)
    if key is not None and receipt.exists() and not force:
        raise NotrainError(f"{receipt} exists (use --force to overwrite)", code="E_EXISTS", where=str(receipt))
    source, core = _filter_core(bundle_path, snapshot_path, log_key, max_age, purpose, unknown, names)
    columns = Columns(url_col, caption_col, sha256_col, pdq_col)
    options = filter_run.Options(columns, batch_size, force)

    def progress(total: int):
        return click.progressbar(length=total, label="filtering", file=sys.stderr, show_percent=True)

    report = filter_run.run(source, core, input_path, out_path, rejected=rejected_path, report=report_path, options=options,
                            progress_factory=progress)
    if key is not None:
        receipts.write_receipt(receipt, receipts.receipt_of(report, core, columns, key, _now()))
        report["receipt"] = str(receipt)
    if as_json:
        _emit(report)
    else:
        _echo(f"kept {report['kept']} of {report['rows']} rows ({report['rejected']} refused, {report['stripped']} captions stripped); "
              f"report: {report['report']}" + (f"; receipt: {receipt}" if key is not None else ""))


# -- receipt ----------------------------------------------------------------------------


@main.group()
def receipt() -> None:
    """Check a filtering receipt: its signature, and the files it names."""


@receipt.command("verify")
@click.argument("receipt_path", metavar="RECEIPT", type=_FILE)
@click.option("--input", "input_path", type=click.Path(exists=True, path_type=Path), help="The filter's input: re-hash it and compare.")
@click.option("--output", "output_path", type=click.Path(exists=True, path_type=Path), help="The kept rows: re-hash them and compare.")
@click.option("--builder", type=_Text(), help="The did:key the receipt must be signed by.")
@click.option("--aggregator", type=_Text(), help="Also check that this aggregator's log includes the receipt (needs --log-key).")
@click.option("--log-key", type=_Text(), help="The aggregator log's verifier key (a signed-note vkey).")
@json_option
def receipt_verify(receipt_path, input_path, output_path, builder, aggregator, log_key, as_json) -> None:
    """Verify RECEIPT (signed by its builder's did:key) and, if given, that the files are the ones it names."""
    from .core.filterreceipt import MAX_PAYLOAD_BYTES, verify_receipt
    from .filter import receipts

    if (aggregator is None) != (log_key is None):
        raise click.UsageError("--aggregator and --log-key go together")
    data = _read(receipt_path, 2 * MAX_PAYLOAD_BYTES)
    verified = verify_receipt(data, now=_now(), builder=builder)
    if input_path is not None:
        receipts.check_input(verified.files("input"), input_path)
    if output_path is not None:
        receipts.check_output(verified.files("output"), output_path)
    logged = _receipt_logged(aggregator, log_key, data) if aggregator else None
    doc, counts = verified.payload, verified.payload["counts"]
    if as_json:
        _emit({"ok": True, "payload_sha256": verified.digest, "checked": {"input": input_path is not None, "output": output_path is not None},
               **({"logged": vars(logged)} if logged else {}), **doc})
        return
    source = doc["source"].get("snapshot") or doc["source"]["bundle"]
    _echo(f"receipt by {doc['builder']} at {doc['time']}: {counts['kept']} of {counts['rows']} rows kept for {doc['purpose']}")
    _echo(f"  source: {'snapshot ' + source['id'] + ' of ' + source['log'] + ' at size ' + str(source['size']) if 'id' in source else 'bundle ' + source['sha256']}")
    _echo(f"  input {doc['input']['sha256']}{' (checked)' if input_path else ''}, output {doc['output']['sha256']}{' (checked)' if output_path else ''}")
    if logged:
        _echo(f"  logged in {logged.log} at index {logged.index}, included in its checkpoint of size {logged.size}")


def _receipt_logged(url: str, log_key: str, data: bytes):
    """Where the aggregator's log includes the receipt, proved; pending is an error (not yet provable)."""
    from .fetch import receipts as logged_receipts
    from .fetch.snapshots import Trust

    found = asyncio.run(logged_receipts.included(url, data, Trust(log_key)))
    if found is None:
        raise NotrainError("the receipt is not in a checkpoint of that log yet (pending, or never submitted there)", code="E_SOURCE", where=url)
    return found


@receipt.command("submit")
@click.argument("receipt_path", metavar="RECEIPT", type=_FILE)
@click.argument("url", type=_Text())
@click.option("--log-key", required=True, type=_Text(), help="The aggregator log's verifier key: its promise to log the receipt is checked.")
@json_option
def receipt_submit(receipt_path, url, log_key, as_json) -> None:
    """Log RECEIPT with the aggregator at URL; its signed promise of inclusion is checked for this receipt."""
    from .core.filterreceipt import MAX_PAYLOAD_BYTES
    from .fetch import receipts as logged_receipts
    from .fetch.snapshots import Trust

    answer = asyncio.run(logged_receipts.submit(url, _read(receipt_path, 2 * MAX_PAYLOAD_BYTES), Trust(log_key)))
    if as_json:
        _emit({"ok": True, **answer})
    else:
        _echo(f"{'logged' if answer.get('created') else 'already logged'} as entry {answer.get('entry')}, to be included by {answer.get('integrate_by')}")


# -- doctor -----------------------------------------------------------------------------


@main.command()
@click.argument("url", type=_Text())
@click.option("--token", type=_Token(), default=DEFAULT_TOKEN, show_default=True, help="The crawler product token to check robots.txt rules for.")
@click.option("--timeout", type=_Seconds(), default=10.0, show_default=True, help="Seconds allowed for each fetch.")
@json_option
def doctor(url: str, token: str, timeout: float, as_json: bool) -> None:
    """Show every signal a crawler sees for URL, the decision per purpose, and advice."""
    if canonical_origin(url, of_url=True) is None:
        raise click.BadParameter("an http(s) URL is needed", param_hint="URL")
    diagnosis = asyncio.run(_diagnose(url, token, timeout))
    if as_json:
        _emit(diagnosis.to_json())
    else:
        _echo(render_diagnosis(diagnosis))


async def _diagnose(url: str, token: str, timeout: float):
    async with HttpClient(user_agent=f"{token} (notrain doctor)", timeout=timeout) as client:
        return await diagnose(url, client, token=token)


# -- filter-shards ----------------------------------------------------------------------


@main.command("filter-shards")
@click.argument("directory", metavar="DIR", type=click.Path(exists=True, file_okay=False, path_type=Path))
@_filter_source_options
@click.option("--sha256-col", default="sha256", show_default=True, help="The index column of each file's SHA-256 as downloaded (img2dataset's --compute_hash).")
@click.option("--work-dir", type=click.Path(file_okay=False, path_type=Path), help="Rejected samples, markers and the report (default: DIR/notrain).")
@click.option("--workers", type=click.IntRange(1, 256), default=1, show_default=True, help="Processes hashing and reading the images.")
@click.option("--receipt-key", type=_FILE, help="Sign a filtering receipt (the shard files before and after) with this private key into DIR.receipt.json.")
@json_option
def filter_shards(directory, bundle_path, snapshot_path, log_key, max_age, purpose, unknown, sha256_col, work_dir, workers, receipt_key, as_json) -> None:
    """Remove opted-out samples from img2dataset's shards in DIR (webdataset, parquet or files format), checking the images too."""
    from .filter import Columns, receipts, shards

    key = load_private_key(receipt_key) if receipt_key else None
    before = [receipts.hash_file(path) for path in receipts.shard_files(directory)] if key is not None else []
    source, core = _filter_core(bundle_path, snapshot_path, log_key, max_age, purpose, unknown)

    def progress(total: int):
        return click.progressbar(length=total, label="checking shards", file=sys.stderr, show_percent=True)

    options = shards.ShardOptions(sha256_col=sha256_col, workers=workers)
    report = shards.run(source, core, directory, work=work_dir, options=options, progress_factory=progress)
    if key is not None:
        after = [receipts.hash_file(path) for path in receipts.shard_files(directory)]
        receipt = receipts.receipt_path(directory.resolve())  # beside DIR, also when DIR is "."
        receipts.write_receipt(receipt, receipts.signed_receipt(report, core, Columns("url", "caption", sha256_col), key, _now(), before, after))
        report["receipt"] = str(receipt)
    if as_json:
        _emit(report)
    else:
        _echo(f"kept {report['kept']} of {report['rows']} samples and index rows ({report['rejected']} refused, "
              f"{report['samples_removed']} samples removed, {report['shards_skipped']} shard{'s' * (report['shards_skipped'] != 1)} skipped); "
              f"report: {report['report']}" + (f"; receipt: {report['receipt']}" if key is not None else ""))


# -- snapshot ---------------------------------------------------------------------------


_log_key_option = click.option("--log-key", required=True, type=_Text(), help="The log's verifier key (a signed-note vkey).")
_max_age_option = click.option("--max-age", type=_Age(), help="Refuse a snapshot logged longer ago than this (7d, 12h...).")
_witness_option = click.option("--witness", "witnesses", type=_Text(), multiple=True, help="A witness's cosigner vkey (repeatable).")
_min_cosignatures_option = click.option(
    "--min-cosignatures", "--min-witnesses", "min_witnesses", type=click.IntRange(0, 16), default=0, show_default=True,
    help="Valid cosignatures by this many distinct --witness keys required on the log's checkpoint.")


@main.group()
def snapshot() -> None:
    """Pull an aggregator's signed snapshot, or check one on disk, for offline crawls and filters."""


@snapshot.command("pull")
@click.argument("url", type=_Text())
@_log_key_option
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="The snapshot directory (replaced atomically).")
@_max_age_option
@_witness_option
@_min_cosignatures_option
@json_option
def snapshot_pull(url, log_key, out, max_age, witnesses, min_witnesses, as_json) -> None:
    """Fetch the latest snapshot of the aggregator at URL, check it against its log, write it to OUT."""
    from .fetch import snapshots  # aiohttp and numpy load only here

    trust = snapshots.Trust(log_key, tuple(witnesses), min_witnesses, max_age)
    pulled = asyncio.run(snapshots.pull(url, out, trust))
    _snapshot_result(pulled.evidenced, out, as_json, {"delta": pulled.delta})


@snapshot.command("verify")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@_log_key_option
@_max_age_option
@_witness_option
@_min_cosignatures_option
@json_option
def snapshot_verify(directory, log_key, max_age, witnesses, min_witnesses, as_json) -> None:
    """Check a snapshot directory offline: checkpoint, inclusion, consistency, every part."""
    from .fetch import snapshots

    evidenced = snapshots.verify(directory, snapshots.Trust(log_key, tuple(witnesses), min_witnesses, max_age))
    _snapshot_result(evidenced, directory, as_json, {})


def _snapshot_result(evidenced, directory: Path, as_json: bool, extra: dict) -> None:
    described = evidenced.describe()
    if as_json:
        _emit({"ok": True, "path": str(directory), **described, **extra})
        return
    _echo(f"snapshot {described['id']} in {directory}")
    _echo(f"  log {described['log']} at size {described['size']}, logged {described['observed']} as entry {described['inclusion']['index']}")
    _echo(f"  included in the checkpoint of size {described['inclusion']['size']}" +
          (f", cosigned by {', '.join(described['witnesses'])}" if described["witnesses"] else ""))


if __name__ == "__main__":
    main()
