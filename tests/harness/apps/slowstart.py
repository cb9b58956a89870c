"""A test-only ASGI app whose second worker is slow to start: its lifespan start-up burns
CPU for a second before the worker serves; each worker leaves a file in
``$SLOWSTART_DIR`` once its start-up is over (tests/harness/test_workers.py)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

BURN_S = 1.0


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        where = Path(os.environ["SLOWSTART_DIR"])
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    os.close(os.open(where / "first", os.O_CREAT | os.O_EXCL))
                except FileExistsError:  # the second worker: import-heavy, say
                    end = time.process_time() + BURN_S
                    while time.process_time() < end:
                        pass
                (where / f"ready-{os.getpid()}").touch()
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b"ok"
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
