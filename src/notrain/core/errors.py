"""Typed errors with stable codes.

Every rejection in notrain carries a *code* from the closed list in
``spec/errors.md`` (so conformance vectors and other implementations can agree
on *why* something was rejected, not just *that* it was) and a *where*: a JSON
Pointer (RFC 6901) into the document, or a short location such as ``envelope``.
"""

from __future__ import annotations


class NotrainError(Exception):
    """Base class: something notrain refused to trust or could not do."""

    code = "E_NOTRAIN"

    def __init__(self, message: str, *, code: str | None = None, where: str = "") -> None:
        self.code = code or type(self).code
        self.where = where
        self.message = message
        super().__init__(f"{self.code}: {message}" + (f" (at {where})" if where else ""))

    def to_json(self) -> dict:
        return {"code": self.code, "message": self.message, "where": self.where}


class JSONError(NotrainError):
    """The bytes are not strict I-JSON within notrain's limits."""

    code = "E_JSON"


class EnvelopeError(NotrainError):
    """The DSSE envelope is malformed (before any signature is checked)."""

    code = "E_ENVELOPE"


class SignatureError(NotrainError):
    """No trusted signature verifies over the payload."""

    code = "E_SIGNATURE_INVALID"


class KeyMaterialError(NotrainError):
    """A key, key set, did:key or rotation statement is malformed or untrusted."""

    code = "E_KEY"


class PayloadError(NotrainError):
    """The verified payload does not follow the manifest schema."""

    code = "E_SCHEMA"


class PolicyError(NotrainError):
    """A well-formed, correctly signed manifest that the verifier must still refuse
    (expired, rolled back, published for another origin...)."""

    code = "E_POLICY"

