"""A test-only ASGI app whose event loop stalls: once a second, the request that finds
the second up blocks the whole loop for STALL_S (``time.sleep``, as a synchronous call in
an async app would). Every other request waits WORK_S without blocking (an awaited I/O),
so its throughput is set by the connections a closed-loop driver holds, not by the CPU:
open loop at that same throughput keeps up between stalls and shows each stall in its
tail; closed loop, which stops sending while the server stalls, barely does."""

from __future__ import annotations

import asyncio
import time
from typing import Any

STALL_S = 0.1
EVERY_S = 1.0
#: Short, so that closed loop at 2 connections answers many requests per stall: the few
#: a stall holds (one per connection) stay well under 1% of them.
WORK_S = 0.001

_next_stall = [0.0]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    now = time.monotonic()
    if not _next_stall[0]:
        _next_stall[0] = now + EVERY_S
    elif now >= _next_stall[0]:
        _next_stall[0] = now + EVERY_S
        time.sleep(STALL_S)  # blocks the event loop: every connection waits
    await asyncio.sleep(WORK_S)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})
