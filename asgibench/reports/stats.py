"""Statistics for comparisons: a percentile-bootstrap interval for a ratio of medians
(or of bests).

``bench compare`` asks, per entry, how the candidate's requests/s relate to the
baseline's: the point estimate is median(candidate) / median(baseline) over the repeats
(the median is the figure the ranking uses; ``best`` takes the highest repeat instead);
the interval comes from resampling each side's repeats with replacement (independently)
``resamples`` times and taking the percentiles of the resampled ratios.

With reference measurements per side (``--normalise``), each side's figure is
stat(repeats) / stat(reference measurements), and the references are resampled too.

The bootstrap is seeded from a caller-supplied string, so the same files give the same
interval every time. It is pure Python: no numpy needed for ``bench compare`` in CI.

With one repeat on a side there is no spread to resample on that side (bench compare
calls such an entry inconclusive rather than trust the interval); with 2-3 repeats the
percentile bootstrap is close to the min..max range of the ratio, i.e. deliberately
conservative.
"""

from __future__ import annotations

import math
import random
import statistics
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

DEFAULT_RESAMPLES = 2000
DEFAULT_CONFIDENCE = 0.95


@dataclass(frozen=True)
class RatioEstimate:
    """candidate / baseline: the point estimate and its confidence interval."""

    ratio: float
    low: float
    high: float
    confidence: float
    n_baseline: int
    n_candidate: int
    resamples: int


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (``q`` in 0..1) of already sorted values."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    if len(sorted_values) == 1:
        return float(sorted_values[0])
    pos = q * (len(sorted_values) - 1)
    lower = math.floor(pos)
    upper = min(lower + 1, len(sorted_values) - 1)
    frac = pos - lower
    return float(sorted_values[lower] * (1 - frac) + sorted_values[upper] * frac)


#: How a side's repeats become one figure: ``median`` (the ranking's figure, robust to an
#: outlier either way) or ``best`` (the highest: on a shared machine interference only
#: ever slows a run down, so the best repeat is the least disturbed one).
STATISTICS: dict[str, Callable[[Sequence[float]], float]] = {
    "median": statistics.median,
    "best": max,
}


def _resample(rng: random.Random, values: Sequence[float],
              stat: Callable[[Sequence[float]], float]) -> float:
    if len(values) == 1:
        return values[0]
    return stat(rng.choices(values, k=len(values)))


def _figure(values: Sequence[float], reference: Sequence[float] | None,
            stat: Callable[[Sequence[float]], float]) -> float:
    top = stat(values)
    if reference is None:
        return top
    return top / stat(reference)


def ratio_ci(
    baseline: Sequence[float],
    candidate: Sequence[float],
    *,
    baseline_ref: Sequence[float] | None = None,
    candidate_ref: Sequence[float] | None = None,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: str = "",
    statistic: str = "median",
) -> RatioEstimate:
    """Bootstrap interval for figure(candidate) / figure(baseline).

    A side's figure is the ``statistic`` (median or best) of its values, divided by the
    same statistic of its reference values when those are given (``--normalise``). Raises
    ValueError on empty input, an unknown statistic or a non-positive figure.
    """
    if statistic not in STATISTICS:
        raise ValueError(f"statistic must be one of {', '.join(STATISTICS)}")
    stat = STATISTICS[statistic]
    if not baseline or not candidate:
        raise ValueError("both sides need at least one value")
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")
    for ref in (baseline_ref, candidate_ref):
        if ref is not None and (not ref or min(ref) <= 0):
            raise ValueError("reference values must be positive")
    base = _figure(baseline, baseline_ref, stat)
    if base <= 0:
        raise ValueError("the baseline figure is zero")
    point = _figure(candidate, candidate_ref, stat) / base
    rng = random.Random(zlib.crc32(seed.encode("utf-8")))
    ratios: list[float] = []
    for _ in range(max(resamples, 1)):
        b = _resample(rng, baseline, stat)
        c = _resample(rng, candidate, stat)
        if baseline_ref is not None:
            b /= _resample(rng, baseline_ref, stat)
        if candidate_ref is not None:
            c /= _resample(rng, candidate_ref, stat)
        if b > 0:
            ratios.append(c / b)
    ratios.sort()
    alpha = (1 - confidence) / 2
    low = percentile(ratios, alpha) if ratios else point
    high = percentile(ratios, 1 - alpha) if ratios else point
    # The point estimate always lies inside its own interval (rounding aside).
    low, high = min(low, point), max(high, point)
    return RatioEstimate(point, low, high, confidence, len(baseline), len(candidate),
                         resamples)


def spread_pct(values: Sequence[float]) -> float:
    """Half the min..max range as a percentage of the median (the ranking's "±")."""
    if not values:
        return 0.0
    mid = statistics.median(values)
    if mid <= 0:
        return 0.0
    return (max(values) - min(values)) / 2 / mid * 100
