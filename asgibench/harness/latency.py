"""Latency histograms: HdrHistogram (the ``hdrhistogram`` package), kept losslessly.

Driver workers count exact microseconds in a dict while they run (a dict update costs a
fraction of ``record_value``'s few microseconds, which would come out of the driver's own
ceiling) and turn it into an HDR histogram once, at the end. The parent merges the
workers' histograms exactly (``add``: counts per bucket, no percentile averaging) and
stores the merged one, encoded (HdrHistogram's compressed base64, the same text every HDR
implementation reads), in the results file, so a report can compute any percentile later
from the very distribution that was measured.

Values are microseconds from 1 us to 10 minutes, with 3 significant digits (<= 0.1% error).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 600_000_000  # 10 minutes: beyond any timeout a run uses
SIGNIFICANT_DIGITS = 3
#: The percentiles a measurement states, as latency_ms keys.
PERCENTILES: tuple[tuple[str, float], ...] = (
    ("p50", 50.0), ("p75", 75.0), ("p90", 90.0), ("p99", 99.0), ("p99.9", 99.9),
)


def new() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


def from_counts(counts: Mapping[int | str, int]) -> HdrHistogram:
    """An HDR histogram of ``{microseconds: count}`` (values clamped into its range)."""
    hist = new()
    for key, count in counts.items():
        value = min(max(int(key), LOWEST_US), HIGHEST_US)
        hist.record_value(value, int(count))
    return hist


def encode(hist: HdrHistogram) -> str:
    return hist.encode().decode("ascii")


def decode(text: str) -> HdrHistogram:
    """The histogram of an encoded string; ValueError when it is not one."""
    try:
        return HdrHistogram.decode(text.encode("ascii"))
    except Exception as exc:  # hdrh raises bare exceptions of several kinds
        raise ValueError(f"not an encoded HDR histogram: {exc}") from None


def merge(histograms: Iterable[HdrHistogram]) -> HdrHistogram:
    """The exact sum of ``histograms`` (every bucket's counts added)."""
    out = new()
    for hist in histograms:
        out.add(hist)
    return out


def stats_ms(hist: HdrHistogram) -> dict[str, float]:
    """p50 p75 p90 p99 p99.9 max mean stdev in milliseconds (zeros when empty)."""
    if hist.get_total_count() == 0:
        return {key: 0.0 for key in (*dict(PERCENTILES), "max", "mean", "stdev")}
    values = hist.get_percentile_to_value_dict([p for _, p in PERCENTILES])
    out = {key: values[p] / 1000 for key, p in PERCENTILES}
    out["max"] = hist.get_max_value() / 1000
    out["mean"] = hist.get_mean_value() / 1000
    stdev = hist.get_stddev()
    out["stdev"] = (stdev if math.isfinite(stdev) else 0.0) / 1000
    return out


def percentile_ms(text: str, percentile: float) -> float:
    """One percentile (0..100) of an encoded histogram, in milliseconds."""
    return decode(text).get_value_at_percentile(percentile) / 1000
