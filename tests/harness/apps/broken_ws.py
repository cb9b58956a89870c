"""The built-in benchmark app with its WebSocket echo broken on purpose: every text
message comes back with its last character changed, every binary one reversed. The HTTP
routes are the real app's."""

from __future__ import annotations

from typing import Any

from asgibench.harness.app import app as builtin


async def app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "websocket" or scope["path"] != "/ws":
        await builtin(scope, receive, send)
        return
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    while True:
        event = await receive()
        if event["type"] != "websocket.receive":
            return
        if event.get("text") is not None:
            await send({"type": "websocket.send", "text": event["text"][:-1] + "?"})
        else:
            await send({"type": "websocket.send", "bytes": (event.get("bytes") or b"")[::-1]})
