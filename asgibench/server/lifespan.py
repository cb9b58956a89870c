"""The ASGI lifespan protocol: startup before the first connection, shutdown after the last."""

from __future__ import annotations

import asyncio
from typing import Any

from asgibench.server.state import error_log


class LifespanFailed(Exception):
    """Startup (or shutdown) failed; the message is the app's own."""


class Lifespan:
    def __init__(self, app: Any, mode: str, state: dict[str, Any]) -> None:
        self.app = app
        self.mode = mode  # "auto" tolerates apps without lifespan support, "on" does not
        self.state = state
        self.receive_queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.startup_done = asyncio.Event()
        self.shutdown_done = asyncio.Event()
        self.failure: str | None = None
        self.unsupported = False
        self.task: asyncio.Task[None] | None = None

    async def startup(self) -> None:
        if self.mode == "off":
            return
        self.task = asyncio.get_running_loop().create_task(self._main())
        await self.receive_queue.put({"type": "lifespan.startup"})
        await self.startup_done.wait()
        if self.failure is not None:
            raise LifespanFailed(self.failure)

    async def shutdown(self) -> None:
        if self.mode == "off" or self.unsupported or self.task is None:
            return
        await self.receive_queue.put({"type": "lifespan.shutdown"})
        await self.shutdown_done.wait()
        if self.failure is not None:
            raise LifespanFailed(self.failure)

    async def _main(self) -> None:
        scope = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "state": self.state,
        }
        try:
            await self.app(scope, self.receive_queue.get, self._send)
        except BaseException as exc:
            if self.mode == "auto" and not self.startup_done.is_set():
                self.unsupported = True
                error_log.info("ASGI lifespan not supported by the app (%r); going on", exc)
            else:
                self.failure = self.failure or f"lifespan failed: {exc!r}"
                error_log.exception("Exception in ASGI lifespan")
        finally:
            self.startup_done.set()
            self.shutdown_done.set()

    async def _send(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "lifespan.startup.complete":
            self.startup_done.set()
        elif kind == "lifespan.startup.failed":
            self.failure = message.get("message") or "lifespan startup failed"
            self.startup_done.set()
        elif kind == "lifespan.shutdown.complete":
            self.shutdown_done.set()
        elif kind == "lifespan.shutdown.failed":
            self.failure = message.get("message") or "lifespan shutdown failed"
            self.shutdown_done.set()
        else:
            raise RuntimeError(f"unexpected lifespan message {kind!r}")
