"""C2SP checkpoints (c2sp.org/tlog-checkpoint): a log's signed tree head as a note.

The body is the origin line, the tree size in decimal, the base64 root hash,
then optional extension lines.  The received bytes are what is verified and
kept; the body is parsed from the verified text, never re-rendered to be
checked, so extension lines survive untouched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from . import b64
from .errors import NotrainError
from .logerrors import CheckpointError, NoteError
from .merkle import HASH_SIZE, MAX_TREE_SIZE
from .note import COSIGNATURE_V1, ED25519, NoteSigner, NoteVerifier, OpenedNote, Verified, open_note, parse_note, sign_note

MAX_EXTENSION_LINES = 16
_SIZE = re.compile(r"\A(?:0|[1-9][0-9]{0,18})\Z")


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        return "".join(line + "\n" for line in (self.origin, str(self.size), b64.std_encode(self.root), *self.extensions))


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint whose log signature verified, with the cosignatures that verified too."""

    checkpoint: Checkpoint
    data: bytes
    cosignatures: tuple[Verified, ...]


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse a checkpoint body (a verified note's text)."""
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise CheckpointError("a checkpoint has at least three lines, each ending in a newline", where="body")
    origin, size, root, *extensions = lines[:-1]
    if not origin:
        raise CheckpointError("the origin line is empty", where="origin")
    if not _SIZE.match(size) or int(size) > MAX_TREE_SIZE:
        raise CheckpointError("the size is a decimal integer without leading zeros, below 2^63", where="size")
    try:
        digest = b64.std_decode(root, where="root", code="E_CHECKPOINT")
    except NotrainError as exc:
        raise CheckpointError(exc.message, where="root") from None
    if len(digest) != HASH_SIZE:
        raise CheckpointError("the root hash is 32 bytes", where="root")
    if len(extensions) > MAX_EXTENSION_LINES or not all(extensions):
        raise CheckpointError(f"at most {MAX_EXTENSION_LINES} extension lines, none empty", where="extensions")
    return Checkpoint(origin, int(size), digest, tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, log: NoteSigner) -> bytes:
    """The checkpoint as a note signed by the log's key (whose name should be the origin)."""
    parse_checkpoint(checkpoint.body())  # never sign what a verifier would refuse
    if log.verifier.kind != ED25519:
        raise NoteError("a log signs its checkpoints with a type 0x01 key", where="log")
    return sign_note(checkpoint.body(), [log])


def open_checkpoint(
    data: bytes, origin: str, log: NoteVerifier, witnesses: Sequence[NoteVerifier] = ()
) -> SignedCheckpoint:
    """Verify a checkpoint of the log ``origin``: its log signature is required,
    witnesses' cosignatures are checked when present, other signatures ignored."""
    return checkpoint_of(open_note(data, [log, *witnesses]), data, origin, log)


def checkpoint_of(opened: OpenedNote, data: bytes, origin: str, log: NoteVerifier) -> SignedCheckpoint:
    """The rest of :func:`open_checkpoint`, for a note the caller parsed and verified itself."""
    if not any(v.name == log.name and v.key_id == log.key_id for v in opened.verified):
        raise NoteError("the checkpoint is not signed by the log", code="E_NOTE_UNKNOWN_KEY", where="signatures")
    checkpoint = parse_checkpoint(opened.text)
    if checkpoint.origin != origin:
        raise CheckpointError(f"the checkpoint is for {checkpoint.origin!r}, not {origin!r}", where="origin")
    cosigned = tuple(v for v in opened.verified if v.kind == COSIGNATURE_V1)
    return SignedCheckpoint(checkpoint, data, cosigned)


def cosign(data: bytes, cosigner: NoteSigner, timestamp: int) -> bytes:
    """Add a witness cosignature to a checkpoint note (the caller has checked consistency)."""
    note = parse_note(data)
    parse_checkpoint(note.text)
    if cosigner.verifier.kind != COSIGNATURE_V1:
        raise NoteError("a cosigner signs with a type 0x04 key", where="cosigner")
    if any((s.name, s.key_id) == (cosigner.name, cosigner.verifier.key_id) for s in note.signatures):
        raise NoteError("this cosigner has signed the note already", where="signatures")
    return note.with_signature(cosigner.sign(note.text.encode("utf-8"), timestamp)).to_bytes()
