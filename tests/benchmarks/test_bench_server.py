"""Response serialisation and a whole request cycle in asgibench's server core, with an
in-memory transport (no sockets, no kernel): what the core itself costs per response."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from asgibench import protocols
from asgibench.server.config import Config
from asgibench.server.connection import HTTPConnection
from asgibench.server.cycle import RequestCycle
from asgibench.server.state import ServerState

from .streams import PIPELINED_16, SMALL_GET

PLAIN = b"Hello, World!"
JSON = json.dumps({"message": "Hello, World!"}).encode()


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    if scope["path"] == "/json":
        body, ctype = json.dumps({"message": "Hello, World!"}).encode(), b"application/json"
    else:
        body, ctype = PLAIN, b"text/plain"
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", ctype),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class MemoryTransport(asyncio.Transport):
    """Keeps the last write and counts the status lines written (memory stays flat)."""

    def __init__(self) -> None:
        super().__init__()
        self.data = b""
        self.responses = 0
        self.closed = False

    def write(self, data: bytes) -> None:  # type: ignore[override]
        self.data = bytes(data)
        self.responses += data.count(b"HTTP/1.1 200 OK\r\n")

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def can_write_eof(self) -> bool:
        return False

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000),
                "sockname": ("127.0.0.1", 8080)}.get(name, default)


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def connection(loop: asyncio.AbstractEventLoop, parser: str) -> tuple[HTTPConnection,
                                                                       MemoryTransport]:
    parser_class = protocols.get_backend(parser).parser_class()
    state = ServerState(Config(app=app, proto=parser, access_log=False), app, parser_class)
    conn = HTTPConnection(state, loop)
    transport = MemoryTransport()
    conn.connection_made(transport)
    return conn, transport


def _drive(coro: Any) -> None:
    """Run a coroutine that never suspends (send() with writing not paused)."""
    try:
        coro.send(None)
    except StopIteration:
        return
    raise AssertionError("send() suspended")


SCOPE = {"type": "http", "method": "GET", "http_version": "1.1", "path": "/plaintext",
         "raw_path": b"/plaintext", "query_string": b"", "client": ("127.0.0.1", 50000)}
RESPONSES: dict[str, tuple[list[tuple[bytes, bytes]], list[bytes]]] = {
    "plaintext": ([(b"content-type", b"text/plain"), (b"content-length", b"13")], [PLAIN]),
    "json": ([(b"content-type", b"application/json"),
              (b"content-length", str(len(JSON)).encode())], [JSON]),
    "chunked-4": ([(b"content-type", b"text/plain")], [PLAIN] * 4),
}


@pytest.mark.parametrize("kind", list(RESPONSES))
def test_serialise_response(benchmark: Any, loop: asyncio.AbstractEventLoop,
                            kind: str) -> None:
    """``RequestCycle.send``: status line, headers (Server, Date added), framing, body."""
    conn, transport = connection(loop, protocols.auto_name())
    headers, parts = RESPONSES[kind]
    start = {"type": "http.response.start", "status": 200, "headers": headers}
    bodies = [{"type": "http.response.body", "body": part, "more_body": i + 1 < len(parts)}
              for i, part in enumerate(parts)]
    benchmark.group = "serialise response"

    def respond() -> None:
        conn.batching = True  # as inside the worker: one write per response, at flush()
        cycle = RequestCycle(conn, SCOPE, True, False)
        cycle.body_complete = True
        _drive(cycle.send(start))
        for body in bodies:
            _drive(cycle.send(body))
        conn.flush()

    benchmark(respond)
    out = bytes(transport.data)
    assert out.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\ndate: " in out.lower()
    ending = {"plaintext": PLAIN, "json": JSON, "chunked-4": b"0\r\n\r\n"}[kind]
    assert out.endswith(ending)


@pytest.mark.parametrize("stream", ["small-get", "pipelined-16"])
@pytest.mark.parametrize("parser_name", protocols.available())
def test_request_cycle(benchmark: Any, loop: asyncio.AbstractEventLoop, parser_name: str,
                       stream: str) -> None:
    """Bytes in, responses out: parse, ASGI app, serialise, one write per burst."""
    conn, transport = connection(loop, parser_name)
    data, count = (SMALL_GET, 1) if stream == "small-get" else (PIPELINED_16, 16)
    benchmark.group = f"request cycle {stream}"
    benchmark.extra_info.update(parser=parser_name, requests=count)

    async def settle() -> None:
        while conn.cycle is not None or conn.pending:  # usually answered inline already
            await asyncio.sleep(0)

    def cycle() -> None:
        conn.data_received(data)
        loop.run_until_complete(settle())

    benchmark(cycle)
    assert transport.responses >= count
    assert not transport.closed


TFB_HEADERS = [
    (b"Host", b"127.0.0.1:8080"),
    (b"Accept", b"text/plain,text/html;q=0.9,application/xhtml+xml;q=0.9,"
                b"application/xml;q=0.8,*/*;q=0.7"),
    (b"Connection", b"keep-alive"),
]


def test_request_check(benchmark: Any) -> None:
    """``RequestCheck``: the one pass over a request's headers (TechEmpower's wrk head)."""
    from asgibench.server.http11 import RequestCheck

    benchmark.group = "request head check"
    check = benchmark(RequestCheck, TFB_HEADERS, "1.1")
    assert check.error is None and check.keep_alive and not check.forwarded
    assert check.headers[0] == (b"host", b"127.0.0.1:8080")


async def waiting_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await asyncio.sleep(0)  # suspends once: the request is handed to the worker task
    await app(scope, receive, send)


def test_request_cycle_handed_to_worker(benchmark: Any,
                                        loop: asyncio.AbstractEventLoop) -> None:
    """A request whose app waits once: answered inline up to the wait, then by the
    connection's worker task (the path every app that awaits I/O takes)."""
    conn, transport = connection(loop, protocols.auto_name())
    conn.state.app = waiting_app
    benchmark.group = "request cycle small-get"
    benchmark.extra_info.update(parser=protocols.auto_name(), requests=1, app="waits once")

    async def settle() -> None:
        while conn.cycle is not None or conn.pending:
            await asyncio.sleep(0)

    def cycle() -> None:
        conn.data_received(SMALL_GET)
        loop.run_until_complete(settle())

    benchmark(cycle)
    assert transport.responses >= 1
    assert not transport.closed
