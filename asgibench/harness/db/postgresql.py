"""PostgreSQL, through asyncpg: a pool per server process.

The pool holds ``ASGIBENCH_DB_POOL`` connections (default 32), all opened at startup, so
neither the first level nor a refused connection waits until load. Why 32: a query is a
network round trip during which the process serves other requests, so the pool must keep
enough queries in flight to hide that latency at 512 client connections; past a few
times the database machine's cores, more connections only queue inside PostgreSQL and
cost it memory. And 32 leaves room under PostgreSQL's default ``max_connections`` (100)
for three such processes (``--workers 3``) plus the harness's own connections; with more
workers, lower the pool or raise ``max_connections``.

asyncpg prepares each statement once per connection and reuses it (its statement cache),
as any asyncpg app does. Statement counts come from the database itself:
``pg_stat_statements`` (:func:`statement_counts`), where it is loaded.

On a loopback host with no ``sslmode`` in the URL, connections are made without TLS
(asyncpg's default, ``prefer``, first asks for TLS and then swaps the transport's protocol,
which rloop's transports refuse; TLS to 127.0.0.1 protects nothing anyway). Elsewhere
asyncpg's defaults apply.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import random
import socket
from collections.abc import Callable, Sequence
from typing import Any

from asgibench.errors import BenchError
from asgibench.harness.db import (
    COUNT_KEYS,
    DEFAULT_POOL,
    FORTUNES,
    POOL_ENV,
    VERIFY_MARKER,
    WORLD_ROWS,
    DbUrl,
    Status,
    classify,
    init_hint,
    judge_fortune,
    judge_world,
    table_unreadable,
)

CONNECT_TIMEOUT_S = 10.0

SELECT_WORLD = "SELECT id, randomnumber FROM world WHERE id = $1"
UPDATE_WORLD = "UPDATE world SET randomnumber = $2 WHERE id = $1"
SELECT_FORTUNES = "SELECT id, message FROM fortune"
SELECT_ALL_WORLDS = "SELECT id, randomnumber FROM world"


def _asyncpg() -> Any:
    try:
        import asyncpg
    except ImportError:
        raise BenchError("the PostgreSQL database needs asyncpg: "
                         "pip install 'asgibench[postgresql]'") from None
    return asyncpg


def pool_size() -> int:
    """Connections per server process: ``ASGIBENCH_DB_POOL``, default 32."""
    raw = os.environ.get(POOL_ENV, "").strip()
    if not raw:
        return DEFAULT_POOL
    try:
        size = int(raw)
    except ValueError:
        size = 0
    if size < 1:
        raise BenchError(f"{POOL_ENV}={raw!r} is not a pool size: use a whole number >= 1")
    return size


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def describe(exc: BaseException, dburl: DbUrl) -> str:
    """One line for a failed connection: which database, why, and what to do."""
    asyncpg = _asyncpg()
    where = f"PostgreSQL at {dburl.host}:{dburl.port}"
    if isinstance(exc, socket.gaierror):
        return f"cannot connect to {where}: unknown host {dburl.host!r}"
    if isinstance(exc, ConnectionRefusedError):
        return f"cannot connect to {where}: connection refused: is PostgreSQL running?"
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return (f"cannot connect to {where}: no answer in {CONNECT_TIMEOUT_S:.0f} s: is "
                "PostgreSQL running, and listening there?")
    if isinstance(exc, OSError):
        return f"cannot connect to {where}: {_first_line(exc)}: is PostgreSQL running?"
    if isinstance(exc, asyncpg.InvalidPasswordError):
        return (f"{where} refused user {dburl.user!r}: wrong password (check the user and "
                "password in the URL)")
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return (f"{where} has no database {dburl.database!r}: create it (createdb -h "
                f"{dburl.host} -p {dburl.port} -U {dburl.user or 'postgres'} "
                f"{dburl.database})")
    if isinstance(exc, asyncpg.TooManyConnectionsError):
        return (f"{where} refused more connections ({_first_line(exc)}): lower {POOL_ENV} "
                f"(now {os.environ.get(POOL_ENV) or DEFAULT_POOL}) or raise its "
                "max_connections")
    if isinstance(exc, asyncpg.InvalidAuthorizationSpecificationError):
        return f"{where} refused user {dburl.user!r}: {_first_line(exc)}"
    return f"cannot use {where}: {_first_line(exc)}"


def connect_options(dburl: DbUrl) -> dict[str, Any]:
    """asyncpg's options beyond the URL: no TLS on a loopback host unless the URL asks."""
    query = dburl.url.partition("?")[2].lower()
    if "sslmode=" in query or "ssl=" in query:
        return {}
    try:
        loopback = ipaddress.ip_address(dburl.host or "").is_loopback
    except ValueError:
        loopback = dburl.host == "localhost"
    return {"ssl": False} if loopback else {}


def _connect_errors() -> tuple[type[BaseException], ...]:
    asyncpg = _asyncpg()
    return (OSError, asyncio.TimeoutError, TimeoutError, asyncpg.PostgresError,
            asyncpg.InterfaceError)


async def _connect_one(dburl: DbUrl) -> Any:
    asyncpg = _asyncpg()
    try:
        return await asyncpg.connect(dburl.url, timeout=CONNECT_TIMEOUT_S,
                                     **connect_options(dburl))
    except _connect_errors() as exc:
        raise BenchError(describe(exc, dburl)) from None


class PostgresDatabase:
    """The app's database in one server process: an asyncpg pool."""

    kind = "postgresql"

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    async def world(self, row_id: int) -> tuple[int, int] | None:
        row = await self.pool.fetchrow(SELECT_WORLD, row_id)
        return (row[0], row[1]) if row is not None else None

    async def worlds(self, ids: Sequence[int]) -> list[tuple[int, int]]:
        found = []
        async with self.pool.acquire() as conn:
            for row_id in ids:
                row = await conn.fetchrow(SELECT_WORLD, row_id)
                if row is not None:
                    found.append((row[0], row[1]))
        return found

    async def update_worlds(self, ids: Sequence[int],
                            new_number: Callable[[int], int]) -> list[tuple[int, int]]:
        async with self.pool.acquire() as conn:
            rows = []
            for row_id in ids:
                row = await conn.fetchrow(SELECT_WORLD, row_id)
                if row is not None:
                    rows.append((row[0], new_number(row[1])))
            # One transaction, rows in id order: concurrent updates of overlapping rows
            # take their row locks in the same order, so they never deadlock.
            async with conn.transaction():
                await conn.executemany(UPDATE_WORLD, sorted(rows))
        return rows

    async def fortunes(self) -> list[tuple[int, str]]:
        return [(row[0], row[1]) for row in await self.pool.fetch(SELECT_FORTUNES)]

    async def all_worlds(self) -> list[tuple[int, int]]:
        return [(row[0], row[1]) for row in await self.pool.fetch(SELECT_ALL_WORLDS)]

    def counts(self) -> dict[str, int] | None:
        return None  # PostgreSQL counts them itself: pg_stat_statements

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.pool.close(), 5.0)
        except (asyncio.TimeoutError, TimeoutError):
            self.pool.terminate()


async def connect(dburl: DbUrl) -> PostgresDatabase:
    asyncpg = _asyncpg()
    size = pool_size()
    try:
        pool = await asyncpg.create_pool(dburl.url, min_size=size, max_size=size,
                                         timeout=CONNECT_TIMEOUT_S, **connect_options(dburl))
    except _connect_errors() as exc:
        raise BenchError(describe(exc, dburl)) from None
    return PostgresDatabase(pool)


async def init(dburl: DbUrl) -> str:
    asyncpg = _asyncpg()
    conn = await _connect_one(dburl)
    try:
        try:
            async with conn.transaction():
                await conn.execute("DROP TABLE IF EXISTS world; DROP TABLE IF EXISTS fortune")
                await conn.execute("CREATE TABLE world (id integer PRIMARY KEY, "
                                   "randomnumber integer NOT NULL)")
                await conn.execute("CREATE TABLE fortune (id integer PRIMARY KEY, "
                                   "message varchar(2048) NOT NULL)")
                await conn.copy_records_to_table(
                    "world", columns=["id", "randomnumber"],
                    records=[(i, random.randint(1, WORLD_ROWS))
                             for i in range(1, WORLD_ROWS + 1)])
                await conn.copy_records_to_table("fortune", columns=["id", "message"],
                                                 records=list(FORTUNES))
            await conn.execute("ANALYZE world; ANALYZE fortune")
        except asyncpg.PostgresError as exc:
            raise BenchError(f"cannot create the tables in PostgreSQL at {dburl.host}:"
                             f"{dburl.port}/{dburl.database}: {_first_line(exc)}") from None
        # Where the user may (a superuser, or the extension already there), make the
        # statement statistics available; without them verification cannot count.
        with contextlib.suppress(asyncpg.PostgresError):
            await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        available, _ = await _stat_statements(conn, dburl)
    finally:
        await conn.close()
    return (f"PostgreSQL {dburl.host}:{dburl.port}/{dburl.database}: World {WORLD_ROWS} "
            f"rows, Fortune {len(FORTUNES)} rows; pg_stat_statements "
            f"{'available' if available else 'not available'}")


async def _stat_statements(conn: Any, dburl: DbUrl) -> tuple[bool, str]:
    """(available, a one-line note saying so, or how to make it available)."""
    asyncpg = _asyncpg()
    installed = await conn.fetchval(
        "SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'")
    if not installed:
        return False, (f"pg_stat_statements is not installed in database {dburl.database!r}"
                       ": verification cannot count its queries (as a superuser: CREATE "
                       "EXTENSION pg_stat_statements, with shared_preload_libraries = "
                       "'pg_stat_statements')")
    try:
        await conn.fetchval("SELECT count(*) FROM pg_stat_statements")
    except asyncpg.PostgresError as exc:
        return False, (f"pg_stat_statements is installed but not loaded "
                       f"({_first_line(exc)}): set shared_preload_libraries = "
                       "'pg_stat_statements' and restart PostgreSQL")
    return True, "pg_stat_statements is available: verification counts queries with it"


async def status(dburl: DbUrl) -> Status:
    asyncpg = _asyncpg()
    result = Status()
    try:
        conn = await _connect_one(dburl)
    except BenchError as exc:
        result.problems.append(str(exc))
        return result
    result.reachable = True
    try:
        world = fortune = None
        if not await conn.fetchval("SELECT to_regclass('world') IS NOT NULL"):
            result.problems.append(f"table World is missing: {init_hint(dburl)}")
        else:
            world = await _check_world(conn, dburl, result)
        if not await conn.fetchval("SELECT to_regclass('fortune') IS NOT NULL"):
            result.problems.append(f"table Fortune is missing: {init_hint(dburl)}")
        else:
            fortune = await _check_fortune(conn, dburl, result)
        result.notes.append((await _stat_statements(conn, dburl))[1])
    except asyncpg.PostgresError as exc:
        result.problems.append(f"cannot read PostgreSQL at {dburl.host}:{dburl.port}: "
                               f"{_first_line(exc)}")
        return result
    finally:
        await conn.close()
    result.summary = (f"PostgreSQL {dburl.host}:{dburl.port}/{dburl.database}: World "
                      f"{world if world is not None else '-'} rows, Fortune "
                      f"{fortune if fortune is not None else '-'} rows")
    return result


async def _check_world(conn: Any, dburl: DbUrl, result: Status) -> int | None:
    asyncpg = _asyncpg()
    try:
        count, low, high, _, bad = await conn.fetchrow(
            f"SELECT count(*), min(id), max(id), 1 AS {VERIFY_MARKER}, "
            f"count(*) FILTER (WHERE randomnumber < 1 OR randomnumber > {WORLD_ROWS}) "
            "FROM world")
    except asyncpg.PostgresError as exc:
        table_unreadable(result, dburl, "World", _first_line(exc))
        return None
    return judge_world(result, dburl, count, low, high, bad)


async def _check_fortune(conn: Any, dburl: DbUrl, result: Status) -> int | None:
    asyncpg = _asyncpg()
    try:
        rows = [(r[0], r[1]) for r in
                await conn.fetch(f"SELECT id, message, 1 AS {VERIFY_MARKER} FROM fortune")]
    except asyncpg.PostgresError as exc:
        table_unreadable(result, dburl, "Fortune", _first_line(exc))
        return None
    return judge_fortune(result, dburl, rows)


async def read_world(dburl: DbUrl, ids: list[int] | None) -> dict[int, int]:
    asyncpg = _asyncpg()
    conn = await _connect_one(dburl)
    sql = f"SELECT id, randomnumber, 1 AS {VERIFY_MARKER} FROM world"
    try:
        if ids is None:
            rows = await conn.fetch(sql)
        else:
            rows = await conn.fetch(f"{sql} WHERE id = ANY($1::integer[])", ids)
    except asyncpg.PostgresError as exc:
        raise BenchError(f"cannot read table World from PostgreSQL at {dburl.host}:"
                         f"{dburl.port}: {_first_line(exc)}: {init_hint(dburl)}") from None
    finally:
        await conn.close()
    return {int(row[0]): int(row[1]) for row in rows}


async def statement_counts(dburl: DbUrl) -> dict[str, int] | None:
    asyncpg = _asyncpg()
    conn = await _connect_one(dburl)
    try:
        if not (await _stat_statements(conn, dburl))[0]:
            return None
        rows = await conn.fetch(
            f"SELECT query, calls, 1 AS {VERIFY_MARKER} FROM pg_stat_statements "
            "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())")
    except asyncpg.PostgresError:
        return None
    finally:
        await conn.close()
    counts = dict.fromkeys(COUNT_KEYS, 0)
    for query, calls, _ in rows:
        kind = classify(query or "")
        if kind is not None:
            counts[kind] += int(calls)
    return counts
