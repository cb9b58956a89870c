"""Slow clients: idle keep-alive, a silent connection, a slowloris head.

Each test uses one short timeout and a long other one, so the test knows which timer
closed the connection. Upper bounds are generous (5 s); the lower bounds only say a
timer did not fire before its time.
"""

from __future__ import annotations

import time

from . import apps
from .conftest import get, wait_readable

SHORT = 0.3
LONG = 30.0


def _closed_or_408(data: bytes) -> bool:
    """A server may send 408 Request Timeout before closing (RFC 9110 §15.5.9)."""
    return data == b"" or data.startswith(b"HTTP/1.1 408 ")


def test_idle_keep_alive_connection_is_closed(serve):
    srv = serve(apps.hello, timeout_keep_alive=SHORT, timeout_request_head=LONG)
    with srv.client() as client:
        client.send(get("/"))
        assert client.read_final().status == 200
        elapsed, data = client.wait_closed(timeout=5)
    assert data == b""
    assert elapsed >= SHORT - 0.1


def test_keep_alive_timer_restarts_per_request(serve):
    """Requests spaced below the timeout keep the connection alive past one timeout."""
    srv = serve(apps.hello, timeout_keep_alive=SHORT, timeout_request_head=LONG)
    with srv.client() as client:
        for _ in range(4):
            client.send(get("/"))
            assert client.read_final().status == 200
            time.sleep(SHORT / 2)
        client.send(get("/"))
        assert client.read_final().status == 200


def test_silent_connection_closed_after_head_timeout(serve):
    srv = serve(apps.hello, timeout_request_head=SHORT, timeout_keep_alive=LONG)
    with srv.client() as client:
        elapsed, data = client.wait_closed(timeout=5)
    assert _closed_or_408(data), data
    assert elapsed >= SHORT - 0.1


def _slowloris(client, prefix: bytes, interval: float, limit: float) -> tuple[float, bytes]:
    """Send ``prefix``, then one header byte per ``interval`` until the server closes."""
    start = time.monotonic()
    client.send(prefix)
    while time.monotonic() - start < limit:
        if wait_readable(client.sock, interval):
            return time.monotonic() - start, client.read_until_eof(timeout=5)
        if not client.send_quiet(b"a"):
            return time.monotonic() - start, client.read_until_eof(timeout=5)
    raise AssertionError(f"slowloris connection still open after {limit} s")


def test_slowloris_closed_after_head_timeout(serve):
    srv = serve(apps.hello, timeout_request_head=SHORT, timeout_keep_alive=LONG)
    with srv.client() as client:
        elapsed, data = _slowloris(client, b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: ", 0.05, 5)
    assert _closed_or_408(data), data
    assert elapsed >= SHORT - 0.1


def test_slowloris_after_a_keep_alive_response(serve):
    """The head timer also bounds the second request's head (the keep-alive one is long)."""
    srv = serve(apps.hello, timeout_request_head=SHORT, timeout_keep_alive=LONG)
    with srv.client() as client:
        client.send(get("/"))
        assert client.read_final().status == 200
        _elapsed, data = _slowloris(client, b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: ", 0.05, 5)
    assert _closed_or_408(data), data


def test_slow_app_is_not_cut_by_timeouts(serve):
    """Neither timer runs while the app works on a request."""
    srv = serve(apps.echo, timeout_request_head=0.2, timeout_keep_alive=0.2)
    with srv.client() as client:
        client.send(get("/?sleep=0.5"))
        response = client.read_final()
    assert response.status == 200
    assert response.body == b"GET /?sleep=0.5\n"
