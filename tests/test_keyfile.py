"""Private key files: created 0600, never overwritten silently, refused when others can read them."""

from __future__ import annotations

import json
import os
import stat

import pytest

from notrain.core.keys import PrivateKey
from notrain.keyfile import KeyFileError, load_private_key, load_public_key, save_private_key

posix_only = pytest.mark.skipif(os.name != "posix", reason="mode bits are POSIX")


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def open_umask():
    """Create files under umask 0, so only notrain's own mode argument protects them."""
    previous = os.umask(0)
    yield
    os.umask(previous)


@posix_only
def test_saved_key_is_0600_even_under_umask_0(tmp_path, open_umask):
    path = tmp_path / "key.jwk"
    save_private_key(path, PrivateKey.generate())
    assert mode(path) == 0o600


def test_round_trip(tmp_path):
    key = PrivateKey.generate()
    path = tmp_path / "key.jwk"
    save_private_key(path, key)
    jwk = json.loads(path.read_text())
    assert jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519" and jwk["kid"] == key.public.kid and "d" in jwk
    loaded = load_private_key(path)
    assert loaded.public == key.public
    assert key.public.verify(loaded.sign(b"message"), b"message")
    assert load_public_key(path) == key.public


def test_never_overwrites_without_being_asked(tmp_path):
    path = tmp_path / "key.jwk"
    first = PrivateKey.generate()
    save_private_key(path, first)
    with pytest.raises(KeyFileError) as caught:
        save_private_key(path, PrivateKey.generate())
    assert caught.value.code == "E_KEYFILE_EXISTS"
    assert load_private_key(path).public == first.public


@posix_only
def test_overwrite_replaces_a_loose_file_with_a_0600_one(tmp_path, open_umask):
    path = tmp_path / "key.jwk"
    path.write_text("old")
    path.chmod(0o644)
    key = PrivateKey.generate()
    save_private_key(path, key, overwrite=True)
    assert mode(path) == 0o600
    assert load_private_key(path).public == key.public
    assert [p.name for p in tmp_path.iterdir()] == ["key.jwk"]  # no temporary file left behind


@posix_only
@pytest.mark.parametrize("loose", [0o640, 0o604, 0o660, 0o610])
def test_refuses_key_readable_by_others(tmp_path, loose):
    path = tmp_path / "key.jwk"
    save_private_key(path, PrivateKey.generate())
    path.chmod(loose)
    for load in (load_private_key, load_public_key):
        with pytest.raises(KeyFileError) as caught:
            load(path)
        assert caught.value.code == "E_KEYFILE_PERMISSIONS"
        assert f"{loose:04o}" in caught.value.message


def test_public_jwk_file_loads_as_public_key_whatever_its_mode(tmp_path):
    key = PrivateKey.generate()
    path = tmp_path / "public.jwk"
    path.write_text(json.dumps(key.public.to_jwk()))
    path.chmod(0o644)
    assert load_public_key(path) == key.public
    with pytest.raises(KeyFileError) as caught:
        load_private_key(path)
    assert caught.value.code == "E_JWK"


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"{not json", "E_JSON"),
        (b'{"kty": "OKP", "kty": "OKP"}', "E_JSON_DUPLICATE_KEY"),
        (b"[1, 2]", "E_JWK"),
        (b'{"kty": "RSA", "d": "AA"}', "E_JWK"),
    ],
)
def test_malformed_key_files_name_the_file(tmp_path, content, code):
    path = tmp_path / "bad.jwk"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(KeyFileError) as caught:
        load_private_key(path)
    assert caught.value.code == code
    assert str(path) in caught.value.message


def test_private_part_must_belong_to_public_part(tmp_path):
    jwk = PrivateKey.generate().to_private_jwk()
    jwk["d"] = PrivateKey.generate().to_private_jwk()["d"]
    path = tmp_path / "mixed.jwk"
    path.write_text(json.dumps(jwk))
    path.chmod(0o600)
    with pytest.raises(KeyFileError) as caught:
        load_private_key(path)
    assert caught.value.code == "E_JWK"
