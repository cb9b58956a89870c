"""A test-only ASGI app that answers with the pid of the process serving the request, after
a blocking pause: while one worker sleeps it cannot accept, so the next connection goes to
another worker if there is one (tests/harness/test_workers.py)."""

from __future__ import annotations

import os
import time
from typing import Any

PAUSE_S = 0.1


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    if scope["path"] == "/pid":
        time.sleep(PAUSE_S)  # blocking on purpose: this worker accepts nothing meanwhile
    body = str(os.getpid()).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
