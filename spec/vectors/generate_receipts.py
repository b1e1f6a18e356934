"""Regenerate spec/vectors/receipts.json: conformance vectors for spec/receipt.md (filtering receipts).

    python spec/vectors/generate_receipts.py          # rewrite receipts.json
    python spec/vectors/generate_receipts.py --check  # exit 1 if it is stale

Expected answers are written here by hand from spec/receipt.md; the reference implementation only signs
(Ed25519 is deterministic, so the envelopes are fixed) and the invalid payloads are signed as they are,
without the checks ``sign_receipt`` makes.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from vectorfile import write_or_check

from notrain.core import PrivateKey, b64, dsse, ijson
from notrain.core.filterreceipt import RECEIPT_TYPE

HERE = Path(__file__).resolve().parent
BUILDER = PrivateKey.from_seed(hashlib.sha256(b"notrain receipt vector builder").digest())
OTHER = PrivateKey.from_seed(hashlib.sha256(b"notrain receipt vector other").digest())
NOW = "2026-12-02T00:00:00Z"
INPUT = {"laion-00000.parquet": b"PAR1 rows of URLs and captions PAR1", "laion-00001.parquet": b"PAR1 more rows PAR1"}
OUTPUT = {"laion-00000.parquet": b"PAR1 kept rows PAR1", "laion-00001.parquet": b"PAR1 more kept rows PAR1"}
SNAPSHOT = {"id": hashlib.sha256(b"a snapshot descriptor").hexdigest(), "log": "aggregator.example/log", "size": 1234,
            "root": "YXAx7NHRcmZL7zxBVfArhHkaBG/qB42eNXusVQAhwWA="}


def listing(files: dict[str, bytes]) -> dict:
    """The ``input``/``output`` member: files sorted by name, and the digest of their lines."""
    entries = [{"name": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()} for name, data in sorted(files.items())]
    lines = "".join(f"{e['sha256']} {e['size']} {e['name']}\n" for e in entries)
    return {"sha256": hashlib.sha256(lines.encode()).hexdigest(), "files": entries}


def payload(**members) -> dict:
    doc = {"notrain-filtering-receipt": 1, "builder": BUILDER.public.did_key, "time": "2026-12-01T18:30:00Z", "tool": "notrain 0.1.0",
           "purpose": "train-ai", "unknown": "allowed", "names": "drop", "columns": {"url": "url", "caption": "caption"},
           "source": {"snapshot": SNAPSHOT}, "input": listing(INPUT), "output": listing(OUTPUT),
           "counts": {"rows": 1000, "kept": 990, "refused": 10, "stripped": 0, "by_reason": {"name": 3, "url": 6, "url+work": 1}}}
    return {**doc, **members}


def without(doc: dict, member: str) -> dict:
    return {k: v for k, v in doc.items() if k != member}


def envelope(doc: dict | bytes, *, key: PrivateKey = BUILDER, payload_type: str = RECEIPT_TYPE) -> bytes:
    data = doc if isinstance(doc, bytes) else ijson.dumps(doc)
    return dsse.sign(data, payload_type, [key]).to_bytes()


def tampered_signature(doc: dict) -> bytes:
    signed = json.loads(envelope(doc))
    sig = bytearray(b64.std_decode(signed["signatures"][0]["sig"], where="sig"))
    sig[0] ^= 1
    signed["signatures"][0]["sig"] = b64.std_encode(bytes(sig))
    return ijson.dumps(signed, pretty=True)


def ok(doc: dict) -> dict:
    return {"valid": True, "builder": doc["builder"], "payload_sha256": hashlib.sha256(ijson.dumps(doc)).hexdigest()}


def bad(code: str) -> dict:
    return {"valid": False, "error": code}


def hexed(files: dict[str, bytes]) -> dict[str, str]:
    return {name: data.hex() for name, data in files.items()}


def vectors() -> list[dict]:
    cases = []

    def case(id_: str, description: str, receipt: bytes, expect: dict, **context) -> None:
        cases.append({"id": f"receipt-{id_}", "description": description, "receipt": receipt.decode(), "context": {"now": NOW, **context}, "expect": expect})

    snapshot, bundle = payload(), payload(source={"bundle": {"sha256": "ab" * 32}}, unknown="disallowed", columns={"url": "URL"},
                                          counts={"rows": 5, "kept": 0, "refused": 5, "stripped": 0, "by_reason": {"unknown": 5}})
    strip = payload(names="strip", purpose="ai-use", columns={"url": "url", "caption": "text", "sha256": "sha", "pdq": "pdq"},
                    counts={"rows": 10, "kept": 9, "refused": 1, "stripped": 4, "by_reason": {"url+work+embedded+name": 1}})
    case("valid-snapshot", "A receipt citing a snapshot, its files re-hashed.", envelope(snapshot), ok(snapshot),
         builder=BUILDER.public.did_key, input=hexed(INPUT), output=hexed(OUTPUT))
    case("valid-bundle", "A receipt citing a bundle; every row refused as unknown.", envelope(bundle), ok(bundle))
    case("valid-strip", "Names stripped from kept rows; every part in a reason, in order.", envelope(strip), ok(strip))
    case("valid-skew", "A time 5 minutes after now is within the allowed clock skew.", envelope(payload(time="2026-12-02T00:05:00Z")),
         ok(payload(time="2026-12-02T00:05:00Z")))
    case("files-input-changed", "An input file whose octets are not those the receipt names.", envelope(snapshot), bad("E_RECEIPT_FILES"),
         input={**hexed(INPUT), "laion-00001.parquet": b"PAR1 other rows PAR1".hex()})
    case("files-output-extra", "An output file the receipt does not name.", envelope(snapshot), bad("E_RECEIPT_FILES"),
         output={**hexed(OUTPUT), "laion-00002.parquet": "00"})
    case("files-output-missing", "A kept file the receipt names is missing.", envelope(snapshot), bad("E_RECEIPT_FILES"),
         output={"laion-00000.parquet": OUTPUT["laion-00000.parquet"].hex()})
    case("type-manifest", "The manifest payload type.", envelope(snapshot, payload_type="application/vnd.notrain.manifest+json"), bad("E_PAYLOAD_TYPE"))
    case("signature-invalid", "The builder's signature with one bit changed.", tampered_signature(snapshot), bad("E_SIGNATURE_INVALID"))
    case("signature-other-key", "Signed by a key other than the builder's.", envelope(snapshot, key=OTHER), bad("E_UNKNOWN_KEY"))
    case("builder-unexpected", "The caller expects another builder.", envelope(snapshot), bad("E_PUBLISHER_MISMATCH"), builder=OTHER.public.did_key)
    case("builder-not-did-key", "An origin is no builder.", envelope(payload(builder="https://builder.example")), bad("E_DID_KEY"))
    case("payload-not-json", "A payload that is not JSON.", envelope(b"{receipt"), bad("E_JSON"))
    case("payload-array", "A payload that is not an object.", envelope(b"[1]"), bad("E_FIELD_TYPE"))
    case("version-2", "An unknown version.", envelope(payload(**{"notrain-filtering-receipt": 2})), bad("E_VERSION"))
    case("version-true", "true is not 1.", envelope(payload(**{"notrain-filtering-receipt": True})), bad("E_FIELD_TYPE"))
    case("missing-counts", "No counts.", envelope(without(snapshot, "counts")), bad("E_FIELD_MISSING"))
    case("order-missing-before-unknown", "A missing and an unknown member: missing comes first.",
         envelope({**without(snapshot, "tool"), "comment": "x"}), bad("E_FIELD_MISSING"))
    case("unknown-member", "An unknown member.", envelope({**snapshot, "comment": "x"}), bad("E_FIELD_VALUE"))
    case("order-signature-before-fields", "A bad field under a signature by another key: the signature is checked first.",
         envelope({**snapshot, "comment": "x"}, key=OTHER), bad("E_UNKNOWN_KEY"))
    case("time-not-utc", "A time with an offset.", envelope(payload(time="2026-12-01T18:30:00+01:00")), bad("E_TIMESTAMP"))
    case("time-future", "A time 5 minutes and 1 second after now.", envelope(payload(time="2026-12-02T00:05:01Z")), bad("E_NOT_YET_VALID"))
    case("purpose-unknown", "An unknown purpose.", envelope(payload(purpose="train")), bad("E_FIELD_VALUE"))
    case("columns-no-url", "Columns without the URL column.", envelope(payload(columns={"caption": "caption"})), bad("E_FIELD_MISSING"))
    case("columns-empty-name", "An empty column name.", envelope(payload(columns={"url": ""})), bad("E_FIELD_VALUE"))
    case("source-both", "A source citing a snapshot and a bundle.", envelope(payload(source={"snapshot": SNAPSHOT, "bundle": {"sha256": "ab" * 32}})),
         bad("E_FIELD_VALUE"))
    case("snapshot-id-upper", "A snapshot id in upper-case hex.", envelope(payload(source={"snapshot": {**SNAPSHOT, "id": SNAPSHOT["id"].upper()}})),
         bad("E_HASH"))
    case("snapshot-root-base64", "A root that is not canonical base64.", envelope(payload(source={"snapshot": {**SNAPSHOT, "root": SNAPSHOT["root"][:-2] + "B="}})),
         bad("E_BASE64"))
    case("snapshot-size-text", "A tree size as a string.", envelope(payload(source={"snapshot": {**SNAPSHOT, "size": "1234"}})), bad("E_FIELD_TYPE"))
    unsorted = listing(INPUT)
    unsorted["files"] = unsorted["files"][::-1]
    case("files-unsorted", "Files not sorted by name.", envelope(payload(input=unsorted)), bad("E_FIELD_VALUE"))
    wrong = {**listing(INPUT), "sha256": listing(OUTPUT)["sha256"]}
    case("files-digest", "An overall digest that is not that of the list.", envelope(payload(input=wrong)), bad("E_FIELD_VALUE"))
    slash = listing({"shards/laion-00000.parquet": b"x"})
    case("files-name-path", "A file name of two path segments.", envelope(payload(output=slash)), bad("E_FIELD_VALUE"))
    case("files-empty", "No input file.", envelope(payload(input=listing({}))), bad("E_FIELD_VALUE"))
    case("counts-sum", "rows is not kept + refused.", envelope(payload(counts={**snapshot["counts"], "rows": 999})), bad("E_FIELD_VALUE"))
    case("counts-reason-order", "A reason with its parts out of order.",
         envelope(payload(counts={**snapshot["counts"], "by_reason": {"name": 3, "url": 6, "work+url": 1}})), bad("E_FIELD_VALUE"))
    case("counts-reason-zero", "A reason that refused no row.",
         envelope(payload(counts={**snapshot["counts"], "by_reason": {"name": 3, "url": 7, "work": 0}})), bad("E_FIELD_VALUE"))
    case("counts-stripped-drop", "Stripped rows under names 'drop'.", envelope(payload(counts={**snapshot["counts"], "stripped": 1})), bad("E_FIELD_VALUE"))
    case("counts-negative", "A negative count.", envelope(payload(counts={**snapshot["counts"], "stripped": -1})), bad("E_FIELD_VALUE"))
    return cases


if __name__ == "__main__":
    sys.exit(write_or_check(HERE / "receipts.json", vectors(), sys.argv))
