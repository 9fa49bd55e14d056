"""The summary statistics every layer reports with (checks, report, benchmarks), so a p99 or
a spread means the same thing wherever it is printed. Imports nothing from netconform."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of a non-empty sample."""
    ordered = sorted(values)
    return ordered[min(len(ordered), max(1, math.ceil(fraction * len(ordered)))) - 1]


def spread_pct(values: Sequence[float]) -> float:
    """(max - min) / median, percent: how far the samples disagree."""
    middle = statistics.median(values)
    return round((max(values) - min(values)) / middle * 100, 1) if middle else 0.0
