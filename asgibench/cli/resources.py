"""``bench cost`` (instructions per request, under callgrind) and ``bench memory``
(resident size per kept-alive connection): servers side by side, free of the machine's
timing noise. The measuring is :mod:`asgibench.harness.cost` and
:mod:`asgibench.harness.memory`, the tables :mod:`asgibench.reports.resources`."""

from __future__ import annotations

import dataclasses
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource
from rich.console import Console

from asgibench.cli.options import (
    app_options,
    host_option,
    loops_help,
    out_option,
    protos_help,
    selection_options,
    startup_timeout_option,
    tests_help,
)
from asgibench.cli.output import stderr_console, table_console
from asgibench.errors import BenchError
from asgibench.harness import cost, memory, resources, results, testtypes, workloads
from asgibench.harness.db import mask
from asgibench.harness.plan import (
    app_and_tests,
    database,
    launches,
    raise_fd_limit,
    require_launch,
    resolve_ws,
)
from asgibench.harness.ports import pick_port
from asgibench.harness.servers import Unsupported
from asgibench.harness.testtypes import TestType
from asgibench.harness.testtypes.websocket_echo import PATH as WEBSOCKET_PATH
from asgibench.harness.workloads import Workload
from asgibench.reports.resources import render_cost, render_memory

_HELP = """Count the CPU instructions each server spends per request (valgrind's callgrind).

Unlike requests per second, instruction counts do not move with the machine's load, so
small differences between servers or between two versions of the core are real. Every
combination runs under callgrind with one keep-alive client: --warmup requests, then
--requests measured ones (pipelined --pipeline at a time). The canned-response server
(no parser, no ASGI) is counted on each loop as the floor. Ratios: peer / asgibench
(above 1: asgibench does less work) and floor / server (the share of the floor's speed
reachable when the CPU is the limit).

\b
Your own app (docs/your-app.md), lifespan included:
  bench cost --app main:app --endpoint 'GET /items/1' --scenario mix.toml

Each workload is verified first, then counted on its own requests: its weighted mix, its
pipelining depth, a new connection per request with connection = "close" (accept and
teardown counted). There is no floor for it: the canned server cannot answer your paths.

Needs valgrind. Each combination is one server process for every test type, about 10 s
(callgrind is switched on only once the server answers: start-up is the slow part).
"""


@click.command("cost", help=_HELP, context_settings={"max_content_width": 100})
@selection_options(
    server="asgibench,uvicorn", server_help="Servers (asgibench, uvicorn), comma-separated.",
    loop="uvloop", loop_help=loops_help,
    proto="httptools,h11", proto_help=protos_help,
    test="plaintext",
    test_help=lambda: f"{tests_help()} An upload is 20 MiB and ~150 million "
                      "instructions a request, a second or more under callgrind: give it "
                      "fewer --requests.",
)
@app_options(
    app_help="Count your own ASGI app (FastAPI, Starlette, Django, ...) instead of the "
             "built-in one; needs --endpoint or --scenario. See docs/your-app.md.",
    endpoint_help="A request to count, one workload each (repeatable): 'GET /items/1', "
                  "'POST /items @payload.json'; verified first. Replaces --test.",
    scenario_help="Workloads from a scenario file (docs/your-app.md), each counted on its "
                  "weighted mix, pipelining and connection mode. Replaces --test.",
)
@click.option("--requests", type=click.IntRange(min=10), default=1000, show_default=True,
              help="Measured requests per combination and test type (or workload).")
@click.option("--warmup", type=click.IntRange(min=0), default=200, show_default=True,
              help="Requests before counting starts.")
@click.option("--pipeline", type=click.IntRange(min=1, max=1024), default=1,
              show_default=True, help="Requests sent per write (1 = no pipelining); a "
                                      "workload's own depth unless given.")
@click.option("--db", default=None, metavar="URL",
              help="The database of the database test types (db, query, fortune, update, "
                   "cached-query): postgresql://USER:PASS@HOST:PORT/DB (prepare it with "
                   "bench db init) or sqlite:///PATH; default: a SQLite file seeded afresh. "
                   "The count includes the database driver's work in the server process.")
@click.option("--floor/--no-floor", default=True, show_default=True,
              help="Also count the canned-response server on each loop (built-in test "
                   "types only).")
@click.option("--ws", "ws_spec", default=None, metavar="NAME,...",
              help="Count WebSocket echoes instead: instructions per message of "
                   "websocket-echo (or --test websocket-echo-16k) on one upgraded "
                   "connection; one row per implementation (websockets, wsproto, "
                   "websockets-sansio; all; auto), as bench run --ws. No floor.")
@host_option()
@out_option(default=None, metavar="FILE.json", help="Also write the counts here.")
def cost_command(**options: Any) -> None:
    ws_impls = _cost_websocket(options)
    app, app_dir, tests = app_and_tests(options)
    if ws_impls:
        wrong = [t.name for t in tests if t.websocket is None or t.websocket.storm]
        if wrong:
            raise BenchError(f"--ws counts WebSocket echoes; --test {', '.join(wrong)} "
                             "is not one (websocket-echo, websocket-echo-16k; the "
                             "connection storm is measured by bench run)")
    user_app = bool(options["app"] or options["endpoint_specs"] or options["scenario_paths"])
    tests = _cost_pipelines(tests, options["pipeline"], _given("pipeline"))
    host = options["host"]
    port = pick_port(host)  # one server at a time: one port for all
    plan = cost.countable(launches(options["server_spec"], options["loop_spec"],
                                   options["proto_spec"], host, port, app, ws_impls))
    # After the selection: a mistyped flag is named as such, with or without valgrind.
    cost.check_tools()
    if options["out"]:
        results.check_writable(options["out"], directory_ok=False)
    # The canned server answers the TechEmpower types only, not a workload's requests.
    floor_tests = [test for test in tests if test.canned is not None]
    if options["floor"] and floor_tests:
        plan.extend(cost.floor_launch(loop, host, port)
                    for loop in dict.fromkeys(item.loop for item in plan))
    require_launch(plan, "counted")
    recorded_app, recorded_dir = (app, app_dir) if user_app else (None, None)
    # Last of the checks: a SQLite file is seeded here, removed when the counting ends.
    db_url, scratch = database(options, tests, remote=False, db_flag_given=_given("db"))
    try:
        _count_costs(plan, tests, floor_tests, options, host, port, recorded_app,
                     recorded_dir, db_url)
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)


def _count_costs(plan: list[Any], tests: list[TestType], floor_tests: list[TestType],
                 options: dict[str, Any], host: str, port: int, recorded_app: str | None,
                 recorded_dir: str | None, db_url: str | None) -> None:
    console = stderr_console()
    # One server process per combination counts every test type: start-up under valgrind
    # is most of the time. The table lists them test type by test type.
    by_launch: list[list[cost.Cost]] = []
    failures = 0
    for item in plan:
        if isinstance(item, Unsupported):
            by_launch.append(cost.not_counted(item, tests, options["requests"],
                                              recorded_app, recorded_dir))
            continue
        counts = floor_tests if item.server == cost.FLOOR else tests
        console.print(f"counting {item.label} · {', '.join(t.name for t in counts)}…")
        measured = cost.measure(item, counts, host, port, options["requests"],
                                options["warmup"], recorded_app, recorded_dir, db=db_url)
        failures += sum(c.instructions is None for c in measured)
        by_launch.append(measured)
    counted = [row for test in tests for costs in by_launch for row in costs
               if row.test == test.name]
    _finish(render_cost, counted, resources.COST_KIND, options["out"], failures)


_MEMORY_HELP = """Measure each server's resident memory while it holds many keep-alive connections.

Each server starts alone; its resident size (summed over its processes) is read once it
answers, and again after --connections clients have each made one request and stay
connected. Linux only (reads /proc).

\b
Idle WebSocket connections (upgraded on /ws, one echo each), per implementation:
  bench memory --ws websockets,wsproto --connections 1000

\b
Your own app (docs/your-app.md), lifespan included:
  bench memory --app main:app                    # held as opened, no request
  bench memory --app main:app --endpoint 'GET /items/1'

With --app alone the start-up size is your app's and the connections are held without a
request (your app is not called). With --endpoint or --scenario the workloads are verified
first and each connection makes one of their requests before it is held.
"""


@click.command("memory", help=_MEMORY_HELP, context_settings={"max_content_width": 100})
@selection_options(
    server="asgibench,uvicorn",
    server_help="Servers: asgibench, uvicorn, hypercorn, granian, or all.",
    loop="uvloop", loop_help=loops_help,
    proto="httptools", proto_help=protos_help,
)
@app_options(
    app_help="Measure your own ASGI app (FastAPI, Starlette, Django, ...) instead of the "
             "built-in one. Alone: its start-up size, and connections held without a "
             "request; with --endpoint/--scenario each connection makes one of their "
             "requests first. See docs/your-app.md.",
    endpoint_help="A request the connections make, one workload each (repeatable): "
                  "'GET /items/1', 'POST /items @payload.json'; verified first.",
    scenario_help="Workloads from a scenario file (docs/your-app.md); connections take "
                  "their requests in turn (a connection = \"close\" one is only verified).",
)
@click.option("--connections", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Keep-alive connections held open, each after one request (with --app "
                   "alone: none).")
@click.option("--ws", "ws_spec", default=None, metavar="NAME,...",
              help="Hold WebSocket connections instead: each upgrades on the built-in "
                   "app's /ws, has one 32-byte message echoed, then stays idle; one row per "
                   "implementation (websockets, wsproto, websockets-sansio; all; auto), "
                   "as bench run --ws.")
@host_option()
@startup_timeout_option()
@out_option(default=None, metavar="FILE.json", help="Also write the sizes here.")
def memory_command(**options: Any) -> None:
    ws_impls: list[str] = []
    if options["ws_spec"] is not None:
        if options["app"] or options["endpoint_specs"] or options["scenario_paths"]:
            raise BenchError("--ws holds WebSockets on the built-in app's /ws; it does not "
                             "combine with --app, --endpoint or --scenario")
        ws_impls = resolve_ws(options["ws_spec"])
    app, app_dir, probe, measured_by = _memory_selection(options)
    user_app = bool(options["app"] or measured_by)
    recorded_app, recorded_dir = (app, app_dir) if user_app else (None, None)
    host = options["host"]
    port = pick_port(host)  # one server at a time: one port for all
    plan = launches(options["server_spec"], options["loop_spec"], options["proto_spec"],
                    host, port, app, ws_impls)
    # After the selection, as bench cost: a mistyped flag is named as such on every OS.
    memory.check_platform()
    require_launch(plan, "measured")
    if options["out"]:
        results.check_writable(options["out"], directory_ok=False)
    limit = raise_fd_limit()
    connections = options["connections"]
    if limit is not None and connections + 64 > limit:
        raise BenchError(f"--connections {connections} needs more open files than the limit "
                         f"({limit}); raise it with ulimit -n, or ask for fewer")
    console = stderr_console()
    rows: list[memory.Footprint] = []
    failures = 0
    for item in plan:
        if isinstance(item, Unsupported):
            rows.append(memory.Footprint(item.server, item.loop, item.parser, connections,
                                         None, None, item.reason, recorded_app,
                                         recorded_dir, tuple(measured_by),
                                         bool(ws_impls)))
            continue
        kind = "WebSocket connections" if ws_impls else "connections"
        console.print(f"measuring {item.label} with {connections} {kind}…")
        row = memory.measure(item, probe, host, port, connections,
                             options["startup_timeout"], app=recorded_app,
                             app_dir=recorded_dir, workloads=measured_by,
                             websocket=WEBSOCKET_PATH if ws_impls else None)
        failures += row.held_kib is None
        rows.append(row)
    _finish(render_memory, rows, resources.MEMORY_KIND, options["out"], failures)


def _cost_websocket(options: dict[str, Any]) -> list[str]:
    """``bench cost --ws``: the implementations to count (none without it), with
    ``--test`` defaulting to websocket-echo; BenchError with --app/--endpoint/--scenario
    (the echo route is the built-in app's)."""
    if options["ws_spec"] is None:
        return []
    if options["app"] or options["endpoint_specs"] or options["scenario_paths"]:
        raise BenchError("--ws counts echoes on the built-in app's /ws; it does not combine "
                         "with --app, --endpoint or --scenario")
    if options["pipeline"] > 1:
        raise BenchError("--pipeline is for HTTP requests; a WebSocket echo waits for its "
                         "answer before the next message, as the driver does under load")
    if not _given("test_spec"):
        options["test_spec"] = "websocket-echo"
    return resolve_ws(options["ws_spec"])


def _memory_selection(options: dict[str, Any]) -> tuple[str, str | None, TestType,
                                                       list[Workload]]:
    """(the app, its directory, the readiness probe, the workloads the connections make
    requests of) for ``bench memory``: the built-in app and plaintext; the user's app and
    its workloads; or the user's app alone (no workload: connections held without a
    request, readiness asked with ``GET /``, whatever the app answers)."""
    alone = bool(options["app"]) and not options["endpoint_specs"] and \
        not options["scenario_paths"]
    # bench run's own checks of --app and --app-dir; alone, the app needs no request, so a
    # stand-in endpoint satisfies the rule that --app comes with some (none is sent).
    app, app_dir, tests = app_and_tests({
        **options, "test_spec": "plaintext",
        **({"endpoint_specs": ("GET /",), "scenario_paths": ()} if alone else {}),
    })
    if alone:
        probe = testtypes.from_workload(workloads.from_endpoint("GET /"))
        return app, app_dir, probe, []
    found = [test.workload for test in tests if test.workload is not None]
    if found and all(w.connection == "close" for w in found):
        raise BenchError("bench memory holds keep-alive connections, and every workload "
                         "given has connection = \"close\"; give a keep-alive one, or --app "
                         "alone to hold connections without a request")
    return app, app_dir, tests[0], found


def _given(name: str) -> bool:
    """Whether option ``name`` came from the command line or the environment."""
    source = click.get_current_context().get_parameter_source(name)
    return source not in (None, ParameterSource.DEFAULT)


def _cost_pipelines(tests: list[TestType], depth: int, given: bool) -> list[TestType]:
    """``--pipeline``: the depth of every built-in test type, and of every workload when
    given (a workload keeps its own otherwise); BenchError for a ``connection = "close"``
    workload it would pipeline."""
    out = []
    for test in tests:
        if test.workload is None or given:
            test = dataclasses.replace(test, pipeline=depth)
        if test.workload is not None and test.workload.connection == "close" and \
                test.pipeline > 1:
            raise BenchError(f"--pipeline {depth}: workload {test.name!r} has connection = "
                             "\"close\" (one request per connection), which cannot be "
                             "pipelined")
        out.append(test)
    return out


def _finish(render: Callable[[Sequence[Any], Console], None], rows: Sequence[Any], kind: str,
            out: str | None, failures: int) -> None:
    """Print the table, write ``--out``, exit 1 when a combination failed."""
    render(rows, table_console())
    if out:
        command = ["bench", *map(mask, sys.argv[1:])]  # a --db password is not written
        figures = [row.to_json() for row in rows]
        written, failure = results.write_or_keep(
            Path(out), lambda path: resources.write(str(path), kind, figures, command))
        if failure:
            name = kind.removeprefix("asgibench-")  # cost, memory
            stderr_console().print(f"bench {name}: error: {failure}; the figures are kept in "
                                   f"{written}", soft_wrap=True)
            sys.exit(1)
        stderr_console().print(f"written: {out}")
    if failures:
        sys.exit(1)
