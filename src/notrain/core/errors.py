"""Typed errors with stable codes.

Every rejection in notrain carries a *code* from the closed list in
``spec/errors.md`` (so conformance vectors and other implementations can agree
on *why* something was rejected, not just *that* it was) and a *where*: a JSON
Pointer (RFC 6901) into the document, or a short location such as ``envelope``.

Messages and locations quote hostile input (a member name, a URL), which may
hold lone surrogates that no UTF-8 writer accepts; they are escaped here, once,
so that every report, log and ``--json`` output of an error can be written.
"""

from __future__ import annotations


class NotrainError(Exception):
    """Base class: something notrain refused to trust or could not do."""

    code = "E_NOTRAIN"

    def __init__(self, message: str, *, code: str | None = None, where: str = "") -> None:
        self.code = code or type(self).code
        self.where = scalar_string(str(where))  # str(): a Path or number given as a location still reads
        self.message = scalar_string(str(message))
        super().__init__(f"{self.code}: {self.message}" + (f" (at {self.where})" if self.where else ""))

    def to_json(self) -> dict:
        return {"code": self.code, "message": self.message, "where": self.where}


def scalar_string(text: str) -> str:
    """``text`` as Unicode scalar values only: each lone surrogate becomes the six
    characters of its escape (``\\ud800`` for U+D800), so the result always encodes as UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def scalar_strings(value: object) -> object:
    """:func:`scalar_string` applied to every string (and member name) of a JSON-like value."""
    if isinstance(value, str):
        return scalar_string(value)
    if isinstance(value, dict):
        return {scalar_strings(key): scalar_strings(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [scalar_strings(item) for item in value]
    return value


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



class URLError(NotrainError):
    """A URL with no origin (unparseable, another scheme, a bad host or port), given
    where an origin is needed: to fetch its site's signals (spec/decision.md, "Scope")."""

    code = "E_URL"
