"""Loading results files for reports: several at once, every entry labelled with its run.

:func:`load` reads each file with :func:`asgibench.harness.results.read` (so a missing,
unreadable or invalid file is one :class:`~asgibench.errors.BenchError` line) and gives
each a short, unique label: the file's stem, or ``stem#2`` ... when two files share one.

Everything else here reads a results document defensively: fields the schema marks
optional (or that a newer harness may add, such as ``p99.9`` latencies or per-round
ceiling measurements) are used when present and never required.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asgibench.errors import BenchError

#: Latency percentile keys, in order, that a measurement may carry (ms). The schema
#: requires p50..p99; ``p99.9``/``p999`` are read when a driver records them.
PERCENTILE_KEYS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("p50", ("p50",)),
    ("p75", ("p75",)),
    ("p90", ("p90",)),
    ("p99", ("p99",)),
    ("p99.9", ("p99.9", "p999", "p99_9")),
    ("max", ("max",)),
)

#: TechEmpower's composite weights (``/work/shared/techempower.md``): plaintext 0.75 is
#: TechEmpower's own, the others are those re-implementations use. A registered test
#: type's own ``weight`` wins; these cover types this asgibench does not know.
TFB_WEIGHTS: dict[str, float] = {
    "json": 1.0,
    "plaintext": 0.75,
    "db": 0.75,
    "queries": 0.75,
    "query": 0.75,
    "fortunes": 1.5,
    "fortune": 1.5,
    "updates": 1.25,
    "update": 1.25,
    "cached-queries": 1.0,
    "cached-query": 1.0,
}
_TEST_ORDER = ("plaintext", "json", "db", "queries", "fortunes", "updates", "cached-queries")


@dataclass
class Run:
    """One results file: where it came from, its label, and the document."""

    path: str
    label: str
    document: dict[str, Any]

    @property
    def settings(self) -> dict[str, Any]:
        return self.document.get("settings") or {}

    @property
    def environment(self) -> dict[str, Any]:
        return self.document.get("environment") or {}

    @property
    def entries(self) -> list[dict[str, Any]]:
        return list(self.document.get("entries") or [])

    @property
    def tests(self) -> list[str]:
        out = list(self.settings.get("tests") or [])
        for entry in self.entries:
            if entry.get("test") and entry["test"] not in out:
                out.append(entry["test"])
        return out

    def ceiling(self, test: str, concurrency: int) -> list[float]:
        """The driver ceiling's requests/s at (test, concurrency): every measurement of it
        (one per round when the harness records ``repeats``, else the single ``result``);
        empty when it was not measured or failed."""
        out: list[float] = []
        for record in self.document.get("ceiling") or []:
            if record.get("test") != test or record.get("concurrency") != concurrency:
                continue
            if record.get("status") != "ok":
                continue
            for repeat in record.get("repeats") or []:
                if _num(repeat.get("requests_per_s")) is not None:
                    out.append(float(repeat["requests_per_s"]))
            result = record.get("result") or {}
            if not out and _num(result.get("requests_per_s")) is not None:
                out.append(float(result["requests_per_s"]))
        return out


    def ceiling_rounds(self, test: str, concurrency: int) -> dict[int, float]:
        """round -> the ceiling's requests/s in that round, when the harness measures the
        ceiling once per round (``ceiling[].repeats[].round``); else empty."""
        out: dict[int, float] = {}
        for record in self.document.get("ceiling") or []:
            if record.get("test") != test or record.get("concurrency") != concurrency or \
                    record.get("status") != "ok":
                continue
            for repeat in record.get("repeats") or []:
                value = _num(repeat.get("requests_per_s"))
                if not value:
                    continue
                # "rounds": a measurement that serves several rounds (merged runs).
                rounds = repeat.get("rounds") or [repeat.get("round")]
                for number in rounds:
                    if isinstance(number, int):
                        out[number] = value
        return out


@dataclass
class Level:
    """One measured level of one entry, its repeats reduced to what reports need."""

    concurrency: int
    pipeline: int
    rps: list[float]  # per repeat, TFB's figure (good responses / duration)
    latency: dict[str, list[float]]  # percentile key -> per-repeat values (ms)
    errors: int
    client_bound: bool
    rounds: list[int] = field(default_factory=list)

    @property
    def median_rps(self) -> float:
        return statistics.median(self.rps) if self.rps else 0.0

    def median_latency(self, key: str) -> float | None:
        values = self.latency.get(key) or []
        return statistics.median(values) if values else None


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def repeat_errors(repeat: dict[str, Any]) -> int:
    errors = repeat.get("errors") or {}
    total = sum(int(v) for v in errors.values() if _num(v) is not None)
    return total + int(repeat.get("non_2xx") or 0) + int(repeat.get("bad_body") or 0)


def levels(entry: dict[str, Any]) -> list[Level]:
    """The entry's levels that hold at least one repeat, in file order."""
    out: list[Level] = []
    for raw in entry.get("levels") or []:
        repeats = [r for r in raw.get("repeats") or [] if _num(r.get("requests_per_s"))
                   is not None]
        if not repeats:
            continue
        latency: dict[str, list[float]] = {}
        for name, aliases in PERCENTILE_KEYS:
            values = []
            for repeat in repeats:
                lat = repeat.get("latency_ms") or {}
                for alias in aliases:
                    if _num(lat.get(alias)) is not None:
                        values.append(float(lat[alias]))
                        break
            if values:
                latency[name] = values
        out.append(Level(
            concurrency=int(raw.get("concurrency") or 0),
            pipeline=int(raw.get("pipeline") or 1),
            rps=[float(r["requests_per_s"]) for r in repeats],
            latency=latency,
            errors=sum(repeat_errors(r) for r in repeats),
            client_bound=any(bool(r.get("client_bound")) for r in repeats),
            rounds=[int(r.get("round") or 0) for r in repeats],
        ))
    return out


def ranking_rule(test: str) -> str:
    """``best`` (best level's figure) or ``last`` (last level's), as TechEmpower ranks."""
    try:
        from asgibench.harness import testtypes

        return testtypes.get(test).ranking
    except Exception:  # unknown type, or the harness is not importable
        return "last" if test in ("queries", "query", "updates", "update", "cached-queries",
                                  "cached-query") else "best"


def weight(test: str) -> float:
    """The composite weight of a test type (the registered type's, else TFB's table)."""
    try:
        from asgibench.harness import testtypes

        return float(testtypes.get(test).weight)
    except Exception:
        return TFB_WEIGHTS.get(test, 1.0)


def order_tests(names: Iterable[str]) -> list[str]:
    """Test types in TechEmpower's usual order, unknown ones after, alphabetically."""
    unique = list(dict.fromkeys(names))
    return sorted(unique, key=lambda n: (_TEST_ORDER.index(n) if n in _TEST_ORDER else 99, n))


def _labels(paths: Sequence[str]) -> list[str]:
    stems = [Path(p).stem or str(p) for p in paths]
    out: list[str] = []
    seen: dict[str, int] = {}
    for stem in stems:
        count = seen.get(stem, 0) + 1
        seen[stem] = count
        out.append(stem if count == 1 else f"{stem}#{count}")
    return out


def load(paths: Sequence[str | os.PathLike[str]]) -> list[Run]:
    """Read every results file (BenchError, one line, for the first bad one)."""
    from asgibench.harness import results

    if not paths:
        raise BenchError("no results file given")
    names = [str(p) for p in paths]
    documents = [results.read(name) for name in names]
    return [Run(name, label, doc) for name, label, doc in zip(names, _labels(names),
                                                               documents, strict=True)]


def all_tests(runs: Sequence[Run]) -> list[str]:
    return order_tests(test for run in runs for test in run.tests)


def config_label(server: str, loop: str, parser: str, run: str | None = None) -> str:
    text = f"{server} {loop}/{parser}"
    return f"{text} [{run}]" if run else text
