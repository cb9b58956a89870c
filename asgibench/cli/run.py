"""``bench run``: benchmark loops x parsers x servers on this machine, print a ranked
table, write a results file. The options become a Runner in :mod:`asgibench.harness.plan`."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from asgibench.cli.options import (
    app_options,
    drivers_help,
    host_option,
    hosts_options,
    loops_help,
    option,
    out_option,
    protos_help,
    selection_options,
    servers_help,
    startup_timeout_option,
    tests_help,
)
from asgibench.cli.output import stderr_console, table_console
from asgibench.errors import BenchError
from asgibench.harness import plan, results
from asgibench.harness.db import mask
from asgibench.reports import terminal

_HELP = """Benchmark event loops x HTTP/1.1 parsers x ASGI servers on this machine, the
TechEmpower way, and print a ranked table.

\b
With no options: every available loop x parser on asgibench's own server, test types
plaintext and json, the quick profile (about a minute and a half). Examples:
  bench run --loop uvloop --proto httptools --server asgibench,uvicorn
  bench run --loop uvloop,asyncio --proto all --test json
  bench run --full --server all            # TechEmpower's levels, 15 s, 3 repeats
  bench run --loop uvloop --proto httptools --server asgibench,uvicorn --workers 1,2
  bench run --url http://10.0.0.5:8080 --label myserver   # a server already running
  bench run --server-host ssh://bench@10.0.0.5 --driver-host ssh://bench@10.0.0.6
  bench run --test websocket-echo --server asgibench,uvicorn,granian --ws wsproto
  bench run --test json --rate 25%,50%,75%,90%   # open loop: latency against load
  bench run --show results/asgibench-....json

\b
Profiles (any option below overrides its value):
  --quick  levels json 128, plaintext 256 (x16 pipelined); 0.5 s per level,
           0.3 s warm-up, no primer, 3 repeats, interleaved (every figure has a
           spread).
  --full   TechEmpower's levels (json 16..512, plaintext 256..16384, capped by the
           open-file limit); 15 s per level, 5 s primer at 8 connections, 15 s
           warm-up, 2 s pause between levels, 3 repeats, interleaved.

Each combination is verified first (status, exact body, Server/Date/Content-Type,
Content-Length or chunked, keep-alive, pipelining, Date refresh); one that fails, does
not start or crashes is listed as failed with its output, and the run goes on. The
driver's ceiling is measured against a canned-response server; results within 20% of
it are flagged client-bound. Results go to --out as JSON (see docs/results.md).
"""


@click.command("run", help=_HELP, context_settings={"max_content_width": 100})
@selection_options(
    server="asgibench",
    server_help=servers_help,
    loop="all",
    loop_help=loops_help,
    proto="all",
    proto_help=lambda: f"{protos_help()} 'rust' is granian's own (granian always uses "
                       "it).",
    test="plaintext,json",
    test_help=lambda: f"{tests_help()} Default: TechEmpower's plaintext and json; all "
                      "adds its database types (on SQLite unless --db), HttpArena's "
                      "short-lived, upload, compression, static and mixed, and "
                      "websocket-echo, websocket-echo-16k, websocket-connect (python driver).",
)
@option("--driver", "driver_name", default="auto", show_default=True, metavar="NAME",
        help=drivers_help)
@app_options(
    app_help="Benchmark your own ASGI app (FastAPI, Starlette, Django, ...) instead of the "
             "built-in one; needs --endpoint or --scenario. See docs/your-app.md.",
    endpoint_help="A request to measure, one workload each (repeatable): 'GET /items/1', "
                  "'POST /items @payload.json'. Replaces the test types.",
    scenario_help="Workloads from a scenario file: weighted request mixes, expectations, "
                  "levels, connection: close (docs/your-app.md). Replaces the test types.",
)
@click.option("--quick", "profile", flag_value="quick", default=True,
              help="The quick profile (default).")
@click.option("--full", "profile", flag_value="full", help="TechEmpower's full method.")
@click.option("--duration", type=click.FloatRange(min=0.1), default=None,
              help="Seconds per level [quick 0.5, full 15].")
@click.option("--warmup", type=click.FloatRange(min=0), default=None,
              help="Warm-up seconds per test at its highest level, not pipelined "
                   "[quick 0.3, full 15].")
@click.option("--primer", type=click.FloatRange(min=0), default=None,
              help="Primer seconds per test at 8 connections [quick 0, full 5].")
@click.option("--pause", type=click.FloatRange(min=0), default=None,
              help="Pause between levels, seconds [quick 0, full 2].")
@click.option("--repeat", type=click.IntRange(min=1), default=None,
              help="Rounds; combinations are interleaved within each [quick 3, full 3].")
@click.option("--levels", "levels_spec", multiple=True, metavar="[TEST=]N,N",
              help="Concurrency levels for every test (16,64) or one (json=16,64); for a "
                   "query type, rows per request (query=1,20); repeatable.")
@click.option("--pipeline", "pipeline_spec", multiple=True, metavar="[TEST=]N",
              help="HTTP pipelining depth under load for every test (1 = none) or one "
                   "(plaintext=1); default: TechEmpower's (plaintext 16, json 1).")
@click.option("--ws", "ws_spec", default="all", show_default=True, metavar="NAME,...",
              help="WebSocket implementations for the websocket-* test types (uvicorn's "
                   "--ws names: websockets, wsproto, websockets-sansio; all = websockets "
                   "and wsproto, auto = websockets if installed): uvicorn and asgibench "
                   "are launched once per implementation, shown as parser PARSER+IMPL; "
                   "hypercorn (wsproto) and granian (its own) serve them natively. "
                   "Ignored without WebSocket test types.")
@click.option("--db", default=None, metavar="URL",
              help="The database of the database test types (db, query, fortune, update, "
                   "cached-query): postgresql://USER:PASS@HOST:PORT/DB (prepare it with "
                   "bench db init) or sqlite:///PATH; default: a SQLite file this run "
                   "seeds afresh. See docs/database.md.")
@click.option("--rate", "rate_spec", default=None, metavar="R,R|P%,P%",
              help="Open loop, after the closed-loop levels: send at R requests per second "
                   "in total, or at P% of the entry's best closed-loop figure in the same "
                   "round (a pipelined type's: unpipelined, measured first; "
                   "25%,50%,75%,90%: a latency-against-load curve), on a schedule "
                   "that does not wait for responses; latency runs from each request's "
                   "scheduled time. Python driver only. See docs/harness.md.")
@click.option("--arrival", default="fixed", show_default=True,
              type=click.Choice(["fixed", "poisson"], case_sensitive=False),
              help="Open loop (--rate): fixed intervals, or Poisson arrivals at the same "
                   "mean rate.")
@click.option("--timeout", type=click.FloatRange(min=0.5), default=8.0, show_default=True,
              help="Seconds before a request counts as timed out (TFB: 8).")
@click.option("--cpus", default="auto", show_default=True, metavar="auto|none|S:D",
              help="Pin the server to CPUs S and the driver to CPUs D (e.g. 0:1, 0-1:2-3); "
                   "auto = split the usable CPUs in two; none = no pinning.")
@click.option("--workers", "workers_spec", default="1", show_default=True,
              metavar="N[,N...]|auto",
              help="Worker processes per server (each server's own --workers: bench serve, "
                   "uvicorn, hypercorn, granian), all pinned to the server's CPUs. Several "
                   "counts (1,2) are separate entries, ranked side by side as SERVER and "
                   "SERVER x2; auto = one per CPU of the server's CPU set. A server that "
                   "cannot run N workers is listed unsupported.")
@click.option("--url", default=None, metavar="http://HOST[:PORT]",
              help="Benchmark a server that is already running, anywhere (no server is "
                   "started or stopped): the built-in test types, or --endpoint/--scenario. "
                   "Not with --app, --server, --loop, --proto, --host, --port. See "
                   "docs/your-app.md.")
@click.option("--label", default=None, metavar="NAME",
              help="The name the --url server is ranked under [default: HOST:PORT].")
@hosts_options()
@host_option("Address servers bind.")
@click.option("--port", type=click.IntRange(min=0, max=65535), default=0, show_default=True,
              help="Port servers bind; 0 = a free one below the ephemeral range. A busy "
                   "port is an error.")
@out_option(default="results", metavar="DIR|FILE.json",
            help="Where the results file goes: a directory, or a .json path.")
@click.option("--no-ceiling", is_flag=True, default=False,
              help="Skip measuring the driver's ceiling (no client-bound flags).")
@startup_timeout_option()
@click.option("--show", "show_path", default=None, metavar="FILE",
              help="Print the ranked tables of an existing results file and exit.")
@click.option("--quiet", is_flag=True, default=False, help="No progress output.")
def run_command(**options: Any) -> None:
    if options["show_path"]:
        terminal.render(results.load(options["show_path"]), table_console())
        return
    ctx = click.get_current_context()
    given = [name for name in options if ctx.get_parameter_source(name) in
             (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)]
    runner, out = plan.build(options, command=_command_line(), given=given)
    path = results.output_path(out, runner.created)
    # Written as the run goes: a run that dies, or a host that goes away, loses nothing
    # measured before it. The final write below replaces it.
    runner.checkpoint = _Checkpoint(path)
    run = runner.run()
    terminal.render(run, table_console())
    written, failure = results.write_or_keep(path, lambda path: results.write(run, path))
    if failure:
        stderr_console().print(f"bench run: error: {failure}; the results are kept in "
                               f"{written}", soft_wrap=True)
        sys.exit(130 if run.interrupted else 1)
    stderr_console().print(f"results: {written}")
    if run.interrupted:
        sys.exit(130)


class _Checkpoint:
    """Writes the results so far over the file the run ends with (atomically, marked
    interrupted until the final write). A failed write never stops the run: it is noted
    once, and the final write says why and keeps the results elsewhere."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.failed = False

    def __call__(self, partial: results.Run) -> None:
        try:
            results.write(partial, self.path)
        except Exception as exc:  # whatever it is, the measurement goes on
            if not self.failed:
                self.failed = True
                reason = str(exc) if isinstance(exc, BenchError) else \
                    f"{type(exc).__name__}: {exc}"
                stderr_console().print(f"bench run: note: the results so far could not be "
                                       f"written ({reason}); the run goes on",
                                       soft_wrap=True)


def _command_line() -> list[str]:
    """What the results file records as the command: ``bench run`` and its arguments."""
    invoked_as_run = len(sys.argv) > 1 and sys.argv[1] == "run" and \
        os.path.basename(sys.argv[0]) in ("bench", "__main__.py", "asgibench")
    # A --db URL's password is never written down (results files are shared).
    return ["bench", "run", *map(mask, sys.argv[2:])] if invoked_as_run else ["bench", "run"]
