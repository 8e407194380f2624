"""Latency figures the benchmarks report."""

from __future__ import annotations

from collections.abc import Iterable


def percentile(values: Iterable[float], fraction: float) -> float:
    """Nearest-rank percentile: the value ``fraction`` of the way up the sorted ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def ms(seconds: float) -> float:
    """Seconds as milliseconds, to two decimals (the unit of every latency row)."""
    return round(seconds * 1000, 2)
