"""HttpArena-style ``upload``: ``POST /upload`` with a 20 MiB body, sent once with
``Content-Length`` and once chunked; the app streams it in, and answers its length and
CRC-32 as JSON, verified exactly.

What it measures is the server's request-body path: reading a large body off the socket,
de-chunking it, and handing it to the app in ``http.request`` messages under flow
control. The app never holds the whole body (it checksums each message as it arrives),
so memory stays flat however many uploads are in flight.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import zlib
from typing import Any

from asgibench.harness.testtypes import TestType
from asgibench.harness.workloads import Request, Workload

PATH = "/upload"
SIZE = 20 * 1024 * 1024
_JSON = (b"content-type", b"application/json")
_NOT_ALLOWED = b"Method Not Allowed"


def payload(size: int = SIZE) -> bytes:
    """``size`` deterministic bytes of hex text (printable, so a wrk script carries them
    unescaped). Built on first use: the servers never build it."""
    return _payload(size)


@functools.cache
def _payload(size: int) -> bytes:
    return hashlib.shake_256(b"asgibench upload").hexdigest((size + 1) // 2)[:size].encode()


def answer(body: bytes) -> dict[str, int]:
    """What the app answers for an upload of ``body``."""
    return {"length": len(body), "crc32": zlib.crc32(body)}


async def handle(scope: Any, receive: Any, send: Any) -> None:
    """The benchmark app's route: count and checksum the body message by message."""
    if scope["method"] != "POST":
        await send({"type": "http.response.start", "status": 405,
                    "headers": [(b"content-type", b"text/plain"), (b"allow", b"POST"),
                                (b"content-length", str(len(_NOT_ALLOWED)).encode())]})
        await send({"type": "http.response.body", "body": _NOT_ALLOWED})
        return
    length = crc = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            return
        chunk = message.get("body", b"")
        length += len(chunk)
        crc = zlib.crc32(chunk, crc)
        if not message.get("more_body", False):
            break
    body = json.dumps({"length": length, "crc32": crc}).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [_JSON, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def check_answer(body: bytes, sent: bytes) -> str | None:
    """The answer to an upload of ``sent``: exactly its length and CRC-32."""
    try:
        got = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return f"body is not JSON: {body[:60]!r}"
    want = answer(sent)
    if got != want:
        return f"answered {json.dumps(got)[:80]}, expected {json.dumps(want)}"
    return None


def check_body(body: bytes) -> str | None:
    """Under load: the answer to the 20 MiB upload."""
    return check_answer(body, payload())


def requests(size: int = SIZE, weight: int = 1) -> tuple[Request, ...]:
    """The upload of ``size`` bytes, once with Content-Length and once chunked."""
    sent = payload(size)
    return tuple(
        Request("POST", PATH, (("Content-Type", "application/octet-stream"),), sent,
                expect_status=200, weight=weight, chunked=chunked,
                check_exact=lambda headers, body: check_answer(body, sent))
        for chunked in (False, True))


def _workload() -> Workload:
    return Workload("upload", requests(), source="built-in")


TEST_TYPE = TestType(
    name="upload",
    path=PATH,
    accept="application/json",
    content_type=re.compile(r"^application/json$"),
    check_body=check_body,
    levels=(4, 16, 64),
    quick_levels=(8,),
    description="POST of 20 MiB (Content-Length, and chunked), answered with its length "
                "and CRC-32",
    handler=handle,
    workload_source=_workload,
)
