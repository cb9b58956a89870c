"""A round trip through each available event loop: one side writes 64 bytes to a
transport over a socketpair, the other echoes them, the first gets them back. 50 round
trips per measured call, so run_until_complete's own cost is spread thin."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from asgibench import loops

ROUND_TRIPS = 50
PAYLOAD = b"x" * 64


class Echo(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)  # type: ignore[attr-defined]


class Client(asyncio.Protocol):
    def __init__(self) -> None:
        self.waiter: asyncio.Future[None] | None = None
        self.received = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.received += len(data)
        if self.received >= len(PAYLOAD) and self.waiter is not None \
                and not self.waiter.done():
            self.waiter.set_result(None)


@pytest.mark.parametrize("loop_name", loops.available())
def test_loop_round_trip(benchmark: Any, loop_name: str) -> None:
    loop = loops.new_event_loop(loop_name)
    a, b = socket.socketpair()
    try:
        a.setblocking(False)
        b.setblocking(False)

        async def setup() -> tuple[asyncio.BaseTransport, Client]:
            server, _ = await loop.create_connection(Echo, sock=a)
            _, client = await loop.create_connection(Client, sock=b)
            return server, client

        server, client = loop.run_until_complete(setup())

        async def round_trips() -> None:
            for _ in range(ROUND_TRIPS):
                client.received = 0
                client.waiter = loop.create_future()
                client.transport.write(PAYLOAD)  # type: ignore[attr-defined]
                await client.waiter

        benchmark.group = "loop round trip x50"
        benchmark.extra_info.update(loop=loop_name, round_trips=ROUND_TRIPS)
        benchmark(lambda: loop.run_until_complete(round_trips()))
        assert client.received == len(PAYLOAD)
        client.transport.close()  # type: ignore[attr-defined]
        server.close()
        loop.run_until_complete(asyncio.sleep(0))
    finally:
        a.close()
        b.close()
        loop.close()
