"""Open-loop figures (``bench run --rate``) as rows every report draws from: per entry
and rate, the target and achieved rates and the latency percentiles, recomputed from the
stored HDR histograms (every round's merged exactly, so a percentile is over all the
requests measured at that rate, not a median of per-round percentiles); and the driver's
own latency at each rate (``Run.accuracy``)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from asgibench.harness import latency
from asgibench.harness.results import Level, Measurement, Run, rate_label

#: The percentiles open-loop tables and the latency-against-load chart show.
SHOWN = (("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p99.9", 99.9))


@dataclass
class OpenRow:
    server: str
    loop: str
    parser: str
    test: str
    rate: str  # as given: "1000", "50%"
    label: str  # r=50%, r=1000/s
    target_rps: float  # median over rounds
    achieved_rps: float  # good responses per second, median over rounds
    latency_ms: dict[str, float]  # SHOWN's keys, over every round's requests
    scheduled: int
    late: int
    dropped: int
    errors: int
    rounds: int
    flags: list[str] = field(default_factory=list)
    run: str = ""  # the report's group, when it has several
    #: Rounds that measured nothing at this rate, and why (``Level.failures``).
    failures: list[str] = field(default_factory=list)
    #: The closed-loop figure a percentage rate is of (median over rounds), else None.
    percent_of_rps: float | None = None

    @property
    def config(self) -> str:
        return f"{self.server} {self.loop}/{self.parser}"

    @property
    def notes(self) -> list[str]:
        """The flags and failures, as the lines under a table say them."""
        return [*self.flags, *(f"failed: {failure}" for failure in self.failures)]


@dataclass
class AccuracyRow:
    test: str
    rate: str
    target_rps: float
    latency_ms: dict[str, float]
    status: str
    reason: str | None = None
    flags: list[str] = field(default_factory=list)
    run: str = ""  # the report's group, when it has several

    @property
    def label(self) -> str:
        return rate_label(self.rate)


def percentiles(measurements: Sequence[Measurement]) -> dict[str, float]:
    """SHOWN's percentiles over ``measurements``: from their HDR histograms merged when
    every one has one, else the median of what each stored."""
    encoded = [m.histogram for m in measurements]
    if encoded and all(encoded):
        try:
            merged = latency.merge(latency.decode(text) for text in encoded if text)
        except ValueError:
            pass
        else:
            stats = latency.stats_ms(merged)
            return {key: stats[key] for key, _ in SHOWN}
    out: dict[str, float] = {}
    for key, _ in SHOWN:
        values = [v for v in (m.latency(key) for m in measurements) if v is not None]
        if values:
            out[key] = statistics.median(values)
    return out


def level_row(server: str, loop: str, parser: str, test: str, level: Level) -> OpenRow:
    repeats = level.repeats
    targets = [r.open_loop.target_rps for r in repeats if r.open_loop]
    of = [r.open_loop.percent_of_rps for r in repeats
          if r.open_loop and r.open_loop.percent_of_rps is not None]
    return OpenRow(
        server, loop, parser, test, level.rate or "", level.label,
        statistics.median(targets) if targets else 0.0,
        level.median_rps,
        percentiles(repeats),
        sum(r.open_loop.scheduled for r in repeats if r.open_loop),
        sum(r.open_loop.late for r in repeats if r.open_loop),
        sum(r.open_loop.dropped for r in repeats if r.open_loop),
        sum(r.error_count for r in repeats),
        len(repeats),
        level.flags,
        failures=list(level.failures),
        percent_of_rps=statistics.median(of) if of else None,
    )


def rows(run: Run, test: str | None = None) -> list[OpenRow]:
    """Every measured open-loop level of ``run`` (of one test type if given), entry by
    entry in the file's order, each entry's rates in ascending target."""
    out: list[OpenRow] = []
    for entry in run.entries:
        if entry.status != "ok" or (test is not None and entry.test != test):
            continue
        found = [level_row(entry.server, entry.loop, entry.parser, entry.test, level)
                 for level in entry.open_levels]
        out.extend(sorted(found, key=lambda row: row.target_rps))
    return out


def accuracy_rows(run: Run) -> list[AccuracyRow]:
    out = []
    for record in run.accuracy:
        measured = [record.result] if record.result is not None else []
        flags = record.result.open_loop.flags if record.result is not None and \
            record.result.open_loop is not None else []
        out.append(AccuracyRow(record.test, record.rate, record.target_rps,
                               percentiles(measured) if measured else {}, record.status,
                               record.reason, list(flags)))
    return out
