"""The benchmark app's side of the database: one :class:`~asgibench.harness.db.Database`
per server process, connected from ``ASGIBENCH_DB``.

:func:`database` connects on first use (an :class:`asyncio.Lock` keeps concurrent first
requests to one connection); :func:`startup` and :func:`shutdown` are called by the app's
lifespan, so a server with lifespan connects (and fills the cached-query cache) before
its first request and fails to start, with one line, when the database cannot be used.
With ``ASGIBENCH_DB`` unset nothing connects, and a database route answers 500 with one
line saying so: the app still serves every other route, and needs neither aiosqlite nor
asyncpg installed to do it (they are imported when a database is first used).

:func:`stats` serves ``GET /__asgibench/db-stats``: this process's statement counts
(SQLite's trace callback; None on PostgreSQL, which counts them itself), asked by
verification on the keep-alive connection it sent the requests on, so it reaches the same
worker process.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from asgibench.harness.db import ENV, Database, connect

Scope = MutableMapping[str, Any]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

#: The statistics route of the benchmark app.
STATS_PATH = "/__asgibench/db-stats"

_TEXT = b"text/plain; charset=utf-8"
_JSON = b"application/json"


class NotConfigured(Exception):
    """``ASGIBENCH_DB`` is not set in this server process."""

    def __init__(self) -> None:
        super().__init__(f"{ENV} is not set: this server process has no database "
                         f"(bench run sets it; by hand: {ENV}=sqlite:///PATH or "
                         f"{ENV}=postgresql://USER:PASS@HOST:PORT/DB)")


class _State:
    """Per process, per event loop: the database, its connect lock, the World cache."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None) -> None:
        self.loop = loop
        self.lock = asyncio.Lock()
        self.database: Database | None = None
        self.cache: list[tuple[int, int]] | None = None


_state = _State(None)
_logged: set[str] = set()


def _current() -> _State:
    global _state
    loop = asyncio.get_running_loop()
    if _state.loop is not loop:
        # A new event loop (tests run several): the old one's connection is unusable.
        _state = _State(loop)
    return _state


def configured() -> bool:
    """Whether ``ASGIBENCH_DB`` is set in this process."""
    return bool(os.environ.get(ENV, "").strip())


async def database() -> Database:
    """This process's database, connected on first use from ``ASGIBENCH_DB``.
    :class:`NotConfigured` when it is unset; BenchError (one line) when it cannot
    connect."""
    state = _current()
    if state.database is not None:
        return state.database
    async with state.lock:
        if state.database is None:
            if not configured():
                raise NotConfigured()
            state.database = await connect(os.environ[ENV].strip())
    return state.database


async def world_cache() -> list[tuple[int, int]]:
    """cached-query's in-process cache: every World row, read once (at startup, or on
    first use without lifespan), indexed by id (index 0 unused)."""
    state = _current()
    if state.cache is None:
        rows = await (await database()).all_worlds()
        async with state.lock:
            if state.cache is None:
                cache = [(0, 0)] * (max((row_id for row_id, _ in rows), default=0) + 1)
                for row in rows:
                    cache[row[0]] = row
                state.cache = cache
    return state.cache


async def startup() -> None:
    """Lifespan startup: connect and fill the cache when ``ASGIBENCH_DB`` is set."""
    if configured():
        await database()
        await world_cache()


async def shutdown() -> None:
    """Lifespan shutdown: close this process's connection or pool."""
    state = _current()
    database, state.database, state.cache = state.database, None, None
    if database is not None:
        await database.close()


async def send_body(send: Send, status: int, content_type: bytes, body: bytes) -> None:
    headers = [(b"content-type", content_type),
               (b"content-length", str(len(body)).encode("ascii"))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _one_line(exc: BaseException) -> str:
    text = (str(exc).strip() or type(exc).__name__).splitlines()[0]
    return text if isinstance(exc, NotConfigured) else f"database error: {text}"


async def send_error(send: Send, exc: BaseException) -> None:
    """500 with a one-line body; each distinct message also once on stderr."""
    line = _one_line(exc)
    if line not in _logged and len(_logged) < 100:
        _logged.add(line)
        print(f"asgibench app: {line}", file=sys.stderr, flush=True)
    await send_body(send, 500, _TEXT, line.encode("utf-8"))


def route(respond: Callable[[Database, Scope], Awaitable[bytes]],
          content_type: bytes) -> Callable[..., Awaitable[None]]:
    """An ASGI handler from ``respond(database, scope) -> body``: 200 with the body, or
    500 with one line when the database is not configured or fails."""

    async def handle(scope: Scope, receive: Any, send: Send) -> None:
        try:
            body = await respond(await database(), scope)
        except Exception as exc:
            await send_error(send, exc)
            return
        await send_body(send, 200, content_type, body)

    handle.__doc__ = respond.__doc__
    handle.__name__ = getattr(respond, "__name__", "handle")
    return handle


async def stats(scope: Scope, receive: Any, send: Send) -> None:
    """``GET /__asgibench/db-stats``: this process's statement counts as a JSON object,
    each :data:`asgibench.harness.db.COUNT_KEYS` kind -> statements run since the process
    connected (SQLite), or ``null`` where the database counts them itself (PostgreSQL).
    Headers ``x-asgibench-pid`` and ``x-asgibench-database`` say which process and
    database answered."""
    try:
        db = await database()
    except Exception as exc:
        await send_error(send, exc)
        return
    body = json.dumps(db.counts()).encode("utf-8")
    headers = [(b"content-type", _JSON),
               (b"content-length", str(len(body)).encode("ascii")),
               (b"x-asgibench-pid", str(os.getpid()).encode("ascii")),
               (b"x-asgibench-database", db.kind.encode("ascii"))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
