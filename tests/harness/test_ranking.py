"""Ranking: TFB's best-level rule, medians over repeats, spread, ties, composite."""

from __future__ import annotations

from typing import Any

import pytest

from asgibench.harness import ranking
from asgibench.harness.results import Entry


def repeat(rps: float, p99: float = 1.0, errors: int = 0, bound: bool = False,
           non_2xx: int = 0) -> dict[str, Any]:
    return {"round": 1, "requests": int(rps), "duration_s": 1.0, "requests_per_s": rps,
            "latency_ms": {"p50": 0.5, "p75": 0.6, "p90": 0.8, "p99": p99, "max": 2.0,
                           "mean": 0.5, "stdev": 0.1},
            "errors": {"connect": errors, "read": 0, "write": 0, "timeout": 0},
            "non_2xx": non_2xx, "bad_body": 0, "checked": 0, "client_bound": bound}


def entry(server: str, levels: dict[int, list[float]], test: str = "json",
          status: str = "ok", loop: str = "uvloop", parser: str = "httptools",
          **kw: Any) -> Entry:
    return Entry.from_dict({"server": server, "loop": loop, "parser": parser, "test": test,
                            "status": status,
            "levels": [{"concurrency": c, "pipeline": 1,
                        "repeats": [repeat(v, **kw) for v in values]}
                       for c, values in levels.items()]})


def rank(entries: list[Entry], test: str) -> list[ranking.RankRow]:
    return ranking.rank([("", e) for e in entries], test)


def rank_all(entries: list[Entry], tests: list[str]) -> dict[str, list[ranking.RankRow]]:
    return {test: rank(entries, test) for test in tests}


def test_best_level_median_wins() -> None:
    entries = [
        entry("a", {16: [100, 110, 90], 64: [200, 150, 300]}),  # best level 64, median 200
        entry("b", {16: [250, 240, 260], 64: [100, 100, 100]}),  # best level 16, median 250
    ]
    rows = rank(entries, "json")
    assert [(r.server, r.requests_per_s, r.concurrency) for r in rows] == [
        ("b", 250, 16), ("a", 200, 64)]
    assert rows[0].rank == 1 and rows[1].rank == 2
    assert rows[1].pct_of_best == pytest.approx(80.0)
    assert rows[1].min_rps == 150 and rows[1].max_rps == 300
    assert rows[1].spread_pct == pytest.approx(37.5)  # (300 - 150) / 2 / 200


def test_last_level_rule() -> None:
    from asgibench.harness import testtypes

    json_type = testtypes.get("json")
    fake = testtypes.TestType(
        name="queries-test", path="/q", accept="*/*", content_type=json_type.content_type,
        check_body=json_type.check_body, levels=(1, 20), quick_levels=(20,), ranking="last")
    testtypes.register(fake)
    try:
        entries = [entry("a", {1: [500], 20: [50]}, test="queries-test"),
                   entry("b", {1: [100], 20: [80]}, test="queries-test")]
        rows = rank(entries, "queries-test")
        assert [(r.server, r.requests_per_s) for r in rows] == [("b", 80), ("a", 50)]
    finally:
        testtypes.TEST_TYPES.unregister("queries-test")


def test_failed_unsupported_and_other_tests_are_not_ranked() -> None:
    entries = [entry("ok", {16: [10]}), entry("bad", {16: [1000]}, status="failed"),
               entry("nope", {16: []}, status="unsupported"),
               entry("plain", {16: [999]}, test="plaintext")]
    assert [r.server for r in rank(entries, "json")] == ["ok"]


def test_errors_summed_and_flags() -> None:
    rows = rank([entry("a", {16: [10, 12], 32: [5]}, errors=2, non_2xx=1,
                               bound=True)], "json")
    assert rows[0].errors == 3 * (2 + 1)
    assert rows[0].client_bound


def test_ties_within_spread() -> None:
    entries = [entry("a", {16: [100, 120, 110]}), entry("b", {16: [95, 105, 100]}),
               entry("c", {16: [10, 11, 12]})]
    rows = rank(entries, "json")
    assert [r.tied_with_next for r in rows] == [True, False, False]


def test_single_repeat_never_tied() -> None:
    rows = rank([entry("a", {16: [100]}), entry("b", {16: [100]})], "json")
    assert not rows[0].tied_with_next


def test_composite_weights_and_completeness() -> None:
    entries = [
        entry("a", {16: [100]}, test="json"), entry("a", {256: [1000]}, test="plaintext"),
        entry("b", {16: [50]}, test="json"), entry("b", {256: [2000]}, test="plaintext"),
        entry("c", {16: [80]}, test="json"),  # no plaintext: no composite score
    ]
    rankings = rank_all(entries, ["plaintext", "json"])
    rows = ranking.composite(rankings)
    scores = {r.server: r.score for r in rows}
    assert set(scores) == {"a", "b"}
    assert scores["a"] == pytest.approx(1.0 * 1 + 0.75 * 0.5)
    assert scores["b"] == pytest.approx(1.0 * 0.5 + 0.75 * 1)
    assert rows[0].server == "a" and rows[0].rank == 1


def test_composite_needs_two_types() -> None:
    assert ranking.composite(rank_all([entry("a", {16: [1]})], ["json"])) == []


def test_the_composite_says_where_its_weights_come_from() -> None:
    from asgibench.harness import ranking

    assert ranking.weights_source({"json": 1.0, "plaintext": 0.75}) == "TechEmpower's weights"
    assert ranking.weights_source({"upload": 1.0, "get-items": 1.0}) == "each type's own weight"
    assert ranking.weights_source({"json": 1.0, "upload": 1.0}) == \
        "TechEmpower's weights for its types, each other type's own"
