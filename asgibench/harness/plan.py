"""From the selection options of ``bench run``, ``bench cost`` and ``bench memory`` to
what runs: loop and parser names, concurrency levels, pipelining depths, the open-file
limit, the launch plan, and the :class:`~asgibench.harness.runner.Runner` of a run --
or, with ``--url``, the :class:`~asgibench.harness.servers.Remote` server it measures
without starting anything.

Every mistake is a :class:`~asgibench.errors.BenchError` naming the option. Nothing here
knows about click or ``sys.argv``: the ``bench`` commands turn flags into these calls.
"""

from __future__ import annotations

import dataclasses
import importlib.machinery
import importlib.util
import os
import shutil
import sys
import tempfile
import urllib.parse
from collections.abc import Collection, Sequence
from typing import Any

from rich.console import Console

from asgibench import loops, protocols
from asgibench.errors import BenchError
from asgibench.harness import (
    drivers,
    hosts,
    pinning,
    progress,
    results,
    servers,
    testtypes,
    workloads,
)
from asgibench.harness.ports import check_port, pick_port
from asgibench.harness.runner import Runner, Settings
from asgibench.harness.servers import RUST, UNKNOWN, Launch, Remote, Unsupported
from asgibench.harness.testtypes import TestType

#: The two profiles. ``quick`` (the default) finishes a default run (every loop x parser
#: here) in about a minute and a half, with three interleaved repeats so every figure carries a
#: spread and ``bench compare`` can judge it: one longer repeat looks firmer but cannot
#: be told from noise. ``full`` is TechEmpower's method (levels capped by the open-file
#: limit).
PROFILES: dict[str, dict[str, Any]] = {
    "quick": {"duration": 0.5, "warmup": 0.3, "primer": 0.0, "pause": 0.0, "repeat": 3},
    "full": {"duration": 15.0, "warmup": 15.0, "primer": 5.0, "pause": 2.0, "repeat": 3},
}
FD_HEADROOM = 256  # file descriptors kept free beside the connections
MAX_QUERIES = 500  # TechEmpower's bound on a query type's N
WRK_SLOW_CONNECT = 4096  # above this many connections wrk needs long measurements
#: ``--url``: how long the target may take to accept a connection before the run is
#: refused (name resolution included).
PROBE_TIMEOUT_S = 5.0
#: ``--url``: where the canned-response server of the driver's ceiling listens (on this
#: machine, a free port): the target's address is someone else's.
CEILING_HOST = "127.0.0.1"
LABEL_MAX = 64
#: The options that start or place a server: ``--url`` names one already running, so each
#: is an error with it (parameter name, flag).
URL_CONFLICTS = (
    ("app", "--app"), ("app_dir", "--app-dir"), ("server_spec", "--server"),
    ("loop_spec", "--loop"), ("proto_spec", "--proto"), ("host", "--host"),
    ("port", "--port"), ("workers_spec", "--workers"),
)
#: ``--workers``: more processes than this is a typo, not a benchmark (each is a server).
MAX_WORKERS = 256


class Unreachable(BenchError):
    """``--url`` names no server that accepts connections. Exit status 1: the flags were
    right, the server is not there."""

    exit_code = 1


def _split(text: str) -> list[str]:
    return [item.strip().lower() for item in text.split(",") if item.strip()]


def resolve_loops(spec: str, platform: str | None = None) -> tuple[list[str], list[str]]:
    """``--loop`` -> (loop names, notes). ``all``: every available loop, except
    ``selector`` where it is the same loop as ``asyncio`` (everywhere but Windows)."""
    wanted = _split(spec)
    if not wanted:
        raise BenchError("--loop is empty; give loop names, or all")
    notes: list[str] = []
    out: list[str] = []
    for name in wanted:
        if name == "all":
            names = loops.available()
            if (platform or sys.platform) != "win32" and "selector" in names and \
                    "asyncio" in names:
                names = [n for n in names if n != "selector"]
                notes.append("--loop all skips selector: on this OS it is the same loop as "
                             "asyncio (name it explicitly to run it)")
        elif name == "auto":
            names = [loops.auto_name()]
        else:
            names = [loops.get_backend(name).name]  # BenchError for unknown/unavailable
        out.extend(n for n in names if n not in out)
    return out, notes


def resolve_parsers(spec: str) -> list[str]:
    """``--proto`` -> parser names (``all``: every installed one; ``rust``: granian's)."""
    wanted = _split(spec)
    if not wanted:
        raise BenchError("--proto is empty; give parser names, or all")
    out: list[str] = []
    for name in wanted:
        if name == "all":
            names = protocols.available()
        elif name == RUST:
            names = [RUST]
        elif name == "auto":
            names = [protocols.auto_name()]
        else:
            try:
                names = [protocols.get_backend(name).name]
            except BenchError as exc:
                if name not in [b.name for b in protocols.backends()]:
                    raise BenchError(
                        f"unknown parser {name!r}; {protocols.PARSERS.suggestion(name)}"
                        "choose from: "
                        f"{', '.join(['all', 'auto', *protocols.available(), RUST])}"
                    ) from None
                raise exc
        out.extend(n for n in names if n not in out)
    return out


def resolve_ws(spec: str) -> list[str]:
    """``--ws`` -> WebSocket implementation names (uvicorn's ``--ws`` names). ``all``:
    websockets and wsproto, each where installed; ``auto``: websockets if installed, else
    wsproto (uvicorn's own rule)."""
    wanted = _split(spec)
    if not wanted:
        raise BenchError("--ws is empty; give WebSocket implementations, or all")
    out: list[str] = []
    for name in wanted:
        if name == "all":
            names = [n for n in servers.WS_DEFAULT_ALL if servers.installed(n)]
        elif name == "auto":
            names = ["websockets" if servers.installed("websockets") else "wsproto"]
        elif name in servers.WS_IMPLS:
            names = [name]
        else:
            raise BenchError(f"unknown WebSocket implementation {name!r}; choose from: "
                             f"{', '.join(['all', 'auto', *servers.WS_IMPLS])}")
        out.extend(n for n in names if n not in out)
    if not out:
        raise BenchError("--ws all: neither websockets nor wsproto is installed "
                         "(pip install websockets wsproto)")
    return out


def resolve_workers(spec: str, pins: pinning.PinPlan) -> tuple[list[int], list[str]]:
    """``--workers 1,2`` / ``auto`` -> (worker counts, notes). ``auto`` is the number of
    CPUs in the server's CPU set (every usable CPU when the server is not pinned): one
    worker per core it may run on. A count above that is allowed -- oversubscribing is a
    configuration worth measuring -- and a note says the workers share cores."""
    wanted = [item.strip().lower() for item in str(spec).split(",") if item.strip()]
    if not wanted:
        raise BenchError("--workers is empty; give worker counts (1,2) or auto")
    cpus = pins.server if pins.server else pins.usable
    out: list[int] = []
    for item in wanted:
        if item == "auto":
            count = max(len(cpus), 1)
        else:
            try:
                count = int(item)
            except ValueError:
                raise BenchError(f"--workers {spec!r}: {item!r} is neither a whole number nor "
                                 "auto (e.g. --workers 1,2)") from None
            if not 1 <= count <= MAX_WORKERS:
                raise BenchError(f"--workers {spec!r}: a worker count is 1 to {MAX_WORKERS}")
        if count not in out:
            out.append(count)
    notes: list[str] = []
    if "auto" in wanted and len(cpus) <= 1:
        notes.append(f"--workers auto: {max(len(cpus), 1)} worker, as the server has one "
                     "CPU")
    crowded = [count for count in out if count > len(cpus)]
    if crowded:
        where = "the server's CPU set" if pins.server else "the usable CPUs"
        notes.append(f"--workers {max(crowded)}: more worker processes than the "
                     f"{len(cpus)} CPU(s) of {where} ({','.join(map(str, cpus))}); they "
                     "share cores")
    return out, notes


def websocket_driver(name: str, tests: list[TestType]) -> str:
    """The driver for a run: ``auto`` is the Python driver when a WebSocket test type is
    in it, and wrk for one is a BenchError (wrk speaks no WebSocket)."""
    wanted = name.strip().lower()
    names = [t.name for t in tests if t.websocket is not None]
    if not names:
        return wanted
    if wanted == "auto":
        return "python"
    if wanted == "wrk":
        raise BenchError(f"--driver wrk cannot drive {', '.join(names)}: wrk speaks no "
                         "WebSocket; use --driver python (auto picks it)")
    return wanted


ARRIVALS = ("fixed", "poisson")


def parse_rates(spec: str | None) -> list[str]:
    """``--rate 1000,2000`` (requests per second in total) and/or ``--rate 25%,50%`` (of
    the entry's best closed-loop figure in the same round) -> the rates as written,
    normalised (``"1000"``, ``"50%"``); empty for no ``--rate``."""
    if spec is None:
        return []
    out: list[str] = []
    for item in spec.split(","):
        text = item.strip()
        if not text:
            continue
        number = text[:-1].strip() if text.endswith("%") else text
        try:
            value = float(number)
        except ValueError:
            raise BenchError(f"--rate {spec!r}: {text!r} is neither requests per second "
                             "(1000) nor a percentage of the maximum (50%)") from None
        if not value > 0 or value == float("inf"):
            raise BenchError(f"--rate {spec!r}: {text!r} must be above 0")
        if text.endswith("%"):
            if value > 100:
                raise BenchError(f"--rate {spec!r}: {text!r} is above the maximum measured; "
                                 "a percentage goes up to 100%")
            rate = f"{value:g}%"
        else:
            rate = f"{value:g}"
        if rate not in out:
            out.append(rate)
    if not out:
        raise BenchError(f"--rate {spec!r} names no rate")
    return out


def open_loop_driver(name: str, rates: list[str], tests: list[TestType]) -> str:
    """The driver of a run with ``--rate``: ``auto`` is the Python driver, and wrk is a
    BenchError (closed-loop only: it waits for each response before the next request,
    which is what open loop is not). Test types open loop cannot measure are refused."""
    wanted = name.strip().lower()
    if not rates:
        return wanted
    if wanted == "wrk":
        raise BenchError("--rate needs --driver python: wrk is closed-loop (it sends the "
                         "next request only after a response); auto picks python")
    refused = [t.name for t in tests if t.websocket is not None or t.level_kind != "concurrency"
               or (t.workload is not None and t.workload.connection == "close")]
    if refused:
        raise BenchError(f"--rate cannot measure {', '.join(refused)}: open loop sends HTTP "
                         "requests on kept-alive connections at a concurrency level (not "
                         "WebSocket, query-count or connection: close types)")
    return "python" if wanted == "auto" else wanted


def parse_levels(values: tuple[str, ...], tests: list[str],
                 queries: Collection[str] = ()) -> dict[str, list[int]]:
    """``--levels 16,64`` (every test measured by concurrency) and/or ``--levels
    json=16,64`` (one test; for a test in ``queries``, its rows per request, 1..500)."""
    out: dict[str, list[int]] = {}
    for value in values:
        target: list[str] = [name for name in tests if name not in queries]
        text = value
        if "=" in value:
            name, text = value.split("=", 1)
            name = name.strip().lower()
            if name not in tests:
                raise BenchError(f"--levels {value!r}: {name!r} is not a test type of this run "
                                 f"({', '.join(tests)})")
            target = [name]
        levels: list[int] = []
        for item in text.split(","):
            item = item.strip()
            if not item:
                continue
            try:
                level = int(item)
            except ValueError:
                raise BenchError(f"--levels {value!r}: {item!r} is not a whole number") from None
            if level < 1:
                raise BenchError(f"--levels {value!r}: a level must be at least 1")
            if level not in levels:
                levels.append(level)
        if not levels:
            raise BenchError(f"--levels {value!r} names no level")
        if not target:
            raise BenchError(f"--levels {value!r}: a bare list sets concurrency levels, and "
                             "the query types here count rows per request: give them as "
                             f"{sorted(queries)[0]}=1,20")
        if any(name in queries for name in target) and max(levels) > MAX_QUERIES:
            raise BenchError(f"--levels {value!r}: rows per request go up to {MAX_QUERIES} "
                             "(TechEmpower clamps N to 1..500)")
        for name in target:
            out[name] = sorted(levels)
    return out


def raise_fd_limit() -> int | None:
    """Raise the soft open-file limit to the hard one; return it (None: no limit known)."""
    try:
        import resource  # POSIX only: not at the top, so Windows can import this module
    except ImportError:
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft != hard and (soft == resource.RLIM_INFINITY or soft < hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return None if soft == resource.RLIM_INFINITY else int(soft)


def apply_pipeline(tests: list[TestType], values: tuple[str, ...]) -> list[TestType]:
    """``--pipeline 1`` (every test) and/or ``--pipeline plaintext=4`` (one test)."""
    depths: dict[str | None, int] = {}
    names = {t.name for t in tests}
    for value in values:
        name, _, depth = value.rpartition("=")
        if name and name not in names:
            raise BenchError(f"--pipeline {value!r}: {name!r} is not a test type of this run "
                             f"(tests: {', '.join(sorted(names))})")
        if not depth.isdigit() or int(depth) < 1:
            raise BenchError(f"--pipeline {value!r}: the depth must be a whole number >= 1")
        depths[name or None] = int(depth)
    return [
        dataclasses.replace(t, pipeline=depths.get(t.name, depths.get(None, t.pipeline)))
        for t in tests
    ]


def cap_query_connections(test: TestType, limit: int | None, notes: list[str]) -> TestType:
    """A query type with its fixed concurrency lowered to what the open-file limit holds
    (a note says so)."""
    if test.level_kind != "queries" or limit is None or \
            test.query_concurrency <= limit - FD_HEADROOM:
        return test
    most = max(limit - FD_HEADROOM, 1)
    notes.append(f"{test.name}: {most} connections, not {test.query_concurrency}: the "
                 f"open-file limit is {limit}")
    return dataclasses.replace(test, query_concurrency=most)


def cap_levels(levels: dict[str, list[int]], limit: int | None) -> tuple[dict[str, list[int]],
                                                                         list[str]]:
    """Drop levels the open-file limit cannot hold (keeping at least one per test)."""
    if limit is None:
        return levels, []
    most = max(limit - FD_HEADROOM, 1)
    notes = []
    out: dict[str, list[int]] = {}
    for test, wanted in levels.items():
        kept = [level for level in wanted if level <= most]
        dropped = [level for level in wanted if level > most]
        if not kept:
            kept = [most]
        if dropped:
            notes.append(f"{test}: level(s) {', '.join(map(str, dropped))} dropped: the "
                         f"open-file limit is {limit}")
        out[test] = kept
    return out, notes


def launches(server_spec: str, loop_spec: str, proto_spec: str, host: str, port: int,
             app: str = servers.APP_IMPORT, ws: Sequence[str] = ()
             ) -> list[Launch | Unsupported]:
    """Launches serving ``app`` on ``host:port``, and Unsupported entries, for a
    ``--server``/``--loop``/``--proto`` selection (``bench cost``, ``bench memory``: they
    start one server at a time, as ``bench run`` does, so one port serves them all);
    ``ws``: the WebSocket implementations (``bench memory --ws``), one launch each."""
    kinds = servers.resolve(server_spec)
    loop_names, _ = resolve_loops(loop_spec)
    parser_names = resolve_parsers(proto_spec)
    plan: list[Launch | Unsupported] = []
    for kind in kinds:
        plan.extend(kind.plan(loop_names, parser_names, host, port, app, ws))
    return plan


def require_launch(plan: list[Launch | Unsupported], verb: str) -> None:
    """BenchError unless at least one combination of ``plan`` can be launched."""
    if not any(isinstance(item, Launch) for item in plan):
        raise BenchError(f"no requested combination can be {verb}: " + "; ".join(
            sorted({item.reason for item in plan if isinstance(item, Unsupported)})))


def parse_url(url: str, label: str | None = None) -> Remote:
    """``--url http://HOST[:PORT]`` (port 80 by default) and ``--label`` -> the
    :class:`Remote` server. https, a path, a query, credentials are one-line BenchErrors:
    asgibench speaks plain HTTP/1.1, and each request names its whole path. The default
    label is ``HOST:PORT``."""
    text = url.strip()
    parts = urllib.parse.urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme == "https":
        raise BenchError(f"--url {url!r}: https is not supported (asgibench measures plain "
                         "HTTP/1.1); give http://HOST[:PORT]")
    if scheme != "http" or not parts.netloc:
        raise BenchError(f"--url {url!r} is not http://HOST[:PORT] (e.g. "
                         "http://127.0.0.1:8000)")
    if parts.username is not None or parts.password is not None:
        raise BenchError(f"--url {url!r}: credentials in the URL are not supported")
    if parts.path not in ("", "/"):
        prefix = parts.path.rstrip("/")
        raise BenchError(f"--url {url!r}: a path is not supported; give the whole path in "
                         f"each request, e.g. --endpoint 'GET {prefix}/items/1'")
    if parts.query or parts.fragment:
        raise BenchError(f"--url {url!r}: a query or fragment is not supported; put it in "
                         "the request, e.g. --endpoint 'GET /search?q=x'")
    try:
        port = parts.port
    except ValueError:
        raise BenchError(f"--url {url!r}: the port must be a number from 1 to 65535") \
            from None
    host = parts.hostname
    if not host:
        raise BenchError(f"--url {url!r} names no host; give http://HOST[:PORT]")
    if port is None:
        port = 80
    if port == 0:
        raise BenchError(f"--url {url!r}: port 0 names no server; give its port")
    shown = f"[{host}]" if ":" in host else host
    name = f"{shown}:{port}" if label is None else label
    if not name or len(name) > LABEL_MAX or not name.isprintable() or \
            any(ch.isspace() for ch in name):
        raise BenchError(f"--label {label!r}: give a name of 1 to {LABEL_MAX} characters "
                         "without spaces")
    return Remote(name, f"http://{shown}:{port}", host, port)


def parse_topology(options: dict[str, Any], target: Remote | None
                   ) -> tuple[hosts.HostSpec, list[hosts.HostSpec], hosts.HostSpec | None] \
        | None:
    """``--server-host``, ``--driver-host``, ``--db-host`` -> (server, drivers, database)
    host specs, or None for a run on this machine; BenchError (exit 2) for a malformed
    URL or a partial topology. Nothing is contacted here."""
    server = options.get("server_host")
    driver = options.get("driver_host")
    db_host = options.get("db_host")
    if not (server or driver or db_host):
        for name, flag in (("ssh_key", "--ssh-key"), ("remote_python", "--remote-python")):
            if options.get(name):
                raise BenchError(f"{flag} is for runs across hosts; it needs --server-host "
                                 "and --driver-host")
        return None
    if target is not None:
        raise BenchError("--url measures a server already running; it cannot be combined "
                         "with --server-host/--driver-host/--db-host")
    if not server or not driver:
        missing = "--driver-host" if server else "--server-host"
        raise BenchError(f"a run across hosts needs both --server-host and --driver-host; "
                         f"{missing} is missing")
    server_spec = hosts.parse_host(server, "--server-host")
    driver_specs = hosts.parse_hosts(driver, "--driver-host")
    db_spec = hosts.parse_host(db_host, "--db-host") if db_host else None
    hosts.asyncssh_module()  # installed, or one line saying how
    key = options.get("ssh_key")
    if key:
        if not os.path.isfile(key):
            raise BenchError(f"--ssh-key {key!r} is not a file")
        hosts.check_key(key)
    return server_spec, driver_specs, db_spec


def _on_hosts(topology: hosts.Topology, options: dict[str, Any], driver_name: str,
              kinds: list[servers.ServerKind], loop_names: list[str],
              parser_names: list[str]) -> tuple[drivers.Driver, pinning.PinPlan]:
    """The driver and the pinning of a run across hosts, once every host is checked to
    have the selected servers, loops, parsers and driver (HostNotReady, one line)."""
    name = topology.auto_driver() if driver_name == "auto" else driver_name
    if name not in drivers.DRIVERS:
        raise drivers.DRIVERS.unknown(name)
    install = {kind.name: kind.install_hint for kind in kinds}
    for backend in loops.LOOPS.plugins():
        install[backend.name] = getattr(backend, "install_hint", "")
    for parser in protocols.PARSERS.plugins():
        install[parser.name] = getattr(parser, "install_hint", "")
    install["wrk"] = drivers.DRIVERS.plugin("wrk").install_hint or "apt-get install wrk"
    topology.require([k.name for k in kinds], loop_names, parser_names, name, install)
    topology.pin(options["cpus"])
    server, driver = topology.server.cpus, topology.drivers[0].cpus
    pins = pinning.PinPlan(server, driver, "sched_setaffinity" if server else "none",
                           usable=pinning.usable_cpus())
    return hosts.HostsDriver(name, topology), pins


def _target(options: dict[str, Any], given: Collection[str] | None) -> Remote | None:
    """The ``--url`` server, or None; BenchError when ``--url`` comes with an option that
    starts or places a server (``given``: the options the user set; None: those that hold
    a value, for callers without a command line), or ``--label`` comes without it."""
    url = options.get("url")
    label = options.get("label")
    if not url:
        if label is not None:
            raise BenchError("--label names the server at --url; it needs --url "
                             "http://HOST:PORT")
        return None
    if given is None:
        given = [name for name in ("app", "app_dir", "port") if options.get(name)]
    clash = [flag for name, flag in URL_CONFLICTS if name in given]
    if clash:
        raise BenchError(f"--url cannot be combined with {', '.join(clash)}: the server at "
                         "the URL is already running, so asgibench starts none")
    return parse_url(str(url), label)


def _check_app_found(app: str, app_dir: str | None) -> None:
    """BenchError unless the top-level module of ``app`` (``MODULE:ATTR``) is where every
    server imports it from: ``app_dir``, the current directory or this Python's path. The
    module is found, not imported (the servers import it, lifespan and all), so a typo is
    one line before any server, and valgrind, starts."""
    top = app.partition(":")[0].split(".")[0]
    places = [place for place in (app_dir, os.getcwd()) if place]
    try:
        found = importlib.machinery.PathFinder.find_spec(top, places) is not None or \
            importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        where = f"--app-dir {app_dir}" if app_dir else "the current directory"
        raise BenchError(f"--app {app!r}: no module {top!r} in {where} or on this Python's "
                         "path")


def app_and_tests(options: dict[str, Any]) -> tuple[str, str | None, list[TestType]]:
    """(the app every server serves, the directory it is imported from, the test types):
    the built-in app and test types, or the user's app with its ``--endpoint`` and
    ``--scenario`` workloads. Every mistake is a BenchError before anything starts."""
    endpoints = tuple(options.get("endpoint_specs") or ())
    scenarios = tuple(options.get("scenario_paths") or ())
    app = options.get("app") or servers.APP_IMPORT
    app_dir = options.get("app_dir")
    if app_dir is not None:
        if not os.path.isdir(app_dir):
            raise BenchError(f"--app-dir {app_dir!r} is not a directory")
        app_dir = os.path.abspath(app_dir)
    if options.get("app"):
        _check_app_found(app, app_dir)
    if not endpoints and not scenarios:
        if options.get("app"):
            raise BenchError("--app needs the requests to measure it with: --endpoint "
                             "'GET /path' (repeatable) or --scenario FILE.toml")
        tests = testtypes.resolve(options["test_spec"])
        if not options.get("ws_spec"):  # bench cost / bench memory without --ws
            named = [t.name for t in tests if t.websocket is not None and
                     t.name in _split(options["test_spec"])]
            tests = [t for t in tests if t.websocket is None or t.name in named]
            if named:
                raise BenchError(f"--test {', '.join(named)}: a WebSocket test type needs "
                                 "--ws IMPL here (e.g. bench cost --ws websockets --test "
                                 "websocket-echo)")
        return app, app_dir, tests
    if ":" not in app:
        raise BenchError(f"--app {app!r} must be MODULE:ATTR, e.g. main:app")
    found = [workloads.from_endpoint(spec) for spec in endpoints]
    for path in scenarios:
        found.extend(workloads.load_scenario(path))
    names = [w.name for w in found]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise BenchError(f"workload name {twice[0]!r} is used twice; name scenario "
                         "workloads apart from --endpoint ones")
    for workload in found:
        if workload.name in testtypes.TEST_TYPES:  # its weight and ranking rule would apply
            raise workloads.ScenarioError(
                f"{workload.source}: workload name {workload.name!r} is a built-in test "
                "type's; choose another")
    return app, app_dir, [testtypes.from_workload(w) for w in found]


def database(options: dict[str, Any], tests: list[TestType], remote: bool,
             db_flag_given: bool = True) -> tuple[str | None, str | None]:
    """(the database URL of the database test types, a directory to remove when the run
    ends): ``--db`` once it is checked ready (one line naming what is wrong and what to
    run, before anything starts), else a SQLite file this run seeds in a directory of its
    own (the default: nothing to install or set up, and concurrent runs do not share it).
    None when no selected type needs one; with ``--url``, only a ``--db`` given (the
    server has its own database; verification reads it when told where). ``--db``
    without a database type is a mistake only when typed (``db_flag_given``), not when
    it comes from ``ASGIBENCH_RUN_DB``."""
    given = options.get("db")
    if not any(t.database for t in tests):
        if given and db_flag_given:
            raise BenchError("--db is for the database test types (db, query, fortune, "
                             "update, cached-query); none is selected (--test)")
        return None, None
    from asgibench.harness import db

    if given:
        dburl = db.parse_url(given)
        status = db.status_sync(dburl)
        if status.problems:
            raise BenchError(f"--db {dburl.display()}: {status.problems[0]}")
        return dburl.url, None
    if remote:
        return None, None
    scratch = tempfile.mkdtemp(prefix="asgibench-db-")
    url = f"sqlite:///{os.path.join(scratch, 'tfb.sqlite')}"
    try:
        db.init_sync(url)  # fresh each run: update rewrites the rows
    except BaseException:  # the caller removes it only once it has it
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return url, scratch


def build(options: dict[str, Any], command: list[str] | None = None,
          given: Collection[str] | None = None) -> tuple[Runner, str]:
    """Validate every option of ``bench run`` (BenchError on a mistake) and build the
    Runner; return it with where the results file goes. ``options`` are the command's
    parameters by name; ``command`` is recorded in the results file; ``given`` names the
    options the user set (not defaults), to refuse those ``--url`` cannot take.

    With ``--url`` nothing is started: the plan is the one :class:`Remote` server, and
    the run is refused (:class:`Unreachable`, one line) unless it accepts a connection
    within :data:`PROBE_TIMEOUT_S`."""
    target = _target(options, given)
    if given is not None and "test_spec" in given and \
            (options.get("endpoint_specs") or options.get("scenario_paths")):
        raise BenchError("--test picks built-in test types and --endpoint/--scenario "
                         "replace them: give one or the other")
    app, app_dir, tests = app_and_tests(options)
    tests = apply_pipeline(tests, tuple(options.get("pipeline_spec") or ()))
    if target is None:
        kinds = servers.resolve(options["server_spec"])
        loop_names, notes = resolve_loops(options["loop_spec"])
        parser_names = resolve_parsers(options["proto_spec"])
    else:
        kinds, loop_names, parser_names, notes = [], [UNKNOWN], [UNKNOWN], []
    host_specs = parse_topology(options, target)
    rates = parse_rates(options.get("rate_spec"))
    arrival = str(options.get("arrival") or "fixed").strip().lower()
    if arrival not in ARRIVALS:
        raise BenchError(f"--arrival {arrival!r}: choose from {', '.join(ARRIVALS)}")
    if arrival != "fixed" and not rates and (given is None or "arrival" in given):
        raise BenchError("--arrival is for open loop; it needs --rate")
    if rates and host_specs is not None:
        # Each driver host would send the whole rate: splitting a schedule across hosts
        # (and merging its late/dropped counts) is not built yet.
        raise BenchError("--rate (open loop) runs on this machine's driver only; it does not "
                         "combine with --driver-host yet")
    driver_name = websocket_driver(open_loop_driver(options["driver_name"], rates, tests),
                                   tests)
    driver = drivers.get_driver(driver_name) if host_specs is None else None
    ws_impls = resolve_ws(options.get("ws_spec") or "all") \
        if any(t.websocket is not None for t in tests) else []
    uncapped = [t.name for t in tests if t.websocket is not None]
    if uncapped and not options.get("no_ceiling"):
        notes.append(f"no driver ceiling for {', '.join(uncapped)}: the canned-response "
                     "server speaks no WebSocket, so these are never flagged client-bound")
    pins = pinning.plan(options["cpus"]) if host_specs is None else None
    if pins is not None and pins.note:
        notes.append(pins.note)
    workers_spec = "1" if options.get("workers_spec") is None else options["workers_spec"]
    # Across hosts, `auto` needs the server host's CPUs (known after its probe): checked
    # here against this machine's only to find a mistyped value before any host is asked.
    worker_counts, worker_notes = resolve_workers(
        workers_spec, pins if pins is not None else pinning.plan("none"))
    if target is None and host_specs is None:
        notes.extend(worker_notes)
    host_db: tuple[str | None, str | None] = (None, None)
    if host_specs is not None:
        # Every mistake in the flags is found before any host is contacted; only what
        # depends on the hosts (their drivers, servers, CPUs) waits for their probes.
        driver_name = driver_name.strip().lower()
        if driver_name != "auto" and driver_name not in drivers.DRIVERS:
            raise drivers.DRIVERS.unknown(driver_name)
        pinning.check_spec(options["cpus"])
        if any(t.database for t in tests) and not options.get("db"):
            raise BenchError("the database test types across hosts need --db "
                             "postgresql://... (the database on the --db-host, prepared "
                             "with bench db init); a SQLite file here is not on the server "
                             "host")
        # No scratch SQLite file across hosts (refused just above): nothing to clean up.
        host_db = database(options, tests, False, given is None or "db" in given)

    profile = options.get("profile") or "quick"
    base = PROFILES[profile]
    names = [t.name for t in tests]
    levels = {t.name: list(t.quick_levels if profile == "quick" else t.levels) for t in tests}
    levels.update(parse_levels(tuple(options.get("levels_spec") or ()), names,
                               {t.name for t in tests if t.level_kind == "queries"}))
    limit = raise_fd_limit()
    # A query type's levels are rows per request; its connections are capped instead.
    by_connections = {t.name: levels[t.name] for t in tests if t.level_kind == "concurrency"}
    capped, level_notes = cap_levels(by_connections, limit)
    levels.update(capped)
    notes.extend(level_notes)
    if profile == "quick":
        tests = [dataclasses.replace(t, query_concurrency=t.quick_query_concurrency)
                 if t.level_kind == "queries" else t for t in tests]
    tests = [cap_query_connections(t, limit, notes) for t in tests]

    ceiling_addr: tuple[str, int] | None = None
    topology: hosts.Topology | None = None
    if target is not None:
        host, port = target.host, target.port
        app = target.url
        if not options.get("no_ceiling") and any(t.has_ceiling for t in tests):
            ceiling_addr = (CEILING_HOST, pick_port(CEILING_HOST))
        notes.append(f"--url {target.url}: the server was started outside asgibench, so "
                     "its loop, parser, version, CPU pinning and machine are unknown (the "
                     "environment and pinning recorded are the driver's side)")
    elif host_specs is None:
        host = options["host"]
        port = options["port"]
        if port:
            check_port(host, port)
        else:
            port = pick_port(host)
    else:
        # Servers bind on the server host, at its SSH address as this machine resolves
        # it, unless --host names another (a private network's, say): the drivers and
        # this machine connect there.
        if given is not None and "host" in given:
            host = options["host"]
        else:
            host, note = hosts.bind_address(host_specs[0])
            if note:
                notes.append(note)
        results.check_writable(options.get("out") or "results")
        topology = hosts.Topology.connect(*host_specs, key=options.get("ssh_key"),
                                          python=options.get("remote_python") or
                                          hosts.DEFAULT_PYTHON,
                                          port_for=None if options["port"] else host)
        try:
            port = options["port"] or int(topology.server.probe["port"])
            driver, pins = _on_hosts(topology, options, driver_name, kinds, loop_names,
                                     parser_names)
            # `auto` counts the server host's CPUs (its set, else all it has), not these.
            worker_counts, worker_notes = resolve_workers(workers_spec, dataclasses.replace(
                pins, usable=topology.server.usable))
            notes.extend(worker_notes)
        except BaseException:
            topology.close()
            raise
        notes.extend(topology.notes)

    duration = float(options["duration"] if options.get("duration") is not None
                     else base["duration"])
    busiest = max(max(levels[t.name]) if t.level_kind == "concurrency" else
                  t.query_concurrency for t in tests)
    if driver_name == "wrk" and busiest > WRK_SLOW_CONNECT and duration < 10:
        notes.append(f"wrk spends seconds opening {busiest} connections inside its "
                     f"{duration:g} s measurement; use --duration 10 or more at levels above "
                     f"{WRK_SLOW_CONNECT} (the python driver connects before measuring)")

    assert driver is not None and pins is not None
    plan: list[Launch | Unsupported | Remote] = [] if target is None else [target]
    for kind in kinds:
        plan.extend(kind.plan(loop_names, parser_names, host, port, app, ws_impls,
                              worker_counts))
    if target is None and not any(isinstance(item, Launch) for item in plan):
        reasons = sorted({item.reason for item in plan if isinstance(item, Unsupported)})
        raise BenchError("no requested combination can run: " + "; ".join(reasons[:3]))

    def pick(name: str) -> Any:
        value = options.get(name)
        return base[name] if value is None else value

    settings = Settings(
        tests=tests,
        levels=levels,
        duration=float(pick("duration")),
        warmup=float(pick("warmup")),
        primer=float(pick("primer")),
        pause=float(pick("pause")),
        repeat=int(pick("repeat")),
        host=host,
        port=port,
        profile=profile,
        timeout=float(options.get("timeout") or 8.0),
        startup_timeout=float(options.get("startup_timeout") or 20.0),
        ceiling=not options.get("no_ceiling"),
        notes=notes,
        rates=rates,
        arrival=arrival,
        max_connections=max((limit or 4096 + FD_HEADROOM) - FD_HEADROOM, 1),
        app=app,
        app_dir=app_dir,
        target=target,
        ceiling_addr=ceiling_addr,
        ws=ws_impls,
        workers=worker_counts if target is None else [1],
        hosts=topology if host_specs is not None else None,
    )
    out = options.get("out") or "results"
    try:
        results.check_writable(out)
        # Last of the checks, as it seeds the default database: nothing is done for a run
        # a mistaken flag stops.
        flag_given = given is None or "db" in given
        settings.db, settings.db_scratch = host_db if host_specs is not None else \
            database(options, tests, target is not None, flag_given)
    except BaseException:
        if topology is not None:
            topology.close()
        raise
    if target is not None:
        why = target.reachable(PROBE_TIMEOUT_S)
        if why:
            raise Unreachable(f"--url {target.url}: cannot connect ({why}); is the server "
                              "running and listening there?")
    console = Console(stderr=True, highlight=False)
    runner = Runner(
        settings,
        plan,
        driver,
        pins,
        progress.for_console(console, quiet=bool(options.get("quiet"))),
        selection={"servers": [target.server] if target else [k.name for k in kinds],
                   "loops": loop_names, "parsers": parser_names},
        command=command or ["bench", "run"],
    )
    return runner, out
