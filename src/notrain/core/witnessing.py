"""Witnessing: the C2SP tlog-witness ``add-checkpoint`` exchange, a witness's decision, and a client's
policy of k cosignatures out of n trusted witnesses (c2sp.org/tlog-witness, c2sp.org/tlog-cosignature).

A witness keeps, per log it witnesses, the latest checkpoint it cosigned, and cosigns a new one only if
a consistency proof links the two: so two clients who each see a checkpoint cosigned by the same honest
witness see one history.  Everything here is pure; the aggregator stores the witness's state, compares
and swaps it (the rollback race in tlog-witness), and answers with :attr:`WitnessRefused.status`.

The decision runs in a fixed order, the first failure deciding the answer (spec/log.md, "Witnesses"):
request framing (400), origin (404), the log's signature (403), old size above the checkpoint's (400),
old size other than the one last cosigned (409, with that size), the proof (422), a root other than the
cosigned one at the same size (409).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from . import b64
from .checkpoint import SignedCheckpoint, checkpoint_of, open_checkpoint
from .errors import NotrainError
from .logerrors import LogError, NoteError, ProofError
from .merkle import EMPTY_ROOT, HASH_SIZE, MAX_PROOF_HASHES, verify_consistency
from .note import COSIGNATURE_V1, MAX_NOTE_BYTES, MAX_SIGNATURES, NoteSigner, NoteVerifier, Verified, parse_note, verify_note

# "old " + 19 digits + newline, 64 proof lines of 44 base64 characters and a newline, the blank line, a note.
MAX_REQUEST_BYTES = 24 + MAX_PROOF_HASHES * 45 + 1 + MAX_NOTE_BYTES
MAX_RESPONSE_BYTES = MAX_SIGNATURES * 512  # cosignature lines: a name of at most 256 octets and 76 base64 characters each
MAX_WITNESSES = 16  # a checkpoint carries the log's signature and at most this many cosignatures (a note holds 32 lines)
_OLD = re.compile(r"\Aold (0|[1-9][0-9]{0,18})\Z")


class WitnessRequestError(LogError):
    """An add-checkpoint request body that is not framed as tlog-witness requires."""

    code = "E_WITNESS_REQUEST"


class WitnessRefused(LogError):
    """Why a witness does not cosign: the underlying code, and the HTTP status tlog-witness assigns.
    ``known_size`` (a 409) is the size of the latest checkpoint the witness cosigned for the log."""

    def __init__(self, error: NotrainError, status: int, known_size: int | None = None) -> None:
        super().__init__(error.message, code=error.code, where=error.where)
        self.status, self.known_size = status, known_size


@dataclass(frozen=True)
class AddCheckpoint:
    """The request body: the size the client believes the witness cosigned last, a consistency proof
    from it, and the checkpoint note (its bytes exactly)."""

    old_size: int
    proof: tuple[bytes, ...]
    note: bytes

    def to_bytes(self) -> bytes:
        lines = [f"old {self.old_size}", *(b64.std_encode(h) for h in self.proof), ""]
        return "".join(line + "\n" for line in lines).encode("ascii") + self.note


@dataclass(frozen=True)
class Witnessed:
    """A witness's state for one log: the latest checkpoint it cosigned (``note`` as it returned it)."""

    size: int
    root: bytes
    note: bytes = b""


def parse_add_checkpoint(body: bytes) -> AddCheckpoint:
    """Split a request body, refusing anything but its one framing (the note is parsed when opened)."""
    if not isinstance(body, bytes) or len(body) > MAX_REQUEST_BYTES:
        raise WitnessRequestError(f"an add-checkpoint body is at most {MAX_REQUEST_BYTES} octets", where="body")
    cut = body.find(b"\n\n")
    if cut < 0:
        raise WitnessRequestError("an old size line, proof lines and a blank line come before the checkpoint", where="body")
    try:
        head = body[:cut].decode("ascii").split("\n")
    except UnicodeDecodeError:
        raise WitnessRequestError("the lines before the checkpoint are ASCII", where="body") from None
    old = _OLD.match(head[0])
    if old is None or int(old[1]) > 2**63 - 1:
        raise WitnessRequestError("the first line is 'old <size>', decimal without leading zeros", where="old")
    if len(head) - 1 > MAX_PROOF_HASHES:
        raise WitnessRequestError(f"at most {MAX_PROOF_HASHES} consistency proof lines", where="proof")
    proof = []
    for i, line in enumerate(head[1:]):
        try:
            digest = b64.std_decode(line, where=f"proof/{i}", code="E_WITNESS_REQUEST")
        except NotrainError as error:
            raise WitnessRequestError(error.message, where=f"proof/{i}") from None
        if len(digest) != HASH_SIZE:
            raise WitnessRequestError(f"a proof line is a {HASH_SIZE}-octet hash in base64", where=f"proof/{i}")
        proof.append(digest)
    return AddCheckpoint(int(old[1]), tuple(proof), body[cut + 2 :])


def open_request(body: bytes, logs: Mapping[str, NoteVerifier]) -> tuple[AddCheckpoint, SignedCheckpoint]:
    """Parse a request and verify its checkpoint with the key of the log it names (``logs``: origin ->
    the log's note key).  Refusals: malformed 400, unknown origin 404, no valid log signature 403, an
    old size above the checkpoint's 400."""
    try:
        request = parse_add_checkpoint(body)
        note = parse_note(request.note)
    except LogError as error:
        raise WitnessRefused(error, 400) from None
    origin = note.text.split("\n", 1)[0]
    log = logs.get(origin)
    if log is None:
        raise WitnessRefused(LogError(f"this witness does not witness {origin[:300]!r}", code="E_CHECKPOINT", where="origin"), 404)
    try:
        signed = checkpoint_of(verify_note(note, [log]), request.note, origin, log)  # the note parsed once
    except NoteError as error:
        raise WitnessRefused(error, 400 if error.code == "E_NOTE" else 403) from None
    except LogError as error:  # the body of a checkpoint the log did sign
        raise WitnessRefused(error, 400) from None
    if request.old_size > signed.checkpoint.size:
        raise WitnessRefused(WitnessRequestError("the old size is above the checkpoint's", where="old"), 400)
    return request, signed


def check_consistency(request: AddCheckpoint, signed: SignedCheckpoint, latest: Witnessed | None) -> None:
    """Whether the witness, whose latest cosigned checkpoint of the log is ``latest``, may cosign:
    409 (with the witness's size) unless the old size is that one's, 422 unless the proof links the two,
    409 for another root at the same size."""
    known = latest.size if latest else 0
    tree = signed.checkpoint
    if request.old_size != known:
        raise WitnessRefused(WitnessRequestError(f"the witness cosigned size {known} last, not {request.old_size}", where="old"), 409, known)
    if tree.size == 0 and tree.root != EMPTY_ROOT:
        raise WitnessRefused(ProofError("the empty tree has the empty root", where="root"), 422)
    try:
        if known == 0:
            if request.proof:
                raise ProofError("a proof from size 0 is empty", where="proof")
            return
        verify_consistency(known, tree.size, latest.root, tree.root, request.proof)  # type: ignore[union-attr]
    except ProofError as error:
        same_size = known == tree.size and not request.proof
        raise WitnessRefused(error, 409 if same_size else 422, known if same_size else None) from None


def cosignature_lines(signed: SignedCheckpoint, cosigner: NoteSigner, timestamp: int) -> bytes:
    """The 200 answer's body: the witness's cosignature line on the checkpoint's text."""
    if cosigner.verifier.kind != COSIGNATURE_V1:
        raise NoteError("a witness cosigns with a type 0x04 key", where="cosigner")
    text = signed.data[: signed.data.rfind(b"\n\n") + 1]  # the verified text, as parse_note cut it (the blank line is ASCII)
    return cosigner.sign(text, timestamp).line().encode("utf-8")


def verified_cosignatures(note: bytes, response: bytes, witness: NoteVerifier) -> tuple[bytes, ...]:
    """The lines of a witness's 200 answer that are its valid cosignatures on ``note`` (tlog-witness:
    appended to the checkpoint and verified as a note with the witness's key); others are ignored."""
    if len(response) > MAX_RESPONSE_BYTES or not response.endswith(b"\n"):
        raise NoteError("a witness answers with signature lines, each ending in a newline", where="response")
    lines = response[:-1].split(b"\n")
    base = parse_note(note)
    theirs = parse_note(note + response)  # the note's own lines, then the answer's: one strict parse of both
    mine = [(s, line) for s, line in zip(theirs.signatures[len(base.signatures):], lines)
            if (s.name, s.key_id) == (witness.name, witness.key_id)]
    raw = base.text.encode("utf-8")
    for signature, _ in mine:
        witness.verify(raw, signature.signature)  # a bad cosignature by the witness's key is E_NOTE_SIGNATURE
    if not mine:
        raise NoteError(f"no cosignature by {witness.name}", code="E_NOTE_UNKNOWN_KEY", where="response")
    return tuple(line + b"\n" for _, line in mine)


def with_cosignatures(note: bytes, lines: Sequence[bytes]) -> bytes:
    """The checkpoint note with cosignature lines appended, each once, as long as it stays a valid note."""
    signed = parse_note(note)
    have = {s.line().encode("utf-8") for s in signed.signatures}
    out = note
    for line in lines:
        if line not in have and len(have) < MAX_SIGNATURES:
            out += line
            have.add(line)
    parse_note(out)
    return out


@dataclass(frozen=True)
class WitnessPolicy:
    """A client's trust in witnesses: cosignatures by at least ``minimum`` distinct keys of ``witnesses``.

    ``minimum`` 0 with no witnesses is plain trust in the log's signature.  A key listed twice counts once."""

    witnesses: tuple[NoteVerifier, ...] = ()
    minimum: int = 0

    def __post_init__(self) -> None:
        if any(w.kind != COSIGNATURE_V1 for w in self.witnesses):
            raise NoteError("a witness key is a cosignature key (type 0x04)", where="witnesses")
        if len(self.witnesses) > MAX_WITNESSES:
            raise NoteError(f"at most {MAX_WITNESSES} witnesses", where="witnesses")
        distinct = len({(w.name, w.key_id) for w in self.witnesses})
        if not 0 <= self.minimum <= distinct:
            raise NoteError(f"{self.minimum} cosignatures required of {distinct} witnesses", where="witnesses")

    @classmethod
    def from_vkeys(cls, vkeys: Sequence[str], minimum: int) -> WitnessPolicy:
        return cls(tuple(NoteVerifier.from_vkey(v) for v in vkeys), minimum)

    def open(self, data: bytes, origin: str, log: NoteVerifier) -> SignedCheckpoint:
        """The checkpoint of ``origin``, signed by ``log`` and cosigned as this policy requires."""
        signed = open_checkpoint(data, origin, log, self.witnesses)
        self.check(signed.cosignatures)
        return signed

    def check(self, cosignatures: Sequence[Verified]) -> None:
        """Raise ``E_NOTE_UNKNOWN_KEY`` unless enough distinct witnesses' cosignatures verified."""
        trusted = {(w.name, w.key_id) for w in self.witnesses}
        cosigners = {(v.name, v.key_id) for v in cosignatures if v.kind == COSIGNATURE_V1} & trusted
        if len(cosigners) < self.minimum:
            raise NoteError(f"{len(cosigners)} witness cosignatures, {self.minimum} required", code="E_NOTE_UNKNOWN_KEY", where="cosignatures")
