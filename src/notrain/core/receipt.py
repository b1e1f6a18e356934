"""Receipts: the log's signed promise to integrate an entry by a stated time.

Like a Certificate Transparency SCT, a receipt lets a submitter hold the log to
account before the entry is in a checkpoint: if no checkpoint issued after
``integrate-by`` includes the leaf, the signed receipt is the evidence.  It is a
signed note by the log's checkpoint key, and its first two lines keep it from
ever parsing as a checkpoint (the second line is never a decimal size):

    notrain-receipt/v1
    origin aggregator.example/log
    leaf <base64 RFC 6962 leaf hash of the entry>
    time 2026-12-01T00:00:00Z
    integrate-by 2026-12-01T00:01:00Z
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from . import b64
from .errors import NotrainError
from .logerrors import NoteError, ReceiptError
from .manifest import format_timestamp, parse_timestamp
from .merkle import HASH_SIZE, leaf_hash
from .note import ED25519, NoteSigner, NoteVerifier, open_note, sign_note

MAGIC = "notrain-receipt/v1"
MAX_MERGE_DELAY = timedelta(hours=24)


@dataclass(frozen=True)
class Receipt:
    origin: str
    leaf: bytes
    time: datetime
    integrate_by: datetime

    def body(self) -> str:
        lines = (
            MAGIC,
            f"origin {self.origin}",
            f"leaf {b64.std_encode(self.leaf)}",
            f"time {format_timestamp(self.time)}",
            f"integrate-by {format_timestamp(self.integrate_by)}",
        )
        return "".join(line + "\n" for line in lines)

    def check_entry(self, entry: bytes) -> None:
        """Raise unless this receipt is for exactly these entry bytes."""
        if leaf_hash(entry) != self.leaf:
            raise ReceiptError("the receipt is for another entry", where="leaf")


def make_receipt(log: NoteSigner, entry: bytes, time: datetime, integrate_by: datetime) -> bytes:
    """Sign a receipt for ``entry`` as the log ``log.name`` (its origin)."""
    if log.verifier.kind != ED25519:
        raise NoteError("a log signs receipts with its type 0x01 key", where="log")
    receipt = Receipt(log.name, leaf_hash(entry), time.replace(microsecond=0), integrate_by.replace(microsecond=0))
    parse_receipt(receipt.body())  # never sign what a verifier would refuse
    return sign_note(receipt.body(), [log])


def open_receipt(data: bytes, origin: str, log: NoteVerifier) -> Receipt:
    """Verify a receipt signed by the log ``origin``; check the entry with :meth:`Receipt.check_entry`."""
    opened = open_note(data, [log])
    receipt = parse_receipt(opened.text)
    if receipt.origin != origin:
        raise ReceiptError(f"the receipt is from {receipt.origin!r}, not {origin!r}", where="origin")
    return receipt


def parse_receipt(text: str) -> Receipt:
    lines = text.split("\n")
    names = (None, "origin", "leaf", "time", "integrate-by")
    if len(lines) != len(names) + 1 or lines[0] != MAGIC or lines[-1] != "":
        raise ReceiptError(f"a receipt is '{MAGIC}' and four lines: origin, leaf, time, integrate-by", where="body")
    values = {}
    for name, line in zip(names[1:], lines[1:]):
        label, _, value = line.partition(" ")
        if label != name or not value or " " in value:
            raise ReceiptError(f"expected the line '{name} ...'", where=name)
        values[name] = value
    try:
        leaf = b64.std_decode(values["leaf"], where="leaf", code="E_RECEIPT")
        time = parse_timestamp(values["time"], "time")
        integrate_by = parse_timestamp(values["integrate-by"], "integrate-by")
    except NotrainError as exc:
        raise ReceiptError(exc.message, where=exc.where) from None
    if len(leaf) != HASH_SIZE:
        raise ReceiptError("the leaf hash is 32 bytes", where="leaf")
    if not timedelta(0) <= integrate_by - time <= MAX_MERGE_DELAY:
        raise ReceiptError("integrate-by is from 0 to 24 hours after time", where="integrate-by")
    return Receipt(values["origin"], leaf, time, integrate_by)
