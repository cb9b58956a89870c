"""Slow clients: idle keep-alive, a silent connection, a slowloris head.

Each test uses one short timeout and a long other one, so the test knows which timer
closed the connection. Upper bounds are generous (5 s); the lower bounds only say a
timer did not fire before its time.
"""

from __future__ import annotations

import threading
import time

from . import apps
from .client import get, wait_readable

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


# ---- --timeout-request-body: a body that stops arriving


def test_a_stalled_body_gets_408_and_a_close(serve):
    srv = serve(apps.echo, timeout_request_body=SHORT, timeout_request_head=LONG)
    with srv.client() as client:
        client.send(b"POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n0123456789")
        started = time.monotonic()
        response = client.read_final()
        assert response.status == 408
        assert response.header("connection") == b"close"
        assert client.read_until_eof() == b""
        assert time.monotonic() - started >= SHORT * 0.9


def test_a_stalled_chunked_body_gets_408(serve):
    srv = serve(apps.echo, timeout_request_body=SHORT, timeout_request_head=LONG)
    with srv.client() as client:
        client.send(b"POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"5\r\nhel")
        assert client.read_final().status == 408


def test_a_body_that_keeps_coming_is_not_cut(serve):
    srv = serve(apps.echo, timeout_request_body=SHORT, timeout_request_head=LONG)
    with srv.client() as client:
        client.send(b"POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n")
        for byte in b"0123456789":  # one byte every SHORT/3: slow, but never stalled
            time.sleep(SHORT / 3)
            client.send(bytes([byte]))
        response = client.read_final()
    assert (response.status, response.body) == (200, b"POST /up\n0123456789")


def test_the_body_timer_waits_for_100_continue(serve):
    """A client that asked for 100 Continue sends nothing until the app reads: the app
    taking its time is not the client stalling."""
    srv = serve(apps.echo, timeout_request_body=SHORT, timeout_request_head=LONG)
    with srv.client() as client:
        client.send(b"POST /up?sleep=%.1f HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                    b"Expect: 100-continue\r\n\r\n" % (SHORT * 3))
        interim = client.read_response()
        assert interim.status == 100
        client.send(b"hello")
        response = client.read_final()
    assert (response.status, response.body) == (200, b"POST /up?sleep=0.9\nhello")


def test_the_body_timer_does_not_run_while_the_app_is_behind(serve):
    """Reading is paused because the app has not read the buffered body: no 408."""
    app = apps.SlowUpload()
    srv = serve(app, timeout_request_body=SHORT, timeout_request_head=LONG)
    body = b"x" * (4 << 20)
    with srv.client(timeout=10) as client:
        sender = threading.Thread(target=client.send_quiet, args=(
            b"POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(body) + body,))
        sender.start()
        time.sleep(SHORT * 4)  # the app reads nothing for a while
        app.release.set()
        sender.join(10)
        response = client.read_final()
    assert response.status == 200
    assert response.body.startswith(b"%d " % len(body))
