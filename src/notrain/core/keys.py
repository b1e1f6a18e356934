"""Ed25519 keys as JWK (RFC 8037), RFC 7638 thumbprints, and did:key.

notrain uses one algorithm, Ed25519, and one key identifier: the RFC 7638
thumbprint of the public JWK.  Anyone can recompute a key id from the key, so
key ids cannot be chosen to collide with someone else's.  People without a
site are identified by a self-certifying ``did:key`` (the public key itself).
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from functools import cached_property

import base58
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from . import b64
from .errors import KeyMaterialError, NotrainError

# The multicodec prefix for an Ed25519 public key (0xed as an unsigned varint).
_ED25519_MULTICODEC = b"\xed\x01"
_DID_KEY_PREFIX = "did:key:z"
_RAW = (serialization.Encoding.Raw, serialization.PublicFormat.Raw)
# A verifier meets the same keys again and again (every key set fetch, every rotation check, every
# did:key manifest): the loaded key objects and their thumbprints are kept by raw key.
_load_public = functools.lru_cache(maxsize=1024)(Ed25519PublicKey.from_public_bytes)

# RFC 7638 §3.2: the required members of each key type, in lexicographic order.
_THUMBPRINT_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x"), "RSA": ("e", "kty", "n"), "oct": ("k", "kty")}


def jwk_thumbprint(jwk: dict) -> str:
    """RFC 7638 thumbprint (SHA-256, base64url) of any JWK's required members."""
    members = _THUMBPRINT_MEMBERS.get(jwk.get("kty"))  # type: ignore[arg-type]
    if members is None:
        raise KeyMaterialError(f"unsupported key type {jwk.get('kty')!r}", code="E_JWK", where="/kty")
    try:
        canonical = {name: jwk[name] for name in members}
    except KeyError as missing:
        raise KeyMaterialError(f"JWK lacks member {missing}", code="E_JWK") from None
    if not all(isinstance(v, str) for v in canonical.values()):
        raise KeyMaterialError("JWK members must be strings", code="E_JWK")
    text = json.dumps(canonical, separators=(",", ":"), ensure_ascii=False)
    return b64.url_encode(hashlib.sha256(text.encode("utf-8")).digest())


@dataclass(frozen=True)
class PublicKey:
    """An Ed25519 public key; ``kid`` is its RFC 7638 thumbprint."""

    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != 32:
            raise KeyMaterialError("an Ed25519 public key is 32 bytes", code="E_JWK")
        # Loaded once: verifying with the same key is the hot path of a crawler.
        object.__setattr__(self, "_loaded", _load_public(bytes(self.raw)))

    @cached_property
    def kid(self) -> str:
        return _kid(bytes(self.raw))

    @property
    def did_key(self) -> str:
        return _DID_KEY_PREFIX + base58.b58encode(_ED25519_MULTICODEC + self.raw).decode("ascii")

    def to_jwk(self, *, with_kid: bool = True) -> dict:
        jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64.url_encode(self.raw)}
        if with_kid:
            jwk["kid"] = jwk_thumbprint(jwk)
        return jwk

    def verify(self, signature: bytes, message: bytes) -> bool:
        try:
            self._loaded.verify(signature, message)  # type: ignore[attr-defined]
        except InvalidSignature:
            return False
        return True

    @classmethod
    def from_jwk(cls, jwk: object, *, where: str = "") -> "PublicKey":
        """Parse a public OKP/Ed25519 JWK.  A ``kid`` member, if present, must be the thumbprint."""
        if not isinstance(jwk, dict):
            raise KeyMaterialError("a JWK is a JSON object", code="E_JWK", where=where)
        if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
            raise KeyMaterialError("only OKP keys on curve Ed25519 are accepted", code="E_JWK", where=where)
        if "d" in jwk:
            raise KeyMaterialError("a published JWK must not contain the private key 'd'", code="E_JWK", where=where)
        raw = b64.url_decode(jwk.get("x"), where=f"{where}/x", code="E_JWK")
        try:
            key = cls(raw)
        except NotrainError as exc:
            raise KeyMaterialError(exc.message, code="E_JWK", where=f"{where}/x") from None
        if "kid" in jwk and jwk["kid"] != key.kid:
            raise KeyMaterialError("'kid' is not the RFC 7638 thumbprint of the key", code="E_JWK", where=f"{where}/kid")
        return key

    @classmethod
    def from_did_key(cls, did: object, *, where: str = "") -> "PublicKey":
        """Resolve a ``did:key`` naming an Ed25519 key (no network: the DID *is* the key)."""
        if not isinstance(did, str) or not did.startswith(_DID_KEY_PREFIX) or len(did) > 128:
            raise KeyMaterialError("not an Ed25519 did:key (did:key:z...)", code="E_DID_KEY", where=where)
        try:
            decoded = base58.b58decode(did[len(_DID_KEY_PREFIX):])
        except ValueError:
            raise KeyMaterialError("did:key is not valid base58btc", code="E_DID_KEY", where=where) from None
        if len(decoded) != 34 or not decoded.startswith(_ED25519_MULTICODEC):
            raise KeyMaterialError("did:key does not hold an Ed25519 public key", code="E_DID_KEY", where=where)
        key = cls(decoded[2:])
        if key.did_key != did:  # refuse non-canonical base58 (e.g. extra leading '1's)
            raise KeyMaterialError("did:key is not canonically encoded", code="E_DID_KEY", where=where)
        return key


@functools.lru_cache(maxsize=1024)
def _kid(raw: bytes) -> str:
    return jwk_thumbprint({"kty": "OKP", "crv": "Ed25519", "x": b64.url_encode(raw)})


class PrivateKey:
    """An Ed25519 signing key.  Serialised only as a private JWK (with ``d``)."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self.public = PublicKey(key.public_key().public_bytes(*_RAW))

    @classmethod
    def generate(cls) -> "PrivateKey":
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> "PrivateKey":
        """The key whose RFC 8032 private seed is ``seed`` (32 bytes); used for test vectors."""
        if len(seed) != 32:
            raise KeyMaterialError("an Ed25519 seed is 32 bytes", code="E_JWK")
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def seed(self) -> bytes:
        return self._key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())

    def to_private_jwk(self) -> dict:
        jwk = self.public.to_jwk()
        jwk["d"] = b64.url_encode(self.seed())
        return jwk

    @classmethod
    def from_private_jwk(cls, jwk: object) -> "PrivateKey":
        if not isinstance(jwk, dict) or "d" not in jwk:
            raise KeyMaterialError("a private JWK needs the member 'd'", code="E_JWK")
        public_part = {k: v for k, v in jwk.items() if k != "d"}
        public = PublicKey.from_jwk(public_part)
        key = cls.from_seed(b64.url_decode(jwk["d"], where="/d", code="E_JWK"))
        if key.public != public:
            raise KeyMaterialError("private JWK: 'd' does not belong to 'x'", code="E_JWK", where="/d")
        return key

    def __repr__(self) -> str:  # never print key material
        return f"PrivateKey(kid={self.public.kid!r})"
