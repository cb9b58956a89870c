"""The benchmark database: TechEmpower's ``World`` and ``Fortune`` tables, on SQLite (built
in, the default) or PostgreSQL.

Every server process reads the database URL from the environment variable :data:`ENV`
(``ASGIBENCH_DB``); the benchmark app connects from it (:mod:`asgibench.harness.db.app`).
This module is the harness's side: :func:`parse_url`, :func:`init` (create and seed the
tables), :func:`check`/:func:`status` (is the database ready, and what to run if not), and
what verification reads behind the app's back: :func:`read_world` and
:func:`statement_counts`. Each database is one module, :mod:`.sqlite` (aiosqlite) and
:mod:`.postgresql` (asyncpg), imported on first use, so nothing here needs either driver
until a database is used. See ``docs/database.md``.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol, TypeVar
from urllib.parse import unquote, urlsplit

from asgibench.errors import BenchError

#: The database URL every server process reads (``bench run`` sets it).
ENV = "ASGIBENCH_DB"
#: PostgreSQL: connections in each server process's pool (default :data:`DEFAULT_POOL`).
POOL_ENV = "ASGIBENCH_DB_POOL"
DEFAULT_POOL = 32

#: ``World``: ids 1..WORLD_ROWS, ``randomNumber`` random in 1..WORLD_ROWS.
WORLD_ROWS = 10000
#: query, update and cached-query clamp their N to 1..MAX_QUERIES.
MAX_QUERIES = 500

#: TechEmpower's 12 ``Fortune`` rows, exactly as its setup scripts insert them.
FORTUNES: tuple[tuple[int, str], ...] = (
    (1, "fortune: No such file or directory"),
    (2, "A computer scientist is someone who fixes things that aren't broken."),
    (3, "After enough decimal places, nobody gives a damn."),
    (4, "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1"),
    (5, "A computer program does what you tell it to do, not what you want it to do."),
    (6, "Emacs is a nice operating system, but I prefer UNIX. \u2014 Tom Christaensen"),
    (7, "Any program that runs right is obsolete."),
    (8, "A list is only as strong as its weakest link. \u2014 Donald Knuth"),
    (9, "Feature: A bug with seniority."),
    (10, "Computers make very fast, very accurate mistakes."),
    (11, '<script>alert("This should not be displayed in a browser alert box.");</script>'),
    (12, "\u30d5\u30ec\u30fc\u30e0\u30ef\u30fc\u30af\u306e\u30d9\u30f3\u30c1\u30de\u30fc\u30af"),
)
#: The fortune the app adds to the rows it read, on every request.
ADDED_FORTUNE: tuple[int, str] = (0, "Additional fortune added at request time.")

#: The kinds of statement counted, per server process (SQLite) or per database
#: (PostgreSQL's pg_stat_statements): reads of one World row, writes to World, reads of
#: Fortune. A statement counts once however many rows it touches, so an app that reads N
#: rows with one ``IN (...)`` query counts 1, not N.
COUNT_KEYS = ("world_select", "world_update", "fortune_select")
#: A column the harness's own statements (:func:`read_world`, :func:`status`) select, so
#: they are never counted as the app's. A column, not a comment: pg_stat_statements
#: merges statements that differ only in comments and constants (and keeps the first
#: one's text), so only a different statement stays apart from the app's.
VERIFY_MARKER = "asgibench_verify"

_URL_FORMS = ("sqlite:///PATH (a file: sqlite:///tfb.sqlite is relative to the current "
              "directory, sqlite:////abs/tfb.sqlite absolute) or "
              "postgresql://USER:PASS@HOST:PORT/DB")

_COMMENTS = re.compile(r"/\*.*?\*/|--[^\n]*", re.S)
#: A table name, optionally schema-qualified (``public.world``, ``"main"."World"``).
_TABLE = r'(?:"?\w+"?\.)?"?{}"?'
_KINDS = (
    ("world_select", re.compile(rf'select\b.*?\bfrom\s+{_TABLE.format("world")}(?:\s|;|$)',
                                re.S)),
    ("world_update", re.compile(rf'update\s+{_TABLE.format("world")}\s', re.S)),
    ("fortune_select", re.compile(
        rf'select\b.*?\bfrom\s+{_TABLE.format("fortune")}(?:\s|;|$)', re.S)),
)


def classify(sql: str) -> str | None:
    """The :data:`COUNT_KEYS` kind of statement ``sql``, or None (not counted: other
    tables, transaction control, the harness's own reads)."""
    if VERIFY_MARKER in sql:
        return None
    if "--" in sql or "/*" in sql:  # the regex only when needed: this runs per statement
        sql = _COMMENTS.sub(" ", sql)
    text = sql.strip().lower()
    if not text.startswith(("select", "update")):
        return None
    for kind, pattern in _KINDS:
        if pattern.match(text):
            return kind
    return None


@dataclass(frozen=True)
class DbUrl:
    """A parsed database URL. ``url`` is the normalised form: ``sqlite:///`` + an
    absolute path, or ``postgresql://...``."""

    kind: str  # "sqlite" or "postgresql"
    url: str
    path: str | None = None  # SQLite: the database file
    host: str | None = None
    port: int | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    database: str | None = None

    def display(self) -> str:
        """The URL with its password masked, for messages."""
        return mask(self.url)


#: A password in a URL's user info, or a ``password=`` parameter: what :func:`mask` hides.
_SECRET = re.compile(r"(://[^/@:]*:)[^@/]*(@)|((?:^|[?&;])password=)[^&;]*", re.I)


def mask(text: str) -> str:
    """``text`` with every URL password replaced by ``***``, whether or not the URL
    parses: for messages, results files and anything else written down."""
    return _SECRET.sub(lambda m: f"{m[1]}***{m[2]}" if m[1] else f"{m[3]}***", text)



def parse_url(url: str | DbUrl) -> DbUrl:
    """``sqlite:///PATH`` (relative to the current directory; ``sqlite:////abs/path``
    absolute, as SQLAlchemy spells them) or ``postgresql://USER:PASS@HOST:PORT/DB``
    (also ``postgres://``; the port defaults to 5432). Anything else: BenchError."""
    if isinstance(url, DbUrl):
        return url
    text = url.strip()
    if text.startswith("sqlite:///"):
        rest = text[len("sqlite:///"):]
        if rest in ("", ":memory:") or "?" in rest:
            raise BenchError(f"{mask(text)!r} is not a usable SQLite URL: every server "
                             f"process must open the same file; use {_URL_FORMS}")
        path = Path(rest).expanduser()
        path = path if path.is_absolute() else Path.cwd() / path
        path = Path(os.path.normpath(path))
        return DbUrl("sqlite", f"sqlite:///{path}", path=str(path))
    scheme = text.partition("://")[0].lower()
    if scheme in ("postgresql", "postgres") and "://" in text:
        try:
            parts = urlsplit(text)
            port = parts.port or 5432
        except ValueError as exc:
            raise BenchError(f"{mask(text)!r} is not a database URL ({exc}): use "
                             f"{_URL_FORMS}") from None
        database = unquote(parts.path.lstrip("/"))
        if not parts.hostname or not database or "/" in database:
            raise BenchError(f"{mask(text)!r} lacks a host or a database name: use "
                             f"{_URL_FORMS}")
        normal = "postgresql" + text[len(scheme):]
        return DbUrl("postgresql", normal, host=parts.hostname, port=port,
                     user=unquote(parts.username) if parts.username else None,
                     password=unquote(parts.password) if parts.password else None,
                     database=database)
    raise BenchError(f"{mask(text)!r} is not a database URL: use {_URL_FORMS}")


def default_sqlite_url() -> str:
    """The SQLite file ``bench db`` uses when given no ``--db``: ``tfb.sqlite`` in the
    user's cache directory (``$XDG_CACHE_HOME`` or ``~/.cache``, then ``asgibench/``)."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"),
                                                             ".cache")
    return f"sqlite:///{Path(cache).resolve() / 'asgibench' / 'tfb.sqlite'}"


class Database(Protocol):
    """What the app's handlers use: one object per server process (a connection or a
    pool), from :func:`connect`. Each method runs the statements its name says, one per
    row: nothing batches reads."""

    kind: str

    async def world(self, row_id: int) -> tuple[int, int] | None:
        """``(id, randomNumber)`` of one World row, by one SELECT."""

    async def worlds(self, ids: Sequence[int]) -> list[tuple[int, int]]:
        """The rows of ``ids``, each by its own SELECT, in order."""

    async def update_worlds(self, ids: Sequence[int],
                            new_number: Any) -> list[tuple[int, int]]:
        """Read each of ``ids`` by its own SELECT, give it ``new_number(old)`` and write
        them all back in one transaction (rows sorted by id); returns the new rows in the
        order of ``ids``."""

    async def fortunes(self) -> list[tuple[int, str]]:
        """Every Fortune row, by one SELECT."""

    async def all_worlds(self) -> list[tuple[int, int]]:
        """Every World row, by one SELECT (the cached-query cache)."""

    def counts(self) -> dict[str, int] | None:
        """Statements this process ran, per :data:`COUNT_KEYS` kind, where the driver can
        count them (SQLite); None elsewhere."""

    async def close(self) -> None: ...


@dataclass
class Status:
    """What :func:`status` found: ``problems`` (each one line, with what to run; none =
    ready), ``notes`` (facts that are not failures, e.g. whether PostgreSQL counts
    statements) and a one-line ``summary`` of what is there."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    summary: str = ""
    #: The database could be opened (problems, if any, are about its tables).
    reachable: bool = False

    @property
    def ready(self) -> bool:
        return not self.problems


def table_unreadable(result: Status, dburl: DbUrl, table: str, why: str) -> None:
    """Record that ``table`` cannot be read as TechEmpower's (a backend's error, ``why``)."""
    result.problems.append(f"table {table} is not TechEmpower's ({why}): {init_hint(dburl)}")


def judge_world(result: Status, dburl: DbUrl, count: int, low: int | None,
                high: int | None, bad: int | None) -> int:
    """Judge World from its row count, id range and rows with a randomNumber out of
    1..10000 (each backend fetches them its own way); returns the row count."""
    if (count, low, high) != (WORLD_ROWS, 1, WORLD_ROWS) or bad:
        result.problems.append(
            f"table World holds {count} rows (ids {low}..{high}), expected ids "
            f"1..{WORLD_ROWS} with randomNumber in 1..{WORLD_ROWS}: {init_hint(dburl)}")
    return int(count)


def judge_fortune(result: Status, dburl: DbUrl, rows: list[tuple[int, str]]) -> int:
    """Judge Fortune from its ``(id, message)`` rows; returns their count."""
    if sorted(rows) != sorted(FORTUNES):
        result.problems.append(f"table Fortune holds {len(rows)} rows, not TechEmpower's "
                               f"{len(FORTUNES)} fortunes: {init_hint(dburl)}")
    return len(rows)


def _backend(dburl: DbUrl) -> ModuleType:
    if dburl.kind == "sqlite":
        from asgibench.harness.db import sqlite

        return sqlite
    from asgibench.harness.db import postgresql

    return postgresql


def init_hint(dburl: DbUrl) -> str:
    """The command that creates and seeds ``dburl``'s tables."""
    return f"run bench db init --db {dburl.display()}"


async def connect(url: str | DbUrl) -> Database:
    """The app's per-process :class:`Database` for ``url`` (a connection for SQLite, a
    pool for PostgreSQL). Errors: BenchError, one line."""
    dburl = parse_url(url)
    return await _backend(dburl).connect(dburl)  # type: ignore[no-any-return]


async def init(url: str | DbUrl) -> str:
    """Create (or recreate) the tables and seed them: 10,000 World rows with random
    numbers in 1..10000, the 12 fortunes. Returns a one-line summary. Errors (cannot
    connect, cannot write): BenchError, one line."""
    dburl = parse_url(url)
    return await _backend(dburl).init(dburl)  # type: ignore[no-any-return]


async def status(url: str | DbUrl) -> Status:
    """Whether the database at ``url`` is ready for the benchmark: reachable, both tables
    there with TechEmpower's data. A malformed URL raises BenchError; everything else is
    reported in the result."""
    dburl = parse_url(url)
    try:
        return await _backend(dburl).status(dburl)  # type: ignore[no-any-return]
    except BenchError as exc:  # e.g. the driver is not installed
        return Status(problems=[str(exc)])


async def check(url: str | DbUrl) -> list[str]:
    """:func:`status`'s problems: each one line with what to run; empty = ready."""
    return (await status(url)).problems


async def read_world(url: str | DbUrl, ids: Iterable[int] | None = None) -> dict[int, int]:
    """``{id: randomNumber}`` for ``ids`` (every row when None), read directly from the
    database, not through the app, and never counted as the app's statements."""
    dburl = parse_url(url)
    wanted = None if ids is None else sorted(set(ids))
    return await _backend(dburl).read_world(dburl, wanted)  # type: ignore[no-any-return]


async def statement_counts(url: str | DbUrl) -> dict[str, int] | None:
    """PostgreSQL: the database's own totals (pg_stat_statements' ``calls``) per
    :data:`COUNT_KEYS` kind, over every session since the statistics were last reset;
    take the difference around a request. None where the extension is not loaded, and
    for SQLite, whose counts come from each server process
    (``GET /__asgibench/db-stats``, :mod:`asgibench.harness.db.app`)."""
    dburl = parse_url(url)
    if dburl.kind != "postgresql":
        return None
    return await _backend(dburl).statement_counts(dburl)  # type: ignore[no-any-return]


T = TypeVar("T")


def _run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


def init_sync(url: str | DbUrl) -> str:
    """:func:`init` for synchronous callers (the CLI, the runner)."""
    return _run(init(url))


def status_sync(url: str | DbUrl) -> Status:
    """:func:`status` for synchronous callers."""
    return _run(status(url))


def check_sync(url: str | DbUrl) -> list[str]:
    """:func:`check` for synchronous callers."""
    return _run(check(url))


def read_world_sync(url: str | DbUrl, ids: Iterable[int] | None = None) -> dict[int, int]:
    """:func:`read_world` for synchronous callers (verification)."""
    return _run(read_world(url, ids))


def statement_counts_sync(url: str | DbUrl) -> dict[str, int] | None:
    """:func:`statement_counts` for synchronous callers (verification)."""
    return _run(statement_counts(url))


__all__ = [
    "ADDED_FORTUNE", "COUNT_KEYS", "DEFAULT_POOL", "ENV", "FORTUNES", "MAX_QUERIES",
    "POOL_ENV", "VERIFY_MARKER", "WORLD_ROWS", "Database", "DbUrl", "Status", "check",
    "check_sync", "classify", "connect", "default_sqlite_url", "init", "init_hint",
    "init_sync", "parse_url", "read_world", "read_world_sync", "statement_counts",
    "statement_counts_sync", "status", "status_sync",
]
