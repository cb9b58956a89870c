"""The built-in benchmark app with HttpArena answers broken on purpose: an upload answered
with a wrong CRC-32, a "gzip" body that does not decompress, and ``/plaintext`` right for
the first few requests only (it passes verification, then is wrong under load). Everything
else is the real app, so only these may fail."""

from __future__ import annotations

import json
from typing import Any

from asgibench.harness.app import app as builtin

BAD_GZIP = b"\x1f\x8b\x08\x00not really gzip"
RIGHT_PLAINTEXT_ANSWERS = 5  # verification and its Date-refresh check take 2
_plaintext_served = 0


async def app(scope: Any, receive: Any, send: Any) -> None:
    global _plaintext_served
    if scope["type"] == "http" and scope["path"] == "/plaintext":
        _plaintext_served += 1
        if _plaintext_served > RIGHT_PLAINTEXT_ANSWERS:
            headers = [(b"content-type", b"text/plain"), (b"content-length", b"13")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": b"Hello, World?"})
            return
    if scope["type"] != "http" or scope["path"] not in ("/upload", "/compression"):
        await builtin(scope, receive, send)
        return
    length = 0
    more = True
    while more:  # read the whole request body, as the real app does
        message = await receive()
        length += len(message.get("body", b""))
        more = message.get("more_body", False)
    if scope["path"] == "/upload":
        body = json.dumps({"length": length, "crc32": 12345}).encode()
        headers = [(b"content-type", b"application/json")]
    else:
        body = BAD_GZIP
        headers = [(b"content-type", b"application/json"), (b"content-encoding", b"gzip")]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
