"""Worst-case inputs of every matcher against a typical input of the same size, in the same run.

Each row times the worst input the limits admit and, interleaved with it, an
ordinary input of the same size through the same function (bench/_harness.py);
the ratio says how much an adversary can slow a lookup.  No goal is asserted:
the bounds are tested by counting work in tests/test_bounds.py.

    .venv/bin/python bench/worst_bench.py     # ~1 min
"""

from __future__ import annotations

import _harness as h

from notrain.core.names import NameIndex
from notrain.core.paths import MAX_WILDCARD_REACH, PathMatcher, PathRule
from notrain.core.vocab import State
from notrain.signals.html import html_signals
from notrain.signals.robots import RobotsTxt

N = State.DISALLOWED


def times(fn, arg, n):
    def batch() -> int:
        for _ in range(n):
            fn(arg)
        return n

    return batch


def paths():
    worst = PathMatcher([PathRule("/*XY" + "*a" * 1000 + "*" * i, (("train-ai", N),), str(i)) for i in range(100)])
    typical = PathMatcher([PathRule(f"/u/{i}/*.png$", (("train-ai", N),), str(i)) for i in range(100)])
    long_pieces = PathMatcher([PathRule("/*" + "a" * k + "b" + "a" * (999 - k), (("train-ai", N),), str(k)) for k in range(999)])
    few = PathMatcher([PathRule("/*" + "x" * 1000, (("train-ai", N),), "0")])
    # The worst the reach cap admits: 64 near-miss pieces on one path's way, the costliest
    # search there is (1,000 octets, padded), and an 8 KiB path.
    capped = PathMatcher([PathRule("/*" + "a" * k + "b" + "a" * (999 - k), (("train-ai", N),), str(k)) for k in range(MAX_WILDCARD_REACH)])
    assert capped.reach == MAX_WILDCARD_REACH
    return [
        ("paths: '/*XY' + 1,000 '*a' x 100 rules, 603-char path", times(worst.match, "/XY" + "a" * 600, 200),
         times(typical.match, "/u/7/" + "a" * 598, 200)),
        ("paths: 999 rules of 1,000-octet near-miss pieces, 2,001-char path", times(long_pieces.match, "/" + "a" * 2000, 3),
         times(few.match, "/" + "a" * 2000, 3)),
        ("paths: the cap's worst, 64 near-miss 1,000-octet pieces, 8,192-char path", times(capped.match, "/" + "a" * 8191, 20),
         times(few.match, "/" + "a" * 8191, 20)),
    ]


def robots():
    line = "Content-Usage: /*XY" + "*a" * 1000 + " train-ai=n\n"
    worst = RobotsTxt.parse(("User-agent: *\n" + line * 100).encode(), "https://e.example/robots.txt")
    typical = RobotsTxt.parse(("User-agent: *\n" + "".join(f"Content-Usage: /u/{i}/ train-ai=n\n" for i in range(100))).encode(),
                              "https://e.example/robots.txt")
    url = "https://e.example/XY" + "a" * 600
    return [("robots.txt: 100 wildcard-chain Content-Usage lines (203 KB), capped fail-safe, vs 100 plain ones",
             times(lambda u: worst.statements(u, "mybot"), url, 100), times(lambda u: typical.statements(u, "mybot"), url, 100))]


def names():
    worst, typical = NameIndex(), NameIndex()
    for i in range(1000):
        worst.add("o", i, " ".join(["a"] * 127 + [f"z{i}"]))
        typical.add("o", i, f"artist {i} studio")
    caption = " ".join(["a"] * 8000)
    plain = " ".join(f"word{i % 500}" for i in range(8000))
    nested = NameIndex()
    for k in range(1, 129):
        nested.add("o", k, " ".join(["a"] * k))
    return [
        ("names: 1,000 names sharing 127 first words, 8,000-word caption", times(worst.match, caption, 5), times(typical.match, plain, 5)),
        ("names: 128 nested names ('a', 'a a', ...), 8,000 'a's (the hit bound)", times(nested.match, caption, 2), times(typical.match, plain, 2)),
    ]


def html():
    worst = "<meta " * 10922 + '"'  # 64 KB
    typical = ("<p>" + "lorem ipsum " * 5 + "</p>") * 1000
    typical = typical[: len(worst)]
    return [("html: 64 KB of '<meta ' + '\"' vs 64 KB of paragraphs", times(lambda b: html_signals(b, "https://e.example/"), worst, 20),
             times(lambda b: html_signals(b, "https://e.example/"), typical, 20))]


def main() -> None:
    print(f"notrain worst-case benchmark -- {h.machine()}")
    rows = []
    for name, worst, typical in [*paths(), *robots(), *names(), *html()]:
        res = h.interleave({"worst": worst, "typical": typical}, rounds=5)
        rows.append([name, f"{h.median(res['worst']) / 1e6:.3f}", f"{h.median(res['typical']) / 1e6:.3f}",
                     f"{h.paired_ratio(res['worst'], res['typical']):.1f}x", h.spread(res["worst"])])
    print(h.table(["case (worst vs typical, same size)", "worst ms", "typical ms", "ratio", "noise"], rows))


if __name__ == "__main__":
    main()
