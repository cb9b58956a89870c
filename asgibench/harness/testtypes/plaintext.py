"""TechEmpower's ``plaintext`` test: ``GET /plaintext`` -> ``Hello, World!``, pipelined 16."""

from __future__ import annotations

import re

from asgibench.harness.testtypes import ACCEPT_PLAINTEXT, TestType

BODY = b"Hello, World!"


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
    description="Hello, World! as text/plain, HTTP pipelining depth 16",
)
