"""The benchmark app: one raw ASGI 3 app serving TechEmpower's and HttpArena's routes, run
unchanged by every server the harness compares (``bench serve``, uvicorn, hypercorn,
granian).

Routes: one per registered test type, served by the test type's own ``handler`` (see
``asgibench/harness/testtypes/`` and ``docs/techempower.md``), matched on the path
without its query string (``/queries`` for ``/queries?queries=N``); ``GET
/__asgibench/db-stats``, this process's database statement counts (``docs/database.md``);
anything else is 404 ``Not Found``. A WebSocket test type's path (``/ws``) is upgraded and
echoes; a ``websocket`` scope for any other path is refused (the server answers 403).

The app sets ``Content-Type`` and ``Content-Length``; ``Server`` and ``Date`` are the
server's job. Lifespan is supported: when ``ASGIBENCH_DB`` is set, startup connects to the
database (and fills cached-query's cache), failing with one line when it cannot, and
shutdown closes it; without it both complete immediately.

``ASGIBENCH_APP_DELAY_MS`` (read once at import): when set to a positive number, every
HTTP request first does ``await asyncio.sleep(delay)`` -- a deliberately slowed build.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from asgibench.harness import testtypes
from asgibench.harness.db import app as dbapp

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

DELAY_ENV = "ASGIBENCH_APP_DELAY_MS"

_NOT_FOUND_BODY = b"Not Found"
_NOT_FOUND_HEADERS = [
    (b"content-type", b"text/plain"),
    (b"content-length", str(len(_NOT_FOUND_BODY)).encode("ascii")),
]
#: path -> handler: each registered test type owns its routes (``path`` without its query
#: string, and ``routes`` for a type that serves several, such as ``static``).
ROUTES = {path.partition("?")[0]: handler for test in map(testtypes.get, testtypes.names())
          for path, handler in ((test.path, test.handler), *test.routes)
          if handler is not None}
ROUTES[dbapp.STATS_PATH] = dbapp.stats
#: path -> handler of the ``websocket`` scope: the WebSocket test types' routes.
WEBSOCKET_ROUTES = {test.path: test.handler for test in map(testtypes.get, testtypes.names())
                    if test.websocket is not None and test.handler is not None}


def _read_delay() -> float:
    raw = os.environ.get(DELAY_ENV, "").strip()
    if not raw:
        return 0.0
    try:
        delay_ms = float(raw)
    except ValueError:
        return 0.0
    return max(delay_ms, 0.0) / 1000.0


DELAY_S = _read_delay()


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """The ASGI 3 entry point."""
    kind = scope["type"]
    if kind == "http":
        if DELAY_S:
            await asyncio.sleep(DELAY_S)
        # The route's handler is awaited directly: as deep as the inline code it replaced.
        await ROUTES.get(scope["path"], _not_found)(scope, receive, send)
    elif kind == "websocket":
        handler = WEBSOCKET_ROUTES.get(scope["path"])
        if handler is not None:
            await handler(scope, receive, send)
        elif (await receive())["type"] == "websocket.connect":
            await send({"type": "websocket.close"})  # refused: the server answers 403
    elif kind == "lifespan":
        await _lifespan(receive, send)
    # unknown scopes: return.


async def _not_found(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 404, "headers": _NOT_FOUND_HEADERS})
    await send({"type": "http.response.body", "body": _NOT_FOUND_BODY})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            try:
                await dbapp.startup()
            except Exception as exc:
                await dbapp.shutdown()  # a connection made before the failure is closed
                await send({"type": "lifespan.startup.failed",
                            "message": (str(exc) or type(exc).__name__).splitlines()[0]})
                return
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            try:
                await dbapp.shutdown()
            except Exception as exc:
                await send({"type": "lifespan.shutdown.failed", "message": str(exc)})
                return
            await send({"type": "lifespan.shutdown.complete"})
            return
