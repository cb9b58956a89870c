"""``bench serve`` (run an ASGI app), ``bench loops`` and ``bench protos`` (what is
available on this machine, and what ``auto`` picks)."""

from __future__ import annotations

import sys
from typing import Any

import click

from asgibench import _build, loops, protocols
from asgibench.cli.options import env_option
from asgibench.protocols.ws import WEBSOCKETS
from asgibench.server import Server
from asgibench.server.config import LIFESPAN_CHOICES, LOG_LEVELS, Config, probe_app
from asgibench.server.logs import configure_logging
from asgibench.server.server import preflight
from asgibench.server.workers import run_workers


@click.command("serve")
@click.argument("app", envvar="ASGIBENCH_APP")
@env_option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@env_option("--port", type=int, default=8000, show_default=True,
            help="Port to bind (0: any).")
@env_option("--uds", default=None, help="Bind a Unix domain socket at this path instead.")
@env_option("--fd", type=int, default=None,
            help="Serve on this inherited listening socket fd.")
@env_option("--loop", default="auto", show_default=True,
            help=lambda: f"Event loop: {loops.LOOPS.help_names()}.")
@env_option("--proto", default="auto", show_default=True,
            help=lambda: f"HTTP/1.1 parser: {protocols.PARSERS.help_names()}.")
@env_option("--ws", default="auto", show_default=True,
            help=lambda: f"WebSocket implementation: {WEBSOCKETS.help_names()} (none: "
            "upgrade requests are answered as plain HTTP).")
@env_option("--ws-max-size", type=int, default=16 * 1024 * 1024, show_default=True,
            help="Largest incoming WebSocket message, in bytes; larger closes with 1009.")
@env_option("--ws-max-queue", type=int, default=32, show_default=True,
            help="Incoming WebSocket messages queued ahead of the app before reading stops.")
@env_option("--ws-ping-interval", type=float, default=20.0, show_default=True,
            help="Send a WebSocket ping after this many seconds (0: never).")
@env_option("--ws-ping-timeout", type=float, default=20.0, show_default=True,
            help="Close with 1011 when a ping's pong is this many seconds late (0: never).")
@env_option("--ws-per-message-deflate/--no-ws-per-message-deflate", default=True,
            show_default=True, help="Offer WebSocket permessage-deflate compression.")
@env_option("--workers", type=int, default=1, show_default=True, help="Worker processes.")
@env_option("--backlog", type=int, default=2048, show_default=True, help="listen() backlog.")
@env_option("--lifespan", type=click.Choice(LIFESPAN_CHOICES), default="auto",
            show_default=True)
@env_option("--timeout-keep-alive", type=float, default=5.0, show_default=True,
            help="Close idle keep-alive connections after this many seconds.")
@env_option("--timeout-request-head", type=float, default=10.0, show_default=True,
            help="Close a connection whose request head is not complete after this many "
            "seconds (counted from connect, or from the end of the previous response).")
@env_option("--timeout-request-body", type=float, default=60.0, show_default=True,
            help="Answer 408 and close when a request body stops arriving for this many "
            "seconds (nginx's client_body_timeout; not counted while the app is behind).")
@env_option("--timeout-graceful-shutdown", type=float, default=None,
            help="On shutdown, answer 503 to requests still running after this many seconds "
            "(where nothing was sent yet) and cancel them.")
@env_option("--limit-concurrency", type=int, default=None,
            help="Answer 503 beyond this many connections or running requests.")
@env_option("--limit-max-requests", type=int, default=None,
            help="Exit after this many requests (a worker is then replaced).")
@env_option("--limit-request-head", type=int, default=65536, show_default=True,
            help="Largest request line + headers, in bytes; larger gets 431.")
@env_option("--root-path", default="",
            help="ASGI root_path, for apps mounted below a prefix.")
@env_option("--proxy-headers/--no-proxy-headers", default=True, show_default=True,
            help="Trust X-Forwarded-For/-Proto from --forwarded-allow-ips.")
@env_option("--forwarded-allow-ips", default="127.0.0.1", show_default=True,
            help="Comma-separated proxy addresses/networks to trust, or '*'.")
@env_option("--access-log/--no-access-log", default=True, show_default=True)
@env_option("--log-level", type=click.Choice(LOG_LEVELS), default="info", show_default=True)
@env_option("--server-header/--no-server-header", default=True, show_default=True)
@env_option("--date-header/--no-date-header", default=True, show_default=True)
@env_option("--app-factory", is_flag=True, default=False,
            help="APP is a factory: call it with no arguments to get the ASGI app.")
def serve_command(app: str, **options: Any) -> None:
    """Serve the ASGI app APP, given as MODULE:ATTR (imported from the current directory).

    Any --loop works with any --proto. Every option can also be set through the
    environment variable shown beside it.
    """
    config = Config(app=app, **options)
    preflight(config)  # a typo costs one line, not a traceback, and binds nothing
    configure_logging(config.log_level)
    if config.workers > 1:
        # A broken app too: one process imports it before the supervisor binds. (Alone, the
        # server imports it on its loop before binding, as uvicorn does: apps that look up
        # the running loop at import time get the one they will run on.)
        probe_app(config)
        sys.exit(run_workers(config, config.log_level))
    server = Server(config)
    server.run()
    sys.exit(server.exit_code)


def _status_table(title: str, rows: list[tuple[str, bool, str, str | None]], auto: str) -> None:
    # rich is imported here, not at the top: this module is loaded by every
    # `python -m asgibench serve`, the process bench run/cost/memory measure.
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


@click.command("loops")
@click.option("--workers", type=int, default=1, show_default=True,
              help="Resolve auto as for this many worker processes.")
def loops_command(workers: int) -> None:
    """List the event loops: available or why not, version, and what auto picks."""
    rows = [(s.name, s.available, s.reason, s.version) for s in loops.describe()]
    _status_table("event loops", rows, loops.auto_name(workers=workers))


@click.command("protos")
def protos_command() -> None:
    """List the HTTP/1.1 parsers and the WebSocket implementations: available or why not,
    version, and what auto picks; then which build of the server core runs (compiled or
    pure Python, docs/server.md)."""
    rows = []
    for backend in protocols.backends():
        usable, reason = backend.available()
        rows.append((backend.name, usable, reason, backend.version()))
    _status_table("HTTP/1.1 parsers", rows, protocols.auto_name())
    rows = [(s.name, s.available, s.reason, s.version) for s in WEBSOCKETS.describe()]
    _status_table("WebSocket implementations (--ws)", rows, WEBSOCKETS.auto_name() or "none")
    click.echo(f"server core: {_build.current().describe()}")
