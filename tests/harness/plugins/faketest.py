"""A fake test type: its own route, body check and canned response."""

from __future__ import annotations

import re
from typing import Any

from asgibench.harness.testtypes import TEST_TYPES, TestType

FAKE_BODY = b"fake plug-in body"
_HEADERS = [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(FAKE_BODY))]


async def handle_fake(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": FAKE_BODY})


def check_fake(body: bytes) -> str | None:
    return None if body == FAKE_BODY else f"body is {body[:40]!r}"


TEST_TYPES.register("fake", TestType(
    name="fake", path="/fake", accept="text/plain", content_type=re.compile(r"^text/plain$"),
    check_body=check_fake, levels=(4,), quick_levels=(4,), weight=1.0,
    fast_bodies=(FAKE_BODY,), handler=handle_fake, canned=(b"text/plain", FAKE_BODY)))
