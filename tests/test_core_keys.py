import pytest
from conftest import NOW, ORIGIN, make_key, manifest_bytes

from notrain.core import (
    MANIFEST_TYPE,
    KeyMaterialError,
    PrivateKey,
    PublicKey,
    dsse,
    make_keyset,
    make_rotation,
    parse_keyset,
    trusted_keys,
    verify_manifest,
)
from notrain.core.ijson import dumps


def test_private_jwk_round_trip_and_repr_hides_the_secret():
    key = PrivateKey.generate()
    again = PrivateKey.from_private_jwk(key.to_private_jwk())
    assert again.public == key.public
    assert key.to_private_jwk()["d"] not in repr(key)


def test_private_jwk_whose_d_does_not_match_x_is_refused():
    jwk = make_key("a").to_private_jwk()
    jwk["d"] = make_key("b").to_private_jwk()["d"]
    with pytest.raises(KeyMaterialError):
        PrivateKey.from_private_jwk(jwk)


def test_did_key_round_trip():
    key = make_key("person").public
    assert PublicKey.from_did_key(key.did_key) == key
    assert key.did_key.startswith("did:key:z6Mk")


def rotation_chain(length: int):
    keys = [make_key(f"k{i}") for i in range(length)]
    rotations = tuple(make_rotation(ORIGIN, keys[i], keys[i + 1].public, NOW) for i in range(length - 1))
    return keys, rotations


def test_a_chain_of_rotations_reaches_the_newest_key():
    keys, rotations = rotation_chain(4)
    keyset = parse_keyset(dumps(make_keyset(ORIGIN, [keys[-1].public], rotations).to_json()), ORIGIN)
    assert set(keyset.trusted({keys[0].public.kid: keys[0].public})) == {keys[-1].public.kid}


def test_a_broken_chain_is_refused():
    keys, rotations = rotation_chain(4)
    keyset = parse_keyset(dumps(make_keyset(ORIGIN, [keys[-1].public], rotations[:1] + rotations[2:]).to_json()), ORIGIN)
    with pytest.raises(KeyMaterialError) as caught:
        keyset.trusted({keys[0].public.kid: keys[0].public})
    assert caught.value.code == "E_KEY_UNTRUSTED"


def test_without_pins_the_served_key_set_is_trusted():
    keys, rotations = rotation_chain(2)
    keyset = make_keyset(ORIGIN, [k.public for k in keys], rotations)
    assert set(keyset.trusted()) == {k.public.kid for k in keys}


def test_rotated_key_verifies_a_manifest_for_a_pinned_verifier():
    keys, rotations = rotation_chain(2)
    keyset = parse_keyset(dumps(make_keyset(ORIGIN, [keys[1].public], rotations).to_json()), ORIGIN)
    envelope = dsse.sign(manifest_bytes(), MANIFEST_TYPE, [keys[1]]).to_bytes()
    trusted = trusted_keys(ORIGIN, keyset, {keys[0].public.kid: keys[0].public})
    assert verify_manifest(envelope, publisher=ORIGIN, keys=trusted, now=NOW).signed_by == (keys[1].public.kid,)


@pytest.mark.parametrize(
    ("doc", "code"),
    [
        ({"notrain-keys": 2, "publisher": ORIGIN, "keys": []}, "E_KEYSET"),
        ({"notrain-keys": 1, "publisher": "https://other.example", "keys": []}, "E_KEYSET"),
        ({"notrain-keys": 1, "publisher": ORIGIN, "keys": []}, "E_KEYSET"),
        ({"notrain-keys": 1, "publisher": ORIGIN, "keys": [make_key("a").public.to_jwk()] * 2}, "E_KEYSET"),
        ({"notrain-keys": 1, "publisher": ORIGIN, "keys": [{"kty": "RSA"}]}, "E_JWK"),
        ({"notrain-keys": 1, "publisher": ORIGIN, "keys": [make_key("a").public.to_jwk()], "rotations": [{"payloadType": "x", "payload": "", "signatures": []}]}, "E_NO_SIGNATURES"),
    ],
)
def test_bad_key_sets(doc, code):
    with pytest.raises(Exception) as caught:
        parse_keyset(dumps(doc), ORIGIN)
    assert caught.value.code == code


def test_a_rotation_for_another_publisher_is_refused():
    rotation = make_rotation("https://other.example", make_key("a"), make_key("b").public, NOW)
    doc = {"notrain-keys": 1, "publisher": ORIGIN, "keys": [make_key("b").public.to_jwk()], "rotations": [rotation.envelope.to_json()]}
    with pytest.raises(KeyMaterialError) as caught:
        parse_keyset(dumps(doc), ORIGIN)
    assert caught.value.code == "E_ROTATION"


def test_did_key_publishers_have_no_key_set():
    with pytest.raises(KeyMaterialError):
        make_keyset(make_key("p").public.did_key, [make_key("p").public])
