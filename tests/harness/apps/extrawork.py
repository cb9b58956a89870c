"""A test-only ASGI app whose work per request can be made larger: the "build" of the cost
gate's tests (tests/reports/test_cost_gate.py).

Each request runs a fixed loop of ``BASE_ITERATIONS`` additions, which dwarfs the
server's own work per request (about 100k instructions on uvloop + httptools; the loop is
~25 times that), so ``ASGIBENCH_TEST_EXTRA_WORK_PCT=3`` -- 3% more iterations -- makes the
whole request cost close to 3% more instructions: what a small regression looks like to
``bench cost``. Plain ASGI (no framework), so nothing else in the count moves.
"""

from __future__ import annotations

import os
from typing import Any

ENV = "ASGIBENCH_TEST_EXTRA_WORK_PCT"
BASE_ITERATIONS = 5_000
ITERATIONS = round(BASE_ITERATIONS * (1 + float(os.environ.get(ENV) or 0) / 100))


def work(iterations: int) -> int:
    total = 0
    for i in range(iterations):
        total += i
    return total


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    body = str(work(ITERATIONS)).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
