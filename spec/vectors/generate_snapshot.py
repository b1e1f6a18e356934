"""Regenerate spec/vectors/snapshot.json: conformance vectors for spec/snapshot.md.

    python spec/vectors/generate_snapshot.py          # rewrite snapshot.json
    python spec/vectors/generate_snapshot.py --check  # exit 1 if it is stale

Expected answers are written here by hand from spec/snapshot.md: which publishers, works and origins
a snapshot holds, and which defect each invalid case has.  The reference implementation makes the
bytes (a snapshot is a function of its manifests, so the bytes *are* the answer of the "build" case:
a second implementation must rebuild them exactly) and answers the probes of keys that are not in a
filter (whether one of those is a false positive depends on the bytes alone; every probe below is
chosen to be a true negative, which the reference confirms).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from notrain.core import PrivateKey, dsse, parse_payload
from notrain.core.logentry import Source, encode_entry
from notrain.core.manifest import MANIFEST_TYPE, parse_timestamp
from notrain.core.snapshot import PART_NAMES, Descriptor, Logged, build, parse_descriptor
from notrain.core.snapshotdelta import make as make_delta
from notrain.core.snapshotfilter import build as build_filter
from notrain.core.snapshotlog import build_from_log
from notrain.core.tiles import TileId, integrate

HERE = Path(__file__).resolve().parent
LOG = "log.art.example/2026"
SIZE = 40
ROOT = hashlib.sha256(b"notrain snapshot vector root").digest()
ARTIST_KEY = PrivateKey.from_seed(hashlib.sha256(b"notrain snapshot vector artist").digest()).public
ARTIST = ARTIST_KEY.did_key
# art.example's key, and the key it rotates to after the first one is stolen (key ids: RFC 7638 thumbprints)
OLD_KEY, NEW_KEY = (PrivateKey.from_seed(hashlib.sha256(b"notrain snapshot vector " + name).digest()).public.kid for name in (b"old", b"new"))
sha = lambda text: hashlib.sha256(text.encode()).hexdigest()
PDQ_A, PDQ_B = "f" * 32 + "0" * 32, "0f" * 32

PAYLOADS = [
    (3, {"notrain": 1, "publisher": "https://art.example", "sequence": 1, "issued": "2026-11-01T00:00:00Z",
         "expires": "2027-11-01T00:00:00Z", "default": {"train-ai": "n"}}),
    (17, {"notrain": 1, "publisher": "https://art.example", "sequence": 2, "issued": "2026-11-02T00:00:00Z",
          "expires": "2027-11-01T00:00:00Z", "default": {"search": "y"},
          "paths": [{"pattern": "/gallery/*", "prefs": {"train-ai": "n", "ai-use": "n"}}, {"pattern": "/blog/", "prefs": {"other-label": "n"}}],
          "works": [{"sha256": sha("sunset.png")}]}),
    (9, {"notrain": 1, "publisher": ARTIST, "sequence": 5, "issued": "2026-11-01T00:00:00Z", "expires": "2027-11-01T00:00:00Z",
         "default": {"train-ai": "n"}, "pdq": {"hasher": "pdqhash-0.2", "threshold": 31},
         "works": [{"sha256": sha("cat.png"), "pdq": PDQ_A}, {"pdq": PDQ_B, "prefs": {"search": "y"}}, {"sha256": sha("dog.png")}],
         "names": [{"name": "Jane Doe"}, {"name": "janedoe_art", "prefs": {"ai-use": "n"}}]}),
    (30, {"notrain": 1, "publisher": "https://quiet.example", "sequence": 1, "issued": "2026-11-01T00:00:00Z",
          "expires": "2027-11-01T00:00:00Z", "default": {}, "works": [{"sha256": sha("quiet.png"), "prefs": {"train-ai": "y"}}]}),
]
ok = lambda **fields: {"valid": True, **fields}
bad = lambda code: {"valid": False, "error": code}


def payload_bytes(doc: dict) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def signers(doc: dict) -> list[str]:
    """Who signed a manifest of PAYLOADS and NEXT, and was trusted then: its publisher's one key."""
    return [ARTIST_KEY.kid if doc["publisher"] == ARTIST else OLD_KEY]


def logged(index: int, doc: dict, signed_by: list[str] | None = None, trusted: list[str] | None = None) -> Logged:
    keys = signers(doc)
    return Logged(index, parse_payload(payload_bytes(doc)), frozenset(signed_by or keys), frozenset(trusted or keys))


def small(payloads=PAYLOADS, size=SIZE, root=ROOT) -> tuple[bytes, dict[str, bytes]]:
    built = build([logged(index, doc) for index, doc in payloads], log=LOG, size=size, root=root)
    return built.descriptor, built.parts


# The next snapshot: the artist's sequence 6 (a name removed), a new publisher, quiet.example left out
# (its builder skipped it as expired, say), at tree size 50.
NEXT = [entry for entry in PAYLOADS if entry[1]["publisher"] != "https://quiet.example"] + [
    (41, {**PAYLOADS[2][1], "sequence": 6, "names": [{"name": "Jane Doe"}]}),
    (45, {"notrain": 1, "publisher": "https://new.example", "sequence": 1, "issued": "2026-11-20T00:00:00Z",
          "expires": "2027-11-01T00:00:00Z", "default": {"train-ai": "n"}}),
]
NEXT_ROOT = hashlib.sha256(b"notrain snapshot vector root 50").digest()


def delta_cases(descriptor: bytes, parts: dict[str, bytes]) -> list[dict]:
    new_descriptor, new_parts = small(NEXT, 50, NEXT_ROOT)
    delta = make_delta(descriptor, parts["statements"], new_descriptor, new_parts["statements"])
    base = {"from": {"descriptor": descriptor.decode(), "statements": parts["statements"].decode()},
            "to": encode_case(new_descriptor, new_parts)}
    tampered = delta.replace(b'"name":"Jane Doe"', b'"name":"Jane Doe Jr"')
    wrong_from = delta.replace(b"from ", b"from 0", 1)[:len(delta)]
    return [
        {"id": "delta", "description": ("From the small snapshot to the next: the artist's block replaced, new.example added, "
                                        "quiet.example dropped; applying it gives the next snapshot's statements, from which every other part is rebuilt"),
         **base, "delta": delta.decode(), "expect": ok(id=hashlib.sha256(new_descriptor).hexdigest())},
        {"id": "delta-tampered", "description": "a delta whose name was changed in transit: the result is not the next snapshot's statements",
         **base, "delta": tampered.decode(), "expect": bad("E_SNAPSHOT_DIGEST")},
        {"id": "delta-carriage-return", "description": "a delta whose drop line starts with a CR: only LF ends a line, so the line is not a drop",
         **base, "delta": delta.replace(b"\ndrop ", b"\n\rdrop ", 1).decode(), "expect": bad("E_SNAPSHOT")},
        {"id": "delta-wrong-from", "description": "a delta made from another snapshot (its from line is not the id of the one held)",
         **base, "delta": wrong_from.decode(), "expect": bad("E_SNAPSHOT")},
    ]


def encode_case(descriptor: bytes, parts: dict[str, bytes]) -> dict:
    return {"descriptor": descriptor.decode("ascii"), "parts": {f"{name}_hex": parts[name].hex() for name in PART_NAMES}}


def redescribe(descriptor: bytes, parts: dict[str, bytes]) -> bytes:
    """The descriptor naming ``parts`` (so that a defect inside a part is reached, not E_SNAPSHOT_DIGEST)."""
    d = parse_descriptor(descriptor)
    return Descriptor(d.log, d.size, d.root, tuple((n, len(parts[n]), hashlib.sha256(parts[n]).digest()) for n in PART_NAMES)).encode()


def invalid_cases(descriptor: bytes, parts: dict[str, bytes]) -> list[dict]:
    cases = []

    def case(id_, description, error, *, desc=None, **changed):
        new_parts = {**parts, **changed}
        new_desc = desc if desc is not None else redescribe(descriptor, new_parts)
        cases.append({"id": id_, "description": description, **encode_case(new_desc, new_parts), "expect": bad(error)})

    text = descriptor.decode()
    case("descriptor-magic", "first line is not notrain-snapshot/v1", "E_SNAPSHOT", desc=text.replace("/v1", "/v2", 1).encode())
    case("descriptor-no-final-newline", "the last line lacks its line feed", "E_SNAPSHOT", desc=descriptor[:-1])
    case("descriptor-size-leading-zero", "tree size written 040", "E_SNAPSHOT", desc=text.replace("size 40", "size 040").encode())
    case("descriptor-root-short", "root of 31 octets", "E_SNAPSHOT",
         desc=text.replace(text.split("\n")[3], "root " + __import__("base64").b64encode(ROOT[:31]).decode()).encode())
    lines = text.split("\n")
    case("descriptor-parts-reordered", "parts origins before works", "E_SNAPSHOT",
         desc="\n".join(lines[:4] + [lines[5], lines[4]] + lines[6:]).encode())
    case("descriptor-uppercase-digest", "a part digest in upper-case hex", "E_SNAPSHOT", desc=text.replace(lines[6].split()[-1], lines[6].split()[-1].upper()).encode())
    case("descriptor-two-spaces", "two spaces after 'log'", "E_SNAPSHOT", desc=text.replace("log ", "log  ", 1).encode())
    case("digest-statements-changed", "statements changed after the descriptor was made", "E_SNAPSHOT_DIGEST", desc=descriptor,
         statements=parts["statements"].replace(b'"n"', b'"y"', 1))
    case("digest-pdq-truncated", "pdq part one octet short of the size the descriptor gives", "E_SNAPSHOT_DIGEST", desc=descriptor,
         pdq=parts["pdq"][:-1])
    case("filter-magic", "works filter with another magic", "E_SNAPSHOT", works=b"NTFUSE08" + parts["works"][8:])
    case("filter-length", "works filter with one fingerprint too many", "E_SNAPSHOT", works=parts["works"] + b"\0\0")
    case("filter-parameters", "works filter whose segment count is not the one its key count gives", "E_SNAPSHOT",
         works=parts["works"][:28] + (int.from_bytes(parts["works"][28:32], "little") + 1).to_bytes(4, "little") + parts["works"][32:] + b"\0\0" * 8)
    case("filter-missing-key", "works filter built without one of the statements' works", "E_SNAPSHOT",
         works=build_filter(__import__("numpy").array([int.from_bytes(bytes.fromhex(sha("cat.png"))[:8], "little"),
                                                      int.from_bytes(bytes.fromhex(sha("dog.png"))[:8], "little"),
                                                      int.from_bytes(bytes.fromhex(sha("quiet.png"))[:8], "little")], dtype="uint64")))
    statements = parts["statements"].split(b"\n")
    case("statements-order", "two statement lines swapped (a path before its publisher line)", "E_SNAPSHOT",
         statements=b"\n".join([statements[1], statements[0]] + statements[2:]))
    case("statements-not-canonical", "a line with a space after a colon", "E_SNAPSHOT", statements=parts["statements"].replace(b'"kind":', b'"kind": ', 1))
    case("statements-index", "a publisher line citing log index 40 of a 40-entry log", "E_SNAPSHOT",
         statements=parts["statements"].replace(b'"index":30', b'"index":40', 1))
    case("statements-unknown-member", "a work line with an extra member", "E_SNAPSHOT",
         statements=parts["statements"].replace(b'{"kind":"work",', b'{"extra":1,"kind":"work",', 1))
    case("statements-kind-not-string", "a line whose kind is an array", "E_SNAPSHOT",
         statements=parts["statements"].replace(b'{"kind":"work",', b'{"kind":["work"],', 1))
    case("statements-expires-impossible", "a publisher line expiring on 30 February", "E_SNAPSHOT",
         statements=parts["statements"].replace(b'"expires":"2027-11-01T00:00:00Z"', b'"expires":"2027-02-30T00:00:00Z"', 1))
    case("pdq-unsorted", "pdq rows in descending order", "E_SNAPSHOT", pdq=parts["pdq"][:8] + parts["pdq"][41:] + parts["pdq"][8:41])
    case("pdq-threshold", "a pdq row with threshold 49", "E_SNAPSHOT", pdq=parts["pdq"][:40] + bytes([49]) + parts["pdq"][41:])
    return cases


def build_input(manifests: list[Logged], payloads: list[dict], size: int, root: bytes) -> dict:
    return {"log": LOG, "size": size, "root_hex": root.hex(), "manifests": [
        {"index": m.index, "payload": payload_bytes(doc).decode(), "signed_by": sorted(m.signed_by), "trusted": sorted(m.trusted)}
        for m, doc in zip(manifests, payloads)]}


# A key theft and a rotation (spec/envelope.md, step 10): the thief signs sequence 2^53-1 with art.example's
# stolen key; art.example rotates to a new key and signs sequence 1 with it alone, which the thief's floor
# does not bind; a later equal sequence with other bytes (equivocation) and a lower one signed with the new
# key again are bound by the new floor and change nothing.
ART = {"notrain": 1, "publisher": "https://art.example", "issued": "2026-11-01T00:00:00Z", "expires": "2027-11-01T00:00:00Z"}
THEFT = [
    (2, {**ART, "sequence": 3, "default": {"train-ai": "n"}}, [OLD_KEY], [OLD_KEY]),
    (6, {**ART, "sequence": 2**53 - 1, "default": {"train-ai": "y"}}, [OLD_KEY], [OLD_KEY]),
    (9, {**ART, "sequence": 1, "default": {"train-ai": "n", "ai-use": "n"}}, [NEW_KEY], [NEW_KEY]),
    (12, {**ART, "sequence": 1, "default": {"train-ai": "y"}}, [NEW_KEY], [NEW_KEY]),
]


def theft_case() -> dict:
    manifests = [logged(index, doc, signed_by, trusted) for index, doc, signed_by, trusted in THEFT]
    root = hashlib.sha256(b"notrain snapshot vector root 20").digest()
    built = build(manifests, log=LOG, size=20, root=root)
    return {"id": "rotation-after-theft",
            "description": ("art.example's sequence 3, then a thief's 2^53-1 signed with the stolen old key, then the publisher's "
                            "sequence 1 signed with its new key alone (not bound by the thief's floor: it is current), then "
                            "an equivocating sequence 1 under the new key (bound by the new floor: ignored)"),
            "build": build_input(manifests, [doc for _, doc, _, _ in THEFT], 20, root),
            **encode_case(built.descriptor, built.parts),
            "probes": {"works": [], "origins": [{"origin": "https://art.example", "maybe": True}]},
            "expect": ok(id=hashlib.sha256(built.descriptor).hexdigest(), publishers=["https://art.example"], pdq_rows=0, statements=1,
                         current=[{"publisher": "https://art.example", "index": 9, "sequence": 1}])}


# A log with parts (spec/log.md, "Parts in the log"): a manifest's parts are the `part` entries logged before it.
PART_AUTHOR = PrivateKey.from_seed(hashlib.sha256(b"notrain snapshot vector parts artist").digest())
PART_LATE = PrivateKey.from_seed(hashlib.sha256(b"notrain snapshot vector parts late").digest())
PARTS_OBSERVED = "2026-11-20T00:00:00Z"


def part_document(key: PrivateKey, sequence: int, work: str) -> bytes:
    return payload_bytes({"notrain-part": 1, "publisher": key.public.did_key, "sequence": sequence, "works": [{"sha256": sha(work)}]})


def manifest_with_parts(key: PrivateKey, sequence: int, parts: list[bytes]) -> bytes:
    doc = {"notrain": 1, "publisher": key.public.did_key, "sequence": sequence, "issued": "2026-11-01T00:00:00Z",
           "expires": "2027-11-01T00:00:00Z", "default": {"train-ai": "n"}, "works": [{"sha256": sha(f"index {sequence}.png")}],
           "parts": [{"sha256": hashlib.sha256(part).hexdigest(), "size": len(part)} for part in parts]}
    return dsse.sign(payload_bytes(doc), MANIFEST_TYPE, [key]).to_bytes()


def no_tile(tile: TileId) -> bytes:
    raise KeyError(tile)  # a log built from nothing reads no tile


def parts_case() -> dict:
    when = parse_timestamp(PARTS_OBSERVED, "observed")
    first, second, late = part_document(PART_AUTHOR, 1, "part 1.png"), part_document(PART_AUTHOR, 2, "part 2.png"), part_document(PART_LATE, 1, "late.png")
    observed = [("part", first), ("manifest", manifest_with_parts(PART_AUTHOR, 1, [first])),
                ("manifest", manifest_with_parts(PART_LATE, 1, [late])), ("part", late),
                ("manifest", manifest_with_parts(PART_AUTHOR, 2, [second])), ("part", second)]
    entries = [encode_entry(kind, Source("submission"), when, body) for kind, body in observed]
    done = integrate(0, entries, no_tile)
    built = build_from_log(LOG, done.size, done.root, done.tiles.__getitem__, {}.__getitem__)
    return {"id": "parts",
            "description": ("A log of six entries with parts: the artist's sequence 1 after its part (taken, merged); another "
                            "publisher's manifest before its part (left out: its part is not logged before it); the artist's "
                            "sequence 2 before its part (left out, so sequence 1 stays current). Rebuild from `log` and load"),
            "log": {"origin": LOG, "entries": [data.decode("utf-8") for data in entries]},
            **encode_case(built.descriptor, built.parts),
            "probes": {"works": [{"sha256": sha("part 1.png"), "maybe": True}, {"sha256": sha("index 1.png"), "maybe": True},
                                 {"sha256": sha("late.png"), "maybe": False}, {"sha256": sha("part 2.png"), "maybe": False},
                                 {"sha256": sha("index 2.png"), "maybe": False}], "origins": []},
            "expect": ok(id=hashlib.sha256(built.descriptor).hexdigest(), publishers=[PART_AUTHOR.public.did_key], pdq_rows=0,
                         statements=3, current=[{"publisher": PART_AUTHOR.public.did_key, "index": 1, "sequence": 1}])}


def vectors() -> list[dict]:
    descriptor, parts = small()
    valid = {
        "id": "small",
        "description": ("Four logged manifests of three publishers (art.example's sequence 2 replaces its sequence 1); "
                        "a second implementation must rebuild these exact bytes from `build`, load them, and answer the probes"),
        "build": build_input([logged(index, doc) for index, doc in PAYLOADS], [doc for _, doc in PAYLOADS], SIZE, ROOT),
        **encode_case(descriptor, parts),
        "probes": {
            "works": [{"sha256": sha(n), "maybe": True} for n in ("sunset.png", "cat.png", "dog.png", "quiet.png")]
                     + [{"sha256": sha(n), "maybe": False} for n in ("unlisted.png", "other.jpg")],
            "origins": [{"origin": "https://art.example", "maybe": True}, {"origin": "https://quiet.example", "maybe": False},
                        {"origin": "https://elsewhere.example", "maybe": False}],
        },
        "expect": ok(id=hashlib.sha256(descriptor).hexdigest(), publishers=sorted(["https://art.example", "https://quiet.example", ARTIST]),
                     pdq_rows=2, statements=11),
    }
    empty = build([], log=LOG, size=0, root=hashlib.sha256(b"").digest())
    return [valid,
            {"id": "empty", "description": "The snapshot of an empty log: empty filters (probes always answer no), no statements",
             **encode_case(empty.descriptor, empty.parts), "probes": {"works": [{"sha256": sha("cat.png"), "maybe": False}], "origins": []},
             "expect": ok(id=hashlib.sha256(empty.descriptor).hexdigest(), publishers=[], pdq_rows=0, statements=0)},
            theft_case(), parts_case(),
            *invalid_cases(descriptor, parts), *delta_cases(descriptor, parts)]


def render() -> str:
    return json.dumps({"vectors": vectors()}, indent=1, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    target = HERE / "snapshot.json"
    text = render()
    if "--check" in sys.argv:
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            print("spec/vectors/snapshot.json is stale: run python spec/vectors/generate_snapshot.py", file=sys.stderr)
            sys.exit(1)
    else:
        target.write_text(text, encoding="utf-8")
