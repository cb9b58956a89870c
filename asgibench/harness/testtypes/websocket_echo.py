"""WebSocket test types: ``/ws`` upgraded, every message echoed back byte for byte.

* ``websocket-echo`` -- N connections kept open, each sending a 32-byte message and
  waiting for its echo, in a loop (closed-loop, like the HTTP driver): messages per
  second and latency, the per-message cost of the server's frame path.
* ``websocket-echo-16k`` -- the same with 16 KiB messages (length-16 frames, unmasking
  and copying a real payload).
* ``websocket-connect`` -- the connection storm: each connection is opened (TCP and the
  HTTP/1.1 upgrade), carries one 32-byte echo and is closed (close handshake, 1000);
  connections per second.

Driven by the Python driver only (wrk speaks no WebSocket); verified first by
:func:`asgibench.harness.verify.verify_websocket` (handshake, echo of text and binary
messages of both sizes, clean close). No canned answer, so no driver ceiling.
"""

from __future__ import annotations

import re
from typing import Any

from asgibench.harness.testtypes import TestType, WebSocketLoad

PATH = "/ws"
SMALL = 32
LARGE = 16 * 1024
#: Message sizes verification echoes, as text and as binary.
VERIFY_SIZES = (SMALL, LARGE)
_UPGRADE_BODY = b"Upgrade Required: this route speaks WebSocket"
_UPGRADE_HEADERS = [
    (b"content-type", b"text/plain"),
    (b"content-length", str(len(_UPGRADE_BODY)).encode("ascii")),
    (b"upgrade", b"websocket"),
    (b"connection", b"Upgrade"),
]


def message(size: int, index: int = 0) -> bytes:
    """A ``size``-byte printable message (valid UTF-8, so it can be sent as text); ``index``
    varies its first bytes, so a server echoing an older message is caught."""
    head = f"{index:08x}:".encode("ascii")
    filler = b"asgibench-websocket-echo-" * (size // 25 + 1)
    return (head + filler)[:size] if size >= len(head) else head[:size]


async def handle(scope: Any, receive: Any, send: Any) -> None:
    """The benchmark app's ``/ws`` route. A ``websocket`` scope: accept, echo every text
    and bytes message as it came, until the client disconnects. A plain HTTP request
    (the harness's readiness and settle probes): 426 Upgrade Required."""
    if scope["type"] != "websocket":
        await send({"type": "http.response.start", "status": 426,
                    "headers": _UPGRADE_HEADERS})
        await send({"type": "http.response.body", "body": _UPGRADE_BODY})
        return
    first = await receive()
    if first["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    while True:
        event = await receive()
        if event["type"] != "websocket.receive":  # websocket.disconnect
            return
        text = event.get("text")
        if text is not None:
            await send({"type": "websocket.send", "text": text})
        else:
            await send({"type": "websocket.send", "bytes": event.get("bytes") or b""})


def _no_http_body(body: bytes) -> str | None:
    return None  # never called under load: the driver compares each echo byte for byte


def _websocket_type(name: str, load: WebSocketLoad, description: str,
                    unit: str = "msg/s") -> TestType:
    return TestType(
        name=name,
        path=PATH,
        accept="*/*",
        content_type=re.compile(".*"),
        check_body=_no_http_body,
        levels=(16, 32, 64, 128, 256, 512),
        quick_levels=(128,),
        ranking="best",
        weight=1.0,
        description=description,
        handler=handle,
        websocket=load,
        unit=unit,
    )


TEST_TYPE = _websocket_type(
    "websocket-echo", WebSocketLoad(SMALL),
    "32-byte text message echoed on open WebSocket connections (messages/s)")
TEST_TYPE_16K = _websocket_type(
    "websocket-echo-16k", WebSocketLoad(LARGE),
    "16 KiB text message echoed on open WebSocket connections (messages/s)")
TEST_TYPE_CONNECT = _websocket_type(
    "websocket-connect", WebSocketLoad(SMALL, storm=True),
    "open a WebSocket, echo one 32-byte message, close (connections/s)", unit="conn/s")
