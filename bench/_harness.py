"""Shared timing helpers for the notrain benchmarks (not part of the package).

Every figure the benchmarks print is a ratio against a baseline measured in
the same process, interleaved with the subject: round after round, each case
runs one batch (the order alternates between rounds, so neither side always
runs first on a warm or a cold cache), and the figures are medians over the
rounds.  Ratios are the median of the per-round ratios, so a noisy stretch of
the (shared, 2-core) machine slows both sides of the pair it hits.
"""

from __future__ import annotations

import gc
import platform
import statistics
import time
from collections.abc import Callable

Batch = Callable[[], int]  # runs one batch, returns how many operations it did


def interleave(cases: dict[str, Batch], *, rounds: int, warmup: int = 1, clock=time.perf_counter_ns) -> dict[str, list[float]]:
    """Run the batches round-robin; return per-round nanoseconds per operation, per case.

    ``clock``: ``time.thread_time_ns`` counts only this thread's CPU time, which other jobs on a
    loaded machine stretch far less than wall time (they still share caches and cores)."""
    names = list(cases)
    results: dict[str, list[float]] = {name: [] for name in names}
    for r in range(warmup + rounds):
        order = names if r % 2 == 0 else names[::-1]
        for name in order:
            gc.collect()
            start = clock()
            count = cases[name]()
            elapsed = clock() - start
            if r >= warmup:
                results[name].append(elapsed / count)
    return results


def median(values: list[float]) -> float:
    return statistics.median(values)


def paired_ratio(numerator: list[float], denominator: list[float]) -> float:
    """Median of the per-round ratios numerator[i] / denominator[i]."""
    return statistics.median(n / d for n, d in zip(numerator, denominator))


def spread(values: list[float]) -> str:
    """Relative half-range of the middle half of the rounds (a rough noise figure)."""
    if len(values) < 4:
        return ""
    q = statistics.quantiles(values, n=4)
    return f"±{(q[2] - q[0]) / 2 / statistics.median(values) * 100:.0f}%"


def machine() -> str:
    import os

    return f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs"


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    fmt = lambda row: "  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(row, widths)))
    lines = [fmt(headers), "  ".join("-" * w for w in widths)]
    lines += [fmt(row) for row in rows]
    return "\n".join(lines)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"
