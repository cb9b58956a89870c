"""``bench db init`` and ``bench db check``: create and seed the benchmark database, and
say whether it is ready (:mod:`asgibench.harness.db`; ``docs/database.md``)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from asgibench.errors import BenchError
from asgibench.harness import db

F = TypeVar("F", bound=Callable[..., Any])


def _db_option(command: F) -> F:
    return click.option(
        "--db", "url", envvar=db.ENV, show_envvar=True, default=None, metavar="URL",
        help="sqlite:///PATH (relative; sqlite:////abs/path absolute) or "
        "postgresql://USER:PASS@HOST:PORT/DB. Default: the SQLite file "
        f"{db.default_sqlite_url()[len('sqlite:///'):]}.")(command)


def _fail(message: str) -> None:
    ctx = click.get_current_context()
    click.echo(f"{ctx.command_path}: error: {message}", err=True)
    sys.exit(2)


def _one_line(problems: list[str], dburl: db.DbUrl) -> str:
    """Several problems in one line, the command to run said once at the end."""
    suffix = f": {db.init_hint(dburl)}"
    stripped = [p.removesuffix(suffix) for p in problems]
    if len(problems) > 1 and stripped != problems:
        return "; ".join(stripped) + suffix
    return "; ".join(problems)


@click.group("db")
def db_command() -> None:
    """Create, seed and check the benchmark database (TechEmpower's World and Fortune
    tables) on SQLite or PostgreSQL."""


@db_command.command("init")
@_db_option
def init_command(url: str | None) -> None:
    """Create (or recreate) the tables and seed them: 10,000 World rows, 12 fortunes."""
    try:
        dburl = db.parse_url(url or db.default_sqlite_url())
        summary = db.init_sync(dburl)
    except BenchError as exc:
        _fail(str(exc))
        return
    click.echo(f"initialised {summary}")


@db_command.command("check")
@_db_option
def check_command(url: str | None) -> None:
    """Say whether the database is ready for the benchmark, and what to run if not.
    Exit status 2 when it is not."""
    try:
        dburl = db.parse_url(url or db.default_sqlite_url())
        status = db.status_sync(dburl)
    except BenchError as exc:
        _fail(str(exc))
        return
    if status.problems:
        _fail(_one_line(status.problems, dburl))
        return
    click.echo(f"ready: {status.summary}")
    for note in status.notes:
        click.echo(f"note: {note}")
