"""The benchmark app (asgibench.harness.app): its routes, lifespan and the
``ASGIBENCH_APP_DELAY_MS`` delay."""

from __future__ import annotations

import asyncio
import importlib
import json
import time
from typing import Any

import pytest


async def call(app: Any, path: str) -> tuple[int, dict[bytes, bytes], bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "http", "path": path, "method": "GET", "headers": []}, receive, send)
    start, body = sent
    return start["status"], dict(start["headers"]), body["body"]


def test_app_routes() -> None:
    from asgibench.harness.app import app

    status, headers, body = asyncio.run(call(app, "/plaintext"))
    assert (status, body) == (200, b"Hello, World!")
    assert headers[b"content-type"] == b"text/plain"
    assert headers[b"content-length"] == b"13"
    status, headers, body = asyncio.run(call(app, "/json"))
    assert status == 200 and json.loads(body) == {"message": "Hello, World!"}
    assert headers[b"content-type"] == b"application/json"
    assert int(headers[b"content-length"]) == len(body)
    assert asyncio.run(call(app, "/nope"))[0] == 404


def test_app_lifespan() -> None:
    from asgibench.harness.app import app

    async def run() -> list[str]:
        inbox = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
        out: list[str] = []

        async def receive() -> dict[str, Any]:
            return inbox.pop(0)

        async def send(message: dict[str, Any]) -> None:
            out.append(message["type"])

        await app({"type": "lifespan"}, receive, send)
        return out

    assert asyncio.run(run()) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


def test_app_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    import asgibench.harness.app as app_module

    monkeypatch.setenv("ASGIBENCH_APP_DELAY_MS", "120")
    slowed = importlib.reload(app_module)
    try:
        assert slowed.DELAY_S == pytest.approx(0.12)
        started = time.perf_counter()
        asyncio.run(call(slowed.app, "/json"))
        assert time.perf_counter() - started >= 0.1
    finally:
        monkeypatch.delenv("ASGIBENCH_APP_DELAY_MS")
        importlib.reload(app_module)
    assert app_module.DELAY_S == 0
