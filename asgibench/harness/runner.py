"""Orchestration of one ``bench run``.

1. Ceiling: the canned-response server (:mod:`asgibench.harness.canned`) is measured at
   every (test type, level) with the same driver; results within 20% of it are flagged
   client-bound.
2. Rounds (``repeat``): every runnable combination once per round, the order rotated
   each round, so machine drift hits them all alike. Per combination and round: start
   the server in its own process (pinned), wait until it answers, verify every test type,
   then per test type prime, warm up and measure each level; stop it (SIGINT, then
   SIGKILL after a bound). In round 1 the Date-refresh check runs at the end.
3. Open loop (``rates``, ``bench run --rate``): after every test type's closed-loop
   levels in a round (and the Date check), each rate is measured open-loop, starting
   with the connections of the heaviest closed-loop level: a number is requests per
   second, a percentage is of the entry's best closed-loop figure in that round. Open
   loop sends one request per connection, so for a pipelined type (plaintext) the
   percentage is of a figure of its own: one closed-loop measurement unpipelined at the
   best level's connections, just before. A failure there (the driver's, or the server
   crashing) is recorded on the open-loop level (``Level.failures``) and the entry stays
   ok; after a crash that entry's remaining rates are not measured again. At the end, the
   driver's own latency at each rate is measured against the canned-response server
   (``Run.accuracy``).
4. Failures never abort the run: a server that does not start, fails verification or
   crashes mid-run becomes a ``failed`` entry with the last lines of its output.

With ``--url`` the one server is a :class:`~asgibench.harness.servers.Remote` that is
already running: nothing is started or stopped (the canned server of the ceiling excepted,
on this machine), each round verifies and measures it the same way, and one that stops
accepting connections is failed as a crash. Its loop, parser and version are recorded as
unknown, and the environment leaves out the server packages: they are this machine's,
not the target's.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from asgibench import __version__
from asgibench.harness import environment, servers, testtypes, verify, workloads
from asgibench.harness.app import DELAY_ENV
from asgibench.harness.db import ENV as DB_ENV
from asgibench.harness.drivers import Driver, DriverError, LoadResult, LoadSpec
from asgibench.harness.httpclient import Client, VerifyError
from asgibench.harness.pinning import PinPlan
from asgibench.harness.process import ServerProcess, StartFailed, server_env
from asgibench.harness.progress import NullProgress
from asgibench.harness.results import (
    Accuracy,
    Ceiling,
    Check,
    Entry,
    Level,
    Measurement,
    Repeat,
    Run,
    Verification,
)
from asgibench.harness.results import (
    Settings as RunSettings,
)
from asgibench.harness.runmarker import RunMarker
from asgibench.harness.sampling import Sampler
from asgibench.harness.servers import APP_IMPORT, Launch, Remote, Unsupported
from asgibench.harness.testtypes import TestType

if TYPE_CHECKING:
    from asgibench.harness.hosts import RemoteSampler, RemoteServerProcess, Topology

    #: What the runner measures: a server here, on the server host, or at --url.
    AnyServer = ServerProcess | "RemoteServer" | RemoteServerProcess

CLIENT_BOUND_FRACTION = 0.8  # within 20% of the driver's ceiling
PRIMER_CONNECTIONS = 8  # TFB's primer
#: Before each load phase the server must answer a fresh request within SETTLE_FAST_S
#: (it may still be draining what the previous phase's driver left queued); we wait up to
#: SETTLE_TIMEOUT_S for that.
SETTLE_FAST_S = 0.1
SETTLE_TIMEOUT_S = 30.0
_STARTUP_ESTIMATE_S = 1.0
#: ``--url``: seconds the server may take to accept a connection before it counts as gone.
REMOTE_ALIVE_TIMEOUT_S = 5.0
#: Why a ``--url`` server's CPU and memory are missing from its levels' resources.
REMOTE_UNKNOWN = "--url: the server runs outside this run, so its CPU and memory are unknown"
#: Packages only the servers use (asgibench's parsers, the peers): with ``--url`` the
#: versions installed here say nothing of the target, so the environment leaves them out.
SERVER_PACKAGES = ("httptools", "zttp", "uvicorn", "hypercorn", "granian")
#: Open loop: the connections a measurement may grow to, rate x this (Little's law at a
#: latency of 200 ms: a 100 ms stall is absorbed twice over), at least
#: OPEN_MIN_CONNECTIONS and the level's own. Beyond it the server is overloaded: more
#: connections would only measure connecting, and exhaust file descriptors; requests
#: queue instead, counted late (their latency still runs from the scheduled time).
OPEN_LATENCY_BUDGET_S = 0.2
OPEN_MIN_CONNECTIONS = 64


@dataclass
class Settings:
    tests: list[TestType]
    levels: dict[str, list[int]]
    duration: float
    warmup: float
    primer: float
    pause: float
    repeat: int
    host: str
    port: int
    profile: str
    timeout: float = 8.0
    startup_timeout: float = 20.0
    stop_timeout: float = 5.0
    ceiling: bool = True
    notes: list[str] = field(default_factory=list)
    app: str = APP_IMPORT  # MODULE:ATTR every server serves; with --url, the URL
    app_dir: str | None = None  # put first on the servers' import path (--app-dir)
    target: Remote | None = None  # --url: the server already running (host, port: its)
    #: Where the canned server of the ceiling listens when not at (host, port) (--url).
    ceiling_addr: tuple[str, int] | None = None
    #: ``--ws``: the WebSocket implementations of a run with WebSocket test types.
    ws: list[str] = field(default_factory=list)
    #: The database of the database test types (a URL), given to every server started
    #: as ASGIBENCH_DB and read directly by verification; None when no type needs one.
    db: str | None = None
    #: A directory this run made for its own database (the default SQLite file), removed
    #: when the run ends.
    db_scratch: str | None = None
    #: ``--workers``: the worker counts every server runs with (one launch each).
    workers: list[int] = field(default_factory=lambda: [1])
    #: ``--server-host``/``--driver-host``: the hosts the servers and drivers run on
    #: (None: this machine).
    hosts: Topology | None = None
    #: ``--rate``: open-loop rates as given (``"1000"``, ``"50%"``); empty: closed loop.
    rates: list[str] = field(default_factory=list)
    arrival: str = "fixed"  # ``--arrival``: fixed intervals or poisson
    #: The most connections one open-loop measurement may hold (the open-file limit's).
    max_connections: int = 4096


class RemoteServer:
    """What the runner asks of a server process, for one it did not start (``--url``):
    alive while it accepts connections; no output, no exit status, nothing to stop."""

    returncode = None

    def __init__(self, target: Remote) -> None:
        self.target = target

    def alive(self) -> bool:
        return self.target.reachable(REMOTE_ALIVE_TIMEOUT_S) is None

    def output(self) -> str:
        return ""


class Runner:
    def __init__(
        self,
        settings: Settings,
        plan: list[Launch | Unsupported | Remote],
        driver: Driver,
        pins: PinPlan,
        progress: NullProgress | None = None,
        selection: dict[str, list[str]] | None = None,
        command: list[str] | None = None,
        checkpoint: Callable[[Run], object] | None = None,
    ) -> None:
        self.settings = settings
        self.plan = plan
        self.launches = [item for item in plan if isinstance(item, (Launch, Remote))]
        self.driver = driver
        self.pins = pins
        self.progress = progress or NullProgress()
        self.selection = selection or {}
        self.command = command or []
        #: Called with the results so far (marked interrupted) after the ceiling and after
        #: each server's round, so a run that dies (or a host that goes away) loses
        #: nothing measured.
        self.checkpoint = checkpoint
        self.entries: dict[tuple[str, str, str, str], Entry] = {}
        self.ceiling: list[Ceiling] = []
        self.accuracy: list[Accuracy] = []
        self._ceiling_rps: dict[tuple[str, int], float] = {}
        # Entries whose server crashed under open loop: their remaining rates are skipped.
        self._open_stopped: set[tuple[str, str, str, str]] = set()
        self.interrupted = False
        self.created = environment.now_iso()
        hosts = settings.hosts
        self._server_versions = dict(hosts.server.probe.get("server_versions") or {}) \
            if hosts is not None else servers.versions()
        self._init_entries()

    # -- setup ---------------------------------------------------------------------------

    def _init_entries(self) -> None:
        for item in self.plan:
            for test in self.settings.tests:
                # A --url server's version is unknown, whatever its label resembles.
                version = None if isinstance(item, Remote) else \
                    self._server_versions.get(item.server)
                entry = Entry(item.server, item.loop, item.parser, test.name,
                              server_version=version, workers=item.workers)
                if isinstance(item, Unsupported):
                    entry.status, entry.reason = "unsupported", item.reason
                else:
                    entry.levels = [self._level(test, level)
                                    for level in self.settings.levels[test.name]]
                    # Open-loop levels start with the connections of the heaviest
                    # closed-loop one, unpipelined.
                    entry.levels += [Level(max(lv.concurrency for lv in entry.levels), 1,
                                           rate=rate) for rate in self.settings.rates]
                    if isinstance(item, Remote):
                        entry.extra["url"] = item.url
                    else:
                        entry.extra["command"] = item.argv
                if test.websocket is not None and not isinstance(item, Remote) and item.ws:
                    entry.extra["ws"] = item.ws
                self.entries[entry.key] = entry

    @staticmethod
    def _level(test: TestType, level: int) -> Level:
        if test.level_kind == "queries":
            return Level(test.query_concurrency, test.pipeline, queries=level)
        return Level(level, test.pipeline)

    def _entry(self, launch: Launch | Remote, test: TestType) -> Entry:
        return self.entries[(*launch.key, test.name)]

    def _fail(self, launch: Launch | Remote, phase: str, reason: str,
              output: str | None = None,
              tests: list[TestType] | None = None) -> None:
        for test in tests or self.settings.tests:
            entry = self._entry(launch, test)
            if entry.status == "ok":
                entry.fail(phase, reason, output or None)

    def planned_seconds(self) -> float:
        s = self.settings
        per_test = {
            t.name: s.primer + s.warmup + len(s.levels[t.name]) * (s.duration + s.pause)
            for t in s.tests
        }
        one_round = len(self.launches) * (_STARTUP_ESTIMATE_S + sum(per_test.values()))
        ceiling = sum(len(s.levels[t.name]) * s.duration for t in s.tests) if s.ceiling else 0
        opened = len(s.rates) * len(s.tests) * s.duration
        accuracy = opened if s.ceiling else 0
        if any(rate.endswith("%") for rate in s.rates):  # pipelined types' reference
            opened += sum(s.duration for t in s.tests if t.pipeline > 1)
        return ceiling + accuracy + s.repeat * (one_round + len(self.launches) * opened)

    # -- the run -------------------------------------------------------------------------

    def run(self) -> Run:
        with RunMarker() as others:
            if others:
                note = (f"another bench run was running at the start (pid "
                        f"{', '.join(map(str, others))}): both share the CPUs, so these "
                        "numbers are unreliable")
                self.settings.notes.append(note)
                self.progress.note(f"[yellow]warning:[/] {note}")
            try:
                return self._run()
            finally:
                if self.settings.db_scratch:
                    shutil.rmtree(self.settings.db_scratch, ignore_errors=True)
                if self.settings.hosts is not None:
                    self.settings.hosts.close()

    def _run(self) -> Run:
        self.progress.start(self.planned_seconds())
        try:
            if self.settings.ceiling and self.launches and \
                    any(t.has_ceiling for t in self.settings.tests):
                self._measure_ceiling()
                self._save()
            count = len(self.launches)
            for round_no in range(1, self.settings.repeat + 1):
                shift = (round_no - 1) % count if count else 0
                for launch in self.launches[shift:] + self.launches[:shift]:
                    if all(self._entry(launch, t).status != "ok"
                           for t in self.settings.tests):
                        continue
                    self._run_launch(launch, round_no)
                    self._save()
            if self.settings.rates and self.settings.ceiling and self.launches:
                self._measure_accuracy()
        except KeyboardInterrupt:
            self.interrupted = True
        finally:
            self.progress.stop()
        return self.results()

    def _save(self) -> None:
        if self.checkpoint is not None:
            # Marked interrupted: a file left by a run that dies before its final write
            # must not read as a finished one (every report says "partial results").
            self.checkpoint(self.results(partial=True))

    def _process(self, argv: list[str], env: dict[str, str] | None = None
                 ) -> ServerProcess | RemoteServerProcess:
        """A server process: here, pinned to the server CPUs, or on the server host
        (started with its Python; the environment passed is only what asgibench sets)."""
        hosts = self.settings.hosts
        if hosts is None:
            return ServerProcess(argv, self.pins.server, env)
        if argv and argv[0] == sys.executable:
            argv = [hosts.ssh.python, *argv[1:]]
        s = self.settings
        overrides = server_env(s.app_dir, s.db, base={
            name: value for name, value in os.environ.items()
            if name.startswith("ASGIBENCH_") and name != DB_ENV})
        return hosts.server_process(argv, overrides, [] if s.db else [DB_ENV])

    def _database_extra(self) -> dict[str, Any]:
        """The database the database types ran on (its password masked)."""
        if not self.settings.db:
            return {}
        from asgibench.harness import db

        dburl = db.parse_url(self.settings.db)
        return {"database": {"kind": dburl.kind, "url": dburl.display()}}

    def _workload_extra(self) -> dict[str, Any]:
        """The workloads' definitions, so a report can say what was measured."""
        defined = [t.workload.to_dict() for t in self.settings.tests if t.workload]
        out: dict[str, Any] = {"workloads": defined} if defined else {}
        if self.settings.app_dir:
            out["app_dir"] = self.settings.app_dir
        return out

    def _spec(self, test: TestType, connections: int, duration: float, pipeline: int,
              address: tuple[str, int] | None = None, path: str | None = None) -> LoadSpec:
        host, port = address or (self.settings.host, self.settings.port)
        workload = test.workload
        authority = workloads.authority(host, port)
        return LoadSpec(
            host=host,
            port=port,
            path=path or test.path,
            connections=connections,
            duration=duration,
            pipeline=pipeline,
            timeout=self.settings.timeout,
            accept=test.accept,
            test=test.name if testtypes.is_registered(test) else None,
            cpus=self.pins.driver,
            slots=self.pins.driver_slots(),
            wires=workloads.wires(workload, authority) if workload else (),
            close=bool(workload and workload.connection == "close"),
            websocket=test.websocket is not None,
            message_size=test.websocket.size if test.websocket else 0,
            storm=bool(test.websocket and test.websocket.storm),
        )

    def _measure_ceiling(self) -> None:
        s = self.settings
        address = s.ceiling_addr or (s.host, s.port)
        argv = [sys.executable, "-m", "asgibench.harness.canned", "--host", address[0],
                "--port", str(address[1])]
        server = self._process(argv)
        try:
            self._start(server, s.tests[0], address)
        except StartFailed as exc:
            for test in [t for t in s.tests if t.has_ceiling]:
                for level in s.levels[test.name]:
                    self.ceiling.append(Ceiling(test.name, level, test.pipeline, "failed",
                                                reason=f"canned server: {exc.reason}"))
            server.close()
            return
        try:
            # A workload or a WebSocket type has no canned answer: no ceiling for it (nor
            # for query levels).
            for test in [t for t in s.tests if t.has_ceiling]:
                for level in s.levels[test.name]:
                    label = f"driver ceiling · {test.name} c={level}"
                    self.progress.step(label, s.duration)
                    record = Ceiling(test.name, level, test.pipeline)
                    try:
                        result = self.driver.run(self._spec(test, level, s.duration,
                                                            test.pipeline, address))
                    except DriverError as exc:
                        record.status, record.reason = "failed", str(exc)
                    else:
                        record.result = Measurement.from_dict(result.to_dict())
                        self._ceiling_rps[(test.name, level)] = result.requests_per_s
                    self.ceiling.append(record)
                    self.progress.done_step()
        finally:
            server.stop(s.stop_timeout)
            server.close()

    def _open_spec(self, test: TestType, level: Level, target: float,
                   address: tuple[str, int] | None = None) -> LoadSpec:
        """An open-loop measurement at ``target`` requests per second: the level's
        connections first, and under load as many more as ``target`` x
        OPEN_LATENCY_BUDGET_S keeps busy (at least OPEN_MIN_CONNECTIONS; bounded by the
        open-file limit)."""
        s = self.settings
        spec = self._spec(test, level.concurrency, s.duration, 1, address)
        spec.rate = target
        spec.arrival = s.arrival
        wanted = max(math.ceil(target * OPEN_LATENCY_BUDGET_S), OPEN_MIN_CONNECTIONS)
        spec.max_connections = max(level.concurrency, min(wanted, s.max_connections))
        return spec

    def _measure_accuracy(self) -> None:
        """The driver's own latency at every open-loop rate, against the canned-response
        server: at a number, that rate; at a percentage, the highest target it came to
        in the run (the hardest for the driver). A type without a canned answer (a
        workload) is measured on the json type's."""
        s = self.settings
        address = s.ceiling_addr or (s.host, s.port)
        jobs: list[tuple[TestType, TestType, Level, float]] = []
        for test in s.tests:
            probe = test if test.has_ceiling else testtypes.get("json")
            targets: dict[str, tuple[Level, float]] = {}
            for entry in self.entries.values():
                if entry.test != test.name:
                    continue
                for level in entry.open_levels:
                    rates = [r.open_loop.target_rps for r in level.repeats if r.open_loop]
                    top = max(rates, default=0.0)
                    if top > targets.get(level.rate or "", (level, 0.0))[1]:
                        targets[level.rate or ""] = (level, top)
            jobs += [(test, probe, level, top) for level, top in targets.values()]
        if not jobs:
            return
        argv = [sys.executable, "-m", "asgibench.harness.canned", "--host", address[0],
                "--port", str(address[1])]
        server = ServerProcess(argv, self.pins.server)
        try:
            self._start(server, jobs[0][1], address)
        except StartFailed as exc:
            for test, _, level, top in jobs:
                self.accuracy.append(Accuracy(test.name, level.rate or "", top,
                                              level.concurrency, "failed",
                                              reason=f"canned server: {exc.reason}"))
            server.close()
            return
        try:
            for test, probe, level, top in jobs:
                self.progress.step(f"driver accuracy · {test.name} {level.label} "
                                   f"({top:.0f} req/s)", s.duration)
                record = Accuracy(test.name, level.rate or "", round(top, 2),
                                  level.concurrency)
                if probe is not test:
                    record.extra["probe"] = probe.name
                try:
                    result = self.driver.run(self._open_spec(probe, level, top, address))
                except DriverError as exc:
                    record.status, record.reason = "failed", str(exc)
                else:
                    record.result = Measurement.from_dict(result.to_dict())
                    if record.result.open_loop is not None:
                        record.result.open_loop.flags = record.result.open_loop.judge()
                self.accuracy.append(record)
                self.progress.done_step()
        finally:
            server.stop(s.stop_timeout)
            server.close()

    def _start(self, server: ServerProcess | RemoteServerProcess, first_test: TestType,
               address: tuple[str, int] | None = None, workers: int = 1) -> float:
        s = self.settings
        host, port = address or (s.host, s.port)
        server.start_on(host, port)
        try:
            waited = server.wait_ready(host, port, first_test, s.startup_timeout)
            if workers > 1 and isinstance(server, ServerProcess):
                # The first answer may come from the first worker up: wait until all
                # listen and their start-up CPU work is over, in what is left of the
                # start-up timeout. (On a server host, the agent does not report its
                # workers yet: there the first answer is taken as ready.)
                waited += server.wait_workers(port, workers,
                                              max(s.startup_timeout - waited, 0.0))
            return waited
        except StartFailed:
            server.stop(s.stop_timeout)
            raise

    def _run_launch(self, launch: Launch | Remote, round_no: int) -> None:
        if isinstance(launch, Remote):
            self._run_remote(launch, round_no)
            return
        s = self.settings
        server = self._process(launch.argv, server_env(s.app_dir, s.db))
        tag = f"round {round_no}/{s.repeat} · {launch.label}"
        self.progress.step(f"{tag} · starting", _STARTUP_ESTIMATE_S)
        try:
            try:
                self._start(server, s.tests[0], workers=launch.workers)
            except StartFailed as exc:
                self._fail(launch, "start", f"server failed to start: {exc.reason}",
                           exc.output)
                self.progress.note(f"[red]failed[/] {launch.label}: {exc.reason}")
                return
            finally:
                self.progress.done_step()
            self._verify_and_measure(launch, server, round_no, tag)
        finally:
            note = server.stop(s.stop_timeout)
            if note:
                for test in s.tests:
                    self._entry(launch, test).extra.setdefault("notes", []).append(
                        f"round {round_no}: {note}")
            server.close()

    def _run_remote(self, target: Remote, round_no: int) -> None:
        """One round on the ``--url`` server: nothing to start or stop."""
        tag = f"round {round_no}/{self.settings.repeat} · {target.server}"
        server = RemoteServer(target)
        why = target.reachable(REMOTE_ALIVE_TIMEOUT_S)
        if why:
            reason = f"cannot connect to {target.url}: {why}"
            self._fail(target, "start", reason)
            self.progress.note(f"[red]failed[/] {target.label}: {reason}")
            return
        self._verify_and_measure(target, server, round_no, tag)

    def _verify_and_measure(self, launch: Launch | Remote,
                            server: AnyServer, round_no: int,
                            tag: str) -> None:
        s = self.settings
        first_date: tuple[TestType, str | None, float] | None = None
        runnable: list[TestType] = []
        for test in s.tests:
            entry = self._entry(launch, test)
            if entry.status != "ok":
                continue
            if test.websocket is not None:
                outcome = verify.verify_websocket(test, s.host, s.port)
            elif test.workload is not None:
                outcome = verify.verify_workload(test.workload, s.host, s.port)
            else:
                outcome = verify.verify(test, s.host, s.port)
            if outcome.passed and (test.statements is not None or test.writes or
                                   test.check_rows is not None):
                outcome.checks.extend(verify.verify_database(test, s.host, s.port, s.db))
            if entry.verification is None:
                entry.verification = Verification.from_dict(outcome.to_dict())
            if not outcome.passed:
                self._fail(launch, "verify", f"verification failed: {outcome.summary()}",
                           server.output() if not server.alive() else None, [test])
                entry.verification = Verification.from_dict(outcome.to_dict())
                self.progress.note(f"[red]failed verification[/] {launch.label} {test.name}: "
                                   f"{outcome.summary()}")
                continue
            if first_date is None and test.websocket is None:  # no Date in a WebSocket
                first_date = (test, outcome.first_date, outcome.first_date_at)
            runnable.append(test)

        for test in runnable:
            if not self._measure_test(launch, server, test, round_no, tag):
                return

        self._date_check(launch, server, round_no, runnable, first_date)
        # Open loop last: a crash under it loses no closed-loop figure and no check.
        for at, test in enumerate(runnable):
            if not self._measure_open(launch, server, test, round_no, tag):
                for other in runnable[at + 1:]:
                    entry = self._entry(launch, other)
                    if any(level.rate is not None for level in entry.levels):
                        entry.extra.setdefault("notes", []).append(
                            f"round {round_no}: open loop not measured: the server "
                            f"crashed under {test.name}'s")
                return

    def _date_check(self, launch: Launch | Remote, server: ServerProcess | RemoteServer,
                    round_no: int, runnable: list[TestType],
                    first_date: tuple[TestType, str | None, float] | None) -> None:
        s = self.settings
        if round_no == 1 and first_date is not None:
            test, date, at = first_date
            self._settle(test, server)
            check = verify.check_date_refresh(test, s.host, s.port, date, at,
                                              timeout=SETTLE_TIMEOUT_S)
            for t in runnable:
                verification = self._entry(launch, t).verification
                if verification is not None:
                    verification.checks.append(Check.from_dict(check.to_dict()))
                    verification.passed = verification.passed and check.ok
            if not check.ok:
                self._fail(launch, "verify", f"verification failed: date_refresh: "
                           f"{check.detail}", None, runnable)

    def _measure_test(self, launch: Launch | Remote, server: AnyServer,
                      test: TestType, round_no: int, tag: str) -> bool:
        """Prime, warm up and measure every level; False if the server died."""
        s = self.settings
        entry = self._entry(launch, test)
        levels = [level for level in entry.levels if level.rate is None]
        # (phase, level, duration, pipelining, index of the level measured or None);
        # TechEmpower primes at 8 connections and warms up at the heaviest level.
        phases: list[tuple[str, Level, float, int, int | None]] = []
        if s.primer > 0:
            phases.append(("primer", Level(PRIMER_CONNECTIONS, 1, queries=levels[0].queries),
                           s.primer, 1, None))
        if s.warmup > 0:
            phases.append(("warm-up", max(levels, key=lambda lv: lv.value), s.warmup, 1,
                           None))
        for index, level in enumerate(levels):
            phases.append(("measure", level, s.duration, test.pipeline, index))
        for kind, level, duration, pipeline, index in phases:
            connections = level.concurrency
            label = f"{tag} · {test.name} · {kind} {level.label}"
            self.progress.step(label, duration + (s.pause if index is not None else 0))
            self._settle(test, server)
            path = test.path if level.queries is None else test.level_path(level.queries)
            # A measured level is sampled (server tree's CPU and memory over the driver's
            # measured window; the driver reports its own CPU).
            sampler = self._sampler(server) if index is not None else None
            try:
                with sampler or contextlib.nullcontext():
                    result = self.driver.run(self._spec(test, connections, duration,
                                                        pipeline, path=path), sampler)
            except DriverError as exc:
                if not server.alive():
                    return self._crashed(launch, server, test, level.label, round_no, kind)
                self._fail(launch, "driver", f"load driver failed: {exc}", None, [test])
                self.progress.done_step()
                return True
            if not server.alive():
                return self._crashed(launch, server, test, level.label, round_no, kind)
            self._count_workers(launch, server, test, level.label, round_no, kind)
            if index is not None:
                repeat = self._repeat(result, test, connections, round_no)
                repeat.resources = sampler.resources(result) if sampler else None
                levels[index].repeats.append(repeat)
                if s.pause > 0 and index + 1 < len(levels):
                    time.sleep(s.pause)
            self.progress.done_step()
        return True

    def _sampler(self, server: AnyServer) -> Sampler | RemoteSampler:
        """What samples a measured level's resources: the server's tree here, or on the
        server host by its agent (across hosts); for ``--url``, nothing (said so)."""
        if self.settings.hosts is not None and \
                not isinstance(server, (ServerProcess, RemoteServer)):
            return server.sampler()
        return Sampler(self._server_pid(server), REMOTE_UNKNOWN)

    @staticmethod
    def _server_pid(server: AnyServer) -> int | None:
        """The process whose tree is sampled; None for a server not started here."""
        if isinstance(server, ServerProcess) and server.proc is not None:
            return server.proc.pid
        return None

    def _count_workers(self, launch: Launch | Remote, server: ServerProcess | RemoteServer,
                       test: TestType, level: str, round_no: int, kind: str) -> None:
        """A note on the entry when a worker found ready at start no longer listens after
        a phase: a supervisor restarts a lost worker without a word, so the phase ran
        with fewer workers than the entry records (or with a fresh one still starting)."""
        if not isinstance(server, ServerProcess) or not server.worker_pids:
            return
        lost = server.worker_pids - server.listening_workers(self.settings.port)
        if lost:
            server.worker_pids -= lost  # noted once
            self._entry(launch, test).extra.setdefault("notes", []).append(
                f"round {round_no}: {len(lost)} of {launch.workers} worker processes "
                f"(pid {', '.join(map(str, sorted(lost)))}) gone or no longer listening "
                f"after {kind} {level}")

    def _measure_open(self, launch: Launch | Remote, server: ServerProcess | RemoteServer,
                      test: TestType, round_no: int, tag: str) -> bool:
        """The open-loop levels of one round; False if the server died. A failure is the
        level's (``Level.failures``), never the entry's: its closed-loop figures stand."""
        s = self.settings
        entry = self._entry(launch, test)
        opened = [lv for lv in entry.levels if lv.rate is not None]
        if not opened or entry.status != "ok" or entry.key in self._open_stopped:
            return True
        closed = [lv for lv in entry.levels if lv.rate is None]
        reference = 0.0
        if any((lv.rate or "").endswith("%") for lv in opened):
            outcome = self._open_reference(launch, server, test, closed, round_no, tag)
            if outcome is None:
                return self._open_crashed(launch, server, test, opened, round_no,
                                          "the open-loop reference (unpipelined)")
            if isinstance(outcome, str):  # the driver failed: only the numbers remain
                for level in opened:
                    if (level.rate or "").endswith("%"):
                        level.failures.append(f"round {round_no}: {outcome}")
            else:
                reference = outcome
        for at, level in enumerate(opened):
            rate = level.rate or ""
            if rate.endswith("%"):
                if reference <= 0:
                    if not level.failures or not level.failures[-1].startswith(
                            f"round {round_no}:"):
                        level.failures.append(f"round {round_no}: no closed-loop figure "
                                              "to take the percentage of")
                    continue
                target = reference * float(rate[:-1]) / 100
            else:
                target = float(rate)
            self.progress.step(f"{tag} · {test.name} · open loop {level.label} "
                               f"({target:.0f} req/s)", s.duration)
            self._settle(test, server)
            sampler = self._sampler(server)
            try:
                with sampler:
                    result = self.driver.run(self._open_spec(test, level, target), sampler)
            except DriverError as exc:
                if not server.alive():
                    return self._open_crashed(launch, server, test, opened[at:], round_no)
                self._open_failed(launch, test, level, round_no, f"load driver failed: {exc}")
                self.progress.done_step()
                continue
            if not server.alive():
                return self._open_crashed(launch, server, test, opened[at:], round_no)
            if result.open_loop is None:  # a plug-in driver that ignored the rate
                self._open_failed(launch, test, level, round_no,
                                  f"the {self.driver.name} driver returned no open-loop "
                                  "counts (it measured closed loop)")
                self.progress.done_step()
                continue
            repeat = Repeat.from_dict({**result.to_dict(), "round": round_no,
                                       "client_bound": False})
            repeat.resources = sampler.resources(result)
            self._count_workers(launch, server, test, level.label, round_no, "open loop")
            if repeat.open_loop is not None:
                if rate.endswith("%"):
                    repeat.open_loop.percent_of_rps = round(reference, 2)
                repeat.open_loop.flags = repeat.open_loop.judge()
                for flag in repeat.open_loop.flags:
                    self.progress.note(f"[yellow]open loop[/] {launch.label} {test.name} "
                                       f"{level.label}: {flag}")
            level.repeats.append(repeat)
            self.progress.done_step()
        return True

    def _open_reference(self, launch: Launch | Remote, server: ServerProcess | RemoteServer,
                        test: TestType, closed: list[Level], round_no: int,
                        tag: str) -> float | str | None:
        """What an open-loop percentage is of in this round: the entry's best
        closed-loop figure, or for a pipelined type (open loop sends one request per
        connection) a closed-loop measurement unpipelined at the best level's
        connections. A str: why there is none (the driver failed); None: the server
        died."""
        mine = [(r.requests_per_s, level) for level in closed for r in level.repeats
                if r.round == round_no]
        if not mine:
            return 0.0
        best, level = max(mine, key=lambda pair: pair[0])
        if test.pipeline <= 1:
            return best
        s = self.settings
        self.progress.step(f"{tag} · {test.name} · open-loop reference {level.label} "
                           "unpipelined", s.duration)
        self._settle(test, server)
        try:
            result = self.driver.run(self._spec(test, level.concurrency, s.duration, 1))
        except DriverError as exc:
            if not server.alive():
                return None  # _open_crashed ends the step
            self.progress.done_step()
            return f"its unpipelined reference failed: load driver failed: {exc}"
        if not server.alive():
            return None
        self.progress.done_step()
        return result.requests_per_s

    def _open_failed(self, launch: Launch | Remote, test: TestType, level: Level,
                     round_no: int, reason: str) -> None:
        level.failures.append(f"round {round_no}: {reason}")
        self.progress.note(f"[red]open loop failed[/] {launch.label} {test.name} "
                           f"{level.label}: {reason}")

    def _open_crashed(self, launch: Launch | Remote, server: ServerProcess | RemoteServer,
                      test: TestType, levels: list[Level], round_no: int,
                      during: str | None = None) -> bool:
        """The server died under open loop: the level it died at records it, the entry's
        remaining rates are not measured (this round or later ones); the entry stays
        ok. False: this round of this server is over."""
        what = f"{launch.url} stopped accepting connections" if isinstance(launch, Remote) \
            else f"server exited with status {server.returncode}"
        first = levels[0]
        where = during or f"open loop {first.label}"
        reason = f"{what} during {test.name} {where}"
        first.failures.append(f"round {round_no}: {reason}")
        for level in levels[1:]:
            level.failures.append(f"round {round_no}: not measured: {reason}")
        self._open_stopped.add(self._entry(launch, test).key)
        self.progress.note(f"[red]crashed under open loop[/] {launch.label}: {reason}")
        self.progress.done_step()
        return False

    def _settle(self, test: TestType, server: AnyServer) -> float:
        """Wait until the server answers a fresh request quickly; return seconds waited."""
        s = self.settings
        started = time.monotonic()
        deadline = started + SETTLE_TIMEOUT_S
        while time.monotonic() < deadline and server.alive():
            asked = time.monotonic()
            try:
                with Client(s.host, s.port, timeout=SETTLE_TIMEOUT_S) as client:
                    client.get(test.path, test.accept)
            except VerifyError:
                time.sleep(0.1)
                continue
            if time.monotonic() - asked <= SETTLE_FAST_S:
                break
        return time.monotonic() - started

    def _crashed(self, launch: Launch | Remote, server: AnyServer,
                 test: TestType, level: str, round_no: int, kind: str) -> bool:
        gone = getattr(server, "gone", None)  # a server host that went away
        what = f"{launch.url} stopped accepting connections" if isinstance(launch, Remote) \
            else gone or f"server exited with status {server.returncode}"
        reason = f"{what} during {test.name} {kind} {level} (round {round_no})"
        self._fail(launch, "crash", reason, server.output())
        self.progress.note(f"[red]crashed[/] {launch.label}: {reason}")
        self.progress.done_step()
        return False

    def _repeat(self, result: LoadResult, test: TestType, connections: int,
                round_no: int) -> Repeat:
        ceiling = self._ceiling_rps.get((test.name, connections))
        client_bound = bool(ceiling) and \
            result.requests_per_s >= CLIENT_BOUND_FRACTION * float(ceiling or 0)
        return Repeat.from_dict({**result.to_dict(), "round": round_no,
                                 "client_bound": client_bound})

    # -- output --------------------------------------------------------------------------

    def results(self, partial: bool = False) -> Run:
        """Everything measured so far, as a results :class:`Run`; ``partial``: the run is
        still going (a checkpoint), so it is marked interrupted."""
        s = self.settings
        # The delay is injected into the app of the servers started here; not a --url one.
        delay_raw = "" if s.target else os.environ.get(DELAY_ENV, "").strip()
        try:
            delay = float(delay_raw) if delay_raw else 0.0
        except ValueError:
            delay = 0.0
        env = environment.environment(self.pins.usable)
        pins = self.pins.to_dict()
        if s.hosts is not None:
            # The controller's environment, and each host's as read there.
            env["hosts"] = s.hosts.records()
            pins = s.hosts.pinning()
        target: dict[str, Any] = {}
        if s.target:
            env["packages"] = {name: version for name, version in env["packages"].items()
                               if name not in SERVER_PACKAGES}
            # The CPUs of a server started elsewhere are unknown; the canned server of
            # the ceiling ran on the server CPUs of the plan.
            pins["ceiling_server_cpus"] = pins["server_cpus"]
            pins["server_cpus"] = None
            target = {"target": {"url": s.target.url, "server": s.target.server,
                                 "unknown": ["loop", "parser", "server_version",
                                             "server_cpus", "environment"]}}
        settings = RunSettings(
            profile=s.profile,
            driver=self.driver.describe(self.pins.driver_slots()),
            tests=[t.name for t in s.tests],
            levels={t.name: list(s.levels[t.name]) for t in s.tests},
            pipeline={t.name: t.pipeline for t in s.tests},
            duration_s=s.duration, warmup_s=s.warmup, primer_s=s.primer, pause_s=s.pause,
            repeat=s.repeat, timeout_s=s.timeout, host=s.host, port=s.port,
            servers=self.selection.get("servers", []),
            loops=self.selection.get("loops", []),
            parsers=self.selection.get("parsers", []),
            app=s.app, app_delay_ms=max(delay, 0.0), pinning=pins,
            notes=list(s.notes), extra={"client_bound_fraction": CLIENT_BOUND_FRACTION,
                                        **target, **self._workload_extra(),
                                        **({"rates": list(s.rates), "arrival": s.arrival}
                                           if s.rates else {}),
                                        **({"ws": list(s.ws)} if s.ws else {}),
                                        **({"workers": list(s.workers)}
                                           if s.workers != [1] else {}),
                                        **self._database_extra()},
        )
        return Run(self.created, __version__, self.command, env, settings, self.ceiling,
                   list(self.entries.values()), self.interrupted or partial,
                   accuracy=self.accuracy)
