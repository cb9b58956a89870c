"""TechEmpower's ``plaintext`` test: ``GET /plaintext`` -> ``Hello, World!``, pipelined 16."""

from __future__ import annotations

import re
from typing import Any

from asgibench.harness.testtypes import ACCEPT_PLAINTEXT, TestType

BODY = b"Hello, World!"
_HEADERS = [(b"content-type", b"text/plain"),
            (b"content-length", str(len(BODY)).encode("ascii"))]


async def handle(scope: Any, receive: Any, send: Any) -> None:
    """The benchmark app's route: a prebuilt body (TFB allows it), a response per request."""
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": BODY})


def check_body(body: bytes) -> str | None:
    """Exactly ``Hello, World!`` (TFB compares case-insensitively; we do not)."""
    if body == BODY:
        return None
    return f"body is {body[:60]!r}, expected {BODY!r}"


TEST_TYPE = TestType(
    name="plaintext",
    path="/plaintext",
    accept=ACCEPT_PLAINTEXT,
    content_type=re.compile(r"^text/plain(; ?charset=(UTF|utf)-8)?$"),
    check_body=check_body,
    levels=(256, 1024, 4096, 16384),
    quick_levels=(256,),
    pipeline=16,
    ranking="best",
    weight=0.75,
    fast_bodies=(BODY,),
    handler=handle,
    canned=(b"text/plain", BODY),
    description="Hello, World! as text/plain, HTTP pipelining depth 16",
)
