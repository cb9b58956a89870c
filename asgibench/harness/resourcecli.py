"""``bench cost`` (instructions per request, under callgrind) and ``bench memory``
(resident size per kept-alive connection): servers side by side, free of the machine's
timing noise."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

from asgibench.errors import BenchError

_HELP = """Count the CPU instructions each server spends per request (valgrind's callgrind).

Unlike requests per second, instruction counts do not move with the machine's load, so
small differences between servers or between two versions of the core are real. Every
combination runs under callgrind with one keep-alive client: --warmup requests, then
--requests measured ones (pipelined --pipeline at a time). The canned-response server
(no parser, no ASGI) is counted on each loop as the floor. Ratios: peer / asgibench
(above 1: asgibench does less work) and floor / server (the share of the floor's speed
reachable when the CPU is the limit).

Needs valgrind; each combination takes 15-30 s (the interpreter starts slowly under it).
"""


@click.command("cost", help=_HELP, context_settings={"max_content_width": 100})
@click.option("--server", "server_spec", default="asgibench,uvicorn", show_default=True,
              metavar="NAMES", help="Servers (asgibench, uvicorn), comma-separated.")
@click.option("--loop", "loop_spec", default="uvloop", show_default=True, metavar="NAMES",
              help="Event loops, comma-separated, or all.")
@click.option("--proto", "proto_spec", default="httptools,h11", show_default=True,
              metavar="NAMES", help="HTTP/1.1 parsers, comma-separated, or all.")
@click.option("--test", "test_spec", default="plaintext", show_default=True,
              metavar="NAMES", help="Test types: plaintext, json, or all.")
@click.option("--requests", type=click.IntRange(min=10), default=1000, show_default=True,
              help="Measured requests per combination.")
@click.option("--warmup", type=click.IntRange(min=0), default=200, show_default=True,
              help="Requests before counting starts.")
@click.option("--pipeline", type=click.IntRange(min=1, max=1024), default=1,
              show_default=True, help="Requests sent per write (1 = no pipelining).")
@click.option("--floor/--no-floor", default=True, show_default=True,
              help="Also count the canned-response server on each loop.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--out", default=None, metavar="FILE.json", help="Also write the counts here.")
def cost_command(**options: Any) -> None:
    from rich.console import Console

    from asgibench.harness import cost, servers, testtypes
    from asgibench.harness.runner import pick_port

    cost.check_tools()
    tests = testtypes.resolve(options["test_spec"])
    host = options["host"]
    plan = cost.countable(_plan(options, host))
    if options["floor"]:
        plan.extend(cost.floor_launch(loop, host, 0)
                    for loop in dict.fromkeys(item.loop for item in plan))
    _require_launch(plan, "counted")

    console = Console(stderr=True, highlight=False)
    counted: list[cost.Cost] = []
    failures = 0
    for test in tests:
        for item in plan:
            if isinstance(item, servers.Unsupported):
                counted.append(cost.Cost(item.server, item.loop, item.parser, test.name,
                                         options["pipeline"], options["requests"], None,
                                         item.reason))
                continue
            port = pick_port(host)
            launch = _with_port(item, port)
            console.print(f"counting {launch.label} · {test.name}…")
            result = cost.measure(launch, test, host, port, options["requests"],
                                  options["warmup"], options["pipeline"])
            failures += result.instructions is None
            counted.append(result)
    _finish(_render, counted, "asgibench-cost", options["out"], failures)


def _plan(options: dict[str, Any], host: str) -> list[Any]:
    """Launches (port 0, replaced per run) and Unsupported entries for the selection."""
    from asgibench.harness import servers
    from asgibench.harness.cli import resolve_loops, resolve_parsers

    kinds = servers.resolve(options["server_spec"])
    loop_names, _ = resolve_loops(options["loop_spec"])
    parser_names = resolve_parsers(options["proto_spec"])
    plan: list[Any] = []
    for kind in kinds:
        plan.extend(kind.plan(loop_names, parser_names, host, 0))
    return plan


def _require_launch(plan: list[Any], verb: str) -> None:
    from asgibench.harness import servers

    if not any(isinstance(item, servers.Launch) for item in plan):
        raise BenchError(f"no requested combination can be {verb}: " + "; ".join(
            sorted({item.reason for item in plan if isinstance(item, servers.Unsupported)})))


def _finish(render: Any, rows: list[Any], kind: str, out: str | None, failures: int) -> None:
    """Print the table, write ``--out``, exit 1 when a combination failed."""
    from rich.console import Console

    render(rows, _console())
    if out:
        _write_json(out, kind, [row.to_json() for row in rows])
        Console(stderr=True, highlight=False).print(f"written: {out}")
    if failures:
        sys.exit(1)


def _write_json(path: str, kind: str, rows: list[dict[str, Any]]) -> None:
    import platform
    import time

    from asgibench import __version__, loops
    from asgibench.harness.servers import versions

    document = {
        "kind": kind,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": ["bench", *sys.argv[1:]],
        "asgibench_version": __version__,
        "python": platform.python_version(),
        "machine": {"system": platform.system(), "cpus": os.cpu_count()},
        "servers": versions(),
        "loops": {b.name: b.version() for b in loops.backends() if b.available()[0]},
        "rows": rows,
    }
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2)
        handle.write("\n")


_MEMORY_HELP = """Measure each server's resident memory while it holds many keep-alive connections.

Each server starts alone; its resident size (summed over its processes) is read once it
answers, and again after --connections clients have each made one request and stay
connected. Linux only (reads /proc).
"""


@click.command("memory", help=_MEMORY_HELP, context_settings={"max_content_width": 100})
@click.option("--server", "server_spec", default="asgibench,uvicorn", show_default=True,
              metavar="NAMES", help="Servers: asgibench, uvicorn, hypercorn, granian, or all.")
@click.option("--loop", "loop_spec", default="uvloop", show_default=True, metavar="NAMES",
              help="Event loops, comma-separated, or all.")
@click.option("--proto", "proto_spec", default="httptools", show_default=True,
              metavar="NAMES", help="HTTP/1.1 parsers, comma-separated, or all.")
@click.option("--connections", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Keep-alive connections held open.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--startup-timeout", type=click.FloatRange(min=1), default=20.0,
              show_default=True, help="Seconds a server may take to answer after start.")
@click.option("--out", default=None, metavar="FILE.json", help="Also write the sizes here.")
def memory_command(**options: Any) -> None:
    from rich.console import Console

    from asgibench.harness import memory, servers, testtypes
    from asgibench.harness.cli import raise_fd_limit
    from asgibench.harness.runner import pick_port

    memory.check_platform()
    limit = raise_fd_limit()
    connections = options["connections"]
    if limit is not None and connections + 64 > limit:
        raise BenchError(f"--connections {connections} needs more open files than the limit "
                         f"({limit}); raise it with ulimit -n, or ask for fewer")
    test = testtypes.get("plaintext")
    host = options["host"]
    plan = _plan(options, host)
    _require_launch(plan, "measured")
    console = Console(stderr=True, highlight=False)
    rows: list[memory.Footprint] = []
    failures = 0
    for item in plan:
        if isinstance(item, servers.Unsupported):
            rows.append(memory.Footprint(item.server, item.loop, item.parser, connections,
                                         None, None, item.reason))
            continue
        port = pick_port(host)
        launch = _with_port(item, port)
        console.print(f"measuring {launch.label} with {connections} connections…")
        row = memory.measure(launch, test, host, port, connections,
                             options["startup_timeout"])
        failures += row.held_kib is None
        rows.append(row)
    _finish(_render_memory, rows, "asgibench-memory", options["out"], failures)


def _render_memory(rows: list[Any], console: Any) -> None:
    from rich.table import Table

    ours = {(r.loop, r.parser): r for r in rows if r.server == "asgibench"}
    table = Table(title="resident memory (MiB)")
    for column in ("server", "loop", "parser", "started", "connections held",
                   "KiB per connection", "server / asgibench"):
        table.add_column(column, justify="left" if column in ("server", "loop", "parser")
                         else "right")
    for r in rows:
        if r.held_kib is None:
            table.add_row(r.server, r.loop, r.parser, f"[dim]{r.reason}[/dim]", "", "", "")
            continue
        mine = ours.get((r.loop, r.parser))
        ratio = (f"{r.held_kib / mine.held_kib:.2f}x" if mine is not None and mine.held_kib
                 and r.server != "asgibench" else "")
        table.add_row(r.server, r.loop, r.parser, f"{r.idle_kib / 1024:.1f}",
                      f"{r.held_kib / 1024:.1f} ({r.connections})",
                      f"{r.per_connection_kib:.1f}", ratio)
    console.print(table)


def _with_port(launch: Any, port: int) -> Any:
    """The launch's argv with its port replaced (plans are built before ports are picked)."""
    from asgibench.harness.servers import Launch

    argv = list(launch.argv)
    index = argv.index("--port") + 1
    argv[index] = str(port)
    return Launch(launch.server, launch.loop, launch.parser, argv, launch.note)


def _console() -> Any:
    from rich.console import Console

    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(width=max(console.width, 120), highlight=False)
    return console


def _render(counted: list[Any], console: Any) -> None:
    from rich.table import Table

    from asgibench.harness.cost import FLOOR

    def key(c: Any, server: str) -> tuple[str, str, str, str]:
        return (server, c.loop, c.parser if server != FLOOR else "-", c.test)

    by_key = {key(c, c.server): c for c in counted}
    table = Table(title="instructions per request (callgrind)")
    for column in ("server", "loop", "parser", "test", "instr/request",
                   "peer / asgibench", "floor / server"):
        table.add_column(column, justify="right" if "/" in column else "left")
    for c in counted:
        if c.per_request is None:
            table.add_row(c.server, c.loop, c.parser, c.test, f"[dim]{c.reason}[/dim]", "", "")
            continue
        ours = by_key.get(key(c, "asgibench"))
        floor = by_key.get(key(c, FLOOR))
        vs_ours = (f"{c.per_request / ours.per_request:.2f}x"
                   if ours is not None and ours.per_request and c.server not in
                   ("asgibench", FLOOR) else "")
        of_floor = (f"{floor.per_request / c.per_request:.0%}"
                    if floor is not None and floor.per_request else "")
        table.add_row(c.server, c.loop, c.parser, c.test, f"{c.per_request / 1000:,.1f}k",
                      vs_ours, of_floor)
    console.print(table)
