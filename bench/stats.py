"""Percentiles and summaries of measured latencies."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

MB = 1024 * 1024


def percentile(values: Sequence[float], q: float) -> float:
    """The `q`-th percentile (0–100) of `values` by linear interpolation between the
    closest ranks (NumPy's default method). Raises ValueError when `values` is empty or
    `q` is outside 0–100."""
    if not values:
        raise ValueError("no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is outside 0–100")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = math.ceil(position)
    if low == high:
        return float(ordered[low])
    weight = position - low
    return float(ordered[low] * (1 - weight) + ordered[high] * weight)


@dataclass(frozen=True)
class Summary:
    """What one load run measured. Latencies in milliseconds; None when nothing
    succeeded."""

    requests: int
    errors: int
    concurrency: int
    elapsed_s: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    requests_per_s: float | None
    mb_per_s: float | None


def summarize(
    latencies_s: Sequence[float],
    *,
    errors: int,
    concurrency: int,
    elapsed_s: float,
    bytes_moved: int = 0,
) -> Summary:
    """Summarize successful request latencies (seconds) of a run that took `elapsed_s`
    wall-clock seconds. `requests` counts successes and errors; rates count successes."""

    def ms(q: float) -> float | None:
        return round(percentile(latencies_s, q) * 1000, 2) if latencies_s else None

    rate = round(len(latencies_s) / elapsed_s, 2) if elapsed_s > 0 else None
    mb_rate = round(bytes_moved / MB / elapsed_s, 2) if elapsed_s > 0 and bytes_moved else None
    return Summary(
        requests=len(latencies_s) + errors,
        errors=errors,
        concurrency=concurrency,
        elapsed_s=round(elapsed_s, 3),
        p50_ms=ms(50),
        p95_ms=ms(95),
        p99_ms=ms(99),
        requests_per_s=rate,
        mb_per_s=mb_rate,
    )
