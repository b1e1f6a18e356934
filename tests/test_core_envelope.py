import json

import pytest
from conftest import NOW, ORIGIN, make_key, manifest_bytes
from hypothesis import given, settings
from hypothesis import strategies as st

from notrain.core import MANIFEST_TYPE, NotrainError, dsse, make_keyset, parse_payload, trusted_keys, verify_manifest
from notrain.core.verify import is_envelope


def verify(data, key):
    return verify_manifest(data, publisher=ORIGIN, keys=trusted_keys(ORIGIN, make_keyset(ORIGIN, [key.public])), now=NOW)


def test_round_trip_signs_exact_bytes(site_key):
    body = manifest_bytes()
    envelope = dsse.sign(body, MANIFEST_TYPE, [site_key])
    verified = verify(envelope.to_bytes(), site_key)
    assert verified.manifest.raw == body
    assert verified.signed_by == (site_key.public.kid,)


def test_reformatted_payload_no_longer_verifies(site_key):
    """No canonicalisation: the same JSON with other whitespace is another payload."""
    body = manifest_bytes()
    doc = dsse.sign(body, MANIFEST_TYPE, [site_key]).to_json()
    pretty = json.dumps(json.loads(body), indent=2).encode()
    doc["payload"] = dsse.b64.std_encode(pretty)
    with pytest.raises(NotrainError) as caught:
        verify(json.dumps(doc).encode(), site_key)
    assert caught.value.code == "E_SIGNATURE_INVALID"


def test_every_single_byte_change_of_the_payload_is_detected(site_key):
    body = manifest_bytes()
    doc = dsse.sign(body, MANIFEST_TYPE, [site_key]).to_json()
    for i in range(0, len(body), 7):
        changed = bytearray(body)
        changed[i] ^= 0x01
        doc["payload"] = dsse.b64.std_encode(bytes(changed))
        with pytest.raises(NotrainError):
            verify(json.dumps(doc).encode(), site_key)


@given(st.binary(max_size=512))
@settings(max_examples=300)
def test_arbitrary_bytes_never_raise_anything_else(data):
    key = make_key("site")
    try:
        verify(data, key)
    except NotrainError:
        pass


envelope_like = st.fixed_dictionaries(
    {},
    optional={
        "payloadType": st.one_of(st.just(MANIFEST_TYPE), st.text(max_size=10), st.integers()),
        "payload": st.one_of(st.text(max_size=20), st.just("e30="), st.none()),
        "signatures": st.lists(
            st.fixed_dictionaries({}, optional={"keyid": st.text(max_size=5), "sig": st.text(max_size=90), "x": st.none()}) | st.text(max_size=3),
            max_size=3,
        ),
        "extra": st.booleans(),
    },
)


@given(envelope_like)
@settings(max_examples=300)
def test_structured_garbage_raises_only_typed_errors(doc):
    try:
        verify(json.dumps(doc).encode(), make_key("site"))
    except NotrainError as error:
        assert error.code.startswith("E_")


manifest_like = st.fixed_dictionaries(
    {"notrain": st.just(1), "publisher": st.just(ORIGIN), "sequence": st.integers(0, 5)},
    optional={
        "issued": st.sampled_from(["2026-11-01T00:00:00Z", "2026-13-01T00:00:00Z", "x"]),
        "expires": st.sampled_from(["2027-11-01T00:00:00Z", "2026-10-01T00:00:00Z"]),
        "default": st.dictionaries(st.text(max_size=10), st.sampled_from(["y", "n", "maybe", 1]), max_size=3),
        "paths": st.lists(st.fixed_dictionaries({}, optional={"pattern": st.text(max_size=8), "prefs": st.just({"train-ai": "n"})}), max_size=3),
        "works": st.lists(st.fixed_dictionaries({}, optional={"sha256": st.text("0123456789abcdefAB", max_size=66), "pdq": st.just("00" * 32)}), max_size=3),
        "pdq": st.fixed_dictionaries({}, optional={"hasher": st.text(max_size=3), "threshold": st.integers(-5, 70)}),
        "names": st.lists(st.fixed_dictionaries({}, optional={"name": st.text(max_size=300)}), max_size=3),
        "accounts": st.lists(st.fixed_dictionaries({}, optional={"url": st.text(max_size=30)}), max_size=2),
        "parts": st.lists(st.fixed_dictionaries({}, optional={"sha256": st.just("aa" * 32), "size": st.integers(-1, 10**8)}), max_size=2),
        "critical": st.lists(st.sampled_from(["works", "unknown", "names"]), max_size=2),
    },
)


@given(manifest_like)
@settings(max_examples=400)
def test_manifest_parser_raises_only_typed_errors(doc):
    try:
        manifest = parse_payload(json.dumps(doc, ensure_ascii=False).encode())
    except NotrainError as error:
        assert error.code.startswith("E_") and error.where.startswith("/")
    else:
        assert manifest.sequence == doc["sequence"]


@pytest.mark.parametrize("value", [5, None, [], {}, True])
@pytest.mark.parametrize("member", ["payload", "sig"])
def test_a_member_of_the_wrong_type_is_a_field_error_not_base64(site_key, member, value):
    """spec/envelope.md: E_BASE64 is for strings that are not canonical base64."""
    doc = dsse.sign(manifest_bytes(), MANIFEST_TYPE, [site_key]).to_json()
    if member == "payload":
        doc["payload"] = value
    else:
        doc["signatures"][0]["sig"] = value
    with pytest.raises(NotrainError) as caught:
        dsse.parse(json.dumps(doc).encode())
    assert (caught.value.code, caught.value.where) == ("E_ENVELOPE_FIELD", f"/{member}" if member == "payload" else "/signatures/0/sig")


def test_documents_are_classified_before_either_kinds_limits(site_key):
    """A bare manifest nested 5 deep is a bare manifest, not an envelope too deep (spec/envelope.md)."""
    bare = manifest_bytes(x=[[[[]]]])
    assert not is_envelope(bare)
    assert parse_payload(bare).sequence
    signed = dsse.sign(bare, MANIFEST_TYPE, [site_key]).to_bytes()
    assert is_envelope(signed)
    assert is_envelope(b'{"payloadType": 1}')
