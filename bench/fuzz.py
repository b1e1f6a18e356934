"""Mutation fuzzing of every notrain parser and matcher over the real corpora.

Seeds are every string in spec/vectors/*.json and every file under
tests/outside/ (third-party robots.txt files, spec examples, ai.robots.txt...).
Each input is a seed changed by a few random mutations (bit flips, deleted,
repeated or inserted slices, splices of two seeds, bytes that parsers treat
specially); each parser then reads it.  A failure is any exception that is not
a NotrainError whose code is in spec/errors.md's closed list, or a result of the
wrong shape.  Failures are printed with the input (repr, first 300 bytes) and
make the exit status 1.

    python bench/fuzz.py              # 1,000,000 inputs in total (several minutes)
    python bench/fuzz.py --quick      # 10,000 inputs (a few seconds), for CI (tests/test_bounds.py)
    python bench/fuzz.py --count N --seed S
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from notrain.core import dsse, ijson
from notrain.core.decision import Statement
from notrain.core.errors import NotrainError
from notrain.core.keyset import parse_keyset
from notrain.core.manifest import careful_parse, parse_payload
from notrain.core.names import NameIndex
from notrain.core.paths import PathMatcher, PathRule, check_pattern, url_path
from notrain.core.vocab import State
from notrain.signals.aipref import parse_content_signal, parse_content_usage
from notrain.signals.aitxt import AiTxt
from notrain.signals.headers import header_statements, parse_link_header
from notrain.signals.html import HtmlSignals, html_signals
from notrain.signals.robots import RobotsTxt
from notrain.signals.tdmrep import parse_tdmrep
from notrain.signals.xmp import xmp_statements

ROOT = Path(__file__).resolve().parent.parent
CODES = frozenset(re.findall(r"^\| `(E_[A-Z0-9_]+)`", (ROOT / "spec" / "errors.md").read_text(), re.M))
ORIGIN = "https://e.example"
SPECIAL = [b"*", b"$", b"%", b"%2A", b"\\u0000", b"\\ud800", b"\x00", b"\xff", b"\xed\xa0\x80", b"<meta ", b'"', b"'", b"<!--",
           b"-->", b"{", b"[", b"}", b"]", b":", b",", b"\n", b"\r", b" ", b"User-agent: *\n", b"Content-Usage: ", b"train-ai=n",
           b"9007199254740993", b"1e400", b"-0", b"\xef\xbb\xbf", b"&#", b";", b"=", b"/", b"?"]


def seeds() -> list[bytes]:
    found: set[bytes] = set()

    def walk(value: object) -> None:
        if isinstance(value, str):
            found.add(value.encode("utf-8", "surrogatepass"))
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for path in sorted((ROOT / "spec" / "vectors").glob("*.json")):
        found.add(path.read_bytes())
        walk(json.loads(path.read_bytes()))
    for path in sorted((ROOT / "tests" / "outside").rglob("*")):
        if path.is_file() and path.stat().st_size <= 1 << 20:
            found.add(path.read_bytes())
    return sorted(found)


def mutate(rng: random.Random, data: bytes, corpus: list[bytes]) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        what = rng.randrange(7)
        at = rng.randint(0, len(out))
        if what == 0 and out:  # flip a bit
            i = rng.randrange(len(out))
            out[i] ^= 1 << rng.randrange(8)
        elif what == 1:  # delete a slice
            del out[at : at + rng.randint(1, 32)]
        elif what == 2:  # insert a special token
            out[at:at] = rng.choice(SPECIAL)
        elif what == 3 and out:  # repeat a slice (sizes and nesting grow)
            end = min(len(out), at + rng.randint(1, 16))
            out[at:at] = out[at:end] * rng.randint(2, 64)
        elif what == 4:  # splice in part of another seed
            other = rng.choice(corpus)
            start = rng.randint(0, len(other))
            out[at:at] = other[start : start + rng.randint(1, 256)]
        elif what == 5:  # random bytes
            out[at:at] = rng.randbytes(rng.randint(1, 8))
        else:  # truncate
            del out[at:]
    return bytes(out[: 1 << 20])


def text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def statements(result: object) -> None:
    assert isinstance(result, list) and all(isinstance(s, Statement) for s in result), result


def _robots(data: bytes) -> None:
    robots = RobotsTxt.parse(data, ORIGIN + "/robots.txt")
    for path in ("/", "/a/b.png?x=1", "/" + text(data[:64])):
        assert isinstance(robots.can_fetch(ORIGIN + path, "mybot"), bool)
        statements(robots.statements(ORIGIN + path, "GPTBot"))


def _aitxt(data: bytes) -> None:
    statements(AiTxt.parse(data, ORIGIN + "/ai.txt").statements(ORIGIN + "/a.jpg", "mybot"))


def _tdmrep(data: bytes) -> None:
    parse_tdmrep(data, ORIGIN + "/.well-known/tdmrep.json").match(ORIGIN + "/a/b")


def _html(data: bytes) -> None:
    assert isinstance(html_signals(data, ORIGIN + "/page", agents="mybot"), HtmlSignals)


def _sfv(data: bytes) -> None:
    for parse in (parse_content_usage, parse_content_signal):
        prefs, warnings = parse(data[:9000])
        assert all(isinstance(v, State) for v in prefs.values()) and all(isinstance(w, str) for w in warnings)


def _headers(data: bytes) -> None:
    value = data[:9000].decode("latin-1")
    statements(header_statements([("X-Robots-Tag", value), ("Link", value), ("Content-Usage", value)], ORIGIN + "/x", agents="mybot"))
    assert isinstance(parse_link_header(value), list)


def _paths(data: bytes) -> None:
    lines = text(data).split("\n")[:64]
    rules = []
    for i, line in enumerate(lines):
        try:
            rules.append(PathRule(check_pattern(line, f"/paths/{i}"), (("train-ai", State.DISALLOWED),), str(i)))
        except NotrainError:
            pass
    matcher = PathMatcher(rules)
    for line in lines[:8]:
        match = matcher.match(url_path(ORIGIN + "/" + line.lstrip("/")))
        assert match.searches <= matcher.piece_count


def _names(data: bytes) -> None:
    index: NameIndex[str] = NameIndex()
    parts = text(data).split("\n")
    for i, name in enumerate(parts[:32]):
        index.add("o", i, name[:256])
    hits = index.match(" ".join(parts))
    assert len({(h.owner, h.index) for h in hits}) == len(hits)


def _json(data: bytes) -> None:
    ijson.loads(data, max_size=1 << 20, max_depth=16)


def _manifest(data: bytes) -> None:
    """parse_payload, and the careful parse alone must agree with it (core/payloadtypes.py's first
    pass may change the speed, never the answer)."""
    try:
        manifest = parse_payload(data)
    except NotrainError as error:
        try:
            careful_parse(data)
        except NotrainError as careful:
            assert (careful.code, careful.where) == (error.code, error.where), f"first pass {error.code}, careful {careful.code}"
            raise
        raise AssertionError(f"first pass refused with {error.code}, the careful parse accepted") from None
    assert careful_parse(data) == manifest, "first pass and careful parse built different manifests"


def _envelope(data: bytes) -> None:
    dsse.parse(data)


def _keyset(data: bytes) -> None:
    parse_keyset(data, ORIGIN)


def _xmp(data: bytes) -> None:
    statements(xmp_statements(b"\x89PNG\r\n\x1a\n" + data if data[:1] != b"\x89" else data, ORIGIN + "/a.png"))


TARGETS: dict[str, Callable[[bytes], None]] = {
    "ijson": _json, "manifest": _manifest, "envelope": _envelope, "keyset": _keyset, "robots": _robots, "ai.txt": _aitxt,
    "tdmrep": _tdmrep, "html": _html, "aipref/content-signal": _sfv, "headers": _headers, "paths": _paths, "names": _names,
    "xmp": _xmp,
}


def run(count: int, seed: int) -> int:
    rng = random.Random(seed)
    corpus = seeds()
    failures: list[str] = []
    refused: Counter[str] = Counter()
    names = list(TARGETS)
    start = time.perf_counter()
    for n in range(count):
        name = names[n % len(names)]
        data = mutate(rng, rng.choice(corpus), corpus)
        try:
            TARGETS[name](data)
        except NotrainError as error:
            if error.code not in CODES:
                failures.append(f"{name}: code {error.code!r} is not in spec/errors.md: {data[:300]!r}")
            refused[name] += 1
        except Exception as error:  # noqa: BLE001 -- every other exception is a finding
            failures.append(f"{name}: {type(error).__name__}: {error!s:.200} on {data[:300]!r}")
        if len(failures) >= 20:
            break
    elapsed = time.perf_counter() - start
    print(f"{n + 1:,} inputs over {len(names)} parsers from {len(corpus):,} seeds in {elapsed:.1f} s "
          f"({(n + 1) / elapsed:,.0f}/s); refused with a code: {sum(refused.values()):,}; failures: {len(failures)}")
    for failure in failures:
        print("FAIL", failure)
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 inputs (a few seconds), for CI")
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    return run(10_000 if args.quick else args.count, args.seed)


if __name__ == "__main__":
    sys.exit(main())
