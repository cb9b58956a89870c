"""HttpArena-style ``compression``: ``GET /compression`` with ``Accept-Encoding: gzip``
-> a ~1 MiB JSON document, gzip-compressed by the app on every request; verified by
decompressing it and comparing with the document.

The document is serialised once (on the first request), so the test measures the
compression and the sending of a ~100 KiB response, not ``json.dumps``. The app
compresses at zlib's default level 6 (what ``gzip`` middleware such as Django's uses)
with a zero timestamp, so the same document gives the same bytes on every server.
"""

from __future__ import annotations

import functools
import gzip
import json
import re
import zlib
from typing import Any

from asgibench.harness.testtypes import TestType
from asgibench.harness.workloads import Request, Workload

PATH = "/compression"
LEVEL = 6
_WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel")


@functools.cache
def document() -> bytes:
    """A ~1 MiB JSON array of catalogue records, the same on every call and machine."""
    records = [
        {"id": i, "name": f"item {i}", "sku": f"SKU-{i * 7919 % 100000:05d}",
         "price": round((i * 37 % 10000) / 100, 2), "in_stock": i % 3 != 0,
         "tags": [_WORDS[(i + k) % len(_WORDS)] for k in range(i % 4 + 1)],
         "description": f"{_WORDS[i % 8]} {_WORDS[i * 3 % 8]} record number {i}"}
        for i in range(6000)
    ]
    return json.dumps(records).encode()


def compress(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=LEVEL, mtime=0)


async def handle(scope: Any, receive: Any, send: Any) -> None:
    """The benchmark app's route: gzip when the client accepts it (RFC 9110 §12.5.3)."""
    body = document()
    headers = [(b"content-type", b"application/json"), (b"vary", b"accept-encoding")]
    accepts = b",".join(v for k, v in scope["headers"] if k.lower() == b"accept-encoding")
    if accepts_gzip(accepts):
        body = compress(body)
        headers.append((b"content-encoding", b"gzip"))
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def accepts_gzip(accept_encoding: bytes) -> bool:
    """Whether an ``Accept-Encoding`` value accepts gzip (RFC 9110 §12.5.3): listed, or
    covered by ``*``, with a q-value above 0 (``gzip;q=0`` refuses it)."""
    weights: dict[bytes, float] = {}
    for item in accept_encoding.lower().split(b","):
        coding, *params = (part.strip() for part in item.split(b";"))
        weight = 1.0
        for param in params:
            name, _, value = param.partition(b"=")
            if name.strip() == b"q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if coding:
            weights[coding] = weight
    return weights.get(b"gzip", weights.get(b"*", 0.0)) > 0


def check_body(body: bytes) -> str | None:
    """A gzip stream that decompresses to exactly the document."""
    try:
        plain = gzip.decompress(body)
    except (OSError, EOFError, ValueError, zlib.error) as exc:
        return f"body does not decompress as gzip ({exc}): {body[:20]!r}"
    if plain != document():
        return (f"decompressed body ({len(plain)} bytes) is not the document "
                f"({len(document())} bytes)")
    return None


def check_response(headers: Any, body: bytes) -> str | None:
    coding = headers.get("content-encoding", "").strip().lower()
    if coding != "gzip":
        return f"Content-Encoding is {coding or 'missing'!r}, expected 'gzip'"
    return check_body(body)


def _workload() -> Workload:
    request = Request("GET", PATH, (("Accept", "application/json"),
                                    ("Accept-Encoding", "gzip")),
                      expect_status=200, check_exact=check_response)
    return Workload("compression", (request,), source="built-in")


TEST_TYPE = TestType(
    name="compression",
    path=PATH,
    accept="application/json",
    content_type=re.compile(r"^application/json$"),
    check_body=check_body,
    levels=(16, 64, 256),
    quick_levels=(64,),
    description="a ~1 MiB JSON document, gzip-compressed by the app per request",
    handler=handle,
    workload_source=_workload,
)
