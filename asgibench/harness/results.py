"""Results files as a typed model: :class:`Run` -> :class:`Entry` -> :class:`Level` ->
:class:`Repeat`, plus the driver's :class:`Ceiling` records (pyperf's Run/Benchmark/Suite
idea: every consumer reads these classes, never the raw JSON).

One JSON document per run, schema ``asgibench.results/1``, documented in
``docs/results.md`` and specified by :data:`asgibench.harness.schema.SCHEMA`.
``Run.from_dict(doc).to_dict()`` gives ``doc`` back: keys this version does not model are
kept in each object's ``extra`` (older and newer files load and write without loss). The
``ranking`` and ``composite`` sections are derived: :func:`write` recomputes them with
:mod:`asgibench.harness.ranking`, the one ranking every report uses.

:func:`read` raises :class:`~asgibench.errors.BenchError` (one line) for a file that is
missing, unreadable, not JSON, of another schema version, or invalid; :func:`write`
validates before writing.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import statistics
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asgibench.errors import BenchError
from asgibench.harness import ranking, schema
from asgibench.harness.servers import named

SCHEMA_ID = schema.SCHEMA_ID

#: Latency percentile keys, in order, a measurement may carry (ms), with the spellings
#: drivers have used for each. The schema requires p50..p99; p99.9 is read when present.
PERCENTILE_KEYS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("p50", ("p50",)),
    ("p75", ("p75",)),
    ("p90", ("p90",)),
    ("p99", ("p99",)),
    ("p99.9", ("p99.9", "p999", "p99_9")),
    ("max", ("max",)),
)
ERROR_KINDS = ("connect", "read", "write", "timeout")


def _split(raw: dict[str, Any], known: tuple[str, ...]) -> dict[str, Any]:
    """The keys of ``raw`` that the model does not know, kept for a lossless round trip."""
    return {key: value for key, value in raw.items() if key not in known}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


#: An open-loop measurement is flagged when more than this fraction of its scheduled
#: requests went out late or not at all.
OPEN_LOOP_TOLERANCE = 0.01


def rate_label(rate: str) -> str:
    """An open-loop rate as every table and chart labels it: ``r=50%``, ``r=1000/s``."""
    return f"r={rate}" if rate.endswith("%") else f"r={rate}/s"


@dataclass
class OpenLoop:
    """How an open-loop measurement (``bench run --rate``) kept its schedule: the target
    rate, what was scheduled, sent, sent late (more than ``late_after_ms`` after its
    scheduled time) and dropped (never sent: it waited ``timeout`` for a connection, or
    the window ended first), and the most connections it held. ``percent_of_rps``: for a
    rate given as a percentage, the closed-loop figure it is a percentage of. ``flags``
    says why the measurement does not stand for the target rate (empty: it does).

    What is judged is the schedule against what was sent, not ``sent_per_s`` against
    ``target_rps``: a Poisson schedule's count over a window varies by about the square
    root of itself around target x duration (38 of a mean of 50 is within two standard
    deviations), and every scheduled request is either sent or dropped."""

    target_rps: float
    arrival: str = "fixed"
    sent_per_s: float = 0.0
    scheduled: int = 0
    sent: int = 0
    late: int = 0
    dropped: int = 0
    connections: int = 0
    late_after_ms: float = 0.0
    flags: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    percent_of_rps: float | None = None

    _KEYS = ("target_rps", "arrival", "sent_per_s", "scheduled", "sent", "late", "dropped",
             "connections", "late_after_ms", "flags", "percent_of_rps")

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> OpenLoop:
        values = {key: raw[key] for key in cls._KEYS if key in raw}
        values["flags"] = list(raw.get("flags") or [])
        return cls(**values, extra=_split(raw, cls._KEYS))

    def to_dict(self) -> dict[str, Any]:
        out = {key: getattr(self, key) for key in self._KEYS}
        out["flags"] = list(self.flags)
        if self.percent_of_rps is None:  # a rate in requests per second: nothing to say
            del out["percent_of_rps"]
        out.update(self.extra)
        return out

    def judge(self) -> list[str]:
        """Why this measurement does not stand for its target rate (late or dropped sends
        beyond OPEN_LOOP_TOLERANCE of the scheduled); empty: it does."""
        missed = self.late + self.dropped
        if self.scheduled and missed > OPEN_LOOP_TOLERANCE * self.scheduled:
            return [f"not sent on schedule (no free connection, or the driver's CPU): "
                    f"{self.late} late (> {self.late_after_ms:g} ms) and {self.dropped} "
                    f"dropped of {self.scheduled} scheduled"]
        return []


@dataclass
class Measurement:
    """One load measurement (a driver's result). Latencies in milliseconds; ``histogram``
    the latencies as an encoded HDR histogram in microseconds (asgibench.harness.latency)
    when the driver kept one; ``open_loop`` when it ran at a fixed rate."""

    requests: int
    duration_s: float
    requests_per_s: float
    latency_ms: dict[str, float]
    errors: dict[str, int]
    non_2xx: int = 0
    bad_body: int = 0
    checked: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    histogram: str | None = None
    open_loop: OpenLoop | None = None

    _KEYS = ("requests", "duration_s", "requests_per_s", "latency_ms", "errors", "non_2xx",
             "bad_body", "checked", "histogram", "open_loop")

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Measurement:
        return cls(**cls._known(raw), extra=_split(raw, cls._all_keys()))

    @classmethod
    def _all_keys(cls) -> tuple[str, ...]:
        return cls._KEYS

    @classmethod
    def _known(cls, raw: dict[str, Any]) -> dict[str, Any]:
        return {
            "requests": raw["requests"], "duration_s": raw["duration_s"],
            "requests_per_s": raw["requests_per_s"], "latency_ms": dict(raw["latency_ms"]),
            "errors": dict(raw["errors"]), "non_2xx": raw.get("non_2xx", 0),
            "bad_body": raw.get("bad_body", 0), "checked": raw.get("checked", 0),
            "histogram": raw.get("histogram"),
            "open_loop": OpenLoop.from_dict(raw["open_loop"]) if raw.get("open_loop")
            else None,
        }

    def to_dict(self) -> dict[str, Any]:
        out = {"requests": self.requests, "duration_s": self.duration_s,
               "requests_per_s": self.requests_per_s, "latency_ms": dict(self.latency_ms),
               "errors": dict(self.errors), "non_2xx": self.non_2xx,
               "bad_body": self.bad_body, "checked": self.checked}
        if self.histogram is not None:  # only when kept: older files round-trip as read
            out["histogram"] = self.histogram
        if self.open_loop is not None:
            out["open_loop"] = self.open_loop.to_dict()
        out.update(self.extra)
        return out

    def percentile(self, percentile: float) -> float | None:
        """Any latency percentile (0..100) in ms, computed from the stored HDR histogram;
        without one, the stored key of that name (``p99``, ``p99.9``) or None."""
        if self.histogram:
            from asgibench.harness import latency  # hdrh only for files that carry one

            try:
                return latency.percentile_ms(self.histogram, percentile)
            except ValueError:
                pass
        return self.latency(f"p{percentile:g}")

    @property
    def error_count(self) -> int:
        """Socket errors, timeouts, non-2xx responses and wrong bodies."""
        total = sum(int(v) for v in self.errors.values() if _number(v) is not None)
        return total + int(self.non_2xx or 0) + int(self.bad_body or 0)

    def latency(self, key: str) -> float | None:
        """The ``key`` percentile (one of PERCENTILE_KEYS' names), or None if not recorded."""
        aliases = dict(PERCENTILE_KEYS).get(key, (key,))
        for alias in aliases:
            value = _number(self.latency_ms.get(alias))
            if value is not None:
                return value
        return None


#: A driver that was busy (on a CPU, or runnable and waiting for one) this share of its
#: measured window, on each of its processes or threads, was saturated: never idle, so
#: the load it offered was limited by itself and the level's figures may be the driver's,
#: not the server's.
DRIVER_SATURATED = 0.95


@dataclass
class Resources:
    """What one measured level cost (:mod:`asgibench.harness.sampling`) over the driver's
    measured window (``wall_s``): the server process tree's CPU time and peak resident
    memory, and the driver's own CPU time and run-queue delay. A figure that could not be
    known is None, with the reason in ``server_unknown`` / ``driver_unknown`` (a ``--url``
    server: not started here)."""

    wall_s: float
    server_cpu_s: float | None = None  # user + system, at server_cpu_resolution_s
    server_cpu_resolution_s: float | None = None  # 1e-9: a CPU clock; 0.01: clock ticks
    server_cpu_user_s: float | None = None  # psutil's split, in clock ticks
    server_cpu_system_s: float | None = None
    server_peak_rss_kib: int | None = None
    server_processes: int | None = None
    server_unknown: str | None = None
    driver_cpu_s: float | None = None
    driver_wait_s: float | None = None  # runnable, waiting for a CPU (Linux only)
    driver_window_s: float | None = None
    driver_cpus: int | None = None  # the driver's processes/threads generating the load
    driver_unknown: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    _KEYS = ("wall_s", "server_cpu_s", "server_cpu_resolution_s", "server_cpu_user_s",
             "server_cpu_system_s", "server_peak_rss_kib", "server_processes",
             "server_unknown", "driver_cpu_s", "driver_wait_s", "driver_window_s",
             "driver_cpus", "driver_unknown")

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Resources:
        return cls(**{key: raw.get(key) for key in cls._KEYS},
                   extra=_split(raw, cls._KEYS))

    def to_dict(self) -> dict[str, Any]:
        return {**{key: getattr(self, key) for key in self._KEYS}, **self.extra}

    @property
    def driver_utilisation(self) -> float | None:
        """The share of its window the driver was busy: (CPU + run-queue delay) / (window
        x its processes or threads); CPU alone where the delay is unknown."""
        window = self.driver_window_s
        if self.driver_cpu_s is None or not self.driver_cpus or not window or window <= 0:
            return None
        return (self.driver_cpu_s + (self.driver_wait_s or 0.0)) / (window * self.driver_cpus)

    @property
    def driver_saturated(self) -> bool:
        share = self.driver_utilisation
        return share is not None and share >= DRIVER_SATURATED


@dataclass
class DriverShare:
    """One driver host's share of a measurement across hosts (``drivers`` of a repeat)."""

    host: str  # ssh://USER@HOST:PORT
    requests: int
    requests_per_s: float

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> DriverShare:
        return cls(str(raw["host"]), int(raw["requests"]), float(raw["requests_per_s"]))

    def to_dict(self) -> dict[str, Any]:
        return {"host": self.host, "requests": self.requests,
                "requests_per_s": self.requests_per_s}


@dataclass
class Repeat(Measurement):
    """One level measured once, in round ``round`` of an interleaved run; ``resources``
    what it cost (None in files written before resources were sampled)."""

    round: int = 1
    client_bound: bool = False
    resources: Resources | None = None
    #: Across hosts: each driver host's share (empty on one machine), and with 2+ hosts
    #: whether their latencies were merged ``exact``ly (histograms) or ``approximate``ly.
    drivers: list[DriverShare] = field(default_factory=list)
    latency_merge: str | None = None

    @classmethod
    def _all_keys(cls) -> tuple[str, ...]:
        return (*cls._KEYS, "round", "client_bound", "resources", "drivers", "latency_merge")

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Repeat:
        resources = raw.get("resources")
        return cls(**cls._known(raw), round=int(raw.get("round") or 1),
                   client_bound=bool(raw.get("client_bound")),
                   extra=_split(raw, cls._all_keys()),
                   resources=None if resources is None else Resources.from_dict(resources),
                   drivers=[DriverShare.from_dict(d) for d in raw.get("drivers") or []],
                   latency_merge=raw.get("latency_merge"))

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["round"] = self.round
        out["client_bound"] = self.client_bound
        if self.resources is not None:  # absent, not null: older files stay byte for byte
            out["resources"] = self.resources.to_dict()
        if self.drivers:
            out["drivers"] = [d.to_dict() for d in self.drivers]
        if self.latency_merge is not None:
            out["latency_merge"] = self.latency_merge
        return out

    @property
    def cpu_ms_per_request(self) -> float | None:
        """The server's CPU milliseconds (user + system) per response of this level."""
        cpu = None if self.resources is None else self.resources.server_cpu_s
        if cpu is None or not self.requests:
            return None
        return cpu * 1000 / self.requests

    @property
    def cpu_ms_resolution(self) -> float | None:
        """How far :attr:`cpu_ms_per_request` may be off from the CPU clock's resolution
        alone (a tick at each end of the window, per process); None when not sampled."""
        res = self.resources
        if res is None or res.server_cpu_resolution_s is None or not self.requests:
            return None
        return res.server_cpu_resolution_s * 2 * (res.server_processes or 1) * 1000 \
            / self.requests


@dataclass
class Level:
    """One level of one entry, with a repeat per round that measured it: a concurrency
    (connections), or for TechEmpower's query types a ``queries`` count (rows per
    request, ``?queries=N``) at a fixed concurrency."""

    concurrency: int
    pipeline: int = 1
    repeats: list[Repeat] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    queries: int | None = None
    #: An open-loop level (``bench run --rate``): its rate as given, ``"1000"`` requests
    #: per second or ``"50%"`` of the entry's best closed-loop figure in the same round
    #: (each repeat's ``open_loop.target_rps`` says what that came to). ``concurrency``
    #: is then the connections opened before the load (more open when all are busy).
    rate: str | None = None
    #: An open-loop level's failures, one per round (``"round 2: server exited with
    #: status -9 during ..."``): that round measured nothing at this rate. The entry
    #: stays ok: its closed-loop figures stand.
    failures: list[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Level:
        queries = raw.get("queries")
        rate = raw.get("rate")
        return cls(int(raw["concurrency"]), int(raw.get("pipeline") or 1),
                   [Repeat.from_dict(r) for r in raw.get("repeats") or []],
                   _split(raw, ("concurrency", "pipeline", "repeats", "queries", "rate",
                                "failures")),
                   None if queries is None else int(queries),
                   None if rate is None else str(rate),
                   [str(f) for f in raw.get("failures") or []])

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"concurrency": self.concurrency}
        if self.queries is not None:
            out["queries"] = self.queries
        if self.rate is not None:
            out["rate"] = self.rate
        out.update({"pipeline": self.pipeline,
                    "repeats": [r.to_dict() for r in self.repeats]})
        if self.failures:
            out["failures"] = list(self.failures)
        out.update(self.extra)
        return out

    @property
    def value(self) -> int:
        """What tells this level from the entry's others: its queries count, else its
        concurrency (the x of a level chart, the key levels are matched on)."""
        return self.concurrency if self.queries is None else self.queries

    @property
    def label(self) -> str:
        """``c=128``, ``q=20`` for a queries level, ``r=50%`` or ``r=1000/s`` for an
        open-loop one."""
        if self.rate is not None:
            return rate_label(self.rate)
        return f"c={self.concurrency}" if self.queries is None else f"q={self.queries}"

    @property
    def key(self) -> str:
        """What levels are matched on across runs (bench merge, bench compare): ``c=128``,
        or ``q=20 c=512``: 20 rows at 128 connections is not the same measurement."""
        if self.rate is not None:
            return self.label
        return self.label if self.queries is None else f"{self.label} c={self.concurrency}"

    @property
    def open_loop(self) -> bool:
        return self.rate is not None

    def median_percentile(self, percentile: float) -> float | None:
        """The median over repeats of a latency percentile (from their HDR histograms
        where stored), in ms."""
        values = [v for v in (r.percentile(percentile) for r in self.repeats)
                  if v is not None]
        return statistics.median(values) if values else None

    @property
    def flags(self) -> list[str]:
        """Open loop: every repeat's reasons it does not stand for its target rate."""
        return [f"round {r.round}: {flag}" for r in self.repeats if r.open_loop
                for flag in r.open_loop.flags]

    # TechEmpower's figure for a level: good responses per second; over repeats, the
    # median, with min..max as the spread.

    @property
    def rps(self) -> list[float]:
        return [float(r.requests_per_s) for r in self.repeats]

    @property
    def median_rps(self) -> float:
        return statistics.median(self.rps) if self.repeats else 0.0

    @property
    def min_rps(self) -> float:
        return min(self.rps) if self.repeats else 0.0

    @property
    def max_rps(self) -> float:
        return max(self.rps) if self.repeats else 0.0

    def latencies(self, key: str) -> list[float]:
        values = (r.latency(key) for r in self.repeats)
        return [v for v in values if v is not None]

    def median_latency(self, key: str) -> float | None:
        values = self.latencies(key)
        return statistics.median(values) if values else None

    @property
    def client_bound(self) -> bool:
        return any(r.client_bound for r in self.repeats)

    # What the level cost (repeats that sampled it; None when none did).

    @property
    def cpu_ms_per_request(self) -> float | None:
        """The median over repeats of the server's CPU milliseconds per request."""
        values = [v for v in (r.cpu_ms_per_request for r in self.repeats) if v is not None]
        return statistics.median(values) if values else None

    @property
    def cpu_ms_resolution(self) -> float | None:
        """The coarsest :attr:`Repeat.cpu_ms_resolution` of the repeats."""
        values = [v for v in (r.cpu_ms_resolution for r in self.repeats) if v is not None]
        return max(values) if values else None

    @property
    def peak_rss_kib(self) -> int | None:
        """The server's largest resident size (KiB) in any repeat."""
        values = [r.resources.server_peak_rss_kib for r in self.repeats
                  if r.resources is not None and r.resources.server_peak_rss_kib is not None]
        return max(values) if values else None

    @property
    def driver_saturated(self) -> bool:
        """The driver used >= DRIVER_SATURATED of its CPUs in some repeat."""
        return any(r.resources is not None and r.resources.driver_saturated
                   for r in self.repeats)

    @property
    def driver_utilisation(self) -> float | None:
        """The driver's largest CPU share over the repeats."""
        values = [r.resources.driver_utilisation for r in self.repeats
                  if r.resources is not None]
        known = [v for v in values if v is not None]
        return max(known) if known else None

    @property
    def resources_unknown(self) -> str | None:
        """Why the server's figures are missing from a sampled level (e.g. ``--url``)."""
        for r in self.repeats:
            if r.resources is not None and r.resources.server_unknown:
                return r.resources.server_unknown
        return None

    @property
    def errors(self) -> int:
        return sum(r.error_count for r in self.repeats)

    @property
    def rounds(self) -> list[int]:
        return [r.round for r in self.repeats]


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Check:
        return cls(raw["name"], bool(raw["ok"]), raw.get("detail", ""),
                   _split(raw, ("name", "ok", "detail")))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail, **self.extra}


@dataclass
class Verification:
    passed: bool
    checks: list[Check] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Verification:
        return cls(bool(raw["passed"]), [Check.from_dict(c) for c in raw.get("checks") or []],
                   _split(raw, ("passed", "checks")))

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "checks": [c.to_dict() for c in self.checks],
                **self.extra}

    @property
    def failed_checks(self) -> list[str]:
        return [check.name for check in self.checks if not check.ok]


#: An entry's status: measured (or measurable), failed in some phase, or never run.
STATUSES = ("ok", "failed", "unsupported")


@dataclass
class Entry:
    """One (server, loop, parser, test type) -- and worker count, when more than one:
    its verification and its levels."""

    server: str
    loop: str
    parser: str
    test: str
    status: str = "ok"
    phase: str | None = None  # where a failure happened: start, verify, driver, crash
    reason: str | None = None
    output: str | None = None
    server_version: str | None = None
    verification: Verification | None = None
    levels: list[Level] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. the server's command, notes
    #: Worker processes the server ran with (``bench run --workers``); None where not
    #: known: files written before it, a ``--url`` server.
    workers: int | None = None

    _KEYS = ("server", "workers", "loop", "parser", "test", "status", "phase", "reason",
             "output", "server_version", "verification", "levels")

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Entry:
        verification = raw.get("verification")
        workers = raw.get("workers")
        return cls(
            raw["server"], raw["loop"], raw["parser"], raw["test"], raw["status"],
            raw.get("phase"), raw.get("reason"), raw.get("output"), raw.get("server_version"),
            None if verification is None else Verification.from_dict(verification),
            [Level.from_dict(level) for level in raw.get("levels") or []],
            _split(raw, cls._KEYS), None if workers is None else int(workers),
        )

    def to_dict(self) -> dict[str, Any]:
        # "workers" only when known: a file written before it reads back byte for byte.
        workers = {} if self.workers is None else {"workers": self.workers}
        return {
            "server": self.server, **workers, "loop": self.loop, "parser": self.parser,
            "test": self.test, "status": self.status, "phase": self.phase,
            "reason": self.reason, "output": self.output,
            "server_version": self.server_version,
            "verification": None if self.verification is None else self.verification.to_dict(),
            "levels": [level.to_dict() for level in self.levels], **self.extra,
        }

    @property
    def name(self) -> str:
        """The server's name as entries are told apart and ranked: ``uvicorn``, or
        ``uvicorn x2`` with two workers (:func:`asgibench.harness.servers.named`)."""
        return named(self.server, self.workers)

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.name, self.loop, self.parser, self.test)

    @property
    def config(self) -> tuple[str, str, str]:
        return (self.name, self.loop, self.parser)

    @property
    def measured_levels(self) -> list[Level]:
        """The closed-loop levels that hold at least one repeat, in order (what is
        ranked: an open-loop level's throughput is its target, not the server's)."""
        return [level for level in self.levels if level.repeats and level.rate is None]

    @property
    def open_levels(self) -> list[Level]:
        """The open-loop levels (``--rate``) that hold at least one repeat or failure, in
        order."""
        return [level for level in self.levels
                if (level.repeats or level.failures) and level.rate is not None]

    def fail(self, phase: str, reason: str, output: str | None = None) -> None:
        self.status, self.phase, self.reason, self.output = "failed", phase, reason, output


@dataclass
class Ceiling:
    """The load driver against the canned-response server at one (test, concurrency):
    what the driver can measure at all on this machine. ``repeats`` holds one measurement
    per round when runs were merged (``extra['rounds']`` of each says which)."""

    test: str
    concurrency: int
    pipeline: int = 1
    status: str = "ok"
    result: Measurement | None = None
    reason: str | None = None
    repeats: list[Measurement] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    _KEYS = ("test", "concurrency", "pipeline", "status", "result", "reason", "repeats")

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Ceiling:
        result = raw.get("result")
        return cls(raw["test"], int(raw["concurrency"]), int(raw.get("pipeline") or 1),
                   raw["status"], None if result is None else Measurement.from_dict(result),
                   raw.get("reason"),
                   [Measurement.from_dict(r) for r in raw.get("repeats") or []],
                   _split(raw, cls._KEYS))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"test": self.test, "concurrency": self.concurrency,
                               "pipeline": self.pipeline, "status": self.status}
        if self.repeats:  # key order as the harness and bench merge have written it
            out["repeats"] = [r.to_dict() for r in self.repeats]
        if self.reason is not None:
            out["reason"] = self.reason
        if self.result is not None:
            out["result"] = self.result.to_dict()
        out.update(self.extra)
        return out

    def measurements(self) -> list[float]:
        """Every requests/s measured (one per round when merged, else the one result)."""
        if self.status != "ok":
            return []
        values = [r.requests_per_s for r in self.repeats
                  if _number(r.requests_per_s) is not None]
        if not values and self.result is not None:
            values = [self.result.requests_per_s]
        return [float(v) for v in values]


@dataclass
class Accuracy:
    """The Python driver's own latency at one open-loop rate: the driver at ``target_rps``
    against the canned-response server, whose answers cost next to nothing, so what it
    measures is what the driver adds to every latency at that rate. ``rate`` is the open
    level it stands for (``"50%"``, ``"1000"``); a percentage is measured at the highest
    target it came to in the run."""

    test: str
    rate: str
    target_rps: float
    connections: int
    status: str = "ok"
    result: Measurement | None = None
    reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    _KEYS = ("test", "rate", "target_rps", "connections", "status", "result", "reason")

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Accuracy:
        result = raw.get("result")
        return cls(raw["test"], str(raw["rate"]), float(raw["target_rps"]),
                   int(raw["connections"]), raw["status"],
                   None if result is None else Measurement.from_dict(result),
                   raw.get("reason"), _split(raw, cls._KEYS))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"test": self.test, "rate": self.rate,
                               "target_rps": self.target_rps,
                               "connections": self.connections, "status": self.status}
        if self.reason is not None:
            out["reason"] = self.reason
        if self.result is not None:
            out["result"] = self.result.to_dict()
        out.update(self.extra)
        return out


@dataclass
class Settings:
    """How the run was configured (every field is in every results file so far)."""

    profile: str
    driver: dict[str, Any]  # {"name": "wrk"|"python", "version": ...}
    tests: list[str]
    levels: dict[str, list[int]]
    pipeline: dict[str, int]
    duration_s: float
    warmup_s: float
    primer_s: float
    pause_s: float
    repeat: int
    timeout_s: float
    host: str
    port: int
    servers: list[str]
    loops: list[str]
    parsers: list[str]
    app: str
    app_delay_ms: float
    pinning: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    _KEYS = ("profile", "driver", "tests", "levels", "pipeline", "duration_s", "warmup_s",
             "primer_s", "pause_s", "repeat", "timeout_s", "host", "port", "servers",
             "loops", "parsers", "app", "app_delay_ms", "pinning", "notes")

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Settings:
        values = {key: raw[key] for key in cls._KEYS if key != "notes"}
        values["levels"] = {test: list(levels) for test, levels in raw["levels"].items()}
        return cls(**values, notes=list(raw.get("notes") or []),
                   extra=_split(raw, cls._KEYS))

    def to_dict(self) -> dict[str, Any]:
        out = {key: getattr(self, key) for key in self._KEYS if key != "notes"}
        out["levels"] = {test: list(levels) for test, levels in self.levels.items()}
        out.update(self.extra)
        out["notes"] = list(self.notes)  # last, as every results file so far has it
        return out

    @property
    def rates(self) -> list[str]:
        """``bench run --rate``: the open-loop rates as given (empty: closed loop only)."""
        value = self.extra.get("rates")
        return [str(v) for v in value] if isinstance(value, list) else []

    @property
    def target(self) -> dict[str, Any] | None:
        """``bench run --url``: ``{url, server, unknown}``, the server that was measured
        without being started here (its loop, parser, version and pinning unknown);
        None for a run that started its servers."""
        value = self.extra.get("target")
        return value if isinstance(value, dict) else None


@dataclass
class HostRecord:
    """One host of a run across hosts (``environment.hosts``): its role, where it was
    reached, and what was read on it (its ``environment`` has the shape of the run's)."""

    role: str  # "server", "driver" or "database"
    url: str  # ssh://USER@HOST:PORT
    environment: dict[str, Any]
    hostname: str | None = None
    asgibench_version: str | None = None
    cpus: list[int] | None = None  # the role's CPUs on that host (None: not pinned)
    clock_offset_ms: float | None = None  # its clock minus the controller's
    gone: str | None = None  # why it went away mid-run

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> HostRecord:
        return cls(raw["role"], raw["url"], dict(raw.get("environment") or {}),
                   raw.get("hostname"), raw.get("asgibench_version"), raw.get("cpus"),
                   raw.get("clock_offset_ms"), raw.get("gone"))


@dataclass
class Run:
    """One results file. ``path`` and ``label`` say where it came from (not stored)."""

    created: str
    asgibench_version: str
    command: list[str]
    environment: dict[str, Any]
    settings: Settings
    ceiling: list[Ceiling] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    interrupted: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    path: str = ""
    label: str = ""
    #: The driver's own latency at each open-loop rate (``driver_accuracy``; none without
    #: --rate).
    accuracy: list[Accuracy] = field(default_factory=list)

    # ``ranking`` and ``composite`` are derived from the entries: recomputed, not kept.
    _KEYS = ("schema", "created", "asgibench_version", "command", "environment", "settings",
             "ceiling", "entries", "interrupted", "ranking", "composite", "driver_accuracy")

    @classmethod
    def from_dict(cls, raw: dict[str, Any], path: str = "", label: str = "") -> Run:
        return cls(
            raw["created"], raw["asgibench_version"], list(raw["command"]),
            raw["environment"], Settings.from_dict(raw["settings"]),
            [Ceiling.from_dict(c) for c in raw.get("ceiling") or []],
            [Entry.from_dict(e) for e in raw.get("entries") or []],
            bool(raw.get("interrupted")), _split(raw, cls._KEYS), path, label,
            [Accuracy.from_dict(a) for a in raw.get("driver_accuracy") or []],
        )

    def to_dict(self) -> dict[str, Any]:
        """The document, with ``ranking`` and ``composite`` computed from the entries."""
        rows = ranking.rank_run(self)
        return {
            "schema": SCHEMA_ID,
            "created": self.created,
            "asgibench_version": self.asgibench_version,
            "command": list(self.command),
            "interrupted": self.interrupted,
            "environment": self.environment,
            "settings": self.settings.to_dict(),
            "ceiling": [record.to_dict() for record in self.ceiling],
            "entries": [entry.to_dict() for entry in self.entries],
            "ranking": {test: [row.stored() for row in ranked] for test, ranked in
                        rows.items()},
            "composite": [row.stored() for row in ranking.composite(rows)],
            **({"driver_accuracy": [a.to_dict() for a in self.accuracy]}
               if self.accuracy else {}),
            **self.extra,
        }

    @property
    def hosts(self) -> list[HostRecord]:
        """The hosts of a run across hosts (empty for a run on one machine)."""
        return [HostRecord.from_dict(h) for h in self.environment.get("hosts") or []]

    @property
    def server_environment(self) -> dict[str, Any]:
        """The environment of the machine the servers ran on: the server host's in a run
        across hosts (the top-level one is the controller's), else the run's own. What
        reports call the machine, and what runs must share to be compared or pooled."""
        for host in self.hosts:
            if host.role == "server" and host.environment:
                return host.environment
        return self.environment

    @property
    def tests(self) -> list[str]:
        """The test types of the settings, then any other an entry names."""
        out = list(self.settings.tests)
        for entry in self.entries:
            if entry.test not in out:
                out.append(entry.test)
        return out

    def ceiling_values(self, test: str, concurrency: int) -> list[float]:
        """The driver ceiling's requests/s at (test, concurrency), every measurement of it;
        empty when it was not measured or failed."""
        out: list[float] = []
        for record in self.ceiling:
            if record.test == test and record.concurrency == concurrency:
                out.extend(record.measurements())
        return out

    def ceiling_rounds(self, test: str, concurrency: int) -> dict[int, float]:
        """round -> the ceiling's requests/s in that round, when it was measured once per
        round (merged runs); else empty."""
        out: dict[int, float] = {}
        for record in self.ceiling:
            if record.test != test or record.concurrency != concurrency or \
                    record.status != "ok":
                continue
            for repeat in record.repeats:
                value = _number(repeat.requests_per_s)
                if not value:
                    continue
                # "rounds": one measurement that serves several rounds (merged runs).
                rounds = repeat.extra.get("rounds") or [repeat.extra.get("round")]
                for number in rounds:
                    if isinstance(number, int):
                        out[number] = value
        return out


# -- files ------------------------------------------------------------------------------


def default_filename(created: str) -> str:
    stamp = re.sub(r"[^0-9T]", "", created)
    host = re.sub(r"[^A-Za-z0-9_.-]", "-", platform.node() or "host")[:40]
    return f"asgibench-{stamp}-{host}.json"


def output_path(out: str | os.PathLike[str], created: str) -> Path:
    """``--out``: a ``.json`` path is the file; anything else is a directory."""
    path = Path(out)
    if path.suffix.lower() == ".json" and not str(out).endswith(("/", os.sep)):
        return path
    return path / default_filename(created)


def check_writable(out: str | os.PathLike[str], *, directory_ok: bool = True) -> None:
    """BenchError now, rather than after a run has been measured, if ``--out`` cannot take
    its file.

    ``--out`` is a ``.json`` file or (with ``directory_ok``) a directory, existing or to be
    created. A path with another suffix (``out.txt``) is refused unless it is an existing
    directory: silently creating a directory named ``out.txt/`` hides the mistake. The
    nearest existing directory is probed by creating a file in it, since permission bits
    do not tell (root passes ``os.access`` on ``/proc``, where nothing can be created).
    """
    path = Path(out)
    # "results/v1.2/": a trailing separator says directory, whatever the name looks like.
    says_directory = str(out).endswith(("/", os.sep))
    is_json = path.suffix.lower() == ".json" and not says_directory
    wanted = "a FILE.json or a directory" if directory_ok else "a FILE.json"
    if is_json and path.is_dir():
        raise BenchError(f"--out {str(path)!r} is a directory; drop the .json or pick a file")
    if not is_json:
        if not directory_ok:
            raise BenchError(f"--out {str(path)!r} is not a .json file; name {wanted}")
        if path.exists() and not path.is_dir():
            raise BenchError(f"--out {str(path)!r} is a file, not a directory; name {wanted}")
        if path.suffix and not path.is_dir() and not says_directory:
            raise BenchError(f"--out {str(path)!r} is neither a .json file nor a directory; "
                             f"name {wanted}")
    directory = path.parent if is_json else path
    probe = directory
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise BenchError(f"--out {str(out)!r}: {str(probe)!r} is a file, not a directory")
    try:
        with tempfile.TemporaryFile(dir=probe, prefix=".asgibench-probe-"):
            pass
    except OSError as exc:
        raise BenchError(f"--out {str(out)!r}: cannot create files in {str(probe)!r} "
                         f"({exc.strerror or exc})") from None


def write_or_keep(path: Path, writer: Callable[[Path], object]) -> tuple[Path, str | None]:
    """Write with ``writer(path)``; if that fails after all (the disk filled, the directory
    went away), write the same to a temporary file rather than lose what was measured.
    Returns (where it is, the reason ``path`` could not be used or None)."""
    try:
        writer(path)
        return path, None
    except (BenchError, OSError) as exc:
        reason = str(exc) if isinstance(exc, BenchError) else \
            f"cannot write {str(path)!r}: {exc.strerror or exc}"
        fallback = Path(tempfile.mkdtemp(prefix="asgibench-")) / path.name
        writer(fallback)
        return fallback, reason


def write(run: Run | dict[str, Any], path: Path) -> Path:
    """Validate and write a run (or its document); BenchError if the file cannot be
    written."""
    document = run.to_dict() if isinstance(run, Run) else run
    schema.validate(document)
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)  # no half-written stray beside the results
        raise BenchError(f"cannot write results file {str(path)!r}: {exc.strerror or exc}") \
            from exc
    return path


def read(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load and validate a results file's document; every problem is one BenchError line."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BenchError(f"results file {name!r} does not exist") from None
    except IsADirectoryError:
        raise BenchError(f"results file {name!r} is a directory") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise BenchError(f"cannot read results file {name!r}: {reason}") from None
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise BenchError(f"results file {name!r} is not valid JSON: {exc}") from None
    if not isinstance(document, dict) or "schema" not in document:
        raise BenchError(f"{name!r} is not an asgibench results file (no \"schema\" key)")
    if document["schema"] != SCHEMA_ID:
        raise BenchError(
            f"results file {name!r} has schema {document['schema']!r}; this asgibench reads "
            f"{SCHEMA_ID!r}"
        )
    problems = schema.errors(document)
    if problems:
        raise BenchError(f"results file {name!r} is invalid: {problems[0]}"
                         + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))
    return document


def load(path: str | os.PathLike[str], label: str = "") -> Run:
    """Read a results file as a :class:`Run` (BenchError, one line, if it cannot be)."""
    name = str(path)
    return Run.from_dict(read(path), name, label or (Path(name).stem or name))
