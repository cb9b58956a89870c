"""TechEmpower's ``json`` test: ``GET /json`` -> ``{"message": "Hello, World!"}``, the
object built and serialised per request."""

from __future__ import annotations

import json
import re
from typing import Any

from asgibench.harness.testtypes import ACCEPT_JSON, TestType

EXPECTED = {"message": "Hello, World!"}
_CONTENT_TYPE = (b"content-type", b"application/json")


async def handle(scope: Any, receive: Any, send: Any) -> None:
    """The benchmark app's route: the object built and serialised on every request."""
    body = json.dumps({"message": "Hello, World!"}).encode("utf-8")
    headers = [_CONTENT_TYPE, (b"content-length", str(len(body)).encode("ascii"))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def check_body(body: bytes) -> str | None:
    """A JSON object equal to ``{"message": "Hello, World!"}``: exact key, exact value,
    no other keys (TFB compares the value case-insensitively and allows extra keys)."""
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return f"body is not JSON: {body[:60]!r}"
    if not isinstance(value, dict):
        return f"body is JSON but not an object: {body[:60]!r}"
    if value != EXPECTED:
        return f"body is {body[:60]!r}, expected an object equal to {json.dumps(EXPECTED)}"
    return None


TEST_TYPE = TestType(
    name="json",
    path="/json",
    accept=ACCEPT_JSON,
    content_type=re.compile(r"^application/json(; ?charset=(UTF|utf)-8)?$"),
    check_body=check_body,
    levels=(16, 32, 64, 128, 256, 512),
    quick_levels=(128,),
    pipeline=1,
    ranking="best",
    weight=1.0,
    fast_bodies=(
        json.dumps(EXPECTED).encode(),
        json.dumps(EXPECTED, separators=(",", ":")).encode(),
    ),
    description='{"message": "Hello, World!"} serialised per request',
    handler=handle,
    canned=(b"application/json", json.dumps(EXPECTED).encode("utf-8")),
)
