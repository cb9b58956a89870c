"""``bench cost`` (instructions per request, under callgrind) and ``bench memory``
(resident size per kept-alive connection): servers side by side, free of the machine's
timing noise. The measuring is :mod:`asgibench.harness.cost` and
:mod:`asgibench.harness.memory`, the tables :mod:`asgibench.reports.resources`."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from asgibench.cli.options import (
    host_option,
    loops_help,
    out_option,
    protos_help,
    selection_options,
    startup_timeout_option,
)
from asgibench.cli.output import stderr_console, table_console
from asgibench.errors import BenchError
from asgibench.harness import cost, memory, resources, results, testtypes
from asgibench.harness.plan import launches, raise_fd_limit, require_launch, with_port
from asgibench.harness.ports import pick_port
from asgibench.harness.servers import Unsupported
from asgibench.reports.resources import render_cost, render_memory

_HELP = """Count the CPU instructions each server spends per request (valgrind's callgrind).

Unlike requests per second, instruction counts do not move with the machine's load, so
small differences between servers or between two versions of the core are real. Every
combination runs under callgrind with one keep-alive client: --warmup requests, then
--requests measured ones (pipelined --pipeline at a time). The canned-response server
(no parser, no ASGI) is counted on each loop as the floor. Ratios: peer / asgibench
(above 1: asgibench does less work) and floor / server (the share of the floor's speed
reachable when the CPU is the limit).

Needs valgrind. Each combination is one server process for every test type, about 10 s
(callgrind is switched on only once the server answers: start-up is the slow part).
"""


@click.command("cost", help=_HELP, context_settings={"max_content_width": 100})
@selection_options(
    server="asgibench,uvicorn", server_help="Servers (asgibench, uvicorn), comma-separated.",
    loop="uvloop", loop_help=loops_help,
    proto="httptools,h11", proto_help=protos_help,
    test="plaintext", test_help="Test types: plaintext, json, or all.",
)
@click.option("--requests", type=click.IntRange(min=10), default=1000, show_default=True,
              help="Measured requests per combination.")
@click.option("--warmup", type=click.IntRange(min=0), default=200, show_default=True,
              help="Requests before counting starts.")
@click.option("--pipeline", type=click.IntRange(min=1, max=1024), default=1,
              show_default=True, help="Requests sent per write (1 = no pipelining).")
@click.option("--floor/--no-floor", default=True, show_default=True,
              help="Also count the canned-response server on each loop.")
@host_option()
@out_option(default=None, metavar="FILE.json", help="Also write the counts here.")
def cost_command(**options: Any) -> None:
    tests = testtypes.resolve(options["test_spec"])
    host = options["host"]
    plan = cost.countable(launches(options["server_spec"], options["loop_spec"],
                                   options["proto_spec"], host))
    # After the selection: a mistyped flag is named as such, with or without valgrind.
    cost.check_tools()
    if options["out"]:
        results.check_writable(options["out"], directory_ok=False)
    if options["floor"]:
        plan.extend(cost.floor_launch(loop, host, 0)
                    for loop in dict.fromkeys(item.loop for item in plan))
    require_launch(plan, "counted")

    console = stderr_console()
    # One server process per combination counts every test type: start-up under valgrind
    # is most of the time. The table lists them test type by test type.
    by_launch: list[list[cost.Cost]] = []
    failures = 0
    for item in plan:
        if isinstance(item, Unsupported):
            by_launch.append([cost.Cost(item.server, item.loop, item.parser, test.name,
                                        options["pipeline"], options["requests"], None,
                                        item.reason) for test in tests])
            continue
        port = pick_port(host)
        launch = with_port(item, port)
        console.print(f"counting {launch.label} · {', '.join(t.name for t in tests)}…")
        measured = cost.measure(launch, tests, host, port, options["requests"],
                                options["warmup"], options["pipeline"])
        failures += sum(c.instructions is None for c in measured)
        by_launch.append(measured)
    counted = [costs[index] for index in range(len(tests)) for costs in by_launch]
    _finish(render_cost, counted, resources.COST_KIND, options["out"], failures)


_MEMORY_HELP = """Measure each server's resident memory while it holds many keep-alive connections.

Each server starts alone; its resident size (summed over its processes) is read once it
answers, and again after --connections clients have each made one request and stay
connected. Linux only (reads /proc).
"""


@click.command("memory", help=_MEMORY_HELP, context_settings={"max_content_width": 100})
@selection_options(
    server="asgibench,uvicorn",
    server_help="Servers: asgibench, uvicorn, hypercorn, granian, or all.",
    loop="uvloop", loop_help=loops_help,
    proto="httptools", proto_help=protos_help,
)
@click.option("--connections", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Keep-alive connections held open.")
@host_option()
@startup_timeout_option()
@out_option(default=None, metavar="FILE.json", help="Also write the sizes here.")
def memory_command(**options: Any) -> None:
    test = testtypes.get("plaintext")
    host = options["host"]
    plan = launches(options["server_spec"], options["loop_spec"], options["proto_spec"], host)
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
                                         None, None, item.reason))
            continue
        port = pick_port(host)
        launch = with_port(item, port)
        console.print(f"measuring {launch.label} with {connections} connections…")
        row = memory.measure(launch, test, host, port, connections,
                             options["startup_timeout"])
        failures += row.held_kib is None
        rows.append(row)
    _finish(render_memory, rows, resources.MEMORY_KIND, options["out"], failures)


def _finish(render: Callable[[Sequence[Any], Console], None], rows: Sequence[Any], kind: str,
            out: str | None, failures: int) -> None:
    """Print the table, write ``--out``, exit 1 when a combination failed."""
    render(rows, table_console())
    if out:
        command = ["bench", *sys.argv[1:]]
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
