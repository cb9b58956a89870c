"""HTTPConnection driven without sockets, from inside a task."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from asgibench import _build, protocols
from asgibench.server.config import Config
from asgibench.server.connection import HTTPConnection
from asgibench.server.state import ServerState

REQUEST = b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n"


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    seen = asyncio.current_task()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body",
                "body": b"ok" if seen is not None else b"no"})


class Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.data = b""
        self.closed = False

    def write(self, data: bytes) -> None:  # type: ignore[override]
        self.data += data

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def can_write_eof(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 1), "sockname": ("127.0.0.1", 2)}.get(name, default)


def test_data_received_from_inside_a_task_is_answered_by_the_worker() -> None:
    """A protocol fed from a coroutine (a wrapper, a test) instead of a loop callback
    still answers every request in a task of its own, and the task ends afterwards."""

    async def main() -> tuple[bytes, bool]:
        parser = protocols.get_backend("h11").parser_class()
        state = ServerState(Config(app=app, proto="h11", access_log=False), app, parser)
        conn = HTTPConnection(state, asyncio.get_running_loop())
        transport = Transport()
        conn.connection_made(transport)
        for _ in range(2):  # the worker's first request, then one after it parked
            conn.data_received(REQUEST)
            for _ in range(20):
                await asyncio.sleep(0)
        conn.connection_lost(None)
        for _ in range(5):
            await asyncio.sleep(0)
        return transport.data, conn.worker is None and not state.tasks

    data, worker_ended = asyncio.run(main())
    assert data.count(b"HTTP/1.1 200 OK\r\n") == 2
    assert data.endswith(b"ok") and b"no" not in data.split(b"\r\n\r\n")[1]
    assert worker_ended


@pytest.mark.skipif("asgibench.server.connection" in _build.current().compiled,
                    reason="the compiled build: a connection's attributes are C fields, "
                    "not a dict (tests/test_builds.py runs this on the pure-Python build)")
def test_connection_keeps_to_thirty_instance_attributes() -> None:
    """CPython 3.11 shares an instance dict's keys among instances for up to 30
    attributes; at the limit every attribute access on the request path gets slower
    (2.7% more instructions per request with 30, 4% with 32, docs/server.md). A
    connection that has answered a request, kept alive, stays within 29, and one that
    upgraded to a WebSocket within 30."""

    async def main() -> tuple[int, int]:
        parser = protocols.get_backend("httptools").parser_class()
        state = ServerState(Config(app=app, proto="httptools", access_log=False), app, parser)
        conn = HTTPConnection(state, asyncio.get_running_loop())
        conn.connection_made(Transport())
        conn.data_received(REQUEST)
        for _ in range(20):
            await asyncio.sleep(0)
        answered = len(vars(conn))
        conn.websocket = None  # what an upgrade sets
        upgraded = len(vars(conn))
        conn.connection_lost(None)
        return answered, upgraded

    answered, upgraded = asyncio.run(main())
    # 29: a 30th set in __init__ measured 2.7% more instructions per request already.
    assert answered <= 29, f"HTTPConnection has {answered} instance attributes"
    assert upgraded <= 30, f"an upgraded HTTPConnection has {upgraded} instance attributes"
