"""The benchmark app: one raw ASGI 3 app serving TechEmpower's routes, run unchanged by
every server the harness compares (``bench serve``, uvicorn, hypercorn, granian).

Routes (TFB's spec, see ``../shared/techempower.md``):

* ``GET /plaintext`` -- ``Hello, World!`` as ``text/plain`` (a prebuilt body is allowed by
  TFB; the response itself is built per request).
* ``GET /json`` -- ``{"message": "Hello, World!"}``, the object built and serialised with
  :func:`json.dumps` on every request, as ``application/json``.
* anything else -- 404 ``Not Found``.

The app sets ``Content-Type`` and ``Content-Length``; ``Server`` and ``Date`` are the
server's job. Lifespan is supported (startup/shutdown complete immediately).

``ASGIBENCH_APP_DELAY_MS`` (read once at import): when set to a positive number, every
HTTP request first does ``await asyncio.sleep(delay)`` -- a deliberately slowed build.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: The app's import string, as given to every server.
APP_IMPORT = "asgibench.harness.app:app"
DELAY_ENV = "ASGIBENCH_APP_DELAY_MS"

PLAINTEXT_BODY = b"Hello, World!"
_PLAINTEXT_HEADERS = [
    (b"content-type", b"text/plain"),
    (b"content-length", str(len(PLAINTEXT_BODY)).encode("ascii")),
]
_NOT_FOUND_BODY = b"Not Found"
_NOT_FOUND_HEADERS = [
    (b"content-type", b"text/plain"),
    (b"content-length", str(len(_NOT_FOUND_BODY)).encode("ascii")),
]
_JSON_CONTENT_TYPE = (b"content-type", b"application/json")


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
        await _http(scope, send)
    elif kind == "lifespan":
        await _lifespan(receive, send)
    # websocket and unknown scopes: return without accepting; servers answer 403/close.


async def _http(scope: Scope, send: Send) -> None:
    if DELAY_S:
        await asyncio.sleep(DELAY_S)
    path = scope["path"]
    if path == "/plaintext":
        await send({"type": "http.response.start", "status": 200, "headers": _PLAINTEXT_HEADERS})
        await send({"type": "http.response.body", "body": PLAINTEXT_BODY})
    elif path == "/json":
        body = json.dumps({"message": "Hello, World!"}).encode("utf-8")
        headers = [_JSON_CONTENT_TYPE, (b"content-length", str(len(body)).encode("ascii"))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
    else:
        await send({"type": "http.response.start", "status": 404, "headers": _NOT_FOUND_HEADERS})
        await send({"type": "http.response.body", "body": _NOT_FOUND_BODY})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
