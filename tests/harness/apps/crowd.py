"""Test-only ASGI apps for open loop's limits. Each request waits WORK_S (an awaited
I/O), so the requests in flight at a rate R are about R x WORK_S.

``slow``: every request but a connection's first waits SLOW_S (0.3 s): an open loop at a
few hundred requests per second needs more connections than the driver may open, so
requests queue and count late. (A connection's first request is answered at once, so the
harness's settle probe, a fresh connection wanting an answer within 0.1 s, is.)

``crowd``: the server process exits (as a crash would) as soon as more than CROWD
requests are in flight at once, which closed loop at CROWD connections never does and an
open loop well above their throughput does.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

SLOW_S = 0.3
CROWD = 2
CROWD_WORK_S = 0.01

_in_flight = [0]


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _ok(send: Any) -> None:
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


_seen: set[Any] = set()


async def slow(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    client = tuple(scope.get("client") or ())
    if client in _seen:
        await asyncio.sleep(SLOW_S)
    else:
        _seen.add(client)
    await _ok(send)


async def crowd(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    _in_flight[0] += 1
    if _in_flight[0] > CROWD:
        os._exit(3)  # a crash: no cleanup, no response
    try:
        await asyncio.sleep(CROWD_WORK_S)
        await _ok(send)
    finally:
        _in_flight[0] -= 1
