"""Closed connections give their sockets back (a server that leaks one descriptor per
connection dies after ``ulimit -n`` clients)."""

from __future__ import annotations

import os

import pytest

from . import apps
from .client import get
from .conftest import known_loop_bug, wait_until

pytestmark = pytest.mark.skipif(
    not os.path.isdir("/proc/self/fd"), reason="counts descriptors in /proc/self/fd (Linux)"
)


def _open_sockets() -> int:
    count = 0
    for name in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{name}").startswith("socket:")
        except OSError:
            pass
    return count


def test_closed_connections_release_their_sockets(serve, request):
    known_loop_bug(request, "rloop", "rloop 0.5 keeps one socket open per closed connection")
    srv = serve(apps.hello)
    srv.request(get("/"))  # warm-up: anything the first connection sets up once
    before = _open_sockets()
    for _ in range(20):  # the client closes an idle keep-alive connection
        with srv.client() as client:
            client.send(get("/"))
            client.read_final()
    for _ in range(20):  # the server closes after Connection: close
        with srv.client() as client:
            client.send(get("/", headers=[("Connection", "close")]))
            client.read_final()
            client.read_until_eof()
    assert wait_until(lambda: _open_sockets() - before <= 2, 3), (
        f"{_open_sockets() - before} more sockets open after 40 connections came and went"
    )
