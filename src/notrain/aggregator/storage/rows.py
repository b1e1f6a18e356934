"""Rows to values: the column lists both backends select, in the order the converters read them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .base import AccountProof, Cosignature, Entry, Floor, ForkEvidence, Manifest, Origin, PeerState, Validators, from_ms, to_ms

ENTRY = "id, idempotency_key, leaf, leaf_hash, kind, publisher, received_at, deadline, log_index"
MANIFEST = (
    "m.id, m.publisher, m.sequence, m.payload_sha256, m.envelope, m.entry_id, e.received_at, e.log_index, m.equivocation"
    " FROM manifests m JOIN entries e ON e.id = m.entry_id"
)
FLOOR = "sequence, payload_sha256, keyids"
ORIGIN = "origin, added_by, added_at, next_crawl_at, last_status, failures"
ACCOUNT_PROOF = "publisher, account_url, status, checked_at, next_check_at"
COSIGNATURE = "witness, size, root, line, updated_at"
# An upsert of a witness's cosignature that never replaces one on a larger tree by one on a smaller.
NEWER_COSIGNATURE = ("ON CONFLICT (witness) DO UPDATE SET size = excluded.size, root = excluded.root, line = excluded.line,"
                     " updated_at = excluded.updated_at WHERE excluded.size >= log_cosignatures.size")
PEER = "origin, url, checkpoint, size, copied, status, error, skipped, checked_at"
EVIDENCE = "origin, old_note, new_note, proof, reason, found_at"


def save_peer_sql(marks: Sequence[str]) -> str:
    """The upsert of one PEER row (``marks``: the backend's nine placeholders) that leaves a forked peer as it is."""
    columns = PEER.split(", ")
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns[1:])
    return (f"INSERT INTO peers ({PEER}) VALUES ({', '.join(marks)})"
            f" ON CONFLICT (origin) DO UPDATE SET {updates} WHERE peers.status <> 'forked'")


def fork_peer_sql(marks: Sequence[str]) -> str:
    """Mark a peer forked (``marks``: origin, error, checked_at), saving it first if it is new."""
    origin, error, at = marks
    return (f"INSERT INTO peers ({PEER}) VALUES ({origin}, '', NULL, 0, 0, 'forked', {error}, 0, {at})"
            " ON CONFLICT (origin) DO UPDATE SET status = 'forked', error = excluded.error, checked_at = excluded.checked_at")

Row = Sequence[Any]


def entry(row: Row) -> Entry:
    return Entry(
        id=row[0],
        idempotency_key=_bytes(row[1]),
        leaf=bytes(row[2]),
        leaf_hash=bytes(row[3]),
        kind=row[4],
        publisher=row[5],
        received_at=from_ms(row[6]),
        deadline=from_ms(row[7]),
        log_index=row[8],
    )


def manifest(row: Row) -> Manifest:
    return Manifest(
        id=row[0],
        publisher=row[1],
        sequence=row[2],
        payload_sha256=bytes(row[3]),
        envelope=bytes(row[4]),
        entry_id=row[5],
        received_at=from_ms(row[6]),
        log_index=row[7],
        equivocation=bool(row[8]),
    )


def floor(row: Row) -> Floor:
    return Floor(row[0], bytes(row[1]).hex(), frozenset(row[2].split()))


def floor_values(floor: Floor) -> tuple[int, bytes, str]:
    """The FLOOR columns of ``floor``: key ids space-separated (a key id is base64url, never a space)."""
    return floor.sequence, bytes.fromhex(floor.digest), " ".join(sorted(floor.keys))


def origin(row: Row, validators: dict[str, Validators]) -> Origin:
    return Origin(
        origin=row[0],
        added_by=row[1],
        added_at=from_ms(row[2]),
        next_crawl_at=from_ms(row[3]),
        last_status=row[4],
        failures=row[5],
        validators=validators,
    )


def account_proof(row: Row) -> AccountProof:
    return AccountProof(
        publisher=row[0], account_url=row[1], status=row[2], checked_at=from_ms(row[3]), next_check_at=from_ms(row[4])
    )


def peer(row: Row) -> PeerState:
    return PeerState(origin=row[0], url=row[1], checkpoint=_bytes(row[2]), size=row[3], copied=row[4], status=row[5],
                     error=row[6], skipped=row[7], checked_at=from_ms(row[8]))


def peer_values(state: PeerState) -> tuple:
    checked = None if state.checked_at is None else to_ms(state.checked_at)
    return (state.origin, state.url, state.checkpoint, state.size, state.copied, state.status, state.error, state.skipped, checked)


def evidence(row: Row) -> ForkEvidence:
    proof = bytes(row[3])
    return ForkEvidence(origin=row[0], old=bytes(row[1]), new=bytes(row[2]), proof=tuple(proof[i : i + 32] for i in range(0, len(proof), 32)),
                        reason=row[4], found_at=from_ms(row[5]))


def evidence_values(found: ForkEvidence) -> tuple:
    """The EVIDENCE columns with ``digest`` second: (origin, digest, old, new, proof, reason, found_at)."""
    return (found.origin, found.digest, found.old, found.new, b"".join(found.proof), found.reason, to_ms(found.found_at))


def _bytes(value: Any) -> bytes | None:
    return None if value is None else bytes(value)


def cosignature(row: Row) -> Cosignature:
    return Cosignature(witness=row[0], size=row[1], root=bytes(row[2]), line=bytes(row[3]), received_at=from_ms(row[4]))


def cosignature_values(c: Cosignature) -> tuple:
    """The COSIGNATURE columns of ``c``."""
    return c.witness, c.size, c.root, c.line, to_ms(c.received_at)
