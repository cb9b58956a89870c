"""SQLite, through aiosqlite: the built-in benchmark database.

One connection per server process. SQLite serialises writers on the whole file, so a
pool of connections in one process buys no parallel writes, only lock contention; and
aiosqlite runs each connection's statements on that connection's own thread, one at a
time, which is exactly how an async app built on it talks to SQLite. Several worker
processes (``--workers``) share the file: it is in WAL mode (readers never wait for the
writer) with a busy timeout, so a writer waits for another process's write to finish
instead of failing.

Every statement the connection runs passes the connection's trace callback (sqlite3's
``set_trace_callback``, which fires once per execution, with the statement as run), and
is counted per :data:`asgibench.harness.db.COUNT_KEYS` kind: the counts are SQLite's own
record of what ran, so an app that reads N rows with one ``IN (...)`` query counts 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from asgibench.errors import BenchError
from asgibench.harness.db import (
    COUNT_KEYS,
    FORTUNES,
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

#: How long a statement waits for another process's write lock before failing, in ms.
BUSY_TIMEOUT_MS = 10_000

SELECT_WORLD = "SELECT id, randomNumber FROM World WHERE id = ?"
UPDATE_WORLD = "UPDATE World SET randomNumber = ? WHERE id = ?"
SELECT_FORTUNES = "SELECT id, message FROM Fortune"
SELECT_ALL_WORLDS = "SELECT id, randomNumber FROM World"


def _aiosqlite() -> Any:
    try:
        import aiosqlite
    except ImportError:
        raise BenchError("the SQLite database needs aiosqlite: pip install aiosqlite") \
            from None
    return aiosqlite


async def _open(path: str, *, readonly: bool = False) -> Any:
    """An aiosqlite connection in autocommit mode (transactions are explicit). Its
    thread is a daemon: a server killed without lifespan shutdown still exits."""
    aiosqlite = _aiosqlite()
    target = f"{Path(path).as_uri()}?mode=ro" if readonly else path
    pending = aiosqlite.connect(target, isolation_level=None, uri=readonly)
    thread = getattr(pending, "_thread", None)
    if thread is not None:
        thread.daemon = True
    conn = await pending
    await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


class SqliteDatabase:
    """The app's database in one server process: one aiosqlite connection."""

    kind = "sqlite"

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self._counts = dict.fromkeys(COUNT_KEYS, 0)
        # One write transaction at a time on this connection: the connection is shared
        # by every request of the process, and SQLite has no nested transactions.
        self._write_lock = asyncio.Lock()

    def _trace(self, statement: str) -> None:
        # Runs on the connection's thread, the only writer of _counts.
        kind = classify(statement)
        if kind is not None:
            self._counts[kind] += 1

    async def world(self, row_id: int) -> tuple[int, int] | None:
        rows = await self.conn.execute_fetchall(SELECT_WORLD, (row_id,))
        return tuple(rows[0]) if rows else None  # type: ignore[return-value]

    async def worlds(self, ids: Sequence[int]) -> list[tuple[int, int]]:
        found = []
        for row_id in ids:
            row = await self.world(row_id)
            if row is not None:
                found.append(row)
        return found

    async def update_worlds(self, ids: Sequence[int],
                            new_number: Callable[[int], int]) -> list[tuple[int, int]]:
        rows = [(row_id, new_number(old)) for row_id, old in await self.worlds(ids)]
        async with self._write_lock:
            # IMMEDIATE takes the write lock now (waiting up to the busy timeout), so the
            # transaction never fails halfway on another process's write.
            try:
                await self.conn.execute("BEGIN IMMEDIATE")
                await self.conn.executemany(UPDATE_WORLD,
                                            [(number, row_id) for row_id, number in
                                             sorted(rows)])
                await self.conn.execute("COMMIT")
            except BaseException:
                # Whatever failed (a busy timeout, a cancelled request), leave no
                # transaction open on the shared connection.
                with contextlib.suppress(sqlite3.Error, ValueError):
                    await self.conn.execute("ROLLBACK")
                raise
        return rows

    async def fortunes(self) -> list[tuple[int, str]]:
        return [tuple(row) for row in  # type: ignore[misc]
                await self.conn.execute_fetchall(SELECT_FORTUNES)]

    async def all_worlds(self) -> list[tuple[int, int]]:
        return [tuple(row) for row in  # type: ignore[misc]
                await self.conn.execute_fetchall(SELECT_ALL_WORLDS)]

    def counts(self) -> dict[str, int] | None:
        return dict(self._counts)

    async def close(self) -> None:
        await self.conn.close()


async def connect(dburl: DbUrl) -> SqliteDatabase:
    """The per-process connection to ``dburl``'s file, which must exist (``bench db
    init`` or ``bench run`` creates it: connecting never creates an empty database)."""
    assert dburl.path is not None
    if not Path(dburl.path).is_file():
        raise BenchError(f"the SQLite database {dburl.path} does not exist: "
                         f"{init_hint(dburl)}")
    try:
        conn = await _open(dburl.path)
        await conn.execute("PRAGMA synchronous = NORMAL")
    except sqlite3.Error as exc:
        raise BenchError(f"cannot open the SQLite database {dburl.path}: {exc}") from None
    database = SqliteDatabase(conn)
    await conn.set_trace_callback(database._trace)
    return database


async def init(dburl: DbUrl) -> str:
    assert dburl.path is not None
    path = Path(dburl.path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = await _open(str(path))
    except (OSError, sqlite3.Error) as exc:
        raise BenchError(f"cannot create the SQLite database {path}: {exc}") from None
    try:
        await conn.execute("PRAGMA journal_mode = WAL")
        await conn.execute("BEGIN IMMEDIATE")
        await conn.execute("DROP TABLE IF EXISTS World")
        await conn.execute("DROP TABLE IF EXISTS Fortune")
        await conn.execute("CREATE TABLE World (id INTEGER PRIMARY KEY, "
                           "randomNumber INTEGER NOT NULL)")
        await conn.execute("CREATE TABLE Fortune (id INTEGER PRIMARY KEY, "
                           "message TEXT NOT NULL)")
        await conn.executemany("INSERT INTO World (id, randomNumber) VALUES (?, ?)",
                               [(i, random.randint(1, WORLD_ROWS))
                                for i in range(1, WORLD_ROWS + 1)])
        await conn.executemany("INSERT INTO Fortune (id, message) VALUES (?, ?)", FORTUNES)
        await conn.execute("COMMIT")
    except sqlite3.Error as exc:
        raise BenchError(f"cannot seed the SQLite database {path}: {exc}") from None
    finally:
        await conn.close()
    return (f"SQLite {path}: World {WORLD_ROWS} rows, Fortune {len(FORTUNES)} rows "
            "(WAL mode)")


async def status(dburl: DbUrl) -> Status:
    assert dburl.path is not None
    result = Status()
    path = Path(dburl.path)
    if not path.is_file():
        result.problems.append(f"the SQLite database {path} does not exist: "
                               f"{init_hint(dburl)}")
        return result
    try:
        conn = await _open(str(path), readonly=True)
    except BenchError as exc:
        result.problems.append(str(exc))
        return result
    except sqlite3.Error as exc:
        result.problems.append(f"cannot open the SQLite database {path}: {exc}")
        return result
    result.reachable = True
    try:
        tables = {name.lower() for (name,) in await conn.execute_fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        world = fortune = None
        if "world" not in tables:
            result.problems.append(f"table World is missing: {init_hint(dburl)}")
        else:
            world = await _check_world(conn, dburl, result)
        if "fortune" not in tables:
            result.problems.append(f"table Fortune is missing: {init_hint(dburl)}")
        else:
            fortune = await _check_fortune(conn, dburl, result)
        mode = (await conn.execute_fetchall("PRAGMA journal_mode"))[0][0]
        if str(mode).lower() != "wal":
            result.notes.append(f"journal mode is {mode}, not WAL: several server "
                                f"processes will wait on each other; {init_hint(dburl)}")
    except sqlite3.Error as exc:
        result.problems.append(f"cannot read the SQLite database {path}: {exc}: "
                               f"{init_hint(dburl)}")
        return result
    finally:
        await conn.close()
    result.summary = (f"SQLite {path}: World {world if world is not None else '-'} rows, "
                      f"Fortune {fortune if fortune is not None else '-'} rows")
    result.notes.append("statements are counted by each server process "
                        "(GET /__asgibench/db-stats)")
    return result


async def _check_world(conn: Any, dburl: DbUrl, result: Status) -> int | None:
    try:
        (count, low, high, bad), = await conn.execute_fetchall(
            "SELECT count(*), min(id), max(id), "
            f"sum(randomNumber < 1 OR randomNumber > {WORLD_ROWS}) FROM World")
    except sqlite3.Error as exc:
        table_unreadable(result, dburl, "World", str(exc))
        return None
    return judge_world(result, dburl, count, low, high, bad)


async def _check_fortune(conn: Any, dburl: DbUrl, result: Status) -> int | None:
    try:
        rows = [tuple(r) for r in await conn.execute_fetchall(SELECT_FORTUNES)]
    except sqlite3.Error as exc:
        table_unreadable(result, dburl, "Fortune", str(exc))
        return None
    return judge_fortune(result, dburl, rows)


async def read_world(dburl: DbUrl, ids: list[int] | None) -> dict[int, int]:
    assert dburl.path is not None
    if not Path(dburl.path).is_file():
        raise BenchError(f"the SQLite database {dburl.path} does not exist: "
                         f"{init_hint(dburl)}")
    conn = await _open(dburl.path, readonly=True)
    try:
        sql = f"SELECT id, randomNumber, 1 AS {VERIFY_MARKER} FROM World"
        if ids is None:
            rows = await conn.execute_fetchall(sql)
        else:
            found: list[Any] = []
            for start in range(0, len(ids), 500):  # SQLite's bound-parameter limit
                chunk = ids[start:start + 500]
                found += await conn.execute_fetchall(
                    f"{sql} WHERE id IN ({', '.join('?' * len(chunk))})", chunk)
            rows = found
        return {int(row_id): int(number) for row_id, number, _ in rows}
    except sqlite3.Error as exc:
        raise BenchError(f"cannot read table World from {dburl.path}: {exc}: "
                         f"{init_hint(dburl)}") from None
    finally:
        await conn.close()
