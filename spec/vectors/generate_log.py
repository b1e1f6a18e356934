"""Regenerate spec/vectors/log.json: conformance vectors for spec/log.md.

    python spec/vectors/generate_log.py          # rewrite log.json
    python spec/vectors/generate_log.py --check  # exit 1 if it is stale

Expected answers are written here by hand, from spec/log.md or from the
publication a case is taken from (named in its description).  The reference
implementation only *makes* inputs: it signs notes, hashes trees into tiles.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from notrain.core import PrivateKey
from notrain.core.checkpoint import Checkpoint, cosign, sign_checkpoint
from notrain.core.logentry import Source, encode_entry
from notrain.core.merkle import CompactRange, consistency_proof, leaf_hash, node_hash, perfect_root, root
from notrain.core.note import COSIGNATURE_V1, NoteSigner, cosigned_message, sign_note
from notrain.core.receipt import make_receipt
from notrain.core.tiles import integrate

HERE = Path(__file__).resolve().parent
ORIGIN = "log.art.example/2026"
T0 = datetime(2026, 12, 1, tzinfo=UTC)
B64 = lambda data: base64.b64encode(data).decode()
E_PROOF, E_TILE, E_NOTE, E_NOTE_SIG, E_NOTE_UNKNOWN, E_CHECKPOINT, E_ENTRY, E_RECEIPT = (
    "E_PROOF", "E_TILE", "E_NOTE", "E_NOTE_SIGNATURE", "E_NOTE_UNKNOWN_KEY", "E_CHECKPOINT", "E_LOG_ENTRY", "E_RECEIPT")


def signer(name: str, kind: int = 1, key_name: str | None = None) -> NoteSigner:
    """Deterministic keys: seed = SHA-256("notrain log vector key " + key_name)."""
    seed = hashlib.sha256(b"notrain log vector key " + (key_name or name).encode()).digest()
    return NoteSigner(name, PrivateKey.from_seed(seed), kind)


LOG, OTHER, WITNESS = signer(ORIGIN), signer("log.other.example"), signer("witness.example/w1", COSIGNATURE_V1)
ok = lambda **fields: {"valid": True, **fields}
bad = lambda code: {"valid": False, "error": code}

# transparency-dev/merkle testonly/constants.go: the 8 leaf inputs and the roots of sizes 0..8.
TD_LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
TD_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125", "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7", "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef", "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# transparency-dev/merkle testdata/inclusion/1/happy-path.json and testdata/consistency/1/happy-path.json
TD_ROOT8 = "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg="
TD_LEAF0 = "bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0="
TD_PROOF = ["lqKW0iTyhcZ77pPDD4owkVfw2qNdxbh+QQt4YwoJz8c=", "Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=",
            "a0eq8p7jwq+a+Im8H7klTavTEXfxYjLdaqsDXKOb9uQ="]


def merkle_cases() -> list[dict]:
    cases = [
        {"id": "log-hash-empty-leaf", "type": "leaf-hash", "entry_hex": "", "expect": ok(hash="6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
         "description": "RFC 6962 empty leaf (transparency-dev/merkle rfc6962/rfc6962_test.go)"},
        {"id": "log-hash-leaf", "type": "leaf-hash", "entry_hex": b"L123456".hex(),
         "expect": ok(hash="395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"),
         "description": "RFC 6962 leaf 'L123456' (transparency-dev/merkle rfc6962/rfc6962_test.go)"},
        {"id": "log-hash-node", "type": "node-hash", "left_hex": b"N123".hex(), "right_hex": b"N456".hex(),
         "expect": ok(hash="aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"),
         "description": "RFC 6962 node of 'N123' and 'N456' (transparency-dev/merkle rfc6962/rfc6962_test.go)"},
    ]
    for size, want in enumerate(TD_ROOTS):
        cases.append({"id": f"log-root-{size}", "type": "root", "entries_hex": TD_LEAVES[:size], "expect": ok(root=want),
                      "description": f"root of the first {size} test leaves (transparency-dev/merkle testonly/constants.go)"})

    def incl(id_, description, index, size, leaf, proof, root_, expect):
        cases.append({"id": id_, "type": "inclusion", "description": description, "index": index, "size": size,
                      "leaf_hash": leaf, "proof": proof, "root": root_, "expect": expect})

    incl("log-inclusion-published", "leaf 0 of 8 (transparency-dev/merkle testdata/inclusion/1/happy-path.json)", 0, 8, TD_LEAF0, TD_PROOF, TD_ROOT8, ok())
    incl("log-inclusion-short", "one proof hash missing", 0, 8, TD_LEAF0, TD_PROOF[:2], TD_ROOT8, bad(E_PROOF))
    incl("log-inclusion-index", "index not below size", 8, 8, TD_LEAF0, TD_PROOF, TD_ROOT8, bad(E_PROOF))
    incl("log-inclusion-sibling", "a proof hash changed", 0, 8, TD_LEAF0, [TD_PROOF[1]] * 3, TD_ROOT8, bad(E_PROOF))
    incl("log-inclusion-64", "64 proof hashes: more than any inclusion proof needs (63 at most)", 2**62, 2**63 - 1, TD_LEAF0, [TD_LEAF0] * 64, TD_ROOT8, bad(E_PROOF))
    incl("log-inclusion-hash-size", "a 31-byte proof hash", 0, 8, TD_LEAF0, TD_PROOF[:2] + [B64(bytes(31))], TD_ROOT8, bad(E_PROOF))

    def cons(id_, description, size1, size2, root1, root2, proof, expect):
        cases.append({"id": id_, "type": "consistency", "description": description, "size1": size1, "size2": size2,
                      "root1": root1, "root2": root2, "proof": proof, "expect": expect})

    cons("log-consistency-published", "1 to 8 (transparency-dev/merkle testdata/consistency/1/happy-path.json)", 1, 8, TD_LEAF0, TD_ROOT8, TD_PROOF, ok())
    cons("log-consistency-same", "equal sizes, equal roots, empty proof", 8, 8, TD_ROOT8, TD_ROOT8, [], ok())
    cons("log-consistency-from-empty", "from the empty tree: meaningless, refused", 0, 8, B64(bytes.fromhex(TD_ROOTS[0])), TD_ROOT8, [], bad(E_PROOF))
    cons("log-consistency-shrink", "size1 above size2", 8, 1, TD_ROOT8, TD_LEAF0, TD_PROOF, bad(E_PROOF))
    cons("log-consistency-fork", "equal sizes, different roots", 8, 8, TD_ROOT8, TD_LEAF0, [], bad(E_PROOF))
    cons("log-consistency-swapped", "old and new roots swapped", 1, 8, TD_ROOT8, TD_LEAF0, TD_PROOF, bad(E_PROOF))
    cons("log-consistency-65", "65 proof hashes: refused before hashing", 3, 2**63 - 1, TD_LEAF0, TD_ROOT8, [TD_LEAF0] * 65, bad(E_PROOF))
    # A tree of 2^63 - 1 equal entries: every node of a level has one hash, so it is read without building it.
    level = [leaf_hash(b"")]
    for _ in range(62):
        level.append(node_hash(level[-1], level[-1]))
    same = lambda lvl, _index: level[lvl]
    big1, big2 = (B64(CompactRange.at(n, same).root()) for n in (3, 2**63 - 1))
    cons("log-consistency-max", "3 to 2^63 - 1: the longest consistency proof, 64 hashes", 3, 2**63 - 1, big1, big2,
         [B64(h) for h in consistency_proof(3, 2**63 - 1, same)], ok())
    return cases


def tile_cases() -> list[dict]:
    cases = []
    for path, expect, description in (
        ("tile/0/x001/x234/067", ok(level=0, index=1234067, width=256), "the tlog-tiles example index 1234067"),
        ("tile/entries/000.p/7", ok(level="entries", index=0, width=7), "a partial entry bundle"),
        ("tile/2/x001/000", ok(level=2, index=1000, width=256), "two groups"),
        ("tile/63/999", ok(level=63, index=999, width=256), "the highest level"),
        ("tile/64/000", bad(E_TILE), "level above 63"),
        ("tile/00/000", bad(E_TILE), "a level with a leading zero"),
        ("tile/0/1", bad(E_TILE), "an index group of one digit"),
        ("tile/0/x000/001", bad(E_TILE), "a leading zero group"),
        ("tile/0/001.p/256", bad(E_TILE), "a partial width of 256"),
        ("tile/0/001.p/0", bad(E_TILE), "a partial width of 0"),
        ("tile/0/001.p/07", bad(E_TILE), "a partial width with a leading zero"),
        ("tile/0/x001", bad(E_TILE), "the last group prefixed with x"),
    ):
        cases.append({"id": f"log-path-{len(cases)}", "type": "tile-path", "path": path, "expect": expect, "description": description})
    cases.append({"id": "log-tiles-70000", "type": "tile-set", "size": 70000, "description": "the tlog-tiles example: a tree of 70,000",
                  "expect": ok(full={"0": 273, "1": 1}, partial=["tile/0/273.p/112", "tile/1/001.p/17", "tile/2/000.p/1"])})
    cases.append({"id": "log-tiles-256", "type": "tile-set", "size": 256, "description": "the tlog-tiles example: a tree of 256",
                  "expect": ok(full={"0": 1}, partial=["tile/1/000.p/1"])})
    for id_, data, width, expect, description in (
        ("log-bundle", b"\x00\x00\x00\x03abc", 2, ok(entries=["", "YWJj"]), "an empty entry and 'abc'"),
        ("log-bundle-short", b"\x00\x03ab", 1, bad(E_TILE), "ends inside an entry"),
        ("log-bundle-prefix", b"\x00\x01a\x00", 2, bad(E_TILE), "ends inside a length prefix"),
        ("log-bundle-trailing", b"\x00\x01a\x00\x01b", 1, bad(E_TILE), "one entry more than its width"),
        ("log-bundle-fewer", b"\x00\x01a", 2, bad(E_TILE), "one entry fewer than its width"),
    ):
        cases.append({"id": id_, "type": "bundle", "bundle_base64": B64(data), "width": width, "expect": expect, "description": description})

    entries = [b"entry %d" % i for i in range(300)]
    tiles = integrate(0, entries, lambda tile: b"").tiles
    good = {tile.path: B64(data) for tile, data in sorted(tiles.items())}
    top = B64(root([leaf_hash(e) for e in entries]))

    def log(id_, description, changes, root_=top, expect=None):
        cases.append({"id": id_, "type": "tiles", "description": description, "size": 300, "root": root_,
                      "tiles": {**good, **changes}, "expect": expect or ok()})

    log("log-tiles-300", "a log of 300 entries: two bundles, two level-0 tiles and a level-1 tile of width 1", {})
    log("log-tiles-entry", "one entry changed in the partial bundle", {"tile/entries/001.p/44": B64(tiles_bundle(entries[256:], 299))}, expect=bad(E_TILE))
    log("log-tiles-level1", "the level-1 tile does not hold the level-0 tile's root", {"tile/1/000.p/1": B64(bytes(32))}, expect=bad(E_TILE))
    log("log-tiles-root", "the tiles agree with each other but not with the checkpoint", {}, root_=TD_ROOT8, expect=bad(E_TILE))
    return cases


def tiles_bundle(entries: list[bytes], changed: int) -> bytes:
    out = b""
    for i, entry in enumerate(entries, start=256):
        entry = b"forged" if i == changed else entry
        out += len(entry).to_bytes(2, "big") + entry
    return out


def note_cases() -> list[dict]:
    cases = []
    c2sp_vkey = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
    c2sp_note = "This is an example message.\n\n— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
    for vkey, expect, description in (
        (c2sp_vkey, ok(name="example.com/foo", key_id="530d903a", kind=1), "C2SP signed-note example verifier key"),
        ("remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2", ok(name="remora.n621.de", key_id="da77ade7", kind=4),
         "an Ed25519 cosigner key (transparency-dev/formats note/note_cosigv1_test.go)"),
        ("sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8", ok(name="sum.golang.org", key_id="033de0ae", kind=1),
         "the Go checksum database key; its base64 contains '+' (transparency-dev/formats log/note_test.go)"),
        ("bananas.sigstore.dev+12344556", bad(E_NOTE), "two parts only (transparency-dev/formats note/note_cosigv1_test.go)"),
        ("rekor.sigstore.dev+12345678+AwEB", bad(E_NOTE), "an unsupported algorithm (transparency-dev/formats note/note_cosigv1_test.go)"),
        ("rekor.sigstore.dev+12345678+THIS_IS_NOT_BASE64!", bad(E_NOTE), "not base64 (transparency-dev/formats note/note_cosigv1_test.go)"),
        ("example.com/foo+00000000+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", bad(E_NOTE), "a key id that is not the key's"),
        ("example.com/foo+530D903A+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", bad(E_NOTE), "upper-case key id"),
    ):
        cases.append({"id": f"log-vkey-{len(cases)}", "type": "vkey", "vkey": vkey, "expect": expect, "description": description})

    def note(id_, description, text, vkeys, expect):
        data = {"note": text} if len(text) < 65536 else {"note_gzip_base64": B64(gzip.compress(text.encode(), mtime=0))}
        cases.append({"id": id_, "type": "note", "description": description, **data, "vkeys": vkeys, "expect": expect})

    text = "notrain says hello\n"
    signed = sign_note(text, [LOG]).decode()
    both = sign_note(text, [OTHER, LOG]).decode()
    note("log-note-c2sp", "the C2SP signed-note example", c2sp_note, [c2sp_vkey], ok(text="This is an example message.\n", verified=["example.com/foo"]))
    note("log-note-c2sp-tampered", "the C2SP example with its text changed", c2sp_note.replace("This", "That"), [c2sp_vkey], bad(E_NOTE_SIG))
    note("log-note-unknown-ignored", "a signature by an unknown key is ignored", both, [LOG.verifier.to_vkey()], ok(text=text, verified=[ORIGIN]))
    note("log-note-unknown-only", "signed only by a key the verifier does not know", signed, [OTHER.verifier.to_vkey()], bad(E_NOTE_UNKNOWN))
    note("log-note-known-fails", "a known key's signature fails: the whole note is rejected", both.replace(text, "notrain says bye\n"),
         [LOG.verifier.to_vkey()], bad(E_NOTE_SIG))
    for id_, description, data in (
        ("no-blank", "no blank line before the signatures", signed.replace("\n\n", "\n")),
        ("no-final-newline", "no newline after the last signature", signed[:-1]),
        ("cr", "a carriage return in the text", signed.replace("hello", "hel\rlo")),
        ("tab", "a tab in the text", signed.replace("says ", "says\t")),
        ("hyphen", "a signature line starting with a hyphen, not an em dash", signed.replace("\u2014", "-")),
        ("two-spaces", "two spaces after the key name", signed.replace(f"{ORIGIN} ", f"{ORIGIN}  ")),
        ("base64", "unpadded base64 signature", signed.rstrip("=\n") + "\n"),
        ("plus-name", "a key name with '+'", signed.replace(ORIGIN, ORIGIN + "+x")),
        ("duplicate", "the same signature line twice", signed + signed[signed.index("\u2014"):]),
        ("too-many", "33 signature lines", signed + "".join(f"\u2014 other{i} {B64(bytes(68))}\n" for i in range(32))),
        ("too-large", "a note over 128 KiB", "x" * 131072 + "\n" + signed[signed.index("\n\n"):]),
        ("empty-signature", "a signature of only a key id", signed[: signed.index("\u2014")] + f"\u2014 {ORIGIN} {B64(LOG.verifier.key_id)}\n"),
    ):
        note(f"log-note-{id_}", description, data, [LOG.verifier.to_vkey()], bad(E_NOTE))
    return cases


def checkpoint_cases() -> list[dict]:
    cases = []
    go_vkey = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"
    go_note = ("go.sum database tree\n6476701\nmb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=\n\n"
               "— sum.golang.org Az3grsLX85Gz+s1SiTbgkuqxgItqFq7gsMUEyVnrsa9LM7Us9S+1xbFIGu95949rj4nPRYfvimWEPWL+o3GeoWwOoAw=\n")

    def cp(id_, description, note, origin, expect, log=None, witnesses=()):
        cases.append({"id": id_, "type": "checkpoint", "description": description, "note": note, "origin": origin,
                      "log_vkey": log or LOG.verifier.to_vkey(), "witness_vkeys": list(witnesses), "expect": expect})

    cp("log-checkpoint-sumdb", "a published Go checksum database checkpoint (transparency-dev/formats log/note_test.go)", go_note,
       "go.sum database tree", ok(origin="go.sum database tree", size=6476701, root="mb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=", extensions=[], cosignatures=[]),
       log=go_vkey)
    cp("log-checkpoint-sumdb-origin", "the same checkpoint expected from another log (transparency-dev/formats 'wrong logID')", go_note,
       "Go rocks but I might have the wrong ID", bad(E_CHECKPOINT), log=go_vkey)
    root7 = bytes.fromhex(TD_ROOTS[7])
    signed = sign_checkpoint(Checkpoint(ORIGIN, 7, root7, ("extension line",)), LOG)
    cosigned = cosign(signed, WITNESS, 1764547200).decode()
    cp("log-checkpoint-cosigned", "an extension line and a witness cosignature", cosigned, ORIGIN,
       ok(origin=ORIGIN, size=7, root=B64(root7), extensions=["extension line"], cosignatures=[{"name": WITNESS.name, "time": 1764547200}]),
       witnesses=[WITNESS.verifier.to_vkey()])
    cp("log-checkpoint-witness-unknown", "the witness is not configured: its cosignature is ignored", cosigned, ORIGIN,
       ok(origin=ORIGIN, size=7, root=B64(root7), extensions=["extension line"], cosignatures=[]))
    cp("log-checkpoint-witness-only", "a checkpoint signed by a witness only, not by the log", cosign(
        sign_note("log.art.example/2026\n7\n" + B64(root7) + "\n", [OTHER]), WITNESS, 1).decode(), ORIGIN, bad(E_NOTE_UNKNOWN),
       witnesses=[WITNESS.verifier.to_vkey()])
    for id_, description, body in (
        ("two-lines", "only two lines (transparency-dev/formats 'insufficient lines')", "Head\n9944\n"),
        ("empty-origin", "an empty origin (transparency-dev/formats 'empty header')", "\n9944\n" + B64(root7) + "\n"),
        ("size-word", "a size that is not a number (transparency-dev/formats)", f"{ORIGIN}\nbananas\n{B64(root7)}\n"),
        ("size-negative", "a negative size (transparency-dev/formats)", f"{ORIGIN}\n-34\n{B64(root7)}\n"),
        ("size-large", "a size of 2^63", f"{ORIGIN}\n9223372036854775808\n{B64(root7)}\n"),
        ("size-zero-led", "a size with a leading zero", f"{ORIGIN}\n07\n{B64(root7)}\n"),
        ("root-bananas", "a 7-byte root (transparency-dev/formats 'bananas'; notrain needs 32 bytes)", f"{ORIGIN}\n123\nYmFuYW5hcw==\n"),
        ("root-base64", "a root that is not base64 (transparency-dev/formats)", f"{ORIGIN}\n123\nThisIsn'tBase64\n"),
        ("empty-extension", "an empty extension line", f"{ORIGIN}\n7\n{B64(root7)}\next\n\nmore\n"),
    ):
        cp(f"log-checkpoint-{id_}", description, sign_note(body, [LOG]).decode(), ORIGIN, bad(E_CHECKPOINT))
    return cases


def entry_cases() -> list[dict]:
    cases = []
    body = b'{"payloadType":"application/vnd.notrain.manifest+json","payload":"e30=","signatures":[]}'
    url = Source("url", url="https://art.example/.well-known/notrain.json")
    good = encode_entry("manifest", url, T0, body)
    digest = hashlib.sha256(body).hexdigest()

    def entry(id_, description, data: bytes, expect):
        case = {"id": id_, "type": "log-entry", "description": description, "expect": expect}
        try:
            case["entry"] = data.decode("utf-8")
        except UnicodeDecodeError:
            case["entry_base64"] = B64(data)
        cases.append(case)

    entry("log-entry-url", "a manifest envelope fetched from its origin", good,
          ok(kind="manifest", source="url https://art.example/.well-known/notrain.json", observed="2026-12-01T00:00:00Z", sha256=digest,
             size=len(body), detached=False))
    entry("log-entry-peer", "a key set copied from entry 41 of a peer's log",
          encode_entry("keyset", Source("peer", origin="log.other.example", index=41), T0, b"{}"),
          ok(kind="keyset", source="peer log.other.example 41", observed="2026-12-01T00:00:00Z", sha256=hashlib.sha256(b"{}").hexdigest(),
             size=2, detached=False))
    part = b'{"notrain-part":1,"publisher":"https://art.example","sequence":7,"works":[{"sha256":"' + b"ab" * 32 + b'"}]}\n'
    entry("log-entry-part", "a part document fetched from the URL its manifest's reference resolves to",
          encode_entry("part", Source("url", url="https://art.example/.well-known/notrain-part-1.json"), T0, part),
          ok(kind="part", source="url https://art.example/.well-known/notrain-part-1.json", observed="2026-12-01T00:00:00Z",
             sha256=hashlib.sha256(part).hexdigest(), size=len(part), detached=False))
    longest = "http://art.example/" + "a" * (2048 - len("http://art.example/"))
    entry("log-entry-url-2048", "an http source URL of exactly 2,048 characters: the limit counts the whole URL, scheme included",
          encode_entry("manifest", Source("url", url=longest), T0, body),
          ok(kind="manifest", source="url " + longest, observed="2026-12-01T00:00:00Z", sha256=digest, size=len(body), detached=False))
    entry("log-entry-url-2049", "an https source URL of 2,049 characters",
          good.replace(url.url.encode(), ("https://art.example/" + "a" * (2049 - len("https://art.example/"))).encode()), bad(E_ENTRY))
    large = b"x" * 70000
    entry("log-entry-detached", "a 70,000-byte submission: detached, bound by digest and size",
          encode_entry("manifest", Source("submission"), T0, large),
          ok(kind="manifest", source="submission", observed="2026-12-01T00:00:00Z", sha256=hashlib.sha256(large).hexdigest(), size=70000, detached=True))
    text = good.decode()
    for id_, description, data in (
        ("kind", "an unknown kind", text.replace("kind manifest", "kind tombstone")),
        ("order", "kind and source swapped", text.replace("kind manifest\nsource " + url.text, "source " + url.text + "\nkind manifest")),
        ("magic", "another version", text.replace("/v1", "/v2")),
        ("digest-case", "an upper-case digest", text.replace(digest, digest.upper())),
        ("digest", "a body that is not the one the digest names", text.replace("e30=", "e31=")),
        ("size", "a size with a leading zero", text.replace(f"size {len(body)}", f"size 0{len(body)}")),
        ("time", "a time that is not YYYY-MM-DDTHH:MM:SSZ", text.replace("2026-12-01T00:00:00Z", "2026-12-01 00:00:00Z")),
        ("scheme", "a source URL that is not http(s)", text.replace("https://", "ftp://")),
        ("source", "a submission with a trailing word", text.replace("url " + url.url, "submission x")),
        ("missing-body", "a small body detached", text[: text.index("\n\n") + 2]),
        ("extra-line", "a seventh header line", text.replace("\n\n", "\nnote hello\n\n")),
        ("crlf", "CRLF line ends", text.replace("\n", "\r\n")),
        ("empty", "an empty body", (f"notrain-log-entry/v1\nkind manifest\nsource submission\nobserved 2026-12-01T00:00:00Z\n"
                                    f"sha256 {hashlib.sha256(b'').hexdigest()}\nsize 0\n\n")),
    ):
        entry(f"log-entry-{id_}", description, data.encode(), bad(E_ENTRY))
    entry("log-entry-latin1", "a non-ASCII header", good.replace(b"art.example", "\u00e4rt.example".encode("latin-1")), bad(E_ENTRY))
    return cases


def receipt_cases() -> list[dict]:
    cases = []
    entry = encode_entry("manifest", Source("submission"), T0, b"{}")
    later = T0.replace(minute=1)

    def receipt(id_, description, data, origin, expect, entry_=entry):
        cases.append({"id": id_, "type": "receipt", "description": description, "receipt": data, "origin": origin,
                      "log_vkey": LOG.verifier.to_vkey(), "entry": entry_.decode(), "expect": expect})

    good = make_receipt(LOG, entry, T0, later).decode()
    receipt("log-receipt", "a receipt promising integration within a minute", good, ORIGIN,
            ok(time="2026-12-01T00:00:00Z", integrate_by="2026-12-01T00:01:00Z"))
    receipt("log-receipt-other-entry", "a valid receipt shown for another entry", good, ORIGIN, bad(E_RECEIPT),
            entry_=encode_entry("manifest", Source("submission"), T0, b"[]"))
    receipt("log-receipt-origin", "signed by the log's key under another name: not the log's note key", make_receipt(
        signer("log.other.example", key_name=ORIGIN), entry, T0, later).decode(), ORIGIN, bad(E_NOTE_UNKNOWN))
    leaf = B64(leaf_hash(entry))
    for id_, description, body in (
        ("backwards", "integrate-by before time", f"notrain-receipt/v1\norigin {ORIGIN}\nleaf {leaf}\ntime 2026-12-01T00:01:00Z\nintegrate-by 2026-12-01T00:00:00Z\n"),
        ("delay", "a merge delay over 24 hours", f"notrain-receipt/v1\norigin {ORIGIN}\nleaf {leaf}\ntime 2026-12-01T00:00:00Z\nintegrate-by 2026-12-02T00:00:01Z\n"),
        ("leaf", "a 31-byte leaf hash", f"notrain-receipt/v1\norigin {ORIGIN}\nleaf {B64(bytes(31))}\ntime 2026-12-01T00:00:00Z\nintegrate-by 2026-12-01T00:00:00Z\n"),
        ("checkpoint", "a checkpoint is not a receipt", f"{ORIGIN}\n1\n{leaf}\n"),
        ("wrong-origin", "a receipt naming another origin, signed by this log", f"notrain-receipt/v1\norigin log.other.example\nleaf {leaf}\ntime 2026-12-01T00:00:00Z\nintegrate-by 2026-12-01T00:00:00Z\n"),
    ):
        receipt(f"log-receipt-{id_}", description, sign_note(body, [LOG]).decode(), ORIGIN, bad(E_RECEIPT))
    return cases


def witness_cases() -> list[dict]:
    """A witness's add-checkpoint decisions (tlog-witness) and clients' k-of-n cosignature policies."""
    cases = []
    leaves = [leaf_hash(bytes.fromhex(e)) for e in TD_LEAVES]
    node = lambda level, index: perfect_root(leaves[index << level : (index + 1) << level])
    roots = [bytes.fromhex(r) for r in TD_ROOTS]
    checkpoint = lambda size, root_=None, by=LOG: sign_checkpoint(Checkpoint(ORIGIN, size, root_ or roots[size]), by)
    proof = lambda old, new: [B64(h) for h in consistency_proof(old, new, node)]
    body = lambda old, hashes, note: (f"old {old}\n" + "".join(h + "\n" for h in hashes) + "\n").encode() + note

    def add(id_, description, data: bytes, latest, expect, logs=(LOG,)):
        case = {"id": id_, "type": "add-checkpoint", "description": description, "log_vkeys": [log.verifier.to_vkey() for log in logs],
                "latest": None if latest is None else {"size": latest, "root": B64(roots[latest])}, "expect": expect}
        try:
            case["body"] = data.decode("utf-8")
        except UnicodeDecodeError:
            case["body_base64"] = B64(data)
        cases.append(case)

    def refused(code, status, known=None):
        return {**bad(code), "status": status, **({} if known is None else {"known_size": known})}

    seven = checkpoint(7)
    add("witness-first", "a log's first checkpoint: old size 0, no proof", body(0, [], seven), None, ok(origin=ORIGIN, old=0, size=7))
    add("witness-grow", "from size 4 to 7 with the consistency proof", body(4, proof(4, 7), seven), 4, ok(origin=ORIGIN, old=4, size=7))
    add("witness-grow-power", "from size 3 to 8 (the tlog-witness example's shape: several proof lines)", body(3, proof(3, 8), checkpoint(8)), 3,
        ok(origin=ORIGIN, old=3, size=8))
    add("witness-again", "the checkpoint cosigned last, again: cosigned afresh", body(7, [], seven), 7, ok(origin=ORIGIN, old=7, size=7))
    add("witness-stale-old", "an old size other than the one cosigned last: 409 with the witness's size", body(3, proof(3, 7), seven), 4,
        refused("E_WITNESS_REQUEST", 409, 4))
    add("witness-old-zero", "old size 0 to a witness that cosigned size 4", body(0, [], seven), 4, refused("E_WITNESS_REQUEST", 409, 4))
    add("witness-rollback", "a checkpoint smaller than the one cosigned, claiming its own size as old: 409", body(4, [], checkpoint(4)), 7,
        refused("E_WITNESS_REQUEST", 409, 7))
    add("witness-rollback-old", "a checkpoint smaller than the one cosigned, with the cosigned size as old: 400", body(7, [], checkpoint(4)), 7,
        refused("E_WITNESS_REQUEST", 400))
    tampered = proof(4, 7)
    tampered[0] = B64(bytes(32))
    add("witness-bad-proof", "a consistency proof that does not lead to the new root: 422", body(4, tampered, seven), 4, refused("E_PROOF", 422))
    add("witness-short-proof", "a proof with a hash missing: 422", body(4, proof(4, 7)[:-1], seven), 4, refused("E_PROOF", 422))
    add("witness-proof-from-zero", "a proof from old size 0: 422", body(0, proof(4, 7), seven), None, refused("E_PROOF", 422))
    add("witness-fork", "the cosigned size with another root: 409", body(7, [], checkpoint(7, roots[6])), 7, refused("E_PROOF", 409, 7))
    add("witness-empty-root", "an empty tree with a root other than SHA-256 of nothing: 422", body(0, [], checkpoint(0, roots[1])), None,
        refused("E_PROOF", 422))
    add("witness-unknown-log", "a checkpoint of a log this witness does not witness: 404", body(0, [], seven), None,
        refused("E_CHECKPOINT", 404), logs=(OTHER,))
    add("witness-other-key", "signed under the log's name by another key: 403", body(0, [], checkpoint(7, by=signer(ORIGIN, key_name="impostor"))),
        None, refused("E_NOTE_UNKNOWN_KEY", 403))
    sig_at = seven.index(b"\xe2\x80\x94 ") + len(("\u2014 " + ORIGIN + " ").encode())
    forged = seven[:sig_at + 8] + (b"A" if seven[sig_at + 8:sig_at + 9] != b"A" else b"B") + seven[sig_at + 9:]
    add("witness-bad-signature", "the log's key id with a signature that does not verify: 403", body(0, [], forged), None,
        refused("E_NOTE_SIGNATURE", 403))
    for id_, description, data in (
        ("old-zero-led", "an old size with a leading zero", body(7, [], seven).replace(b"old 7", b"old 07")),
        ("old-missing", "no old size line", seven),
        ("old-word", "'old' misspelt", body(0, [], seven).replace(b"old", b"Old")),
        ("proof-short-hash", "a proof line of 31 octets", body(4, [B64(bytes(31))], seven)),
        ("proof-base64", "a proof line that is not canonical base64", body(4, [B64(bytes(32)).rstrip("=")], seven)),
        ("proof-65", "65 proof lines: more than the longest consistency proof", body(4, [B64(bytes(32))] * 65, seven)),
        ("crlf", "CRLF line ends before the checkpoint", body(0, [], seven).replace(b"old 0\n", b"old 0\r\n")),
        ("too-large", "a body over the limit", body(0, [], b"x" * 140000 + seven)),
    ):
        add(f"witness-request-{id_}", description, data, None, refused("E_WITNESS_REQUEST", 400))
    add("witness-note", "a checkpoint that is not a signed note: 400", body(0, [], seven.replace("\u2014".encode(), b"-")), None, refused("E_NOTE", 400))
    add("witness-old-above", "an old size above the checkpoint's: 400", body(8, [], seven), 8, refused("E_WITNESS_REQUEST", 400))

    w1, w2, w3 = signer("witness.example/w1", COSIGNATURE_V1), signer("witness.example/w2", COSIGNATURE_V1), signer("witness.example/w3", COSIGNATURE_V1)
    both = cosign(cosign(seven, w1, 1764547200), w2, 1764547260)

    def policy(id_, description, note, witnesses, minimum, expect):
        cases.append({"id": id_, "type": "cosignature-policy", "description": description, "note": note.decode(), "origin": ORIGIN,
                      "log_vkey": LOG.verifier.to_vkey(), "witness_vkeys": [w.verifier.to_vkey() if isinstance(w, NoteSigner) else w for w in witnesses],
                      "min_cosignatures": minimum, "expect": expect})

    times = lambda *pairs: ok(cosigners=[{"name": n.name, "time": t} for n, t in pairs])
    policy("witness-policy-2-of-2", "cosigned by both witnesses required", both, [w1, w2], 2, times((w1, 1764547200), (w2, 1764547260)))
    policy("witness-policy-1-of-2", "one of two required, one cosigned", cosign(seven, w1, 1764547200), [w1, w2], 1, times((w1, 1764547200)))
    policy("witness-policy-2-of-2-short", "two required, one cosigned", cosign(seven, w1, 1764547200), [w1, w2], 2, bad(E_NOTE_UNKNOWN))
    policy("witness-policy-0", "no cosignature required: the log's signature suffices", seven, [w1], 0, times())
    policy("witness-policy-untrusted", "a cosignature by a witness not in the policy does not count", cosign(seven, w3, 1), [w1], 1, bad(E_NOTE_UNKNOWN))
    policy("witness-policy-twice", "one witness listed twice counts once: 2 of 1 is no policy", both, [w1, w1], 2, bad(E_NOTE))
    policy("witness-policy-log-key", "a note key (type 0x01) given as a witness", both, [LOG.verifier.to_vkey()], 1, bad(E_NOTE))
    text = seven[: seven.index(b"\n\n") + 1]
    late = (2**63).to_bytes(8, "big") + PrivateKey.from_seed(hashlib.sha256(b"notrain log vector key witness.example/w1").digest()).sign(
        cosigned_message(text, 2**63))
    policy("witness-policy-time", "a cosignature whose timestamp is 2^63: out of range", seven + f"\u2014 {w1.name} {B64(w1.verifier.key_id + late)}\n".encode(),
           [w1], 1, bad(E_NOTE_SIG))
    policy("witness-policy-max-time", "a cosignature at the largest timestamp, 2^63 - 1", cosign(seven, w1, 2**63 - 1), [w1], 1, times((w1, 2**63 - 1)))
    forged = cosign(seven, w2, 5)
    forged = forged[:-6] + (b"A" if forged[-6:-5] != b"A" else b"B") + forged[-5:]
    policy("witness-policy-bad-cosignature", "a trusted witness's cosignature that does not verify rejects the note", forged, [w1, w2], 0,
           bad(E_NOTE_SIG))
    return cases


def cases() -> list[dict]:
    return merkle_cases() + tile_cases() + note_cases() + checkpoint_cases() + entry_cases() + receipt_cases() + witness_cases()


def main(argv: list[str]) -> int:
    text = json.dumps({"vectors": cases()}, ensure_ascii=False, indent=1) + "\n"
    path = HERE / "log.json"
    if "--check" in argv:
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            print("spec/vectors/log.json is stale: run python spec/vectors/generate_log.py")
            return 1
        return 0
    path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
