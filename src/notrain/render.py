"""What a manifest says, in the one shape both ``notrain show`` and the aggregator's web page present.

:func:`summary` turns a parsed manifest into plain JSON-able values; :func:`summary_lines` is the
terminal's rendering of that summary.  The web page renders the same summary into HTML, so a reader
sees the same fields in the same order wherever they look.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from .core import dsse
from .core.keys import PublicKey
from .core.manifest import Manifest, Work, format_timestamp
from .core.vocab import prefs_to_json

SHOW_WORKS = 5  # works listed by ``notrain show``; the rest are counted


def summary(manifest: Manifest, signatures: tuple[dsse.Signature, ...] | None, now: datetime) -> dict:
    """``signatures`` None: a bare payload.  Nothing here verifies; ``verified`` is for the caller to set."""
    did_kid = PublicKey.from_did_key(manifest.publisher).kid if manifest.is_did_key else None
    return {
        "verified": False,
        "signed": signatures is not None,
        "publisher": manifest.publisher,
        "sequence": manifest.sequence,
        "issued": format_timestamp(manifest.issued),
        "expires": format_timestamp(manifest.expires),
        "expired": manifest.expires <= now,
        "digest": manifest.digest,
        "default": prefs_to_json(manifest.default),
        "paths": [{"pattern": rule.pattern, "prefs": prefs_to_json(dict(rule.prefs))} for rule in manifest.paths],
        "pdq": {"hasher": manifest.pdq.hasher, "threshold": manifest.pdq.threshold} if manifest.pdq else None,
        "works": [_work_json(work) for work in manifest.works],
        "names": [name.name for name in manifest.names],
        "accounts": [account.url for account in manifest.accounts],
        "parts": [{"sha256": part.sha256, "size": part.size, "url": part.url} for part in manifest.parts],
        "signatures": [{"keyid": s.keyid, "publisher_key": s.keyid == did_kid} for s in signatures or ()],
    }


def _work_json(work: Work) -> dict:
    entry = {
        "title": work.title,
        "sha256": work.sha256.hex() if work.sha256 else None,
        "pdq": work.pdq.hex() if work.pdq else None,
    }
    return entry | ({"prefs": prefs_to_json(work.prefs)} if work.prefs else {})


def summary_lines(summary: dict, works_shown: int = SHOW_WORKS) -> Iterator[str]:
    yield f"publisher:  {summary['publisher']}"
    yield f"sequence:   {summary['sequence']}"
    yield f"valid:      {summary['issued']} to {summary['expires']}" + ("  (EXPIRED)" if summary["expired"] else "")
    yield f"default:    {prefs_text(summary['default'])}"
    yield f"paths:      {len(summary['paths'])}"
    for rule in summary["paths"]:
        yield f"  {rule['pattern']}  {prefs_text(rule['prefs'])}"
    pdq = summary["pdq"]
    yield f"works:      {len(summary['works'])}" + (f"  (PDQ by {pdq['hasher']}, threshold {pdq['threshold']})" if pdq else "")
    for work in summary["works"][:works_shown]:
        hashes = " ".join(f"{kind} {work[kind][:16]}…" for kind in ("sha256", "pdq") if work[kind])
        yield f"  {work['title'] or '(untitled)'}  {hashes}" + (f"  {prefs_text(work['prefs'])}" if "prefs" in work else "")
    if len(summary["works"]) > works_shown:
        yield f"  … and {len(summary['works']) - works_shown} more"
    yield f"names:      {', '.join(summary['names']) or '(none)'}"
    yield f"accounts:   {', '.join(summary['accounts']) or '(none)'}"
    yield f"parts:      {len(summary['parts'])}"
    if not summary["signed"]:
        yield "signatures: none (a bare payload: sign it with `notrain sign`)"
        return
    yield f"signatures: {len(summary['signatures'])}"
    for signature in summary["signatures"]:
        yield f"  keyid {signature['keyid']}" + ("  (the publisher's did:key)" if signature["publisher_key"] else "")


def prefs_text(prefs: dict[str, str]) -> str:
    return " ".join(f"{category}={value}" for category, value in prefs.items()) or "(none)"
