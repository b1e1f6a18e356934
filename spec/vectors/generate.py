"""Regenerate the conformance vectors in this folder.

    python spec/vectors/generate.py          # rewrite the *.json files
    python spec/vectors/generate.py --check  # exit 1 if they are stale

The expected outcome of every case is written here by hand, from the spec;
the reference implementation is used only to *make* inputs (sign bytes,
derive key ids), never to compute what a case should produce.  The test suite
then runs the implementation against the committed files, so a change in
behaviour shows up as a failing vector, not as a silently regenerated one.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import sys
from pathlib import Path

from notrain.core import MANIFEST_TYPE, PrivateKey, dsse, make_keyset, make_rotation
from notrain.core.keyset import ROTATION_TYPE
from notrain.core.manifest import parse_timestamp

HERE = Path(__file__).resolve().parent
NOW = "2026-12-01T00:00:00Z"


def key(name: str) -> PrivateKey:
    """Deterministic test keys: seed = SHA-256("notrain vector key " + name)."""
    return PrivateKey.from_seed(hashlib.sha256(b"notrain vector key " + name.encode()).digest())


SITE, OTHER, NEWKEY, PERSON, STRANGER = key("site"), key("other-site"), key("site-next"), key("person"), key("stranger")
ORIGIN = "https://art.example"
DID = PERSON.public.did_key


def jdump(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def payload(**changes) -> dict:
    base = {
        "notrain": 1,
        "publisher": ORIGIN,
        "sequence": 10,
        "issued": "2026-11-01T00:00:00Z",
        "expires": "2027-11-01T00:00:00Z",
        "default": {"train-ai": "n", "ai-use": "n"},
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def envelope(body: bytes, keys=(SITE,), payload_type: str = MANIFEST_TYPE) -> dict:
    return dsse.sign(body, payload_type, list(keys)).to_json()


def sign_doc(doc: dict, keys=(SITE,)) -> dict:
    return envelope(jdump(doc), keys)


def keyset_text(keys=(SITE,), rotations=()) -> str:
    return jdump(make_keyset(ORIGIN, [k.public for k in keys], tuple(rotations)).to_json()).decode()


def encode_input(name: str, data: bytes) -> dict:
    """Exact bytes as UTF-8 text when possible, else base64; gzip for big inputs."""
    if len(data) > 64 * 1024:
        return {f"{name}_gzip_base64": base64.b64encode(gzip.compress(data, mtime=0)).decode()}
    try:
        return {name: data.decode("utf-8")}
    except UnicodeDecodeError:
        return {f"{name}_base64": base64.b64encode(data).decode()}


def digest(doc_or_bytes) -> str:
    data = doc_or_bytes if isinstance(doc_or_bytes, bytes) else jdump(doc_or_bytes)
    return hashlib.sha256(data).hexdigest()


# -- envelopes: verification of signed manifests -----------------------------------------------------


def envelope_cases() -> list[dict]:
    cases: list[dict] = []

    def add(id_, description, data, expect, *, publisher=ORIGIN, keyset=None, pinned=None, previous=None, now=NOW, trusted=None):
        """``keyset=False``: no key set could be had; ``trusted``: keys the caller trusts instead of deriving them."""
        context = {"publisher": publisher, "now": now}
        if not publisher.startswith("did:") and keyset is not False:
            context["keyset"] = keyset if keyset is not None else keyset_text()
        if trusted:
            context["trusted"] = [k.public.to_jwk() for k in trusted]
        if pinned:
            context["pinned"] = [k.public.to_jwk() for k in pinned]
        if previous:
            context["previous"] = previous
        if isinstance(data, dict):
            data = jdump(data)
        cases.append({"id": id_, "description": description, **encode_input("envelope", data), "context": context, "expect": expect})

    def ok(doc, signed_by=(SITE,)):
        return {"valid": True, "digest": digest(doc), "sequence": doc["sequence"], "signed_by": [k.public.kid for k in signed_by]}

    def bad(code):
        return {"valid": False, "error": code}

    # Valid envelopes.
    minimal = payload()
    add("valid-minimal", "a minimal origin manifest", sign_doc(minimal), ok(minimal))
    full = payload(
        paths=[{"pattern": "/blog/", "prefs": {"train-ai": "y"}}, {"pattern": "/*.png$", "prefs": {"search": "n"}}],
        works=[{"sha256": "aa" * 32, "pdq": "f0" * 32, "title": "Sunset"}, {"sha256": "bb" * 32}],
        pdq={"hasher": "pdqhash-0.2/pillow", "threshold": 31},
        names=[{"name": "Example Artist"}, {"name": "exampleartist", "prefs": {"search": "n"}}],
        accounts=[{"url": "https://bsky.app/profile/artist.example", "service": "bluesky"}],
        parts=[{"sha256": "cc" * 32, "size": 1000, "url": "parts/1.json"}],
    )
    add("valid-full", "every member used", sign_doc(full), ok(full))
    person = payload(publisher=DID, works=[{"sha256": "dd" * 32}])
    add("valid-did-key", "a did:key publisher, key derived from the DID", sign_doc(person, (PERSON,)), ok(person, (PERSON,)), publisher=DID)
    add(
        "valid-extra-unknown-signature",
        "a signature by a key the verifier does not know is ignored",
        sign_doc(minimal, (STRANGER, SITE)),
        ok(minimal),
    )
    add(
        "valid-two-trusted-signatures",
        "both keys of the key set sign",
        sign_doc(minimal, (SITE, NEWKEY)),
        ok(minimal, (SITE, NEWKEY)),
        keyset=keyset_text((SITE, NEWKEY)),
    )
    unknown = payload(future_member={"anything": [1, 2]})
    add("valid-unknown-member", "an unknown member not listed in critical is ignored", sign_doc(unknown), ok(unknown))
    labels = payload(default={"train-ai": "n", "train-genai": "n", "bots": "maybe"})
    add("valid-unknown-labels", "unknown preference labels are ignored whatever their value", sign_doc(labels), ok(labels))
    crit = payload(works=[{"sha256": "aa" * 32}], critical=["works"])
    add("valid-critical-known", "critical lists a member the verifier understands", sign_doc(crit), ok(crit))
    add("valid-same-sequence-same-bytes", "the same manifest again", sign_doc(minimal), ok(minimal), previous={"sequence": 10, "digest": digest(minimal), "keys": [SITE.public.kid]})
    add("valid-higher-sequence", "a newer manifest", sign_doc(minimal), ok(minimal), previous={"sequence": 9, "digest": "00" * 32, "keys": [SITE.public.kid]})
    skew = payload(issued="2026-12-01T00:04:59Z")
    add("valid-clock-skew", "issued less than 5 minutes in the future", sign_doc(skew), ok(skew))
    names = payload(names=[{"name": "山田 太郎"}, {"name": "Zoë Ørsted"}])
    add("valid-utf8-names", "non-ASCII names in UTF-8", sign_doc(names), ok(names))
    escaped = b'{"notrain":1,"publisher":"https://art.example","sequence":10,"issued":"2026-11-01T00:00:00Z",' \
        b'"expires":"2027-11-01T00:00:00Z","names":[{"name":"\\ud83c\\udfa8 painter"}]}'
    add("valid-surrogate-pair", "an escaped surrogate pair is a valid character", envelope(escaped), {**ok(json.loads(escaped)), "digest": digest(escaped)})
    port = payload(publisher="http://127.0.0.1:8080")
    ks = jdump(make_keyset("http://127.0.0.1:8080", [SITE.public]).to_json()).decode()
    add("valid-origin-with-port", "an origin with a non-default port", sign_doc(port), ok(port), publisher="http://127.0.0.1:8080", keyset=ks)
    ipv6 = payload(publisher="http://[::1]:8080")
    ks6 = jdump(make_keyset("http://[::1]:8080", [SITE.public]).to_json()).decode()
    add("valid-origin-ipv6", "an IPv6 literal origin in RFC 5952 form", sign_doc(ipv6), ok(ipv6), publisher="http://[::1]:8080", keyset=ks6)
    rotation = make_rotation(ORIGIN, SITE, NEWKEY.public, parse_timestamp("2026-11-15T00:00:00Z", ""))
    add(
        "valid-rotated-key",
        "the old key is pinned; the new key is reached through a rotation signed by the old key",
        sign_doc(minimal, (NEWKEY,)),
        ok(minimal, (NEWKEY,)),
        keyset=keyset_text((NEWKEY,), (rotation,)),
        pinned=(SITE,),
    )
    add("valid-pretty-envelope", "envelope JSON whitespace does not matter", json.dumps(sign_doc(minimal), indent=4).encode(), ok(minimal))

    # Envelope structure.
    good = sign_doc(minimal)
    add("json-garbage", "not JSON", b"this is not json", bad("E_JSON"))
    add("json-truncated", "truncated JSON", jdump(good)[:-7], bad("E_JSON"))
    add("json-trailing-data", "a second value after the envelope", jdump(good) + b" {}", bad("E_JSON"))
    add("envelope-array", "top-level array", b"[]", bad("E_ENVELOPE_FIELD"))
    for member in ("payloadType", "payload", "signatures"):
        add(f"envelope-missing-{member}", f"no {member}", {k: v for k, v in good.items() if k != member}, bad("E_ENVELOPE_FIELD"))
    add("envelope-extra-member", "unknown envelope member", {**good, "note": "hi"}, bad("E_ENVELOPE_FIELD"))
    add("envelope-type-not-string", "payloadType is a number", {**good, "payloadType": 1}, bad("E_ENVELOPE_FIELD"))
    add("envelope-signatures-object", "signatures is an object", {**good, "signatures": good["signatures"][0]}, bad("E_ENVELOPE_FIELD"))
    add("envelope-no-signatures", "empty signatures", {**good, "signatures": []}, bad("E_NO_SIGNATURES"))
    add("envelope-17-signatures", "more than 16 signatures", {**good, "signatures": good["signatures"] * 17}, bad("E_TOO_MANY_SIGNATURES"))
    sig = good["signatures"][0]
    add("signature-not-object", "a signature is a string", {**good, "signatures": [sig["sig"]]}, bad("E_ENVELOPE_FIELD"))
    add("signature-no-keyid", "keyid missing", {**good, "signatures": [{"sig": sig["sig"]}]}, bad("E_ENVELOPE_FIELD"))
    add("signature-empty-keyid", "keyid empty", {**good, "signatures": [{"keyid": "", "sig": sig["sig"]}]}, bad("E_ENVELOPE_FIELD"))
    add("signature-extra-member", "unknown signature member", {**good, "signatures": [{**sig, "alg": "Ed25519"}]}, bad("E_ENVELOPE_FIELD"))
    add("envelope-duplicate-member", "payload given twice", jdump(good)[:-1] + b',"payload":"e30="}', bad("E_JSON_DUPLICATE_KEY"))
    add("envelope-bom", "a UTF-8 byte order mark", b"\xef\xbb\xbf" + jdump(good), bad("E_JSON_UTF8"))
    add("envelope-invalid-utf8", "an invalid UTF-8 byte", jdump({**good, "x": "\u00e9"}).replace("é".encode(), b"\xe9"), bad("E_JSON_UTF8"))
    add("envelope-float", "a float anywhere is refused", {**good, "x": 1.5}, bad("E_JSON_NUMBER"))
    add("envelope-deep", "nesting beyond the envelope depth limit", {**good, "signatures": [{**sig, "sig": [[[]]]}]}, bad("E_JSON_DEPTH"))
    add("envelope-oversize", "envelope larger than 1440 KiB", jdump(good) + b" " * (1440 * 1024), bad("E_SIZE"))

    # Encodings.
    body = jdump(minimal)
    std = base64.b64encode(body).decode()
    assert std.endswith("="), "the minimal payload must need padding for these cases"
    add("base64-unpadded", "payload without padding", {**good, "payload": std.rstrip("=")}, bad("E_BASE64"))
    add("base64-whitespace", "payload with a line break", {**good, "payload": std[:40] + "\n" + std[40:]}, bad("E_BASE64"))
    urlsafe = base64.b64encode(b"\xfb\xff" + body).decode()
    add("base64-urlsafe", "URL-safe alphabet in the payload", {**good, "payload": urlsafe.replace("+", "-").replace("/", "_")}, bad("E_BASE64"))
    stray = std[:-2] + chr(ord(std[-2]) + 1) + "=" if std.endswith("=") and not std.endswith("==") else std[:-3] + chr(ord(std[-3]) + 1) + "=="
    add("base64-stray-bits", "non-zero padding bits", {**good, "payload": stray}, bad("E_BASE64"))
    add("base64-bad-sig", "signature is not base64", {**good, "signatures": [{**sig, "sig": "not base64!"}]}, bad("E_BASE64"))

    # Signatures.
    forged = base64.b64encode(bytes(64)).decode()
    add("sig-forged", "zero bytes as the signature", {**good, "signatures": [{**sig, "sig": forged}]}, bad("E_SIGNATURE_INVALID"))
    tampered = jdump(payload(sequence=11))
    add("sig-tampered-payload", "payload changed after signing", {**good, "payload": base64.b64encode(tampered).decode()}, bad("E_SIGNATURE_INVALID"))
    short = base64.b64encode(base64.b64decode(sig["sig"])[:63]).decode()
    add("sig-short", "a 63-byte signature", {**good, "signatures": [{**sig, "sig": short}]}, bad("E_SIGNATURE_INVALID"))
    add("sig-wrong-type", "payloadType is application/json", envelope(body, payload_type="application/json"), bad("E_PAYLOAD_TYPE"))
    add("sig-type-case", "payloadType differs in case", {**good, "payloadType": MANIFEST_TYPE.upper()}, bad("E_PAYLOAD_TYPE"))
    add("sig-unknown-key", "signed by a key that is not in the key set", sign_doc(minimal, (STRANGER,)), bad("E_UNKNOWN_KEY"))
    impostor = sign_doc(minimal, (STRANGER,))
    impostor["signatures"][0]["keyid"] = SITE.public.kid
    add("sig-wrong-key-claims-kid", "signed by another key under the trusted key id", impostor, bad("E_SIGNATURE_INVALID"))
    mixed = sign_doc(minimal, (SITE, NEWKEY))
    mixed["signatures"][1]["sig"] = forged
    add(
        "sig-one-bad-of-two",
        "one trusted signature verifies, another trusted one does not",
        mixed,
        bad("E_SIGNATURE_INVALID"),
        keyset=keyset_text((SITE, NEWKEY)),
    )
    other_type = envelope(body, payload_type="application/vnd.notrain.rotation+json")
    add("sig-other-type-replayed", "a signature made for another payloadType", {**other_type, "payloadType": MANIFEST_TYPE}, bad("E_SIGNATURE_INVALID"))
    raw_sig = base64.b64encode(SITE.sign(body)).decode()
    add("sig-not-over-pae", "signature over the bare payload instead of PAE", {**good, "signatures": [{**sig, "sig": raw_sig}]}, bad("E_SIGNATURE_INVALID"))
    add("did-key-other-signer", "a did:key manifest signed by another key", sign_doc(person, (STRANGER,)), bad("E_UNKNOWN_KEY"), publisher=DID)
    add("publisher-mismatch", "a manifest for another origin, signed by this origin's key", sign_doc(payload(publisher="https://other.example")), bad("E_PUBLISHER_MISMATCH"))
    add("publisher-scheme-mismatch", "http origin where https was fetched", sign_doc(payload(publisher="http://art.example")), bad("E_PUBLISHER_MISMATCH"))
    add("keyset-not-pinned", "pinned key absent and no rotation reaches the new key", sign_doc(minimal, (NEWKEY,)), bad("E_KEY_UNTRUSTED"), keyset=keyset_text((NEWKEY,)), pinned=(SITE,))
    forged_rotation = make_rotation(ORIGIN, STRANGER, NEWKEY.public, parse_timestamp("2026-11-15T00:00:00Z", ""))
    add(
        "keyset-rotation-by-stranger",
        "a rotation signed by a key that was never pinned does not count",
        sign_doc(minimal, (NEWKEY,)),
        bad("E_KEY_UNTRUSTED"),
        keyset=keyset_text((NEWKEY,), (forged_rotation,)),
        pinned=(SITE,),
    )

    # Payload bytes (correctly signed, but not acceptable).
    def signed_bytes(id_, description, data: bytes, code, **kw):
        add(id_, description, envelope(data), bad(code), **kw)

    head = b'{"notrain":1,"publisher":"https://art.example","sequence":10,"issued":"2026-11-01T00:00:00Z","expires":"2027-11-01T00:00:00Z"'
    signed_bytes("payload-not-json", "payload is not JSON", b"notrain", "E_JSON")
    signed_bytes("payload-duplicate-key", "sequence given twice", head + b',"sequence":11}', "E_JSON_DUPLICATE_KEY")
    signed_bytes("payload-duplicate-nested", "a duplicate inside default", head + b',"default":{"train-ai":"y","train-ai":"n"}}', "E_JSON_DUPLICATE_KEY")
    signed_bytes("payload-float", "sequence 10.0", head.replace(b'"sequence":10', b'"sequence":10.0') + b"}", "E_JSON_NUMBER")
    signed_bytes("payload-exponent", "sequence 1e1", head.replace(b'"sequence":10', b'"sequence":1e1') + b"}", "E_JSON_NUMBER")
    signed_bytes("payload-2pow53", "an integer of 2^53", head.replace(b'"sequence":10', b'"sequence":9007199254740992') + b"}", "E_JSON_NUMBER")
    signed_bytes("payload-huge-negative", "a huge negative integer", head + b',"x":-123456789012345678901234567890}', "E_JSON_NUMBER")
    signed_bytes("payload-nan", "NaN", head + b',"x":NaN}', "E_JSON_NUMBER")
    signed_bytes("payload-infinity", "-Infinity", head + b',"x":-Infinity}', "E_JSON_NUMBER")
    signed_bytes("payload-lone-high-surrogate", "a lone high surrogate in a name", head + b',"names":[{"name":"a\\ud800b"}]}', "E_JSON_SURROGATE")
    signed_bytes("payload-lone-low-surrogate", "a lone low surrogate in a member name", head + b',"\\udc00":1}', "E_JSON_SURROGATE")
    signed_bytes("payload-bom", "payload starts with a byte order mark", b"\xef\xbb\xbf" + jdump(minimal), "E_JSON_UTF8")
    signed_bytes("payload-invalid-utf8", "an overlong UTF-8 encoding", head + b',"names":[{"name":"\xc0\xaf"}]}', "E_JSON_UTF8")
    signed_bytes("payload-control-char", "a raw control character in a string", head + b',"names":[{"name":"a\x01b"}]}', "E_JSON")
    signed_bytes("payload-depth-17", "an unknown member nested 17 deep", head + b',"x":' + b"[" * 16 + b"]" * 16 + b"}", "E_JSON_DEPTH")
    signed_bytes("payload-depth-100000", "100,000 nested arrays", head + b',"x":' + b"[" * 100000 + b"]" * 100000 + b"}", "E_JSON_DEPTH")
    signed_bytes("payload-trailing-comma", "a trailing comma", head + b",}", "E_JSON")
    add(
        "payload-oversize",
        "a payload one byte over 1 MiB",
        jdump({**good, "payload": base64.b64encode(head + b',"x":"' + b"a" * (1024 * 1024 - len(head) - 6) + b'"}').decode()}),
        bad("E_SIZE"),
    )

    # Payload schema (correctly signed).
    def schema(id_, description, doc, code, **kw):
        add(id_, description, sign_doc(doc, kw.pop("keys", (SITE,))), bad(code), **kw)

    schema("schema-array", "payload is an array", [1], "E_FIELD_TYPE")
    schema("schema-no-version", "no notrain member", {k: v for k, v in minimal.items() if k != "notrain"}, "E_FIELD_MISSING")
    schema("schema-version-2", "notrain 2", payload(notrain=2), "E_VERSION")
    schema("schema-version-string", "notrain \"1\"", payload(notrain="1"), "E_FIELD_TYPE")
    schema("schema-no-publisher", "no publisher", payload(publisher=None), "E_FIELD_MISSING")
    for suffix, value in (
        ("trailing-slash", "https://art.example/"),
        ("uppercase", "https://Art.example"),
        ("default-port", "https://art.example:443"),
        ("path", "https://art.example/portfolio"),
        ("ftp", "ftp://art.example"),
        ("userinfo", "https://me@art.example"),
        ("unicode-host", "https://bücher.example"),
        ("ipv6-zone", "https://[fe80::1%25eth0]"),
        ("ipv4-mapped", "https://[::ffff:1.2.3.4]"),
        ("ipv6-uncompressed", "http://[0:0:0:0:0:0:0:1]"),
        ("port-zero", "https://art.example:0"),
        ("ipv4-leading-zero", "http://01.2.3.4"),
        ("numeric-host", "http://1.2.3"),
    ):
        schema(f"schema-publisher-{suffix}", f"publisher {value!r} is not a canonical origin", payload(publisher=value), "E_PUBLISHER")
    schema("schema-publisher-bad-did", "a did:key that is not base58", payload(publisher="did:key:z0OIl"), "E_DID_KEY")
    schema("schema-publisher-did-web", "did:web is not an accepted publisher", payload(publisher="did:web:art.example"), "E_DID_KEY")
    schema("schema-sequence-negative", "sequence -1", payload(sequence=-1), "E_FIELD_VALUE")
    schema("schema-sequence-string", "sequence \"10\"", payload(sequence="10"), "E_FIELD_TYPE")
    schema("schema-sequence-bool", "sequence true", payload(sequence=True), "E_FIELD_TYPE")
    schema("schema-issued-offset", "a +00:00 offset instead of Z", payload(issued="2026-11-01T00:00:00+00:00"), "E_TIMESTAMP")
    schema("schema-issued-fraction", "fractional seconds", payload(issued="2026-11-01T00:00:00.5Z"), "E_TIMESTAMP")
    schema("schema-issued-date-only", "a date without time", payload(issued="2026-11-01"), "E_TIMESTAMP")
    schema("schema-issued-invalid-day", "February 30th", payload(issued="2026-02-30T00:00:00Z"), "E_TIMESTAMP")
    schema("schema-expires-before-issued", "expires before issued", payload(expires="2026-10-01T00:00:00Z"), "E_VALIDITY")
    schema("schema-validity-too-long", "valid for more than 400 days", payload(expires="2028-01-01T00:00:00Z"), "E_VALIDITY")
    schema("policy-expired", "expired at verification time", payload(issued="2025-11-01T00:00:00Z", expires="2026-11-01T00:00:00Z"), "E_EXPIRED")
    schema("policy-not-yet-valid", "issued more than 5 minutes in the future", payload(issued="2026-12-01T00:05:01Z"), "E_NOT_YET_VALID")
    schema("policy-rollback", "sequence lower than the accepted one", minimal, "E_ROLLBACK", previous={"sequence": 11, "digest": "00" * 32, "keys": [SITE.public.kid]})
    schema("policy-equivocation", "same sequence, other bytes", minimal, "E_ROLLBACK", previous={"sequence": 10, "digest": "00" * 32, "keys": [SITE.public.kid]})
    schema("schema-pref-yes", "preference value \"yes\"", payload(default={"train-ai": "yes"}), "E_FIELD_VALUE")
    schema("schema-pref-bool", "preference value false", payload(default={"train-ai": False}), "E_FIELD_VALUE")
    schema("schema-pref-uppercase-label", "label Train-AI", payload(default={"Train-AI": "n"}), "E_FIELD_VALUE")
    schema("schema-default-array", "default is an array", payload(default=["train-ai"]), "E_FIELD_TYPE")
    for suffix, pattern in (
        ("relative", "blog/"),
        ("dollar-inside", "/a$b"),
        ("space", "/a b"),
        ("hash", "/a#b"),
        ("bad-escape", "/a%zz"),
        ("too-long", "/" + "a" * 2048),
    ):
        schema(f"schema-pattern-{suffix}", f"path pattern {pattern[:20]!r}", payload(paths=[{"pattern": pattern, "prefs": {"train-ai": "n"}}]), "E_PATTERN")
    # Wildcard reach (paths.md, "Wildcard reach"): at most 64 distinct pieces on one path's way.
    reach_64 = [{"pattern": "/" + "*a" * 62, "prefs": {"train-ai": "n"}}, *({"pattern": f"/{i}/*x*y", "prefs": {"train-ai": "n"}} for i in range(40))]
    add("schema-wildcard-reach-64", "62 wildcard pieces under '/', 2 more under each of 40 branches: 64 on any one path",
        sign_doc(payload(paths=reach_64)), ok(payload(paths=reach_64)))
    schema("schema-wildcard-reach-65", "one rule with 65 wildcard pieces", payload(paths=[{"pattern": "/" + "*a" * 65, "prefs": {"train-ai": "n"}}]), "E_PATTERN")
    schema("schema-wildcard-reach-nested", "60 pieces under '/' and 5 more under '/a/': a path under /a/ reaches 65",
           payload(paths=[{"pattern": "/" + "*b" * 60, "prefs": {"train-ai": "n"}}, {"pattern": "/a/*c*d*e*f*g", "prefs": {"search": "n"}}]), "E_PATTERN")
    schema("schema-pattern-not-string", "path pattern 5", payload(paths=[{"pattern": 5, "prefs": {"train-ai": "n"}}]), "E_FIELD_TYPE")
    schema("schema-path-no-prefs", "a path rule without prefs", payload(paths=[{"pattern": "/a"}]), "E_FIELD_MISSING")
    schema("schema-paths-for-did-key", "a did:key publisher with path rules", payload(publisher=DID, paths=[{"pattern": "/", "prefs": {"train-ai": "n"}}]), "E_FIELD_VALUE", publisher=DID, keys=(PERSON,))
    schema("schema-work-empty", "a work with neither hash", payload(works=[{"title": "x"}]), "E_FIELD_MISSING")
    schema("schema-work-uppercase-hex", "sha256 in uppercase", payload(works=[{"sha256": "AA" * 32}]), "E_HASH")
    schema("schema-work-short-hash", "a 31-byte sha256", payload(works=[{"sha256": "aa" * 31}]), "E_HASH")
    schema("schema-work-pdq-no-config", "a PDQ hash without the pdq member", payload(works=[{"pdq": "aa" * 32}]), "E_FIELD_MISSING")
    schema("schema-pdq-threshold-64", "threshold above 48", payload(works=[{"pdq": "aa" * 32}], pdq={"hasher": "x", "threshold": 64}), "E_FIELD_VALUE")
    schema("schema-pdq-no-hasher", "pdq without hasher", payload(works=[{"pdq": "aa" * 32}], pdq={"threshold": 31}), "E_FIELD_MISSING")
    schema("schema-works-object", "works is an object", payload(works={"sha256": "aa" * 32}), "E_FIELD_TYPE")
    schema("schema-name-empty", "an empty name", payload(names=[{"name": ""}]), "E_FIELD_VALUE")
    schema("schema-name-too-long", "a 257-character name", payload(names=[{"name": "n" * 257}]), "E_FIELD_VALUE")
    schema("schema-account-http", "an account over http", payload(accounts=[{"url": "http://bsky.app/profile/x"}]), "E_FIELD_VALUE")
    schema("schema-part-size-zero", "a part of size 0", payload(parts=[{"sha256": "aa" * 32, "size": 0}]), "E_FIELD_VALUE")
    schema("schema-critical-unknown", "critical names a member this verifier does not know", payload(future_member=1, critical=["future_member"]), "E_CRITICAL")
    schema("schema-critical-absent", "critical names an absent member", payload(critical=["works"]), "E_CRITICAL")
    schema("schema-critical-string", "critical is a string", payload(critical="works"), "E_FIELD_TYPE")
    _envelope_gap_cases(add, ok, bad, schema, signed_bytes)
    # The last representable times: verifiers compare differences, so nothing overflows (manifest.md, "Timestamps").
    last_day = payload(issued="9999-12-31T00:00:00Z", expires="9999-12-31T23:59:59Z")
    add("valid-year-9999", "valid until 9999-12-31T23:59:59Z, verified on that day", sign_doc(last_day), ok(last_day), now="9999-12-31T12:00:00Z")
    longest = payload(issued="9998-11-26T23:59:59Z", expires="9999-12-31T23:59:59Z")
    add("valid-year-9999-400-days", "exactly 400 days ending at 9999-12-31T23:59:59Z", sign_doc(longest), ok(longest), now="9999-12-31T12:00:00Z")
    schema("schema-year-9999-401-days", "401 days ending at 9999-12-31T23:59:59Z", payload(issued="9998-11-25T23:59:59Z", expires="9999-12-31T23:59:59Z"), "E_VALIDITY")
    schema("policy-year-9999-not-yet-valid", "issued in year 9999, verified today", last_day, "E_NOT_YET_VALID")
    return cases


def _envelope_gap_cases(add, ok, bad, schema, signed_bytes) -> None:
    """Envelope cases for spec gaps: field types, defect order, anchoring, boundaries, trust paths."""
    minimal = payload()
    good = sign_doc(minimal)
    sig = good["signatures"][0]

    # A member of the wrong type is a field error, whichever member (envelope.md, "Format").
    add("envelope-payload-number", "payload is a number, not a string", {**good, "payload": 5}, bad("E_ENVELOPE_FIELD"))
    add("envelope-payload-null", "payload is null", {**good, "payload": None}, bad("E_ENVELOPE_FIELD"))
    add("signature-sig-number", "sig is a number", {**good, "signatures": [{**sig, "sig": 7}]}, bad("E_ENVELOPE_FIELD"))
    add("signature-sig-array", "sig is an empty array (depth 4, within the limit)", {**good, "signatures": [{**sig, "sig": []}]}, bad("E_ENVELOPE_FIELD"))
    add("signature-keyid-number", "keyid is a number", {**good, "signatures": [{**sig, "keyid": 1}]}, bad("E_ENVELOPE_FIELD"))
    add("signature-keyid-129", "a keyid of 129 characters", {**good, "signatures": [{**sig, "keyid": "k" * 129}]}, bad("E_ENVELOPE_FIELD"))

    # Several strict I-JSON defects: the class order of manifest.md decides, not their position.
    text = jdump(good)
    add("order-number-before-duplicate", "a duplicate member, then a float: the number wins",
        text[:-1] + b',"x":1,"x":1.5}', bad("E_JSON_NUMBER"))
    add("order-duplicate-before-number-position", "a float inside a member named twice: the number wins",
        text[:-1] + b',"x":2.5,"x":1}', bad("E_JSON_NUMBER"))
    add("order-grammar-before-duplicate", "a duplicate member, then trailing data: the grammar wins",
        text[:-1] + b',"x":1,"x":2} x', bad("E_JSON"))
    add("order-grammar-before-number", "a float, then a missing bracket: the grammar wins", text[:-1] + b',"x":[1.5}', bad("E_JSON"))
    add("order-duplicate-before-surrogate", "a lone surrogate, then a duplicate: the duplicate wins",
        text[:-1] + b',"x":"\\ud800","x":1}', bad("E_JSON_DUPLICATE_KEY"))
    add("order-number-before-surrogate", "a lone surrogate, then 2^53: the number wins",
        text[:-1] + b',"x":"\\udc00","y":9007199254740992}', bad("E_JSON_NUMBER"))
    add("order-depth-before-number", "too deep, with a float inside", text[:-1] + b',"x":[[[[1.5]]]]}', bad("E_JSON_DEPTH"))
    add("order-depth-before-grammar", "too deep and never closed", text[:-1] + b',"x":[[[[', bad("E_JSON_DEPTH"))
    add("order-depth-before-duplicate", "too deep in the first value of a member named twice (depth is counted on the text)",
        text[:-1] + b',"x":[[[[]]]],"x":0}', bad("E_JSON_DEPTH"))
    add("order-grammar-brackets-in-string", "brackets inside an unclosed string do not count as depth",
        text[:-1] + b',"x":"[[[[[[', bad("E_JSON"))
    add("order-utf8-before-grammar", "invalid UTF-8 and invalid JSON", b"\xff{", bad("E_JSON_UTF8"))
    add("order-size-before-utf8", "over 1440 KiB and not UTF-8", b"\xff" * (1440 * 1024 + 1), bad("E_SIZE"))
    head = b'{"notrain":1,"publisher":"https://art.example","sequence":10,"issued":"2026-11-01T00:00:00Z","expires":"2027-11-01T00:00:00Z"'
    signed_bytes("payload-order-number-before-duplicate", "in the payload: sequence twice, the second a float",
                 head + b',"sequence":10.5}', "E_JSON_NUMBER")
    signed_bytes("payload-order-depth-before-duplicate", "in the payload: 17 arrays in the first of two members named x",
                 head + b',"x":' + b"[" * 17 + b"]" * 17 + b',"x":0}', "E_JSON_DEPTH")
    signed_bytes("payload-order-depth-before-number", "in the payload: 17 arrays in the first of two members named x, a float in the second",
                 head + b',"x":' + b"[" * 17 + b"]" * 17 + b',"x":1.5}', "E_JSON_DEPTH")
    signed_bytes("payload-order-depth-before-grammar", "in the payload: 17 arrays never closed", head + b',"x":' + b"[" * 17, "E_JSON_DEPTH")
    signed_bytes("payload-order-grammar-not-depth", "in the payload: 16 arrays never closed are within the depth limit",
                 head + b',"x":' + b"[" * 15, "E_JSON")
    brackets = payload(names=[{"name": "[" * 40}])
    add("valid-brackets-in-string", "brackets inside strings are not nesting", sign_doc(brackets), ok(brackets))

    # Regular expressions match whole strings: a final line feed is never allowed.
    schema("anchor-label-newline", "the label \"train-ai\\n\"", payload(default={"train-ai\n": "n"}), "E_FIELD_VALUE")
    schema("anchor-unknown-label-newline", "an unknown label with a final line feed", payload(default={"future\n": "n"}), "E_FIELD_VALUE")
    schema("anchor-sha256-newline", "a sha256 followed by a line feed", payload(works=[{"sha256": "aa" * 32 + "\n"}]), "E_HASH")
    schema("anchor-pdq-newline", "a PDQ hash followed by a line feed", payload(works=[{"pdq": "ab" * 32 + "\n"}], pdq={"hasher": "x"}), "E_HASH")
    schema("anchor-part-sha256-newline", "a part sha256 followed by a line feed", payload(parts=[{"sha256": "cc" * 32 + "\n", "size": 10}]), "E_HASH")
    schema("anchor-issued-newline", "a timestamp followed by a line feed", payload(issued="2026-11-01T00:00:00Z\n"), "E_TIMESTAMP")
    schema("anchor-publisher-newline", "a publisher followed by a line feed", payload(publisher=ORIGIN + "\n"), "E_PUBLISHER")
    schema("anchor-did-newline", "a did:key followed by a line feed", payload(publisher=DID + "\n"), "E_DID_KEY", publisher=DID, keys=(PERSON,))
    schema("anchor-pattern-newline", "a path pattern followed by a line feed", payload(paths=[{"pattern": "/a\n", "prefs": {"train-ai": "n"}}]), "E_PATTERN")
    schema("anchor-account-newline", "an account URL with a line feed inside", payload(accounts=[{"url": "https://bsky.app\n/profile/x"}]), "E_FIELD_VALUE")
    schema("anchor-account-trailing-newline", "an account URL followed by a line feed", payload(accounts=[{"url": "https://bsky.app/profile/x\n"}]), "E_FIELD_VALUE")
    schema("anchor-part-url-newline", "a part URL followed by a line feed", payload(parts=[{"sha256": "cc" * 32, "size": 10, "url": "p.json\n"}]), "E_FIELD_VALUE")

    # Accounts and parts.
    schema("account-userinfo", "an account URL with userinfo", payload(accounts=[{"url": "https://me@bsky.app/profile/x"}]), "E_FIELD_VALUE")
    schema("account-empty-userinfo", "an account URL with an empty userinfo", payload(accounts=[{"url": "https://@bsky.app/profile/x"}]), "E_FIELD_VALUE")
    schema("account-space", "an account URL with a space", payload(accounts=[{"url": "https://bsky.app/profile/x y"}]), "E_FIELD_VALUE")
    schema("account-no-host", "an account URL with an empty host", payload(accounts=[{"url": "https://:443/profile/x"}]), "E_FIELD_VALUE")
    schema("account-uppercase-scheme", "an account URL whose scheme is not lowercase", payload(accounts=[{"url": "HTTPS://bsky.app/profile/x"}]), "E_FIELD_VALUE")
    tolerated = payload(accounts=[{"url": "https://BSKY.app:443/profile/x?tab=posts#top", "service": "bluesky"}])
    add("valid-account-tolerated-spelling", "upper-case host, default port, query and fragment are tolerated in an account URL",
        sign_doc(tolerated), ok(tolerated))
    parts_256 = payload(parts=[{"sha256": f"{i:064x}", "size": 1} for i in range(256)])
    add("valid-256-parts", "exactly 256 parts", sign_doc(parts_256), ok(parts_256))
    schema("parts-257", "257 parts", payload(parts=[{"sha256": f"{i:064x}", "size": 1} for i in range(257)]), "E_FIELD_VALUE")
    schema("parts-duplicate-sha256", "two part references with the same sha256",
           payload(parts=[{"sha256": "cc" * 32, "size": 10}, {"sha256": "cc" * 32, "size": 20, "url": "b.json"}]), "E_FIELD_VALUE")
    schema("parts-size-over-8mib", "a part size of 8 MiB + 1", payload(parts=[{"sha256": "cc" * 32, "size": 8 * 1024 * 1024 + 1}]), "E_FIELD_VALUE")
    schema("parts-url-space", "a part URL with a space", payload(parts=[{"sha256": "cc" * 32, "size": 10, "url": "part 1.json"}]), "E_FIELD_VALUE")
    schema("parts-url-backslash", "a part URL with a backslash", payload(parts=[{"sha256": "cc" * 32, "size": 10, "url": "parts\\1.json"}]), "E_FIELD_VALUE")
    schema("account-backslash", "an account URL whose host WHATWG and RFC 3986 read differently",
           payload(accounts=[{"url": "https://bsky.app\\@evil.example/"}]), "E_FIELD_VALUE")
    schema("parts-size-string", "a part size as a string", payload(parts=[{"sha256": "cc" * 32, "size": "10"}]), "E_FIELD_TYPE")

    # Malformed PDQ hashes.
    config = {"hasher": "pdqhash-0.2/pillow"}
    schema("pdq-uppercase", "a PDQ hash in uppercase", payload(works=[{"pdq": "AB" * 32}], pdq=config), "E_HASH")
    schema("pdq-63-digits", "a PDQ hash of 63 hex digits", payload(works=[{"pdq": "a" * 63}], pdq=config), "E_HASH")
    schema("pdq-not-hex", "a PDQ hash with a non-hex digit", payload(works=[{"pdq": "g" + "a" * 63}], pdq=config), "E_HASH")
    schema("pdq-number", "a PDQ hash that is a number", payload(works=[{"pdq": 12}], pdq=config), "E_FIELD_TYPE")
    schema("pdq-fullwidth-digits", "a PDQ hash with full-width digits", payload(works=[{"pdq": "\uff10" * 64}], pdq=config), "E_HASH")
    schema("pdq-threshold-negative", "a threshold of -1", payload(works=[{"pdq": "ab" * 32}], pdq={**config, "threshold": -1}), "E_FIELD_VALUE")

    # Exact boundaries: 5 minutes of clock skew for issued, none for expires, at most 400 days.
    skew = payload(issued="2026-12-01T00:05:00Z")
    add("boundary-issued-skew-exact", "issued exactly 5 minutes after now", sign_doc(skew), ok(skew))
    schema("boundary-expires-now", "expires exactly now", payload(expires="2026-12-01T00:00:00Z"), "E_EXPIRED")
    later = payload(expires="2026-12-01T00:00:01Z")
    add("boundary-expires-next-second", "expires one second after now", sign_doc(later), ok(later))
    schema("boundary-expires-1s-ago", "expired one second ago", payload(expires="2026-11-30T23:59:59Z"), "E_EXPIRED")
    longest = payload(issued="2026-11-01T00:00:00Z", expires="2027-12-06T00:00:00Z")
    add("boundary-validity-400-days", "expires exactly 400 days after issued", sign_doc(longest), ok(longest))
    schema("boundary-validity-400-days-plus-1s", "expires 400 days and 1 second after issued",
           payload(issued="2026-11-01T00:00:00Z", expires="2027-12-06T00:00:01Z"), "E_VALIDITY")
    schema("boundary-validity-zero", "expires equal to issued", payload(issued="2026-12-01T00:00:00Z", expires="2026-12-01T00:00:00Z"), "E_VALIDITY")
    shortest = payload(issued="2026-12-01T00:00:00Z", expires="2026-12-01T00:00:01Z")
    add("boundary-validity-one-second", "valid for one second, verified at issued", sign_doc(shortest), ok(shortest))
    leap = payload(issued="2028-02-29T00:00:00Z", expires="2028-03-01T00:00:00Z")
    add("boundary-leap-day", "29 February of a leap year", sign_doc(leap), ok(leap), now="2028-02-29T12:00:00Z")
    schema("boundary-no-leap-day", "29 February of a common year", payload(issued="2027-02-29T00:00:00Z"), "E_TIMESTAMP")
    schema("boundary-second-60", "second 60 (no leap seconds)", payload(issued="2026-11-01T23:59:60Z"), "E_TIMESTAMP")

    # Self-certification (envelope.md step 7): a caller that trusts a key other than the DID's.
    person = payload(publisher=DID, works=[{"sha256": "dd" * 32}])
    add("did-key-self-certification", "a did:key manifest signed only by another key the caller trusts",
        sign_doc(person, (STRANGER,)), bad("E_PUBLISHER_MISMATCH"), publisher=DID, trusted=(STRANGER,))
    add("did-key-self-certification-cosigned", "signed by another trusted key and by the DID's own key",
        sign_doc(person, (STRANGER, PERSON)), ok(person, (STRANGER, PERSON)), publisher=DID, trusted=(STRANGER, PERSON))

    # Key sets and rotations, as a verifier meets them while verifying a manifest.
    third = key("site-third")
    hop1 = make_rotation(ORIGIN, SITE, NEWKEY.public, parse_timestamp("2026-10-01T00:00:00Z", ""))
    hop2 = make_rotation(ORIGIN, NEWKEY, third.public, parse_timestamp("2026-11-01T00:00:00Z", ""))
    add("rotation-two-hops", "pinned key -> second key -> third key, each rotation signed by the key before",
        sign_doc(minimal, (third,)), ok(minimal, (third,)), keyset=keyset_text((third,), (hop1, hop2)), pinned=(SITE,))
    add("rotation-two-hops-listed-backwards", "the same chain with the later rotation listed first",
        sign_doc(minimal, (third,)), ok(minimal, (third,)), keyset=keyset_text((third,), (hop2, hop1)), pinned=(SITE,))
    add("rotation-chain-from-middle", "pinned second key: only the second hop is needed",
        sign_doc(minimal, (third,)), ok(minimal, (third,)), keyset=keyset_text((third,), (hop1, hop2)), pinned=(NEWKEY,))
    broken = _tampered_rotation(hop1)
    add("rotation-bad-signature", "the rotation's signature does not verify: the new key is never reached",
        sign_doc(minimal, (NEWKEY,)), bad("E_KEY_UNTRUSTED"), keyset=jdump(_keyset_doc(keys=[NEWKEY.public.to_jwk()], rotations=[broken])).decode(),
        pinned=(SITE,))
    add("rotation-bad-signature-old-kept", "a bad rotation is ignored; the pinned key still listed still signs",
        sign_doc(minimal, (SITE,)), ok(minimal), keyset=jdump(_keyset_doc(keys=[SITE.public.to_jwk(), NEWKEY.public.to_jwk()], rotations=[broken])).decode(),
        pinned=(SITE,))
    add("rotation-broken-chain", "the second hop names the second key as old but is signed by a stranger",
        sign_doc(minimal, (third,)), bad("E_KEY_UNTRUSTED"),
        keyset=jdump(_keyset_doc(keys=[third.public.to_jwk()], rotations=[
            hop1.envelope.to_json(),
            _rotation_envelope(_rotation_body(old=NEWKEY.public.kid, new=third.public.to_jwk()), signer=STRANGER),
        ])).decode(),
        pinned=(SITE,))
    add("rotation-pinned-key-dropped", "the pinned key is no longer listed and signs: it is not trusted any more",
        sign_doc(minimal, (SITE,)), bad("E_UNKNOWN_KEY"), keyset=keyset_text((NEWKEY,), (hop1,)), pinned=(SITE,))
    add("keyset-missing", "no key set could be had for an origin publisher", good, bad("E_KEYSET"), keyset=False)
    add("keyset-other-publisher", "the key set served names another publisher", good, bad("E_KEYSET"),
        keyset=jdump(_keyset_doc(publisher="https://other.example")).decode())
    add("keyset-bad-jwk", "a key in the key set has a private part", good, bad("E_JWK"),
        keyset=jdump(_keyset_doc(keys=[{**SITE.public.to_jwk(), "d": "AA"}])).decode())
    add("keyset-bad-rotation", "a rotation in the key set names another publisher", good, bad("E_ROTATION"),
        keyset=jdump(_keyset_doc(rotations=[_rotation_envelope({**_rotation_body(), "publisher": "https://other.example"})])).decode())


def _keyset_doc(**changes) -> dict:
    doc = {"notrain-keys": 1, "publisher": ORIGIN, "keys": [SITE.public.to_jwk()], "rotations": []}
    doc.update(changes)
    return {k: v for k, v in doc.items() if v is not None}


def _rotation_body(**changes) -> dict:
    body = {"notrain-rotation": 1, "publisher": ORIGIN, "old": SITE.public.kid, "new": NEWKEY.public.to_jwk(), "issued": "2026-10-01T00:00:00Z"}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def _rotation_envelope(body, signer=SITE, payload_type=ROTATION_TYPE) -> dict:
    data = body if isinstance(body, bytes) else jdump(body)
    return dsse.sign(data, payload_type, [signer]).to_json()


def _tampered_rotation(rotation) -> dict:
    """The rotation's envelope with its signature's first byte changed."""
    doc = rotation.envelope.to_json()
    raw = bytearray(base64.b64decode(doc["signatures"][0]["sig"]))
    raw[0] ^= 1
    doc["signatures"][0]["sig"] = base64.b64encode(bytes(raw)).decode()
    return doc


# -- documents at the well-known location: envelope or bare ----------------------------------------------


def wellknown_cases() -> list[dict]:
    cases: list[dict] = []
    https, http = "https://art.example/.well-known/notrain.json", "http://art.example/.well-known/notrain.json"

    def add(id_, description, data, expect, fetched_from=https, looked_up=ORIGIN, keyset=None):
        data = data if isinstance(data, bytes) else jdump(data)
        context = {"looked_up": looked_up, "fetched_from": fetched_from, "keyset": keyset or keyset_text(), "now": NOW}
        cases.append({"id": id_, "description": description, **encode_input("document", data), "context": context, "expect": expect})

    def bare(doc):
        return {"valid": True, "kind": "bare", "digest": digest(doc), "sequence": doc["sequence"]}

    def bad(code):
        return {"valid": False, "error": code}

    minimal = payload()
    add("wellknown-bare", "a bare manifest over HTTPS", minimal, bare(minimal))
    signed = sign_doc(minimal)
    add("wellknown-envelope", "an envelope", signed,
        {"valid": True, "kind": "envelope", "digest": digest(minimal), "sequence": 10, "signed_by": [SITE.public.kid]})
    add("wellknown-envelope-over-http", "an envelope needs no HTTPS", signed,
        {"valid": True, "kind": "envelope", "digest": digest(minimal), "sequence": 10, "signed_by": [SITE.public.kid]}, fetched_from=http)
    nested5 = payload(x=[[[[]]]])
    add("wellknown-bare-depth-5", "a bare manifest nested 5 deep is not held to the envelope's depth 4", nested5, bare(nested5))
    nested16 = payload(x=json.loads("[" * 15 + "]" * 15))
    add("wellknown-bare-depth-16", "a bare manifest nested 16 deep", nested16, bare(nested16))
    add("wellknown-bare-depth-17", "a bare manifest nested 17 deep", payload(x=json.loads("[" * 16 + "]" * 16)), bad("E_JSON_DEPTH"))
    sig = signed["signatures"][0]
    add("wellknown-envelope-depth-5", "an envelope nested 5 deep is held to its own depth 4", {**signed, "signatures": [{**sig, "sig": [[[]]]}]},
        bad("E_JSON_DEPTH"))
    add("wellknown-envelope-field-type", "payloadType of any type makes an envelope", {**minimal, "payloadType": 1}, bad("E_ENVELOPE_FIELD"))
    add("wellknown-not-json-over-http", "JSON errors precede E_UNSIGNED", b"<html>not found</html>", bad("E_JSON"), fetched_from=http)
    add("wellknown-bom-over-http", "a byte order mark, over HTTP", b"\xef\xbb\xbf" + jdump(minimal), bad("E_JSON_UTF8"), fetched_from=http)
    add("wellknown-duplicate-over-http", "a duplicate member, over HTTP", jdump(minimal)[:-1] + b',"sequence":11}', bad("E_JSON_DUPLICATE_KEY"),
        fetched_from=http)
    add("wellknown-bare-schema-over-http", "over HTTP, E_UNSIGNED precedes the manifest's own checks", payload(sequence=None), bad("E_UNSIGNED"),
        fetched_from=http)
    big = jdump(payload(x="a" * (1200 * 1024)))
    add("wellknown-bare-1200kib-over-http", "1200 KiB: classified (limit 1440 KiB), then E_UNSIGNED", big, bad("E_UNSIGNED"), fetched_from=http)
    add("wellknown-bare-1200kib", "1200 KiB over HTTPS: over the manifest's 1 MiB", big, bad("E_SIZE"))
    add("wellknown-over-1440kib", "over 1440 KiB: too big for either kind", jdump(payload(x="a" * (1440 * 1024))), bad("E_SIZE"), fetched_from=http)
    add("wellknown-array", "an array is a bare document, and no manifest", [minimal], bad("E_FIELD_TYPE"))
    add("wellknown-bare-userinfo", "fetched from a URL with userinfo", minimal, bad("E_UNSIGNED"),
        fetched_from="https://me@art.example/.well-known/notrain.json")
    add("wellknown-bare-backslash-other-host", "a backslash ends the authority: the URL's host is evil.example", minimal, bad("E_UNSIGNED"),
        fetched_from="https://evil.example\\@art.example/.well-known/notrain.json")
    add("wellknown-bare-backslash-own-host", "a backslash ends the authority: the URL's host is art.example", minimal, bare(minimal),
        fetched_from="https://art.example\\@evil.example/.well-known/notrain.json")
    add("wellknown-bare-uppercase-url", "scheme and host of the URL are compared case-insensitively", minimal, bare(minimal),
        fetched_from="HTTPS://ART.EXAMPLE/.well-known/notrain.json")
    person = payload(publisher=DID)
    add("wellknown-bare-did-key", "a did:key manifest can never be bare", person, bad("E_UNSIGNED"))

    # The http -> https upgrade (fetching.md, "Redirects"): the https origin speaks for the http one.
    upgraded = {"valid": True, "kind": "envelope", "digest": digest(minimal), "sequence": 10, "signed_by": [SITE.public.kid]}
    add("wellknown-upgrade-envelope", "http origin looked up, redirected to its https origin: the https manifest is expected", signed, upgraded,
        looked_up="http://art.example")
    add("wellknown-upgrade-bare", "after the upgrade a bare manifest was read over HTTPS from its origin", minimal, bare(minimal),
        looked_up="http://art.example")
    on_ports = payload(publisher="https://art.example:8443")
    add("wellknown-upgrade-port", "the upgrade may change the port", sign_doc(on_ports),
        {"valid": True, "kind": "envelope", "digest": digest(on_ports), "sequence": 10, "signed_by": [SITE.public.kid]},
        fetched_from="https://art.example:8443/.well-known/notrain.json", looked_up="http://art.example:8080",
        keyset=jdump(make_keyset("https://art.example:8443", [SITE.public]).to_json()).decode())
    add("wellknown-no-upgrade", "served over http without a redirect: the https manifest is not the http origin's", signed,
        bad("E_PUBLISHER_MISMATCH"), fetched_from=http, looked_up="http://art.example",
        keyset=jdump(make_keyset("http://art.example", [SITE.public]).to_json()).decode())
    return cases


# -- bare manifests -------------------------------------------------------------------------------------


def bare_cases() -> list[dict]:
    minimal = jdump(payload())
    return [
        {"id": "bare-own-origin-https", "description": "served by its own origin over HTTPS", "manifest": minimal.decode(),
         "context": {"fetched_from": "https://art.example/.well-known/notrain.json", "now": NOW},
         "expect": {"valid": True, "digest": digest(minimal), "sequence": 10}},
        {"id": "bare-over-http", "description": "an unsigned manifest over plain HTTP", "manifest": minimal.decode(),
         "context": {"fetched_from": "http://art.example/.well-known/notrain.json", "now": NOW},
         "expect": {"valid": False, "error": "E_UNSIGNED"}},
        {"id": "bare-other-origin", "description": "served by another origin (a mirror)", "manifest": minimal.decode(),
         "context": {"fetched_from": "https://mirror.example/art.example/notrain.json", "now": NOW},
         "expect": {"valid": False, "error": "E_UNSIGNED"}},
        {"id": "bare-expired", "description": "bare manifests are checked for validity too",
         "manifest": jdump(payload(issued="2025-11-01T00:00:00Z", expires="2026-11-01T00:00:00Z")).decode(),
         "context": {"fetched_from": "https://art.example/.well-known/notrain.json", "now": NOW},
         "expect": {"valid": False, "error": "E_EXPIRED"}},
    ]


# -- rollback floors: which floor binds which manifest, and bare manifests of signing publishers ---------


def floor_cases() -> list[dict]:
    """envelope.md step 10 and "Bare manifests": a floor binds manifests signed by a
    key trusted when it was set; a rotation to a new key resets it; a publisher
    with pins or a signed floor is never accepted bare."""
    cases: list[dict] = []
    top = 2**53 - 1
    minimal = payload()
    rotation = make_rotation(ORIGIN, SITE, NEWKEY.public, parse_timestamp("2026-11-15T00:00:00Z", ""))
    rotated = keyset_text((NEWKEY,), (rotation,))

    def floor(sequence, keys):
        return {"sequence": sequence, "digest": "00" * 32, "keys": [k.public.kid for k in keys]}

    def signed(id_, description, signers, expect, *, keyset=None, pinned=(SITE,), previous):
        context = {"publisher": ORIGIN, "now": NOW, "keyset": keyset or keyset_text(), "pinned": [k.public.to_jwk() for k in pinned],
                   "previous": previous}
        cases.append({"id": id_, "description": description, "kind": "envelope", "envelope": jdump(sign_doc(minimal, signers)).decode(),
                      "context": context, "expect": expect})

    def ok(signers):
        return {"valid": True, "digest": digest(minimal), "sequence": 10, "signed_by": [k.public.kid for k in signers]}

    signed("floor-poisoned-same-key", "a floor at 2^53-1 set with the same key binds: locked out until a rotation",
           (SITE,), {"valid": False, "error": "E_ROLLBACK"}, previous=floor(top, (SITE,)))
    signed("floor-reset-by-rotation", "signed only by a key reached through a rotation since the floor: the floor does not bind",
           (NEWKEY,), ok((NEWKEY,)), keyset=rotated, previous=floor(top, (SITE,)))
    signed("floor-kept-while-old-key-signs", "old and new key both sign during the overlap: the old key's floor binds",
           (SITE, NEWKEY), {"valid": False, "error": "E_ROLLBACK"}, keyset=keyset_text((SITE, NEWKEY), (rotation,)), previous=floor(top, (SITE,)))
    signed("floor-kept-for-every-key-trusted-then", "a key trusted when the floor was set still binds, even if it did not sign then",
           (NEWKEY,), {"valid": False, "error": "E_ROLLBACK"}, keyset=keyset_text((NEWKEY,)), pinned=(SITE, NEWKEY),
           previous=floor(11, (SITE, NEWKEY)))
    signed("floor-of-bare-manifest-binds-no-key", "a floor set by a bare manifest does not bind a signed one",
           (SITE,), ok((SITE,)), pinned=(), previous=floor(top, ()))

    bare_doc = jdump(minimal).decode()
    url = "https://art.example/.well-known/notrain.json"

    def bare(id_, description, expect, *, pinned=(), previous=None):
        context = {"fetched_from": url, "now": NOW}
        if pinned:
            context["pinned"] = [k.public.to_jwk() for k in pinned]
        if previous is not None:
            context["previous"] = previous
        cases.append({"id": id_, "description": description, "kind": "bare", "manifest": bare_doc, "context": context, "expect": expect})

    bare("bare-with-pins", "an unsigned manifest from a publisher whose keys are pinned", {"valid": False, "error": "E_UNSIGNED"}, pinned=(SITE,))
    bare("bare-after-signed", "an unsigned manifest after a signed one was accepted, even with a higher sequence",
         {"valid": False, "error": "E_UNSIGNED"}, previous=floor(1, (SITE,)))
    bare("bare-after-bare-lower", "a bare floor binds bare manifests", {"valid": False, "error": "E_ROLLBACK"}, previous=floor(11, ()))
    bare("bare-after-bare-higher", "a newer bare manifest after a bare one", {"valid": True, "digest": digest(minimal), "sequence": 10},
         previous=floor(9, ()))
    return cases


# -- parts ---------------------------------------------------------------------------------------------


def part_cases() -> list[dict]:
    def case(id_, description, part: bytes, expect, size=None, sha=None):
        manifest = payload(parts=[{"sha256": sha or digest(part), "size": size or len(part)}], pdq={"hasher": "x", "threshold": 31})
        return {"id": id_, "description": description, "manifest": jdump(manifest).decode(), "part_index": 0,
                **encode_input("part", part), "expect": expect}

    good = jdump({"notrain-part": 1, "publisher": ORIGIN, "sequence": 10, "works": [{"sha256": "ee" * 32}, {"pdq": "0f" * 32}],
                  "names": [{"name": "Part Name"}], "paths": [{"pattern": "/more/", "prefs": {"train-ai": "n"}}]})
    return [
        case("part-valid", "a part adds works, names and paths", good,
             {"valid": True, "works": ["/parts/0/works/0", "/parts/0/works/1"], "names": ["/parts/0/names/0"], "paths": ["/parts/0/paths/0"]}),
        case("part-digest-mismatch", "part bytes differ from the signed digest", good, {"valid": False, "error": "E_PART_DIGEST"}, sha="00" * 32),
        case("part-size-mismatch", "part size differs from the signed size", good, {"valid": False, "error": "E_PART_DIGEST"}, size=len(good) + 1),
        case("part-other-publisher", "a part naming another publisher",
             jdump({"notrain-part": 1, "publisher": "https://other.example", "sequence": 10}), {"valid": False, "error": "E_FIELD_VALUE"}),
        case("part-other-sequence", "a part from another sequence",
             jdump({"notrain-part": 1, "publisher": ORIGIN, "sequence": 9}), {"valid": False, "error": "E_FIELD_VALUE"}),
        case("part-not-json", "a part that is not JSON", b"[", {"valid": False, "error": "E_JSON"}),
        case("part-bad-work", "a malformed work inside a part",
             jdump({"notrain-part": 1, "publisher": ORIGIN, "sequence": 10, "works": [{"sha256": "zz"}]}), {"valid": False, "error": "E_HASH"}),
    ]


def part_gap_cases() -> list[dict]:
    """Parts: reloading, did:key publishers, and the checks in the order of manifest.md, "Parts"."""
    def case(id_, description, part_doc, expect, *, publisher=ORIGIN, pdq=True, repeat=1, paths=()):
        part = part_doc if isinstance(part_doc, bytes) else jdump(part_doc)
        manifest = payload(publisher=publisher, parts=[{"sha256": digest(part), "size": len(part)}], **({"pdq": {"hasher": "x"}} if pdq else {}),
                           **({"paths": list(paths)} if paths else {}))
        extra = {"repeat": repeat} if repeat != 1 else {}
        return {"id": id_, "description": description, "manifest": jdump(manifest).decode(), "part_index": 0, **extra,
                **encode_input("part", part), "expect": expect}

    def bad(code):
        return {"valid": False, "error": code}

    head = {"notrain-part": 1, "publisher": ORIGIN, "sequence": 10}
    works = {**head, "works": [{"sha256": "ee" * 32}], "names": [{"name": "Part Name"}]}
    merged = {"valid": True, "works": ["/parts/0/works/0"], "names": ["/parts/0/names/0"], "paths": []}
    person = {**head, "publisher": DID}
    return [
        case("part-reloaded", "loading the same part twice changes nothing", works, merged, repeat=2),
        case("part-reloaded-three-times", "nor does a third time", works, merged, repeat=3),
        case("part-did-key-paths", "a part of a did:key publisher with path rules", {**person, "paths": [{"pattern": "/", "prefs": {"train-ai": "n"}}]},
             bad("E_FIELD_VALUE"), publisher=DID),
        case("part-did-key-empty-paths", "an empty paths array is allowed", {**person, "paths": [], "works": [{"sha256": "ee" * 32}]},
             {"valid": True, "works": ["/parts/0/works/0"], "names": [], "paths": []}, publisher=DID),
        case("part-pdq-without-index-pdq", "a part's PDQ hash needs the index's pdq", {**head, "works": [{"pdq": "ab" * 32}]},
             bad("E_FIELD_MISSING"), pdq=False),
        case("part-pdq-malformed", "a malformed PDQ hash in a part", {**head, "works": [{"pdq": "ab" * 31}]}, bad("E_HASH")),
        case("part-pdq-uppercase", "an uppercase PDQ hash in a part", {**head, "works": [{"pdq": "AB" * 32}]}, bad("E_HASH")),
        case("part-version-2", "notrain-part 2", {**head, "notrain-part": 2}, bad("E_VERSION")),
        case("part-version-missing", "no notrain-part", {k: v for k, v in head.items() if k != "notrain-part"}, bad("E_FIELD_MISSING")),
        case("part-version-string", "notrain-part \"1\"", {**head, "notrain-part": "1"}, bad("E_FIELD_TYPE")),
        case("part-sequence-bool", "a part sequence of true never equals 10", {**head, "sequence": True}, bad("E_FIELD_VALUE")),
        case("part-sequence-missing", "a part without sequence", {k: v for k, v in head.items() if k != "sequence"}, bad("E_FIELD_VALUE")),
        case("part-array", "a part that is an array", [head], bad("E_FIELD_TYPE")),
        case("part-depth-17", "a part nested 17 deep", {**head, "x": json.loads("[" * 16 + "]" * 16)}, bad("E_JSON_DEPTH")),
        case("part-bad-pattern", "a bad path pattern in a part", {**head, "paths": [{"pattern": "a", "prefs": {"train-ai": "n"}}]}, bad("E_PATTERN")),
        case("part-wildcard-reach", "40 wildcard pieces in the index and 25 more in a part, both at the root: 65 together",
             {**head, "paths": [{"pattern": "/" + "*p" * 25, "prefs": {"train-ai": "n"}}]}, bad("E_PATTERN"),
             paths=[{"pattern": "/" + "*i" * 40, "prefs": {"train-ai": "n"}}]),
        case("part-works-before-paths", "a bad work and a bad pattern: works are checked first",
             {**head, "paths": [{"pattern": "a", "prefs": {}}], "works": [{"sha256": "x"}]}, bad("E_HASH")),
        case("part-ignored-members", "default, pdq, parts and critical in a part are ignored",
             {**head, "default": "x", "pdq": 1, "parts": 2, "critical": ["nothing"], "works": [{"sha256": "ee" * 32}]},
             {"valid": True, "works": ["/parts/0/works/0"], "names": [], "paths": []}),
    ]


def url_preprocessing_cases() -> list[dict]:
    """URLs read as the WHATWG URL Standard reads http(s) URLs (manifest.md, "URL preprocessing")."""
    rules = [
        {"pattern": "/blog/", "prefs": {"train-ai": "y"}},
        {"pattern": "/exact$", "prefs": {"ai-use": "n"}},
        {"pattern": "/search?q=a\\b", "prefs": {"search": "n"}},
    ]
    default = {"train-ai": "n"}
    U, A, D = "unknown", "allowed", "disallowed"
    checks = [
        ("url-backslash-path", "https://art.example\\blog\\post", (A, U, U), "'\\' is '/' in the path"),
        ("url-backslash-authority", "https://evil.example\\@art.example/blog/", (U, U, U), "'\\' ends the authority: evil.example's URL"),
        ("url-backslash-query", "https://art.example/search?q=a\\b", (D, U, D), "'\\' stays '\\' in the query"),
        ("url-last-at", "https://a@b@art.example/blog/x", (A, U, U), "the last '@' ends the userinfo"),
        ("url-no-slashes", "https:art.example/blog/x", (A, U, U), "slashes after the scheme may be missing"),
        ("url-extra-slashes", "https:////art.example/blog/x", (A, U, U), "or repeated"),
        ("url-backslashes-after-scheme", "https:\\\\art.example\\blog\\x", (A, U, U), "or backslashes"),
        ("url-trailing-space", "https://art.example/exact ", (D, D, U), "trailing spaces are stripped"),
        ("url-leading-controls", "\x00 https://art.example/exact", (D, D, U), "leading C0 controls and spaces are stripped"),
        ("url-tab-newline-inside", "https://art.example/ex\tac\nt", (D, D, U), "tabs and newlines are removed anywhere"),
        ("url-uppercase-scheme", "HTTPS://art.example/blog/x", (A, U, U), "the scheme is case-insensitive"),
        ("url-inner-space", "https://art.example/exact x", (D, U, U), "an inner space stays in the path (as %20)"),
        ("url-dot-segments", "https://art.example/x/../blog/y", (D, U, U), "dot segments are not removed"),
    ]
    return [{"id": id_, "description": note, "rules": rules, "default": default, "url": url,
             "expect": {"train-ai": t, "ai-use": a, "search": s}} for id_, url, (t, a, s), note in checks]


# -- keys --------------------------------------------------------------------------------------------


def key_cases() -> list[dict]:
    cases = []
    for name, k in (("site", SITE), ("person", PERSON)):
        cases.append({"id": f"key-{name}", "description": "seed -> public JWK, thumbprint and did:key", "seed": k.seed().hex(),
                      "expect": {"valid": True, "jwk": k.public.to_jwk(), "kid": k.public.kid, "did_key": k.public.did_key}})
    jwk = SITE.public.to_jwk(with_kid=False)
    for id_, description, bad_jwk in (
        ("jwk-wrong-kty", "kty EC", {**jwk, "kty": "EC"}),
        ("jwk-wrong-crv", "crv X25519", {**jwk, "crv": "X25519"}),
        ("jwk-short-x", "x of 31 bytes", {**jwk, "x": jwk["x"][:-2]}),
        ("jwk-padded-x", "x with base64 padding", {**jwk, "x": jwk["x"] + "="}),
        ("jwk-wrong-kid", "kid that is not the thumbprint", {**jwk, "kid": "not-the-thumbprint"}),
        ("jwk-private", "a published JWK with d", {**jwk, "d": "AA"}),
        ("jwk-not-object", "a string", "key"),
    ):
        cases.append({"id": id_, "description": description, "jwk": bad_jwk, "expect": {"valid": False, "error": "E_JWK"}})
    for id_, description, did in (
        ("did-key-not-z", "multibase other than base58btc", "did:key:f" + SITE.public.raw.hex()),
        ("did-key-bad-base58", "characters outside base58", "did:key:z6Mk0OIl"),
        ("did-key-x25519", "an X25519 key (multicodec 0xec)", "did:key:z6LShLeXRTzevtwcfehaGEzCMyL3bNsAeKCwcqwJxyCo63yE"),
        ("did-key-leading-ones", "non-canonical base58 (leading '1')", "did:key:z1" + PERSON.public.did_key[len("did:key:z"):]),
        ("did-key-did-web", "another DID method", "did:web:art.example"),
    ):
        cases.append({"id": id_, "description": description, "did": did, "expect": {"valid": False, "error": "E_DID_KEY"}})
    return cases


# -- key sets and rotations ---------------------------------------------------------------------------


def keyset_cases() -> list[dict]:
    cases: list[dict] = []
    third = key("site-third")
    hop1 = _rotation_envelope(_rotation_body())
    hop2 = _rotation_envelope(_rotation_body(old=NEWKEY.public.kid, new=third.public.to_jwk(), issued="2026-11-01T00:00:00Z"), signer=NEWKEY)

    def add(id_, description, doc, expect, *, publisher=ORIGIN, pinned=()):
        data = doc if isinstance(doc, bytes) else jdump(doc)
        case = {"id": id_, "description": description, **encode_input("keyset", data), "publisher": publisher}
        if pinned:
            case["pinned"] = [k.public.to_jwk() for k in pinned]
        cases.append({**case, "expect": expect})

    def trusted(*keys):
        return {"valid": True, "trusted": [k.public.kid for k in keys]}

    def bad(code):
        return {"valid": False, "error": code}

    jwk = SITE.public.to_jwk()
    add("keyset-valid", "one key, no pins: the key is trusted", _keyset_doc(), trusted(SITE))
    add("keyset-valid-no-rotations-member", "rotations may be absent", _keyset_doc(rotations=None), trusted(SITE))
    add("keyset-valid-unknown-member", "unknown members are ignored", _keyset_doc(comment="hi"), trusted(SITE))
    add("keyset-valid-jwk-without-kid", "a JWK without kid", _keyset_doc(keys=[SITE.public.to_jwk(with_kid=False)]), trusted(SITE))
    add("keyset-first-contact-trusts-all", "no pins: every listed key", _keyset_doc(keys=[jwk, NEWKEY.public.to_jwk()], rotations=[hop1]),
        trusted(SITE, NEWKEY))
    add("keyset-pinned-listed", "the pinned key is listed: only it is trusted", _keyset_doc(keys=[jwk, NEWKEY.public.to_jwk()]), trusted(SITE),
        pinned=(SITE,))
    add("keyset-rotation-followed", "pinned old key, rotation to the listed new key", _keyset_doc(keys=[NEWKEY.public.to_jwk()], rotations=[hop1]),
        trusted(NEWKEY), pinned=(SITE,))
    add("keyset-multi-hop", "two hops from the pinned key", _keyset_doc(keys=[third.public.to_jwk()], rotations=[hop1, hop2]), trusted(third),
        pinned=(SITE,))
    add("keyset-multi-hop-reversed", "two hops listed in reverse order", _keyset_doc(keys=[third.public.to_jwk()], rotations=[hop2, hop1]),
        trusted(third), pinned=(SITE,))
    add("keyset-multi-hop-all-listed", "every key of the chain is still listed", _keyset_doc(keys=[third.public.to_jwk(), NEWKEY.public.to_jwk(), jwk],
        rotations=[hop1, hop2]), trusted(third, NEWKEY, SITE), pinned=(SITE,))
    bad_sig = dict(hop1, signatures=[{**hop1["signatures"][0], "sig": base64.b64encode(bytes(64)).decode()}])
    add("keyset-rotation-bad-signature", "a rotation whose signature does not verify is not followed (and is no error)",
        _keyset_doc(keys=[NEWKEY.public.to_jwk()], rotations=[bad_sig]), bad("E_KEY_UNTRUSTED"), pinned=(SITE,))
    add("keyset-rotation-bad-signature-unpinned", "not checked at all without pins", _keyset_doc(keys=[NEWKEY.public.to_jwk()], rotations=[bad_sig]),
        trusted(NEWKEY))
    add("keyset-rotation-unknown-old", "a rotation from a key nobody knows is never followed", _keyset_doc(rotations=[_rotation_envelope(
        _rotation_body(old=STRANGER.public.kid), signer=STRANGER)]), trusted(SITE), pinned=(SITE,))
    add("keyset-rotation-signed-by-new", "a rotation signed by the new key instead of the old one",
        _keyset_doc(keys=[NEWKEY.public.to_jwk()], rotations=[_rotation_envelope(_rotation_body(), signer=NEWKEY)]), bad("E_KEY_UNTRUSTED"),
        pinned=(SITE,))
    add("keyset-rotation-as-manifest-type", "a rotation signed under the manifest payload type",
        _keyset_doc(rotations=[_rotation_envelope(_rotation_body(), payload_type=MANIFEST_TYPE)]), bad("E_ROTATION"))

    # E_KEYSET.
    add("keyset-array", "a key set that is an array", [jwk], bad("E_KEYSET"))
    add("keyset-version-2", "notrain-keys 2", _keyset_doc(**{"notrain-keys": 2}), bad("E_KEYSET"))
    add("keyset-version-true", "notrain-keys true", _keyset_doc(**{"notrain-keys": True}), bad("E_KEYSET"))
    add("keyset-version-missing", "no notrain-keys", _keyset_doc(**{"notrain-keys": None}), bad("E_KEYSET"))
    add("keyset-for-did-key", "a key set parsed for a did:key publisher", _keyset_doc(publisher=DID), bad("E_KEYSET"), publisher=DID)
    add("keyset-wrong-publisher", "a key set naming another origin", _keyset_doc(publisher="https://other.example"), bad("E_KEYSET"))
    add("keyset-publisher-newline", "the publisher followed by a line feed", _keyset_doc(publisher=ORIGIN + "\n"), bad("E_KEYSET"))
    add("keyset-no-publisher", "no publisher", _keyset_doc(publisher=None), bad("E_KEYSET"))
    add("keyset-no-keys", "an empty keys array", _keyset_doc(keys=[]), bad("E_KEYSET"))
    add("keyset-keys-object", "keys is an object", _keyset_doc(keys=jwk), bad("E_KEYSET"))
    add("keyset-17-keys", "17 keys", _keyset_doc(keys=[key(f"many-{i}").public.to_jwk() for i in range(17)]), bad("E_KEYSET"))
    add("keyset-16-keys", "16 keys", _keyset_doc(keys=[key(f"many-{i}").public.to_jwk() for i in range(16)]),
        trusted(*(key(f"many-{i}") for i in range(16))))
    add("keyset-same-key-twice", "one key listed twice (once without kid)", _keyset_doc(keys=[jwk, SITE.public.to_jwk(with_kid=False)]), bad("E_KEYSET"))
    add("keyset-rotations-object", "rotations is an object", _keyset_doc(rotations=hop1), bad("E_KEYSET"))
    add("keyset-65-rotations", "65 rotations", _keyset_doc(rotations=[hop1] * 65), bad("E_KEYSET"))
    add("keyset-64-rotations", "64 rotations (the same one repeated)", _keyset_doc(rotations=[hop1] * 64), trusted(SITE))
    add("keyset-oversize", "a key set over 64 KiB", jdump(_keyset_doc()) + b" " * (64 * 1024), bad("E_SIZE"))
    add("keyset-depth-9", "an unknown member nested 9 deep", _keyset_doc(x=[[[[[[[[]]]]]]]]), bad("E_JSON_DEPTH"))

    # A bad key inside a key set.
    add("keyset-jwk-private", "a key with d", _keyset_doc(keys=[{**jwk, "d": "AA"}]), bad("E_JWK"))
    add("keyset-jwk-wrong-kid", "a key whose kid is another key's", _keyset_doc(keys=[{**jwk, "kid": NEWKEY.public.kid}]), bad("E_JWK"))
    add("keyset-jwk-x-newline", "a key whose x ends with a line feed", _keyset_doc(keys=[{**jwk, "x": jwk["x"] + "\n"}]), bad("E_JWK"))
    add("keyset-jwk-second-bad", "the second key is an RSA key", _keyset_doc(keys=[jwk, {"kty": "RSA", "n": "AQAB", "e": "AQAB"}]), bad("E_JWK"))
    add("keyset-jwk-string", "a key that is a string", _keyset_doc(keys=["key"]), bad("E_JWK"))

    # E_ROTATION and the codes a rotation's members keep.
    def rotation(id_, description, body, code, **kw):
        add(id_, description, _keyset_doc(rotations=[_rotation_envelope(body, **kw)]), bad(code))

    rotation("rotation-wrong-type", "payloadType of a manifest", _rotation_body(), "E_ROTATION", payload_type=MANIFEST_TYPE)
    rotation("rotation-payload-array", "the payload is an array", [1], "E_ROTATION")
    rotation("rotation-version-2", "notrain-rotation 2", _rotation_body(**{"notrain-rotation": 2}), "E_ROTATION")
    rotation("rotation-version-true", "notrain-rotation true", _rotation_body(**{"notrain-rotation": True}), "E_ROTATION")
    rotation("rotation-version-missing", "no notrain-rotation", _rotation_body(**{"notrain-rotation": None}), "E_ROTATION")
    rotation("rotation-other-publisher", "names another publisher", _rotation_body(publisher="https://other.example"), "E_ROTATION")
    rotation("rotation-old-missing", "no old", _rotation_body(old=None), "E_ROTATION")
    rotation("rotation-old-42", "an old of 42 characters", _rotation_body(old=SITE.public.kid[:42]), "E_ROTATION")
    rotation("rotation-old-newline", "a 43-character old followed by a line feed", _rotation_body(old=SITE.public.kid + "\n"), "E_ROTATION")
    rotation("rotation-old-padded", "an old with base64 padding", _rotation_body(old=SITE.public.kid + "="), "E_ROTATION")
    rotation("rotation-old-number", "an old that is a number", _rotation_body(old=43), "E_ROTATION")
    rotation("rotation-new-missing", "no new", _rotation_body(new=None), "E_ROTATION")
    rotation("rotation-issued-missing", "no issued", _rotation_body(issued=None), "E_ROTATION")
    rotation("rotation-new-string", "new is a string", _rotation_body(new=NEWKEY.public.kid), "E_JWK")
    rotation("rotation-new-private", "new carries d", _rotation_body(new={**NEWKEY.public.to_jwk(), "d": "AA"}), "E_JWK")
    rotation("rotation-new-bad-before-issued-missing", "new is bad and issued is missing: new is checked first",
             _rotation_body(new=[], issued=None), "E_JWK")
    rotation("rotation-issued-number", "issued is a number", _rotation_body(issued=1790000000), "E_TIMESTAMP")
    rotation("rotation-issued-offset", "issued with an offset", _rotation_body(issued="2026-10-01T00:00:00+00:00"), "E_TIMESTAMP")
    rotation("rotation-payload-depth-5", "a rotation payload nested 5 deep", _rotation_body(x=[[[[]]]]), "E_JSON_DEPTH")
    rotation("rotation-payload-oversize", "a rotation payload over 4096 octets", _rotation_body(x="a" * 4096), "E_SIZE")
    rotation("rotation-payload-duplicate", "a rotation payload with old twice", jdump(_rotation_body())[:-1] + b',"old":"x"}', "E_JSON_DUPLICATE_KEY")
    rotation("rotation-payload-not-json", "a rotation payload that is not JSON", b"rotate", "E_JSON")
    sig = hop1["signatures"][0]
    add("rotation-sig-not-string", "an embedded rotation's sig is a number", _keyset_doc(rotations=[{**hop1, "signatures": [{**sig, "sig": 1}]}]),
        bad("E_ENVELOPE_FIELD"))
    add("rotation-payload-bad-base64", "an embedded rotation's payload is not canonical base64", _keyset_doc(rotations=[{**hop1, "payload": "e30"}]),
        bad("E_BASE64"))
    add("rotation-no-signatures", "an embedded rotation without signatures", _keyset_doc(rotations=[{**hop1, "signatures": []}]), bad("E_NO_SIGNATURES"))
    add("rotation-embedded-depth-8", "an embedded rotation's sig nested to depth 8 of the key set: a field error, not a depth error",
        _keyset_doc(rotations=[{**hop1, "signatures": [{**sig, "sig": [[[]]]}]}]), bad("E_ENVELOPE_FIELD"))
    add("rotation-embedded-depth-9", "an embedded rotation's sig nested to depth 9 of the key set",
        _keyset_doc(rotations=[{**hop1, "signatures": [{**sig, "sig": [[[[]]]]}]}]), bad("E_JSON_DEPTH"))
    return cases


# -- account proofs ------------------------------------------------------------------------------------


def account_cases() -> list[dict]:
    site = "https://mira.example"
    checks = [
        ("proof-parenthesised", site, "(notrain:https://mira.example)", True),
        ("proof-comma", site, "notrain:https://mira.example, thanks", True),
        ("proof-end-of-sentence", site, "I am notrain:https://mira.example.", True),
        ("proof-full-stop-then-text", site, "notrain:https://mira.example. Thanks!", True),
        ("proof-whole-text", site, "notrain:https://mira.example", True),
        ("proof-on-its-own-line", site, "art\nnotrain:https://mira.example\nmore", True),
        ("proof-longer-host", site, "notrain:https://mira.example.evil", False),
        ("proof-longer-tld", site, "notrain:https://mira.example.org", False),
        ("proof-path", site, "notrain:https://mira.example/", False),
        ("proof-hyphen", site, "notrain:https://mira.example-x", False),
        ("proof-port", site, "notrain:https://mira.example:8443", False),
        ("proof-prefixed-word", site, "xnotrain:https://mira.example", False),
        ("proof-prefixed-slash", site, "/notrain:https://mira.example", False),
        ("proof-other-scheme", site, "notrain:http://mira.example", False),
        ("proof-uppercase", site, "NOTRAIN:https://mira.example", False),
        ("proof-html-entity", site, "notrain&#58;https&#x3a;//mira.example", True),
        ("proof-html-named-entity", site, "<p>notrain:https://mira.example&period;</p>", True),
        ("proof-did-key", DID, f"key: notrain:{DID}", True),
        ("proof-did-key-longer", DID, f"notrain:{DID}x", False),
        ("proof-missing", site, "just an artist", False),
        ("proof-beyond-limit", site, "a" * 1048576 + " notrain:https://mira.example", False),
        ("proof-at-limit", site, "a" * (1048576 - 29) + " notrain:https://mira.example", True),
    ]
    proofs = [{"id": id_, "description": f"profile text {text[:60]!r}", "publisher": publisher, **encode_input("text", text.encode()),
             "expect": {"proof": proof}} for id_, publisher, text, proof in checks]
    return proofs + account_scope_cases()


def account_scope_cases() -> list[dict]:
    """Which URLs a proven account covers (spec/keys.md, "Works of a proven account")."""
    account = "https://bsky.app/profile/mira.example"
    checks = [
        ("covers-account-page", account, account, True),
        ("covers-trailing-slash", account, account + "/", True),
        ("covers-below", account, account + "/post/3k2", True),
        ("covers-query", account, account + "/post/3k2?lang=en#top", True),
        ("covers-default-port-and-case", account, "https://BSKY.app:443/profile/mira.example/post/1", True),
        ("covers-percent-encoded-unreserved", account, "https://bsky.app/profile/%6Dira.example/post/1", True),
        ("not-sibling-with-same-prefix", account, "https://bsky.app/profile/mira.example.evil/post/1", False),
        ("not-parent", account, "https://bsky.app/profile", False),
        ("not-dot-segments", account, "https://bsky.app/profile/mira.example/../../settings", False),
        ("not-encoded-dot-segments", account, "https://bsky.app/profile/mira.example/%2E%2E/other", False),
        ("not-other-scheme", account, "http://bsky.app/profile/mira.example/post/1", False),
        ("not-other-host", account, "https://cdn.bsky.app/profile/mira.example/img.png", False),
        ("not-other-port", account, "https://bsky.app:8443/profile/mira.example/post/1", False),
        ("account-trailing-slash", account + "/", account + "/post/1", True),
        ("account-query-ignored", account + "?tab=media", account + "/post/1", True),
        ("root-account-covers-nothing", "https://mira.example/", "https://mira.example/art/1.png", False),
        ("bare-origin-account-covers-nothing", "https://mira.example", "https://mira.example/", False),
    ]
    return [{"id": f"account-scope-{id_}", "description": f"{url} under the account {acct}", "account": acct, "url": url,
             "expect": {"covers": covers}} for id_, acct, url, covers in checks]


# -- paths -----------------------------------------------------------------------------------------


def path_cases() -> list[dict]:
    rules = [
        {"pattern": "/", "prefs": {"search": "y"}},
        {"pattern": "/blog/", "prefs": {"train-ai": "y"}},
        {"pattern": "/blog/private/", "prefs": {"train-ai": "n", "search": "n"}},
        {"pattern": "/*.png$", "prefs": {"train-ai": "n"}},
        {"pattern": "/gallery/*/full", "prefs": {"ai-use": "n"}},
        {"pattern": "/exact$", "prefs": {"train-ai": "y"}},
        {"pattern": "/caf%C3%A9/", "prefs": {"train-ai": "y"}},
        {"pattern": "/%7Euser/", "prefs": {"ai-use": "n"}},
        {"pattern": "/tie/a", "prefs": {"train-ai": "y"}},
        {"pattern": "/tie/*", "prefs": {"train-ai": "n"}},
        {"pattern": "/search?q=", "prefs": {"search": "n"}},
        {"pattern": "/a%20b", "prefs": {"train-ai": "y"}},
    ]
    default = {"train-ai": "n", "ai-use": "y"}
    U, A, D = "unknown", "allowed", "disallowed"
    checks = [
        ("/", D, A, A, "default for train-ai and ai-use, '/' for search"),
        ("/about", D, A, A, "only '/' and the default apply"),
        ("/blog/post", A, A, A, "/blog/ is longer than the default"),
        ("/blog/private/x", D, A, D, "the longest rule wins per category"),
        ("/blog/cat.png", D, A, A, "'/*.png$' (7 octets) is longer than '/blog/' (6)"),
        ("/blog/cat.png?size=2", A, A, A, "'$' anchors the end of path and query"),
        ("/gallery/42/full", D, D, A, "a wildcard in the middle"),
        ("/gallery/42/fullsize", D, D, A, "patterns are prefixes unless they end with '$'"),
        ("/gallery/full", D, A, A, "'*' needs the '/' after it to match"),
        ("/exact", A, A, A, "an anchored exact match"),
        ("/exact/more", D, A, A, "'$' does not match a longer path"),
        ("/café/menu", A, A, A, "non-ASCII in the URL is percent-encoded before matching"),
        ("/caf%c3%a9/menu", A, A, A, "escapes are compared case-insensitively"),
        ("/~user/page", D, D, A, "%7E in the pattern is the unreserved '~'"),
        ("/%7euser/page", D, D, A, "%7e in the URL decodes to '~' as well"),
        ("/tie/a", D, A, A, "equal length '/tie/a' and '/tie/*' combine most-restrictively"),
        ("/tie/b", D, A, A, "only '/tie/*' matches"),
        ("/search?q=cats", D, A, D, "the query is part of what is matched"),
        ("/search", D, A, A, "without the query the rule does not match"),
        ("/BLOG/post", D, A, A, "matching is case-sensitive"),
        ("/blog/post#frag", A, A, A, "the fragment is not matched"),
        ("/a b/c", A, A, A, "a space in the URL is percent-encoded before matching"),
    ]
    cases = [
        {"id": f"path-{i:02d}", "description": note, "rules": rules, "default": default, "url": "https://art.example" + path,
         "expect": {"train-ai": t, "ai-use": a, "search": s}}
        for i, (path, t, a, s, note) in enumerate(checks)
    ]
    cases.append({"id": "path-no-rules", "description": "no rules and no default: everything unknown", "rules": [], "default": {},
                  "url": "https://art.example/x", "expect": {"train-ai": U, "ai-use": U, "search": U}})
    cases.append({"id": "path-other-origin", "description": "an origin's rules never apply to another origin", "rules": rules,
                  "default": default, "url": "https://other.example/blog/", "expect": {"train-ai": U, "ai-use": U, "search": U}})
    cases.append({"id": "path-other-scheme", "description": "http and https are different origins", "rules": rules,
                  "default": default, "url": "http://art.example/blog/", "expect": {"train-ai": U, "ai-use": U, "search": U}})
    return cases


# -- works and names -----------------------------------------------------------------------------------


def _flip(hex_hash: str, bits: int) -> str:
    value = int(hex_hash, 16) ^ ((1 << bits) - 1)
    return f"{value:064x}"


def work_cases() -> list[dict]:
    pdq_a = "5f" * 16 + "a0" * 16
    pdq_b = "0f" * 32
    works = [
        {"sha256": "aa" * 32, "pdq": pdq_a},
        {"sha256": "bb" * 32, "prefs": {"train-ai": "y"}},
        {"pdq": pdq_b},
    ]
    def case(id_, description, query, matches, threshold=31):
        return {"id": id_, "description": description, "works": works, "pdq": {"hasher": "pdqhash-0.2/pillow", "threshold": threshold},
                "query": query, "expect": {"matches": matches}}
    return [
        case("work-sha256", "exact file hash", {"sha256": "aa" * 32}, [{"work": "/works/0", "by": "sha256"}]),
        case("work-sha256-other-prefs", "matches regardless of the work's own prefs", {"sha256": "bb" * 32}, [{"work": "/works/1", "by": "sha256"}]),
        case("work-sha256-miss", "an unknown file hash", {"sha256": "cc" * 32}, []),
        case("work-pdq-exact", "identical PDQ", {"pdq": pdq_a}, [{"work": "/works/0", "by": "pdq", "distance": 0}]),
        case("work-pdq-31", "distance 31 is within the threshold", {"pdq": _flip(pdq_a, 31)}, [{"work": "/works/0", "by": "pdq", "distance": 31}]),
        case("work-pdq-32", "distance 32 is beyond it", {"pdq": _flip(pdq_a, 32)}, []),
        case("work-pdq-threshold-10", "the publisher's threshold applies", {"pdq": _flip(pdq_a, 11)}, [], threshold=10),
        case("work-pdq-low-quality", "a query of quality 49 is not matched perceptually", {"pdq": pdq_a, "quality": 49}, []),
        case("work-pdq-quality-50", "quality 50 is enough", {"pdq": pdq_a, "quality": 50}, [{"work": "/works/0", "by": "pdq", "distance": 0}]),
        case("work-both", "sha256 and PDQ match different works", {"sha256": "bb" * 32, "pdq": pdq_b},
             [{"work": "/works/1", "by": "sha256"}, {"work": "/works/2", "by": "pdq", "distance": 0}]),
    ]


def name_cases() -> list[dict]:
    names = [{"name": "Jane Doe"}, {"name": "janedoe_art"}, {"name": "Zoë"}, {"name": "山田 太郎"}, {"name": "ＡＢＣ Studio"}, {"name": "ジブリ"}]
    checks = [
        ("name-plain", "art by Jane Doe, trending", ["/names/0"]),
        ("name-case-punctuation", "JANE-DOE style", ["/names/0"]),
        ("name-handle", "reposted from @janedoe_art", ["/names/1"]),
        ("name-handle-spaced", "janedoe art", ["/names/1"]),
        ("name-not-a-word", "jane does art", []),
        ("name-inside-word", "mujane doe", []),
        ("name-diacritics", "portrait by zoe", ["/names/2"]),
        ("name-diacritics-kept", "portrait by ZOË", ["/names/2"]),
        ("name-cjk-substring", "山田太郎の絵", ["/names/3"]),
        ("name-fullwidth", "abc studio commission", ["/names/4"]),
        ("name-two", "Jane Doe and Zoë", ["/names/0", "/names/2"]),
        ("name-empty-caption", "", []),
        ("name-kana", "ジブリの絵", ["/names/5"]),
        ("name-kana-voicing-kept", "シフリの絵", []),
    ]
    cases = [{"id": id_, "description": f"caption {caption!r}", "names": names, "caption": caption, "expect": {"matches": expect}}
             for id_, caption, expect in checks]
    for id_, text, normal in (
        ("normalise-basic", "  Jane   DOE ", "jane doe"),
        ("normalise-punctuation", "@jane_doe.art!", "jane doe art"),
        ("normalise-ligature", "ﬁne Art", "fine art"),
        ("normalise-eszett", "Straße", "strasse"),
        ("normalise-combining", "Zoë", "zoe"),
        ("normalise-fullwidth", "ＡＢＣ", "abc"),
    ):
        cases.append({"id": id_, "description": "name normal form", "text": text, "expect": {"normal": normal}})
    return cases


# -- decisions -------------------------------------------------------------------------------------------


def decision_cases() -> list[dict]:
    def st(**prefs):
        return {"prefs": {k.replace("_", "-"): v for k, v in prefs.items()}}
    A, D, U = "allowed", "disallowed", "unknown"
    raw = [
        ("decide-none", "no statements: all unknown, resolved by policy", [], "allowed", {"train-ai": (U, True), "ai-use": (U, True), "search": (U, True)}),
        ("decide-none-strict", "unknown resolved as disallowed", [], "disallowed", {"train-ai": (U, False), "ai-use": (U, False), "search": (U, False)}),
        ("decide-single-n", "one n", [st(train_ai="n")], "allowed", {"train-ai": (D, False), "ai-use": (U, True), "search": (U, True)}),
        ("decide-n-beats-y", "any n wins over y", [st(train_ai="y"), st(train_ai="n")], "allowed", {"train-ai": (D, False), "ai-use": (U, True), "search": (U, True)}),
        ("decide-y-beats-unknown", "a y with no n", [st(train_ai="y"), st(search="n")], "disallowed", {"train-ai": (A, True), "ai-use": (U, False), "search": (D, False)}),
        ("decide-categories-independent", "categories never inherit", [st(train_ai="n", search="y")], "allowed", {"train-ai": (D, False), "ai-use": (U, True), "search": (A, True)}),
        ("decide-fail-closed", "a fail-closed statement disallows everything", [st(train_ai="y", ai_use="y", search="y"), {"fail_closed": "manifest fetch: HTTP 503"}], "allowed",
         {"train-ai": (D, False), "ai-use": (D, False), "search": (D, False)}),
        # Explicit beats inferred (decision.md, "Explicit and inferred statements").
        ("decide-explicit-y-beats-inferred-n", "the site's own y for the path overrules an n inferred from another crawler's block",
         [st(train_ai="y"), {**st(train_ai="n"), "inferred": True}], "disallowed", {"train-ai": (A, True), "ai-use": (U, False), "search": (U, False)}),
        ("decide-inferred-fills-the-unstated", "an inference fills a category nothing explicit states",
         [{**st(train_ai="n"), "inferred": True}, st(ai_use="y", search="y")], "allowed", {"train-ai": (D, False), "ai-use": (A, True), "search": (A, True)}),
        ("decide-inferred-only-per-category", "an explicit statement about another category leaves the inference standing",
         [{**st(train_ai="n", ai_use="n"), "inferred": True}, st(ai_use="y")], "allowed", {"train-ai": (D, False), "ai-use": (A, True), "search": (U, True)}),
        ("decide-inferred-y-under-explicit-n", "an explicit n wins, an inferred y is set aside",
         [{**st(search="y"), "inferred": True}, st(search="n")], "allowed", {"train-ai": (U, True), "ai-use": (U, True), "search": (D, False)}),
        ("decide-inferreds-combine", "inferences alone combine like any statements: any n wins",
         [{**st(train_ai="y"), "inferred": True}, {**st(train_ai="n"), "inferred": True}], "allowed", {"train-ai": (D, False), "ai-use": (U, True), "search": (U, True)}),
        ("decide-fail-closed-is-explicit", "a fail-closed statement is explicit and overrules an inferred y",
         [{**st(train_ai="y", ai_use="y", search="y"), "inferred": True}, {"fail_closed": "robots.txt unreachable"}], "allowed",
         {"train-ai": (D, False), "ai-use": (D, False), "search": (D, False)}),
    ]
    cases = []
    for id_, description, statements, unknown_as, expect in raw:
        cases.append({"id": id_, "description": description, "statements": statements, "unknown_as": unknown_as,
                      "expect": {c: {"state": s, "allowed": a} for c, (s, a) in expect.items()}})
    # Whole-catalogue decisions: scoping of manifests.
    site = payload(paths=[{"pattern": "/free/", "prefs": {"train-ai": "y"}}], works=[{"sha256": "aa" * 32}], names=[{"name": "Site Mascot"}])
    other = payload(publisher="https://other.example", default={"train-ai": "y", "ai-use": "y", "search": "y"})
    person = payload(publisher=DID, default={"train-ai": "n"}, works=[{"sha256": "bb" * 32}], names=[{"name": "Jane Doe"}])
    manifests = [site, other, person]
    for id_, description, query, expect in (
        ("catalog-own-url", "an origin's default applies to its URLs", {"url": "https://art.example/x"}, {"train-ai": D, "ai-use": D, "search": U}),
        ("catalog-userinfo-url", "userinfo is not part of the origin", {"url": "https://guest@art.example/x"}, {"train-ai": D, "ai-use": D, "search": U}),
        ("catalog-own-path-rule", "its path rules too", {"url": "https://art.example/free/x"}, {"train-ai": A, "ai-use": D, "search": U}),
        ("catalog-other-url", "another origin speaks only for itself", {"url": "https://other.example/x"}, {"train-ai": A, "ai-use": A, "search": A}),
        ("catalog-unlisted-origin", "an origin with no manifest", {"url": "https://third.example/x"}, {"train-ai": U, "ai-use": U, "search": U}),
        ("catalog-unparseable-url", "no URL at all (an unclosed '['): no origin, no statement, no error", {"url": "https://[art.example/x"},
         {"train-ai": U, "ai-use": U, "search": U}),
        ("catalog-bad-port-url", "a port out of range: no origin, even on the publisher's host", {"url": "https://art.example:99999/x"},
         {"train-ai": U, "ai-use": U, "search": U}),
        ("catalog-unparseable-url-work", "a URL without origin still gets its works' statements", {"url": "https://[::1/x", "sha256": "aa" * 32},
         {"train-ai": D, "ai-use": D, "search": U}),
        ("catalog-repost", "a work reposted on another origin is still covered", {"url": "https://other.example/x", "sha256": "aa" * 32},
         {"train-ai": D, "ai-use": D, "search": A}),
        ("catalog-did-key-work", "a did:key publisher's work anywhere", {"url": "https://third.example/img", "sha256": "bb" * 32},
         {"train-ai": D, "ai-use": U, "search": U}),
        ("catalog-name-in-caption", "a name in a caption", {"text": "fan art of jane doe"}, {"train-ai": D, "ai-use": U, "search": U}),
        ("catalog-site-name", "an origin's names apply anywhere", {"url": "https://other.example/x", "text": "the Site Mascot"},
         {"train-ai": D, "ai-use": D, "search": A}),
    ):
        cases.append({"id": id_, "description": description, "manifests": [jdump(m).decode() for m in manifests], "query": query,
                      "unknown_as": "allowed", "expect": {c: {"state": s} for c, s in expect.items()}})
    return cases


# -- published vectors of the standards notrain builds on --------------------------------------------------


def standard_cases() -> list[dict]:
    rfc8032 = [
        ("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
         "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
        ("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb", "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
         "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
        ("c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7", "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
         "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"),
    ]
    cases: list[dict] = [
        {"id": f"rfc8032-test-{i + 1}", "kind": "ed25519", "description": f"RFC 8032 §7.1 TEST {i + 1}",
         "secret_key": sk, "public_key": pk, "message": msg, "signature": sig}
        for i, (sk, pk, msg, sig) in enumerate(rfc8032)
    ]
    cases.append({"id": "rfc7638-rsa", "kind": "thumbprint", "description": "RFC 7638 §3.1 example (RSA)",
                  "jwk": {"kty": "RSA", "e": "AQAB", "alg": "RS256", "kid": "2011-04-29",
                          "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"},
                  "thumbprint": "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"})
    cases.append({"id": "rfc8037-okp", "kind": "thumbprint", "description": "RFC 8037 Appendix A.3 (Ed25519)",
                  "jwk": {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
                  "thumbprint": "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"})
    cases.append({"id": "rfc8037-private", "kind": "private-jwk", "description": "RFC 8037 Appendix A.1: d derives x",
                  "jwk": {"kty": "OKP", "crv": "Ed25519", "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}})
    cases.append({"id": "dsse-pae", "kind": "pae", "description": "DSSE protocol.md PAE example",
                  "payload_type": "http://example.com/HelloWorld", "payload": "hello world",
                  "pae": "DSSEv1 29 http://example.com/HelloWorld 11 hello world"})
    cases.append({"id": "did-key-ed25519", "kind": "did-key", "description": "an Ed25519 did:key and its base58 public key (W3C CCG did:key examples)",
                  "did": "did:key:z6MkmjY8GnV5i9YTDtPETC2uUAW6ejw3nk5mXF5yci5ab7th", "public_key_base58": "8HH5gYEeNc3z7PYXmd54d4x6qAfCNrqQqEB3nS7Zfu7K"})
    return cases


FILES = {
    "envelopes.json": envelope_cases,
    "bare.json": bare_cases,
    "floors.json": floor_cases,
    "parts.json": lambda: part_cases() + part_gap_cases(),
    "keys.json": key_cases,
    "keysets.json": keyset_cases,
    "accounts.json": account_cases,
    "wellknown.json": wellknown_cases,
    "paths.json": lambda: path_cases() + url_preprocessing_cases(),
    "works.json": work_cases,
    "names.json": name_cases,
    "decisions.json": decision_cases,
    "standards.json": standard_cases,
}


def render(make) -> str:
    return json.dumps({"vectors": make()}, ensure_ascii=False, indent=1) + "\n"


def main(argv: list[str]) -> int:
    stale = []
    for name, make in FILES.items():
        text = render(make)
        path = HERE / name
        if "--check" in argv:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print("stale vectors (run spec/vectors/generate.py):", ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
