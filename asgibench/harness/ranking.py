"""Ranking, TechEmpower's rule with spread over repeats.

Per test type and per (server, loop, parser) that passed verification and ran:

* each level's figure is the **median** over repeats of (requests - non-2xx - wrong
  bodies) / duration -- TFB has one run per level; the median of several is its robust
  equivalent, and the min..max range is reported as the spread;
* the entry's figure is its best level's (rule ``best``: json, plaintext, db, fortune) or
  its last level's (rule ``last``: query, update, cached-query);
* entries are ranked by that figure; ``% of best`` is relative to the top one; an entry
  whose min..max range overlaps the next one's is flagged as tied within noise.

The composite score (only with 2+ test types, only for entries that ran all of them):
each type's figure normalised to that type's best, times TFB's weight, summed.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from asgibench.harness import testtypes


@dataclass
class Row:
    rank: int
    server: str
    loop: str
    parser: str
    test: str
    requests_per_s: float  # median over repeats at the chosen level
    min_rps: float
    max_rps: float
    repeats: int
    concurrency: int
    pct_of_best: float
    p99_ms: float
    errors: int  # socket errors + timeouts + non-2xx + wrong bodies, all levels and repeats
    client_bound: bool
    tied_with_next: bool = False

    @property
    def spread_pct(self) -> float:
        """Half the min..max range, as a percentage of the median (the "±")."""
        if self.requests_per_s <= 0:
            return 0.0
        return (self.max_rps - self.min_rps) / 2 / self.requests_per_s * 100

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["spread_pct"] = round(self.spread_pct, 2)
        for key in ("requests_per_s", "min_rps", "max_rps", "pct_of_best", "p99_ms"):
            out[key] = round(out[key], 3)
        return out


def repeat_errors(repeat: dict[str, Any]) -> int:
    return sum(repeat["errors"].values()) + repeat["non_2xx"] + repeat["bad_body"]


def level_figure(level: dict[str, Any]) -> tuple[float, float, float, float, bool]:
    """(median rps, min, max, median p99, client-bound?) over a level's repeats."""
    repeats = level["repeats"]
    rps = [r["requests_per_s"] for r in repeats]
    p99 = [r["latency_ms"]["p99"] for r in repeats]
    bound = any(r.get("client_bound") for r in repeats)
    return statistics.median(rps), min(rps), max(rps), statistics.median(p99), bound


def rank(entries: Iterable[dict[str, Any]], test: str) -> list[Row]:
    """Ranked rows for one test type (only entries with status ``ok`` and data)."""
    try:
        rule = testtypes.get(test).ranking
    except Exception:  # an unknown type in an old results file: TFB's default rule
        rule = "best"
    rows: list[Row] = []
    for entry in entries:
        if entry["test"] != test or entry["status"] != "ok":
            continue
        levels = [lv for lv in entry["levels"] if lv["repeats"]]
        if not levels:
            continue
        if rule == "last":
            chosen = levels[-1]
        else:
            chosen = max(levels, key=lambda lv: level_figure(lv)[0])
        median, low, high, p99, bound = level_figure(chosen)
        errors = sum(repeat_errors(r) for lv in levels for r in lv["repeats"])
        rows.append(Row(0, entry["server"], entry["loop"], entry["parser"], test, median, low,
                        high, len(chosen["repeats"]), chosen["concurrency"], 0.0, p99, errors,
                        bound))
    rows.sort(key=lambda row: (-row.requests_per_s, row.server, row.loop, row.parser))
    assign_ranks(rows)
    return rows


def assign_ranks(rows: list[Any]) -> None:
    """Number rows already sorted best first; set % of the best and overlapping ranges.

    Two neighbours are "tied" when both have repeats and their min..max ranges overlap:
    their order is then within the noise.
    """
    best = rows[0].requests_per_s if rows else 0.0
    for index, row in enumerate(rows):
        row.rank = index + 1
        row.pct_of_best = row.requests_per_s / best * 100 if best > 0 else 0.0
        if index + 1 < len(rows):
            below = rows[index + 1]
            row.tied_with_next = row.repeats > 1 and below.repeats > 1 and \
                row.min_rps <= below.max_rps


@dataclass
class CompositeRow:
    rank: int
    server: str
    loop: str
    parser: str
    score: float
    parts: dict[str, float]  # test -> weighted, normalised figure

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["score"] = round(self.score, 4)
        out["parts"] = {k: round(v, 4) for k, v in self.parts.items()}
        return out


def composite(rankings: dict[str, list[Row]]) -> list[CompositeRow]:
    """TFB-style composite over the types in ``rankings`` (empty with fewer than 2)."""
    tests = [test for test, rows in rankings.items() if rows]
    if len(tests) < 2:
        return []
    best = {test: rankings[test][0].requests_per_s for test in tests}
    by_key: dict[tuple[str, str, str], dict[str, float]] = {}
    for test in tests:
        try:
            weight = testtypes.get(test).weight
        except Exception:
            weight = 1.0
        for row in rankings[test]:
            parts = by_key.setdefault((row.server, row.loop, row.parser), {})
            parts[test] = weight * (row.requests_per_s / best[test] if best[test] else 0.0)
    rows = [CompositeRow(0, *key, sum(parts.values()), parts)
            for key, parts in by_key.items() if len(parts) == len(tests)]
    rows.sort(key=lambda row: (-row.score, row.server, row.loop, row.parser))
    for index, row in enumerate(rows):
        row.rank = index + 1
    return rows


def rank_all(entries: list[dict[str, Any]], tests: list[str]) -> dict[str, list[Row]]:
    return {test: rank(entries, test) for test in tests}
