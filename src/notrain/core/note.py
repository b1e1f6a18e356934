"""C2SP signed notes (c2sp.org/signed-note) with Ed25519 keys and timestamped cosignatures.

A note is UTF-8 text, a blank line, and signature lines ``— <name> base64(key id || sig)``.
notrain's checkpoints and receipts are notes signed by the log's key, and witnesses
add cosignatures (c2sp.org/tlog-cosignature, type 0x04) to checkpoints.  Parsing is
strict (one spelling of everything, hard size limits) because a lenient parser that
skips a malformed line could be shown a different note than a strict one; verifying
follows the spec: unknown keys are ignored, a known key whose signature fails
rejects the note, and a note with no verified known signature is rejected.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Iterable, Sequence

from . import b64
from .errors import NotrainError
from .keys import PrivateKey, PublicKey
from .logerrors import NoteError

ED25519 = 0x01
COSIGNATURE_V1 = 0x04
KINDS = (ED25519, COSIGNATURE_V1)

MAX_NOTE_BYTES = 128 * 1024
MAX_SIGNATURES = 32
MAX_KEY_NAME_BYTES = 256
MAX_TIMESTAMP = 2**63 - 1

_DASH = "\u2014 "
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
_NOT_IN_NAME = re.compile(r"[+\s\x00-\x1f]")  # \s is str.isspace(): every Unicode space
_KEY_ID_HEX = re.compile(r"\A[0-9a-f]{8}\Z")


@dataclass(frozen=True)
class NoteSignature:
    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        return f"{_DASH}{self.name} {b64.std_encode(self.key_id + self.signature)}\n"


@dataclass(frozen=True)
class Note:
    """A parsed, not yet verified note: never act on ``text`` before :func:`open_note`."""

    text: str
    signatures: tuple[NoteSignature, ...]

    def to_bytes(self) -> bytes:
        return (self.text + "\n" + "".join(s.line() for s in self.signatures)).encode("utf-8")

    def with_signature(self, signature: NoteSignature) -> Note:
        return Note(self.text, self.signatures + (signature,))


@dataclass(frozen=True)
class Verified:
    """A signature that verified: by whom, of which kind, and a cosignature's time."""

    name: str
    key_id: bytes
    kind: int
    timestamp: int | None


@dataclass(frozen=True)
class OpenedNote:
    text: str
    verified: tuple[Verified, ...]
    note: Note


def key_id(name: str, kind: int, public: PublicKey) -> bytes:
    """SHA-256(name || 0x0A || type || public key)[:4], as both specs define it."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([kind]) + public.raw).digest()[:4]


@dataclass(frozen=True)
class NoteVerifier:
    """A trusted key: an Ed25519 note key (type 0x01) or an Ed25519 cosigner (type 0x04)."""

    name: str
    kind: int
    public: PublicKey

    def __post_init__(self) -> None:
        _check_name(self.name, "name")
        if self.kind not in KINDS:
            raise NoteError(f"unsupported signature type {self.kind:#04x}", where="kind")

    @cached_property
    def key_id(self) -> bytes:
        """Computed once per verifier (a SHA-256): notes are matched against it on every open."""
        return key_id(self.name, self.kind, self.public)

    def to_vkey(self) -> str:
        return f"{self.name}+{self.key_id.hex()}+{b64.std_encode(bytes([self.kind]) + self.public.raw)}"

    @classmethod
    def from_vkey(cls, vkey: object) -> NoteVerifier:
        """Parse ``name+hex(key id)+base64(type || key)``; the key id must match the key."""
        if not isinstance(vkey, str) or len(vkey) > MAX_KEY_NAME_BYTES + 64:
            raise NoteError("a verifier key is a short string", where="vkey")
        parts = vkey.split("+", 2)
        if len(parts) != 3 or not _KEY_ID_HEX.match(parts[1]):
            raise NoteError("a verifier key is name+8 hex digits+base64", where="vkey")
        material = _decode(parts[2], "vkey")
        if len(material) != 33 or material[0] not in KINDS:
            raise NoteError("a verifier key holds type 0x01 or 0x04 and a 32-byte Ed25519 key", where="vkey")
        verifier = cls(parts[0], material[0], PublicKey(material[1:]))
        if verifier.key_id.hex() != parts[1]:
            raise NoteError("the key id does not match the key", where="vkey")
        return verifier

    def verify(self, text: bytes, signature: bytes) -> int | None:
        """Check one signature over the note text; return a cosignature's timestamp."""
        timestamp = None
        message = text
        if self.kind == COSIGNATURE_V1:
            if len(signature) != 72:
                raise NoteError(f"{self.name}: a cosignature is 72 bytes", code="E_NOTE_SIGNATURE", where=self.name)
            timestamp, signature = int.from_bytes(signature[:8], "big"), signature[8:]
            if timestamp > MAX_TIMESTAMP:
                raise NoteError(f"{self.name}: cosignature time out of range", code="E_NOTE_SIGNATURE", where=self.name)
            message = cosigned_message(text, timestamp)
        if len(signature) != 64 or not self.public.verify(signature, message):
            raise NoteError(f"{self.name}: the signature does not verify", code="E_NOTE_SIGNATURE", where=self.name)
        return timestamp


class NoteSigner:
    """Signs notes as ``name`` with an Ed25519 key: note signatures or cosignatures."""

    def __init__(self, name: str, key: PrivateKey, kind: int = ED25519) -> None:
        self._key = key
        self.verifier = NoteVerifier(name, kind, key.public)

    @property
    def name(self) -> str:
        return self.verifier.name

    def sign(self, text: bytes, timestamp: int | None = None) -> NoteSignature:
        if self.verifier.kind == COSIGNATURE_V1:
            if timestamp is None or not 0 <= timestamp <= MAX_TIMESTAMP:
                raise NoteError("a cosignature needs a timestamp in 0..2^63-1", where="timestamp")
            sig = timestamp.to_bytes(8, "big") + self._key.sign(cosigned_message(text, timestamp))
        else:
            sig = self._key.sign(text)
        return NoteSignature(self.name, self.verifier.key_id, sig)

    def __repr__(self) -> str:
        return f"NoteSigner({self.verifier.to_vkey()!r})"


def cosigned_message(text: bytes, timestamp: int) -> bytes:
    """What a cosigner signs: two header lines, then the whole checkpoint text."""
    return b"cosignature/v1\ntime %d\n" % timestamp + text


def sign_note(text: str, signers: Sequence[NoteSigner], *, timestamp: int | None = None) -> bytes:
    """A note of ``text`` (ending in a newline) signed by every signer, in order."""
    _check_text(text)
    if not signers:
        raise NoteError("a note needs at least one signature", where="signatures")
    raw = text.encode("utf-8")
    note = Note(text, tuple(s.sign(raw, timestamp) for s in signers)).to_bytes()
    parse_note(note)  # never sign what a verifier would refuse (size, signature count)
    return note


def parse_note(data: bytes) -> Note:
    """Split a note into text and signature lines, refusing every malformed byte."""
    if not isinstance(data, bytes) or len(data) > MAX_NOTE_BYTES:
        raise NoteError(f"a note is at most {MAX_NOTE_BYTES} bytes", where="note")
    try:
        whole = data.decode("utf-8")
    except UnicodeDecodeError:
        raise NoteError("a note is UTF-8", where="note") from None
    if _CONTROL.search(whole):
        raise NoteError("a note has no control characters but newline", where="note")
    cut = whole.rfind("\n\n")
    if not whole.endswith("\n") or cut < 0 or cut + 2 == len(whole):
        raise NoteError("a note is text, a blank line and signature lines, each ending in a newline", where="note")
    text, lines = whole[: cut + 1], whole[cut + 2 : -1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"a note has at most {MAX_SIGNATURES} signatures", where="signatures")
    signatures = tuple(_parse_signature(line, i) for i, line in enumerate(lines))
    if len({(s.name, s.key_id) for s in signatures}) != len(signatures):
        raise NoteError("two signatures by the same key", where="signatures")
    return Note(text, signatures)


def open_note(data: bytes, verifiers: Iterable[NoteVerifier]) -> OpenedNote:
    """Parse and verify a note; the text is trustworthy only if this returns."""
    return verify_note(parse_note(data), verifiers)


def verify_note(note: Note, verifiers: Iterable[NoteVerifier]) -> OpenedNote:
    """Verify a note already parsed (a witness reads its origin line first, to choose the key)."""
    known = {(v.name, v.key_id): v for v in verifiers}
    raw = note.text.encode("utf-8")
    verified = []
    for sig in note.signatures:
        verifier = known.get((sig.name, sig.key_id))
        if verifier is not None:
            verified.append(Verified(sig.name, sig.key_id, verifier.kind, verifier.verify(raw, sig.signature)))
    if not verified:
        raise NoteError("no signature by a known key", code="E_NOTE_UNKNOWN_KEY", where="signatures")
    return OpenedNote(note.text, tuple(verified), note)


def _parse_signature(line: str, i: int) -> NoteSignature:
    where = f"signatures/{i}"
    parts = line[len(_DASH) :].split(" ") if line.startswith(_DASH) else []
    if len(parts) != 2:
        raise NoteError("a signature line is '— <name> <base64>'", where=where)
    _check_name(parts[0], where)
    blob = _decode(parts[1], where)
    if len(blob) < 5:
        raise NoteError("a signature is a 4-byte key id and at least one byte", where=where)
    return NoteSignature(parts[0], blob[:4], blob[4:])


def _check_name(name: object, where: str) -> None:
    if (
        not isinstance(name, str)
        or not name
        or _NOT_IN_NAME.search(name)
        or len(name.encode("utf-8")) > MAX_KEY_NAME_BYTES
    ):
        raise NoteError(f"a key name is 1 to {MAX_KEY_NAME_BYTES} bytes, without spaces or '+'", where=where)


def _check_text(text: object) -> None:
    if not isinstance(text, str) or not text.endswith("\n") or _CONTROL.search(text):
        raise NoteError("note text ends in a newline and has no other control characters", where="text")


def _decode(text: str, where: str) -> bytes:
    try:
        return b64.std_decode(text, where=where, code="E_NOTE")
    except NotrainError as exc:
        raise NoteError(exc.message, where=where) from None
