"""``bench``: the command line. Each subcommand is a thin layer over a documented API."""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from asgibench import __version__
from asgibench.errors import BenchError
from asgibench.server.config import LIFESPAN_CHOICES, LOG_LEVELS, Config


class _Group(click.Group):
    """Every user mistake is one line, ``bench <cmd>: error: ...``, and exit status 2."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            return super().main(*args, **kwargs)
        except click.exceptions.NoArgsIsHelpError as exc:
            click.echo(exc.ctx.get_help())
            sys.exit(2)
        except click.UsageError as exc:
            command = exc.ctx.command_path if exc.ctx is not None else "bench"
            click.echo(f"{command}: error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("aborted", err=True)
            sys.exit(130)
        except BenchError as exc:
            ctx = click.get_current_context(silent=True)
            command = ctx.command_path if ctx is not None else "bench"
            click.echo(f"{command}: error: {exc}", err=True)
            sys.exit(exc.exit_code)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BenchError as exc:
            # Name the subcommand that failed, not just "bench".
            sub = ctx.invoked_subcommand
            click.echo(f"{ctx.command_path}{' ' + sub if sub else ''}: error: {exc}", err=True)
            sys.exit(exc.exit_code)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="asgibench")
def main() -> None:
    """Benchmark Python event loops x HTTP/1.1 parsers x ASGI servers on this machine."""


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _env(flag: str) -> str:
    return "ASGIBENCH_" + flag.upper().replace("-", "_")


def _option(flag: str, **kwargs: Any) -> Any:
    """A ``--flag`` whose default can come from ``ASGIBENCH_FLAG``."""
    name = flag.split("/")[0].lstrip("-")
    return click.option(flag, envvar=_env(name), show_envvar=True, **kwargs)


@main.command("serve")
@click.argument("app", envvar="ASGIBENCH_APP")
@_option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@_option("--port", type=int, default=8000, show_default=True, help="Port to bind (0: any).")
@_option("--uds", default=None, help="Bind a Unix domain socket at this path instead.")
@_option("--fd", type=int, default=None, help="Serve on this inherited listening socket fd.")
@_option("--loop", default="auto", show_default=True,
         help="Event loop: auto, asyncio, selector, proactor, uvloop, winloop, rloop.")
@_option("--proto", default="auto", show_default=True,
         help="HTTP/1.1 parser: auto, httptools, h11, zttp.")
@_option("--workers", type=int, default=1, show_default=True, help="Worker processes.")
@_option("--backlog", type=int, default=2048, show_default=True, help="listen() backlog.")
@_option("--lifespan", type=click.Choice(LIFESPAN_CHOICES), default="auto", show_default=True)
@_option("--timeout-keep-alive", type=float, default=5.0, show_default=True,
         help="Close idle keep-alive connections after this many seconds.")
@_option("--timeout-request-head", type=float, default=10.0, show_default=True,
         help="Close a connection whose request head is not complete after this many "
         "seconds (counted from connect, or from the end of the previous response).")
@_option("--timeout-request-body", type=float, default=60.0, show_default=True,
         help="Answer 408 and close when a request body stops arriving for this many "
         "seconds (nginx's client_body_timeout; not counted while the app is behind).")
@_option("--timeout-graceful-shutdown", type=float, default=None,
         help="On shutdown, answer 503 to requests still running after this many seconds "
         "(where nothing was sent yet) and cancel them.")
@_option("--limit-concurrency", type=int, default=None,
         help="Answer 503 beyond this many connections or running requests.")
@_option("--limit-max-requests", type=int, default=None,
         help="Exit after this many requests (a worker is then replaced).")
@_option("--limit-request-head", type=int, default=65536, show_default=True,
         help="Largest request line + headers, in bytes; larger gets 431.")
@_option("--root-path", default="", help="ASGI root_path, for apps mounted below a prefix.")
@_option("--proxy-headers/--no-proxy-headers", default=True, show_default=True,
         help="Trust X-Forwarded-For/-Proto from --forwarded-allow-ips.")
@_option("--forwarded-allow-ips", default="127.0.0.1", show_default=True,
         help="Comma-separated proxy addresses/networks to trust, or '*'.")
@_option("--access-log/--no-access-log", default=True, show_default=True)
@_option("--log-level", type=click.Choice(LOG_LEVELS), default="info", show_default=True)
@_option("--server-header/--no-server-header", default=True, show_default=True)
@_option("--date-header/--no-date-header", default=True, show_default=True)
@_option("--app-factory", is_flag=True, default=False,
         help="APP is a factory: call it with no arguments to get the ASGI app.")
def serve_command(app: str, **options: Any) -> None:
    """Serve the ASGI app APP, given as MODULE:ATTR (imported from the current directory).

    Any --loop works with any --proto. Every option can also be set through the
    environment variable shown beside it.
    """
    from asgibench.server import Server
    from asgibench.server.server import preflight
    from asgibench.server.workers import run_workers

    config = Config(app=app, **options)
    preflight(config)  # a typo costs one line, not a traceback, and binds nothing
    configure_logging(config.log_level)
    if config.workers > 1:
        sys.exit(run_workers(config, config.log_level))
    server = Server(config)
    server.run()
    sys.exit(server.exit_code)


def _status_table(title: str, rows: list[tuple[str, bool, str, str | None]], auto: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    table.add_column("name")
    table.add_column("status")
    table.add_column("version")
    table.add_column("auto")
    for name, usable, reason, version in rows:
        table.add_row(
            name,
            "[green]available[/]" if usable else f"[red]unavailable[/]: {reason}",
            version or "-",
            "<- auto" if name == auto else "",
        )
    console = Console()
    console.print(table)
    console.print(f"auto resolves to: [bold]{auto}[/]")


@main.command("loops")
@click.option("--workers", type=int, default=1, show_default=True,
              help="Resolve auto as for this many worker processes.")
def loops_command(workers: int) -> None:
    """List the event loops: available or why not, version, and what auto picks."""
    from asgibench import loops

    rows = [(s.name, s.available, s.reason, s.version) for s in loops.describe()]
    _status_table("event loops", rows, loops.auto_name(workers=workers))


@main.command("protos")
def protos_command() -> None:
    """List the HTTP/1.1 parsers: available or why not, version, and what auto picks."""
    from asgibench import protocols

    rows = []
    for backend in protocols.backends():
        usable, reason = backend.available()
        rows.append((backend.name, usable, reason, backend.version()))
    _status_table("HTTP/1.1 parsers", rows, protocols.auto_name())


def _register_commands() -> None:
    from asgibench.harness.cli import run_command
    from asgibench.harness.resourcecli import cost_command, memory_command
    from asgibench.reports.cli import (
        chart_command,
        compare_command,
        merge_command,
        report_command,
    )

    main.add_command(run_command, "run")
    main.add_command(cost_command, "cost")
    main.add_command(memory_command, "memory")
    main.add_command(report_command, "report")
    main.add_command(chart_command, "chart")
    main.add_command(compare_command, "compare")
    main.add_command(merge_command, "merge")


_register_commands()
