"""C2PA / CAWG training-mining assertions in real images signed here with c2pa-python.

A test CA (root + leaf, made with ``cryptography``) signs without a timestamp
authority, so nothing leaves the machine; the remote-manifest test checks that
reading does not either.
"""

from __future__ import annotations

import datetime
import http.server
import io
import json
import threading
from dataclasses import dataclass

import c2pa
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from notrain.core import decide
from notrain.core.vocab import AI_USE, SEARCH, TRAIN_AI, State
from notrain.signals.base import C2PA_TRAINING_MINING, SignalError
from notrain.signals.c2pa import c2pa_statements

Y, N = State.ALLOWED, State.DISALLOWED
MIME = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
CREATED = {
    "label": "c2pa.actions",
    "data": {"actions": [{"action": "c2pa.created", "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCreation"}]},
}
BUILD = c2pa.Context.from_dict({"builder": {"thumbnail": {"enabled": False}}})


@dataclass(frozen=True)
class Credentials:
    chain: bytes  # leaf then root, PEM
    key: bytes  # the leaf's private key, PEM
    root: str  # the trust anchor, PEM
    alg: c2pa.C2paSigningAlg


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "notrain tests")])


def _usage(*, signer: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=signer, content_commitment=False, key_encipherment=False, data_encipherment=False,
        key_agreement=False, key_cert_sign=not signer, crl_sign=not signer, encipher_only=False, decipher_only=False,
    )


def make_credentials(leaf_key, alg: c2pa.C2paSigningAlg) -> Credentials:
    """A root CA and a leaf with the profile C2PA requires (not self-signed, digitalSignature, an EKU)."""
    now = datetime.datetime.now(datetime.UTC)
    root_key = ec.generate_private_key(ec.SECP256R1())

    def certificate(subject, public_key, extensions):
        builder = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(_name("notrain test root")).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=7))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        )
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical=critical)
        return builder.sign(root_key, hashes.SHA256())

    root = certificate(_name("notrain test root"), root_key.public_key(), [
        (x509.BasicConstraints(ca=True, path_length=None), True), (_usage(signer=False), True),
    ])
    leaf = certificate(_name("notrain test signer"), leaf_key.public_key(), [
        (x509.BasicConstraints(ca=False, path_length=None), True), (_usage(signer=True), True),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False),
        (x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), False),
    ])
    pem = serialization.Encoding.PEM
    return Credentials(
        chain=leaf.public_bytes(pem) + root.public_bytes(pem),
        key=leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        root=root.public_bytes(pem).decode(),
        alg=alg,
    )


@pytest.fixture(scope="module")
def es256() -> Credentials:
    return make_credentials(ec.generate_private_key(ec.SECP256R1()), c2pa.C2paSigningAlg.ES256)


def image(fmt: str = "JPEG", colour=(30, 120, 200)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (48, 32), colour).save(buffer, fmt)
    return buffer.getvalue()


def sign(credentials: Credentials, assertions: list[dict], fmt: str = "JPEG", *, source: bytes | None = None,
         parent: bytes | None = None) -> bytes:
    """``source`` (default: a fresh image) signed with ``assertions``; ``parent`` becomes its parentOf ingredient."""
    source = image(fmt) if source is None else source
    manifest = {"claim_generator_info": [{"name": "notrain-tests", "version": "1"}], "assertions": [CREATED, *assertions]}
    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(credentials.alg, credentials.chain, credentials.key, None))
    with signer, c2pa.Builder(manifest, BUILD) as builder:
        if parent is not None:
            builder.add_ingredient({"title": "parent", "relationship": "parentOf"}, MIME[fmt], io.BytesIO(parent))
        out = io.BytesIO()
        builder.sign(signer, MIME[fmt], io.BytesIO(source), out)
    return out.getvalue()


def training(label: str, entries: dict) -> dict:
    return {"label": label, "data": {"entries": entries}}


def read(data: bytes, fmt: str = "JPEG", **options):
    return c2pa_statements(data, MIME[fmt], "https://art.example/a", **options)


def test_c2pa_fixture_all_not_allowed(es256):
    """signals.md §5.2, first fixture."""
    entries = {f"c2pa.{kind}": {"use": "notAllowed"} for kind in ("ai_generative_training", "ai_inference", "ai_training", "data_mining")}
    [statement] = read(sign(es256, [training("c2pa.training-mining", entries)]))
    assert statement.prefs == {TRAIN_AI: N, AI_USE: N}
    evidence = statement.evidence
    assert evidence.mechanism == C2PA_TRAINING_MINING and evidence.source == "https://art.example/a"
    assert evidence.rule.startswith("urn:c2pa:") and evidence.rule.endswith("/c2pa.training-mining")
    assert json.loads(evidence.raw) == {"entries": entries}
    assert evidence.detail.startswith("validation Valid (signingCredential.untrusted); active manifest")
    assert "c2pa.ai_training: notAllowed" in evidence.detail
    assert evidence.warnings == ()


def test_cawg_fixture_constrained_counts_as_not_allowed(es256):
    """signals.md §5.2, second fixture: constraint_info is kept."""
    entries = {
        "cawg.ai_training": {"use": "allowed"},
        "cawg.ai_generative_training": {"use": "notAllowed"},
        "cawg.data_mining": {"use": "constrained", "constraint_info": "may only be mined on days whose names end in 'y'"},
    }
    [statement] = read(sign(es256, [training("cawg.training-mining", entries)]))
    assert statement.prefs == {TRAIN_AI: N, AI_USE: N}
    assert "cawg.ai_training: allowed" in statement.evidence.detail
    assert "cawg.data_mining: constrained (may only be mined on days whose names end in 'y')" in statement.evidence.detail


@pytest.mark.parametrize("prefix", ["c2pa", "cawg"])
@pytest.mark.parametrize(
    ("entry", "use", "prefs"),
    [
        ("ai_generative_training", "allowed", {TRAIN_AI: Y}),
        ("ai_generative_training", "notAllowed", {TRAIN_AI: N}),
        ("ai_generative_training", "constrained", {TRAIN_AI: N}),
        ("ai_inference", "allowed", {AI_USE: Y}),
        ("ai_inference", "notAllowed", {AI_USE: N}),
        ("ai_inference", "constrained", {AI_USE: N}),
        ("data_mining", "allowed", {}),
        ("data_mining", "notAllowed", {TRAIN_AI: N, AI_USE: N}),
        ("data_mining", "constrained", {TRAIN_AI: N, AI_USE: N}),
        ("ai_training", "allowed", {}),
        ("ai_training", "notAllowed", {"train-ai": State.DISALLOWED}),
        ("ai_training", "constrained", {"train-ai": State.DISALLOWED}),
    ],
)
def test_each_entry_and_use(es256, prefix, entry, use, prefs):
    [statement] = read(sign(es256, [training(f"{prefix}.training-mining", {f"{prefix}.{entry}": {"use": use}})]))
    assert statement.prefs == prefs
    assert SEARCH not in statement.prefs


def test_a_specific_entry_beats_data_mining(es256):
    entries = {"cawg.data_mining": {"use": "notAllowed"}, "cawg.ai_inference": {"use": "allowed"}}
    [statement] = read(sign(es256, [training("cawg.training-mining", entries)]))
    assert statement.prefs == {TRAIN_AI: N, AI_USE: Y}


def test_constraints_info_spelling_and_both_labels_in_one_manifest(es256):
    data = sign(es256, [
        training("c2pa.training-mining", {"c2pa.ai_inference": {"use": "allowed"}}),
        training("cawg.training-mining", {"cawg.ai_inference": {"use": "constrained", "constraints_info": "https://art.example/licence"}}),
    ])
    statements = read(data)
    assert [s.evidence.rule.rsplit("/", 1)[1] for s in statements] == ["c2pa.training-mining", "cawg.training-mining"]
    assert [s.prefs for s in statements] == [{AI_USE: Y}, {AI_USE: N}]
    assert "(https://art.example/licence)" in statements[1].evidence.detail
    assert decide(statements).state(AI_USE) is N


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_other_containers(es256, fmt):
    data = sign(es256, [training("cawg.training-mining", {"cawg.ai_generative_training": {"use": "notAllowed"}})], fmt)
    [statement] = read(data, fmt)
    assert statement.prefs == {TRAIN_AI: N}


def test_ed25519_signer():
    credentials = make_credentials(ed25519.Ed25519PrivateKey.generate(), c2pa.C2paSigningAlg.ED25519)
    [statement] = read(sign(credentials, [training("cawg.training-mining", {"cawg.ai_generative_training": {"use": "notAllowed"}})]))
    assert statement.prefs == {TRAIN_AI: N}
    assert statement.evidence.detail.startswith("validation Valid")


def test_trusted_with_the_operators_trust_anchors(es256):
    data = sign(es256, [training("cawg.training-mining", {"cawg.ai_generative_training": {"use": "allowed"}})])
    [statement] = read(data, trust_anchors=es256.root)
    assert statement.prefs == {TRAIN_AI: Y}
    assert statement.evidence.detail.startswith("validation Trusted; active manifest")
    assert statement.evidence.warnings == ()


def test_invalid_manifest_keeps_prohibitions_only(es256):
    entries = {"cawg.ai_generative_training": {"use": "notAllowed"}, "cawg.ai_inference": {"use": "allowed"}}
    tampered = bytearray(sign(es256, [training("cawg.training-mining", entries)]))
    tampered[-10] ^= 0xFF  # inside the entropy-coded pixels, after the manifest
    [statement] = read(bytes(tampered), trust_anchors=es256.root)
    assert statement.prefs == {TRAIN_AI: N}
    assert statement.evidence.detail.startswith("validation Invalid (assertion.dataHash.mismatch)")
    assert "permissions ignored" in statement.evidence.detail
    assert "not valid (Invalid)" in statement.evidence.warnings[0]


def test_ingredient_prohibitions_follow_the_work(es256):
    entries = {"cawg.ai_generative_training": {"use": "notAllowed"}, "cawg.ai_inference": {"use": "allowed"}}
    original = sign(es256, [training("cawg.training-mining", entries)])
    derivative = sign(es256, [], source=original, parent=original)
    [statement] = read(derivative)
    assert statement.prefs == {TRAIN_AI: N}
    assert "ingredient manifest urn:c2pa:" in statement.evidence.detail
    assert "permissions ignored" in statement.evidence.detail


def test_no_manifest_and_non_images_give_nothing(es256):
    assert read(image()) == []
    assert read(sign(es256, [])) == []  # a manifest without a training-mining assertion
    for data, mime in [(b"", "image/jpeg"), (b"hello", "text/plain"), (b"<html></html>", "text/html; charset=utf-8"),
                       (image("PNG"), ""), (image(), "image/jpeg\0"), (image(), "bogus/\udcff")]:
        assert c2pa_statements(data, mime, "x") == []


def test_content_type_parameters_are_ignored(es256):
    data = sign(es256, [training("c2pa.training-mining", {"c2pa.ai_inference": {"use": "notAllowed"}})])
    [statement] = c2pa_statements(data, "image/jpeg; charset=binary", "x")
    assert statement.prefs == {AI_USE: N}


def test_lenient_layouts_become_warnings(es256):
    data = sign(es256, [
        {"label": "c2pa.training-mining", "data": {"c2pa.ai_inference": {"use": "notAllowed"}}},
        training("cawg.training-mining", {"cawg.ai_generative_training": {"use": "maybe"}, "com.example.custom": {"use": "allowed"}}),
    ])
    early, unknown = read(data)
    assert early.prefs == {AI_USE: N} and "entries" in early.evidence.warnings[0]
    assert unknown.prefs == {} and "unknown use 'maybe'" in unknown.evidence.warnings[0]


def test_oversized_input_raises():
    with pytest.raises(SignalError):
        c2pa_statements(b"\0" * (64 * 2**20 + 1), "image/jpeg", "x")


def test_remote_manifests_are_never_fetched(es256):
    """An asset may point at its manifest by URL; reading it must not make the crawler call that URL."""
    requests = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        manifest = {"claim_generator_info": [{"name": "notrain-tests", "version": "1"}],
                    "assertions": [CREATED, training("c2pa.training-mining", {"c2pa.ai_inference": {"use": "notAllowed"}})]}
        signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(es256.alg, es256.chain, es256.key, None))
        with signer, c2pa.Builder(manifest, BUILD) as builder:
            builder.set_no_embed()
            builder.set_remote_url(f"http://127.0.0.1:{server.server_port}/manifest.c2pa")
            out = io.BytesIO()
            builder.sign(signer, "image/jpeg", io.BytesIO(image()), out)
        assert read(out.getvalue()) == []
        assert requests == []
    finally:
        server.shutdown()
        server.server_close()


@settings(max_examples=200, deadline=None)
@given(
    st.binary(max_size=2048),
    st.sampled_from([b"", b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"RIFF\0\0\0\0WEBP", b"\0\0\0\x18ftypmp42"]),
    st.sampled_from(["image/jpeg", "image/png", "image/webp", "application/c2pa", "", "video/mp4"]),
)
def test_fuzz_random_bytes(data, magic, mime):
    assert isinstance(c2pa_statements(magic + data, mime, "x"), list)


@pytest.fixture(scope="module")
def signed_seed(es256) -> bytes:
    return sign(es256, [training("cawg.training-mining", {"cawg.ai_generative_training": {"use": "notAllowed"}})])


@settings(max_examples=150, deadline=None)
@given(edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=8))
def test_fuzz_corrupted_signed_jpeg(signed_seed, edits):
    data = bytearray(signed_seed)
    for where, value in edits:
        data[int(where * len(data))] = value
    statements = c2pa_statements(bytes(data), "image/jpeg", "x")
    assert all(State.ALLOWED not in s.prefs.values() for s in statements)
