"""A filtering receipt and an aggregator's log: submitting it, and checking that the log holds it.

Nothing the aggregator answers is taken on its word.  After a submission, the log's signed promise
(spec/log.md, "Receipts") is opened with the log's verifier key and checked against the entry the
client rebuilds itself: kind ``filtering-receipt``, source ``submission``, the promise's time as the
entry's ``observed`` time, and the receipt's exact octets as the body.  A lookup is checked the same
way: the checkpoint is opened with the log's key (and witnesses, if the trust asks for them), the
entry rebuilt from the answer's time and the receipt, and its leaf hash proved included at the
checkpoint's size.  Routes read: ``POST /v1/receipts`` and ``GET /v1/receipts/<sha256>``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import aiohttp

from ..core import b64, ijson
from ..core.filterreceipt import RECEIPT_TYPE
from ..core.logentry import Source, encode_entry
from ..core.logerrors import ProofError
from ..core.manifest import parse_timestamp
from ..core.merkle import leaf_hash, verify_inclusion
from ..core.receipt import open_receipt
from .snapshots import Trust
from .sources import SourceError

KIND = "filtering-receipt"
MAX_ANSWER_BYTES = 64 * 1024


@dataclass(frozen=True)
class Included:
    """A receipt proved in a log: its entry's index and the checkpoint (size, note) it is proved in."""

    log: str
    index: int
    size: int
    checkpoint: str


def entry_of(envelope: bytes, observed: datetime) -> bytes:
    """The log entry an aggregator writes for ``envelope`` received at ``observed``."""
    return encode_entry(KIND, Source("submission"), observed, envelope)


async def submit(url: str, envelope: bytes, trust: Trust, *, timeout: float = 60.0) -> dict:
    """Submit ``envelope``; the answer, once the log's signed promise is checked for this very entry."""
    answer = await _call(url, "POST", "/v1/receipts", envelope, timeout)
    promise = answer.get("receipt")
    if not isinstance(promise, str):
        raise SourceError("the aggregator answered no receipt", where="/v1/receipts")
    log = trust.log
    opened = open_receipt(promise.encode("utf-8"), log.name, log)
    opened.check_entry(entry_of(envelope, opened.time))
    return answer


async def included(url: str, envelope: bytes, trust: Trust, *, timeout: float = 60.0) -> Included | None:
    """Where the log holds ``envelope``, proved; None while its entry is pending."""
    answer = await _call(url, "GET", f"/v1/receipts/{hashlib.sha256(envelope).hexdigest()}", None, timeout)
    if answer.get("status") != "integrated":
        return None
    shape = {"log_index": int, "checkpoint": str, "inclusion_proof": list, "received_at": str, "leaf_hash": str}
    if not all(type(answer.get(k)) is t for k, t in shape.items()):
        raise SourceError("the answer lacks the entry's index, checkpoint or proof", where="/v1/receipts")
    signed = trust.open(answer["checkpoint"].encode("utf-8"))
    leaf = leaf_hash(entry_of(envelope, parse_timestamp(answer["received_at"], "received_at")))
    if b64.std_decode(answer["leaf_hash"], where="leaf_hash") != leaf:
        raise ProofError("the logged entry is not this receipt's", where="leaf_hash")
    proof = [b64.std_decode(h, where="inclusion_proof") if isinstance(h, str) else b"" for h in answer["inclusion_proof"]]
    tree = signed.checkpoint
    verify_inclusion(answer["log_index"], tree.size, leaf, proof, tree.root)
    return Included(tree.origin, answer["log_index"], tree.size, answer["checkpoint"])


async def _call(url: str, method: str, path: str, body: bytes | None, timeout: float) -> dict:
    headers = {"Content-Type": RECEIPT_TYPE} if body is not None else {}
    target = url.rstrip("/") + path
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session, \
                session.request(method, target, data=body, headers=headers, allow_redirects=False) as response:
            status, data = response.status, bytearray()
            async for chunk in response.content.iter_chunked(16 * 1024):  # read(n) would stop at the first segment
                data += chunk
                if len(data) > MAX_ANSWER_BYTES:
                    break
    except (TimeoutError, aiohttp.ClientError, OSError) as error:
        raise SourceError(f"{target}: {type(error).__name__}: {error}"[:300], where=path) from None
    answer = ijson.loads(data, max_size=MAX_ANSWER_BYTES, max_depth=8, what="answer")
    if status >= 400 and isinstance(answer, dict) and isinstance(answer.get("error"), dict):
        error = answer["error"]
        raise SourceError(f"{target}: {error.get('code')}: {error.get('message')}"[:300], where=path)
    if status not in (200, 202) or not isinstance(answer, dict):
        raise SourceError(f"{target}: HTTP {status}", where=path)
    return answer
