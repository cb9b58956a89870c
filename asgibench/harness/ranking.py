"""Ranking: TechEmpower's rule with spread over repeats; the one implementation that the
results file's stored ranking, ``bench run --show`` and every report use.

Per test type and per configuration (server -- ``uvicorn x2`` for two worker processes,
:func:`asgibench.harness.servers.named` --, loop, parser; and run label when several
runs are ranked together) that passed verification and was measured:

* each level's figure is the **median** over repeats of (requests - non-2xx - wrong
  bodies) / duration -- TFB has one run per level; the median of several is its robust
  equivalent, and the min..max range is reported as the spread;
* the entry's figure is its best level's (rule ``best``: json, plaintext, db, fortune) or
  its last level's (rule ``last``: query, update, cached-query);
* entries are ranked by that figure; ``% of best`` is relative to the top one; an entry
  whose min..max range overlaps the next one's is flagged as tied within noise.

The composite score (only with 2+ test types, only for configurations that have all of
them): each type's figure normalised to that type's best, times TFB's weight, summed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from asgibench.harness import testtypes

if TYPE_CHECKING:
    from asgibench.harness.results import Entry, Level, Run


@dataclass
class RankRow:
    rank: int
    run: str  # the run's label when several runs are ranked together, else ""
    server: str
    loop: str
    parser: str
    test: str
    requests_per_s: float  # median over repeats at the chosen level
    min_rps: float
    max_rps: float
    repeats: int
    concurrency: int
    pipeline: int
    pct_of_best: float
    p50_ms: float | None
    p99_ms: float | None
    errors: int  # socket errors + timeouts + non-2xx + wrong bodies, all levels and repeats
    client_bound: bool
    tied_with_next: bool = False
    queries: int | None = None  # rows per request at the chosen level (query types)
    #: The entry's worker processes when more than one (``server`` then names them:
    #: ``uvicorn x2``); None for one or an unknown count.
    workers: int | None = None
    levels: list[Level] = field(default_factory=list, repr=False)
    chosen: Level | None = field(default=None, repr=False)

    @property
    def spread_pct(self) -> float:
        """Half the min..max range, as a percentage of the median (the "±")."""
        if self.requests_per_s <= 0:
            return 0.0
        return (self.max_rps - self.min_rps) / 2 / self.requests_per_s * 100

    # What the chosen level cost (None where it was not sampled: older files, --url).

    @property
    def cpu_ms_per_request(self) -> float | None:
        return None if self.chosen is None else self.chosen.cpu_ms_per_request

    @property
    def cpu_ms_resolution(self) -> float | None:
        return None if self.chosen is None else self.chosen.cpu_ms_resolution

    @property
    def cpu_resolution_s(self) -> float | None:
        """The coarsest resolution the chosen level's server CPU was read at."""
        values = [] if self.chosen is None else \
            [r.resources.server_cpu_resolution_s for r in self.chosen.repeats
             if r.resources is not None and r.resources.server_cpu_resolution_s is not None]
        return max(values) if values else None

    @property
    def peak_rss_mib(self) -> float | None:
        kib = None if self.chosen is None else self.chosen.peak_rss_kib
        return None if kib is None else kib / 1024

    @property
    def driver_saturated(self) -> bool:
        return self.chosen is not None and self.chosen.driver_saturated

    @property
    def resources_sampled(self) -> bool:
        return self.chosen is not None and \
            any(r.resources is not None for r in self.chosen.repeats)

    def stored(self) -> dict[str, Any]:
        """The row as the results file's ``ranking`` section keeps it."""
        return {
            "rank": self.rank, "server": self.server, "loop": self.loop,
            "parser": self.parser, "test": self.test,
            "requests_per_s": round(self.requests_per_s, 3),
            "min_rps": round(self.min_rps, 3), "max_rps": round(self.max_rps, 3),
            "repeats": self.repeats, "concurrency": self.concurrency,
            **({"queries": self.queries} if self.queries is not None else {}),
            **({"workers": self.workers} if self.workers is not None else {}),
            "pct_of_best": round(self.pct_of_best, 3),
            "p99_ms": round(self.p99_ms or 0.0, 3), "errors": self.errors,
            "client_bound": self.client_bound, "tied_with_next": self.tied_with_next,
            "spread_pct": round(self.spread_pct, 2),
        }

    def to_dict(self) -> dict[str, Any]:
        """The row as ``bench report --format json`` gives it."""
        return {
            "rank": self.rank, "run": self.run, "server": self.server, "loop": self.loop,
            "parser": self.parser, "test": self.test,
            "requests_per_s": round(self.requests_per_s, 3),
            "min_rps": round(self.min_rps, 3), "max_rps": round(self.max_rps, 3),
            "repeats": self.repeats, "spread_pct": round(self.spread_pct, 2),
            "pct_of_best": round(self.pct_of_best, 2),
            "p50_ms": None if self.p50_ms is None else round(self.p50_ms, 4),
            "p99_ms": None if self.p99_ms is None else round(self.p99_ms, 4),
            "errors": self.errors, "concurrency": self.concurrency,
            **({"queries": self.queries} if self.queries is not None else {}),
            **({"workers": self.workers} if self.workers is not None else {}),
            "pipeline": self.pipeline, "client_bound": self.client_bound,
            "tied_with_next": self.tied_with_next,
            "cpu_ms_per_request": None if self.cpu_ms_per_request is None
            else round(self.cpu_ms_per_request, 5),
            "peak_rss_mib": None if self.peak_rss_mib is None else round(self.peak_rss_mib, 2),
            "driver_utilisation": None if self.chosen is None or
            self.chosen.driver_utilisation is None
            else round(self.chosen.driver_utilisation, 3),
            "driver_saturated": self.driver_saturated,
            "resources_unknown": None if self.chosen is None
            else self.chosen.resources_unknown,
        }


def rankable(entry: Entry) -> bool:
    """Passed verification (or was not verified) and has a status of ``ok``."""
    verification = entry.verification
    return entry.status == "ok" and (verification is None or verification.passed)


def rank(entries: Iterable[tuple[str, Entry]], test: str) -> list[RankRow]:
    """Ranked rows for one test type from ``(run label, entry)`` pairs; only rankable
    entries with at least one measured level take part."""
    rule = testtypes.ranking_rule(test)
    rows: list[RankRow] = []
    for label, entry in entries:
        if entry.test != test or not rankable(entry):
            continue
        levels = entry.measured_levels
        if not levels:
            continue
        chosen = levels[-1] if rule == "last" else max(levels, key=lambda lv: lv.median_rps)
        rows.append(RankRow(
            0, label, entry.name, entry.loop, entry.parser, test, chosen.median_rps,
            chosen.min_rps, chosen.max_rps, len(chosen.repeats), chosen.concurrency,
            chosen.pipeline, 0.0, chosen.median_latency("p50"), chosen.median_latency("p99"),
            sum(level.errors for level in levels), chosen.client_bound,
            queries=chosen.queries, levels=levels, chosen=chosen,
            workers=entry.workers if entry.workers not in (None, 1) else None,
        ))
    rows.sort(key=lambda row: (-row.requests_per_s, row.server, row.loop, row.parser,
                               row.run))
    assign_ranks(rows)
    return rows


def rank_runs(runs: Sequence[Run], tests: Sequence[str], labelled: bool
              ) -> dict[str, list[RankRow]]:
    """Rankings of several runs together (rows carry the run's label when ``labelled``)."""
    pairs = [(run.label if labelled else "", entry) for run in runs for entry in run.entries]
    return {test: rank(pairs, test) for test in tests}


def rank_run(run: Run) -> dict[str, list[RankRow]]:
    """One run's rankings, for its settings' test types."""
    return rank_runs([run], run.settings.tests, labelled=False)


def assign_ranks(rows: list[RankRow]) -> None:
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
    run: str
    server: str
    loop: str
    parser: str
    score: float
    parts: dict[str, float]  # test -> weighted, normalised figure

    def stored(self) -> dict[str, Any]:
        return {"rank": self.rank, "server": self.server, "loop": self.loop,
                "parser": self.parser, "score": round(self.score, 4),
                "parts": {k: round(v, 4) for k, v in self.parts.items()}}

    def to_dict(self) -> dict[str, Any]:
        return {"rank": self.rank, "run": self.run, "server": self.server, "loop": self.loop,
                "parser": self.parser, "score": round(self.score, 4),
                "parts": {k: round(v, 4) for k, v in self.parts.items()}}


def weights(rankings: dict[str, list[RankRow]]) -> dict[str, float]:
    """The composite weight of each test type that has ranked rows."""
    return {test: testtypes.weight(test) for test, rows in rankings.items() if rows}


def weights_source(weights: dict[str, float]) -> str:
    """Where the composite's weights (test -> weight) come from, for its title."""
    tfb = [testtypes.TFB_WEIGHTS.get(test) == weight for test, weight in weights.items()]
    if all(tfb):
        return "TechEmpower's weights"
    if not any(tfb):
        return "each type's own weight"
    return "TechEmpower's weights for its types, each other type's own"


def composite(rankings: dict[str, list[RankRow]]) -> list[CompositeRow]:
    """TFB-style composite over the types in ``rankings`` (empty with fewer than 2)."""
    weight = weights(rankings)
    tests = list(weight)
    if len(tests) < 2:
        return []
    by_key: dict[tuple[str, str, str, str], dict[str, float]] = {}
    for test in tests:
        best = rankings[test][0].requests_per_s
        for row in rankings[test]:
            parts = by_key.setdefault((row.run, row.server, row.loop, row.parser), {})
            parts[test] = weight[test] * (row.requests_per_s / best if best else 0.0)
    rows = [CompositeRow(0, *key, sum(parts.values()), parts)
            for key, parts in by_key.items() if len(parts) == len(tests)]
    rows.sort(key=lambda row: (-row.score, row.server, row.loop, row.parser, row.run))
    for index, row in enumerate(rows):
        row.rank = index + 1
    return rows
