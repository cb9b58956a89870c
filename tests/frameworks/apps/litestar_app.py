"""A small Litestar app: a ``Stream`` response (which listens for http.disconnect while it
streams, and only returns once receive() reports it) and a plain endpoint."""

from __future__ import annotations

import asyncio

from litestar import Litestar, get
from litestar.response import Stream


@get("/ping", media_type="text/plain")
async def ping() -> str:
    return "pong"


@get("/stream")
async def stream(n: int = 5, delay: float = 0.3) -> Stream:
    async def chunks():
        for i in range(n):
            if i:
                await asyncio.sleep(delay)
            yield f"chunk-{i:02d};".encode() * 8

    return Stream(chunks(), media_type="application/octet-stream")


app = Litestar([ping, stream])
