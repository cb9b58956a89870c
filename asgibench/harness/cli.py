"""``bench run``: benchmark loops x parsers x servers on this machine, print a ranked
table, write a results file. The lead's CLI registers :data:`run_command` as ``run``."""

from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import dataclass
from typing import Any

import click

from asgibench.errors import BenchError

#: The two profiles. ``quick`` (the default) finishes a full default run in about a
#: minute; ``full`` is TechEmpower's method (levels capped by the open-file limit).
PROFILES: dict[str, dict[str, Any]] = {
    "quick": {"duration": 1.5, "warmup": 0.5, "primer": 0.0, "pause": 0.0, "repeat": 1},
    "full": {"duration": 15.0, "warmup": 15.0, "primer": 5.0, "pause": 2.0, "repeat": 3},
}
FD_HEADROOM = 256  # file descriptors kept free beside the connections
WRK_SLOW_CONNECT = 4096  # above this many connections wrk needs long measurements


@dataclass
class Selection:
    servers: list[str]
    loops: list[str]
    parsers: list[str]
    notes: list[str]


def _split(text: str) -> list[str]:
    return [item.strip().lower() for item in text.split(",") if item.strip()]


def resolve_loops(spec: str, platform: str | None = None) -> tuple[list[str], list[str]]:
    """``--loop`` -> (loop names, notes). ``all``: every available loop, except
    ``selector`` where it is the same loop as ``asyncio`` (everywhere but Windows)."""
    from asgibench import loops

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
    from asgibench import protocols
    from asgibench.harness.servers import RUST

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
                        f"unknown parser {name!r}; choose from: "
                        f"{', '.join(['all', 'auto', *protocols.available(), RUST])}"
                    ) from None
                raise exc
        out.extend(n for n in names if n not in out)
    return out


def parse_levels(values: tuple[str, ...], tests: list[str]) -> dict[str, list[int]]:
    """``--levels 16,64`` (every test) and/or ``--levels json=16,64`` (one test)."""
    out: dict[str, list[int]] = {}
    for value in values:
        target: list[str] = tests
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
                raise BenchError(f"--levels {value!r}: concurrency must be at least 1")
            if level not in levels:
                levels.append(level)
        if not levels:
            raise BenchError(f"--levels {value!r} names no level")
        for name in target:
            out[name] = sorted(levels)
    return out


def raise_fd_limit() -> int | None:
    """Raise the soft open-file limit to the hard one; return it (None: no limit known)."""
    try:
        import resource
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


def apply_pipeline(tests: list[Any], values: tuple[str, ...]) -> list[Any]:
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


_HELP = """Benchmark event loops x HTTP/1.1 parsers x ASGI servers on this machine, the
TechEmpower way, and print a ranked table.

\b
With no options: every available loop x parser on asgibench's own server, test types
plaintext and json, the quick profile (about a minute). Examples:
  bench run --loop uvloop --proto httptools --server asgibench,uvicorn
  bench run --loop uvloop,asyncio --proto all --test json
  bench run --full --server all            # TechEmpower's levels, 15 s, 3 repeats
  bench run --show results/asgibench-....json

\b
Profiles (any option below overrides its value):
  --quick  levels json 128, plaintext 256 (x16 pipelined); 1.5 s per level,
           0.5 s warm-up, no primer, 1 repeat.
  --full   TechEmpower's levels (json 16..512, plaintext 256..16384, capped by the
           open-file limit); 15 s per level, 5 s primer at 8 connections, 15 s
           warm-up, 2 s pause between levels, 3 repeats, interleaved.

Each combination is verified first (status, exact body, Server/Date/Content-Type,
Content-Length or chunked, keep-alive, pipelining, Date refresh); one that fails, does
not start or crashes is listed as failed with its output, and the run goes on. The
driver's ceiling is measured against a canned-response server; results within 20% of
it are flagged client-bound. Results go to --out as JSON (see results/README.md).
"""


@click.command("run", help=_HELP, context_settings={"max_content_width": 100})
@click.option("--server", "server_spec", default="asgibench", show_default=True,
              metavar="NAMES",
              help="Servers: asgibench, uvicorn, hypercorn, granian (comma-separated), or "
                   "all (every installed one).")
@click.option("--loop", "loop_spec", default="all", show_default=True, metavar="NAMES",
              help="Event loops: asyncio, selector, proactor, uvloop, winloop, rloop, auto, "
                   "or all (every available one).")
@click.option("--proto", "proto_spec", default="all", show_default=True, metavar="NAMES",
              help="HTTP/1.1 parsers: httptools, h11, zttp, auto, or all; 'rust' is "
                   "granian's own (granian always uses it).")
@click.option("--test", "test_spec", default="all", show_default=True, metavar="NAMES",
              help="Test types: plaintext, json (comma-separated), or all.")
@click.option("--driver", "driver_name", default="auto", show_default=True,
              type=click.Choice(["auto", "wrk", "python"], case_sensitive=False),
              help="Load driver: wrk (TechEmpower's), python (asgibench's own, any OS), "
                   "auto = wrk when installed, else python.")
@click.option("--quick", "profile", flag_value="quick", default=True,
              help="The quick profile (default).")
@click.option("--full", "profile", flag_value="full", help="TechEmpower's full method.")
@click.option("--duration", type=click.FloatRange(min=0.1), default=None,
              help="Seconds per level [quick 1.5, full 15].")
@click.option("--warmup", type=click.FloatRange(min=0), default=None,
              help="Warm-up seconds per test at its highest level, not pipelined "
                   "[quick 0.5, full 15].")
@click.option("--primer", type=click.FloatRange(min=0), default=None,
              help="Primer seconds per test at 8 connections [quick 0, full 5].")
@click.option("--pause", type=click.FloatRange(min=0), default=None,
              help="Pause between levels, seconds [quick 0, full 2].")
@click.option("--repeat", type=click.IntRange(min=1), default=None,
              help="Rounds; combinations are interleaved within each [quick 1, full 3].")
@click.option("--levels", "levels_spec", multiple=True, metavar="[TEST=]N,N",
              help="Concurrency levels for every test (16,64) or one (json=16,64); "
                   "repeatable.")
@click.option("--pipeline", "pipeline_spec", multiple=True, metavar="[TEST=]N",
              help="HTTP pipelining depth under load for every test (1 = none) or one "
                   "(plaintext=1); default: TechEmpower's (plaintext 16, json 1).")
@click.option("--timeout", type=click.FloatRange(min=0.5), default=8.0, show_default=True,
              help="Seconds before a request counts as timed out (TFB: 8).")
@click.option("--cpus", default="auto", show_default=True, metavar="auto|none|S:D",
              help="Pin the server to CPUs S and the driver to CPUs D (e.g. 0:1, 0-1:2-3); "
                   "auto = split the usable CPUs in two; none = no pinning.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address servers bind.")
@click.option("--port", type=click.IntRange(min=0, max=65535), default=0, show_default=True,
              help="Port servers bind; 0 = a free one below the ephemeral range. A busy "
                   "port is an error.")
@click.option("--out", default="results", show_default=True, metavar="DIR|FILE.json",
              help="Where the results file goes: a directory, or a .json path.")
@click.option("--no-ceiling", is_flag=True, default=False,
              help="Skip measuring the driver's ceiling (no client-bound flags).")
@click.option("--startup-timeout", type=click.FloatRange(min=1), default=20.0,
              show_default=True, help="Seconds a server may take to answer after start.")
@click.option("--show", "show_path", default=None, metavar="FILE",
              help="Print the ranked tables of an existing results file and exit.")
@click.option("--quiet", is_flag=True, default=False, help="No progress output.")
def run_command(**options: Any) -> None:
    from rich.console import Console

    from asgibench.harness import report, results

    if options["show_path"]:
        document = results.read(options["show_path"])
        report.render(document, _stdout_console())
        return
    runner, out = build(options)
    document = runner.run()
    report.render(document, _stdout_console())
    written = results.write(document, results.output_path(out, document["created"]))
    Console(stderr=True, highlight=False).print(f"results: {written}")
    if document["interrupted"]:
        sys.exit(130)


def _stdout_console() -> Any:
    """The tables' console: at least 120 columns when not a terminal (files, pipes)."""
    from rich.console import Console

    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(width=max(console.width, 120), highlight=False)
    return console


def build(options: dict[str, Any]) -> tuple[Any, Any]:
    """Validate every option (BenchError on a mistake) and build the Runner."""
    from rich.console import Console

    from asgibench.harness import drivers, pinning, progress, results, servers, testtypes
    from asgibench.harness.runner import Runner, Settings, check_port, pick_port

    tests = testtypes.resolve(options["test_spec"])
    tests = apply_pipeline(tests, tuple(options.get("pipeline_spec") or ()))
    kinds = servers.resolve(options["server_spec"])
    loop_names, notes = resolve_loops(options["loop_spec"])
    parser_names = resolve_parsers(options["proto_spec"])
    driver = drivers.get_driver(options["driver_name"])
    pins = pinning.plan(options["cpus"])
    if pins.note:
        notes.append(pins.note)

    profile = options.get("profile") or "quick"
    base = PROFILES[profile]
    names = [t.name for t in tests]
    levels = {t.name: list(t.quick_levels if profile == "quick" else t.levels) for t in tests}
    levels.update(parse_levels(tuple(options.get("levels_spec") or ()), names))
    levels, level_notes = cap_levels(levels, raise_fd_limit())
    notes.extend(level_notes)

    host = options["host"]
    port = options["port"]
    if port:
        check_port(host, port)
    else:
        port = pick_port(host)

    duration = float(options["duration"] if options.get("duration") is not None
                     else base["duration"])
    busiest = max(max(v) for v in levels.values())
    if driver.name == "wrk" and busiest > WRK_SLOW_CONNECT and duration < 10:
        notes.append(f"wrk spends seconds opening {busiest} connections inside its "
                     f"{duration:g} s measurement; use --duration 10 or more at levels above "
                     f"{WRK_SLOW_CONNECT} (the python driver connects before measuring)")

    plan: list[Any] = []
    for kind in kinds:
        plan.extend(kind.plan(loop_names, parser_names, host, port))
    if not any(isinstance(item, servers.Launch) for item in plan):
        reasons = sorted({item.reason for item in plan if isinstance(item, servers.Unsupported)})
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
    )
    out = options.get("out") or "results"
    results.check_writable(out)
    console = Console(stderr=True, highlight=False)
    runner = Runner(
        settings,
        plan,
        driver,
        pins,
        progress.for_console(console, quiet=bool(options.get("quiet"))),
        selection={"servers": [k.name for k in kinds], "loops": loop_names,
                   "parsers": parser_names},
        command=["bench", "run", *sys.argv[2:]] if _invoked_as_run() else ["bench", "run"],
    )
    return runner, out


def _invoked_as_run() -> bool:
    return len(sys.argv) > 1 and sys.argv[1] == "run" and \
        os.path.basename(sys.argv[0]) in ("bench", "__main__.py", "asgibench")
