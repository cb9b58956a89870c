"""The bootstrap interval for a ratio of medians."""

from __future__ import annotations

import pytest

from asgibench.reports import stats


def test_identical_samples_give_ratio_one_with_an_interval_around_it() -> None:
    values = [100.0, 104.0, 97.0, 101.0, 99.0]
    est = stats.ratio_ci(values, list(values), seed="x")
    assert est.ratio == pytest.approx(1.0)
    assert est.low < 1.0 < est.high
    assert est.n_baseline > 1 and est.n_candidate > 1


def test_interval_contains_the_point_and_is_ordered() -> None:
    est = stats.ratio_ci([100, 110, 90], [50, 55, 45], seed="k")
    assert est.ratio == pytest.approx(0.5)
    assert est.low <= est.ratio <= est.high
    assert est.high < 0.75  # the halving is clear even with 3 repeats


def test_same_seed_same_interval_different_seed_may_differ() -> None:
    a = stats.ratio_ci([1, 2, 3, 4], [2, 3, 4, 5], seed="s")
    b = stats.ratio_ci([1, 2, 3, 4], [2, 3, 4, 5], seed="s")
    assert (a.low, a.high) == (b.low, b.high)


def test_one_repeat_each_has_no_interval() -> None:
    est = stats.ratio_ci([100.0], [80.0])
    assert est.ratio == est.low == est.high == pytest.approx(0.8)
    assert est.n_baseline == est.n_candidate == 1


def test_references_divide_each_side() -> None:
    # Candidate machine twice as fast: servers and the reference both doubled.
    est = stats.ratio_ci([10, 11, 9], [20, 22, 18], baseline_ref=[100.0],
                         candidate_ref=[200.0])
    assert est.ratio == pytest.approx(1.0)
    assert est.low <= 1.0 <= est.high


def test_more_confidence_is_wider() -> None:
    base, cand = [100, 120, 90, 105, 95, 110], [90, 100, 85, 95, 99, 80]
    narrow = stats.ratio_ci(base, cand, confidence=0.5, seed="z")
    wide = stats.ratio_ci(base, cand, confidence=0.99, seed="z")
    assert wide.low <= narrow.low and wide.high >= narrow.high


@pytest.mark.parametrize("kwargs", [
    {"baseline": [], "candidate": [1.0]},
    {"baseline": [1.0], "candidate": [1.0], "confidence": 1.5},
    {"baseline": [0.0], "candidate": [1.0]},
    {"baseline": [1.0], "candidate": [1.0], "baseline_ref": []},
])
def test_bad_input_is_a_value_error(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        stats.ratio_ci(**kwargs)


def test_percentile_and_spread() -> None:
    assert stats.percentile([1.0, 2.0, 3.0, 4.0], 0.5) == pytest.approx(2.5)
    assert stats.percentile([5.0], 0.9) == 5.0
    assert stats.spread_pct([90.0, 100.0, 110.0]) == pytest.approx(10.0)
    assert stats.spread_pct([]) == 0.0
