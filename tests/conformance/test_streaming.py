"""Streaming as frameworks do it: a response sent from a task the app started must reach
the socket as it is sent, and a receive() waiting when the response completes must get
``http.disconnect`` (ASGI HTTP spec: "http.disconnect ... if receive is called after the
response has been sent"). A large body goes out in pieces, to any number of slow readers.
"""

from __future__ import annotations

import socket
import threading
import time

from . import apps
from .client import RawClient, get, http_request
from .conftest import HOST

INTERVAL = apps.ChildTaskStream.INTERVAL
PARTS = apps.ChildTaskStream.PARTS


def _timed_chunks(sock: socket.socket, marker_count: int) -> tuple[bytes, dict[bytes, float]]:
    """Read a chunked response; when each ``b"<i>."`` marker arrived (monotonic time)."""
    data = b""
    arrived: dict[bytes, float] = {}
    deadline = time.monotonic() + 10
    while not data.endswith(b"0\r\n\r\n") and time.monotonic() < deadline:
        piece = sock.recv(65536)
        if not piece:
            break
        data += piece
        now = time.monotonic()
        for index in range(marker_count):
            marker = b"%d." % index
            if marker not in arrived and marker in data:
                arrived[marker] = now
    return data, arrived


def test_a_response_sent_from_a_child_task_streams_as_sent(serve):
    srv = serve(apps.ChildTaskStream(), timeout_keep_alive=30)
    with socket.create_connection((HOST, srv.port), timeout=5) as sock:
        started = time.monotonic()
        sock.sendall(get("/stream"))
        data, arrived = _timed_chunks(sock, PARTS)
    assert data.startswith(b"HTTP/1.1 200 "), data[:100]
    assert data.endswith(b"0\r\n\r\n"), data[-100:]
    first, last = arrived[b"0."], arrived[b"%d." % (PARTS - 1)]
    # Sent at INTERVAL, 2*INTERVAL, ...: the first must arrive long before the last is made,
    # not together with it when the response ends.
    assert first - started < (PARTS - 1) * INTERVAL, (first - started, last - started)
    assert last - first > (PARTS - 2) * INTERVAL, (first - started, last - started)


def test_receive_waiting_when_the_response_completes_gets_disconnect(serve):
    app = apps.ChildTaskStream(watch=True)
    srv = serve(app, timeout_keep_alive=30)
    with srv.client() as client:
        client.send(get("/stream"))
        response = client.read_final()
        assert response.status == 200
        assert response.body == b"".join(b"%d." % i for i in range(PARTS))
        assert app.returned.wait(2), "the app's receive() was not woken by the response's end"
        assert app.received == ["http.request", "http.disconnect"]
        # The connection is reused at once, not after the keep-alive timer.
        started = time.monotonic()
        client.send(get("/ok"))
        again = client.read_final()
        assert (again.status, again.body) == (200, b"ok")
        assert time.monotonic() - started < 2


def test_receive_after_the_response_gets_disconnect_and_server_stops(serve):
    app = apps.ChildTaskStream(watch=True)
    srv = serve(app, timeout_keep_alive=30)
    with srv.client() as client:
        client.send(get("/stream"))
        assert client.read_final().status == 200
        assert app.returned.wait(2)
    srv.server.request_exit()
    srv.thread.join(5)
    assert not srv.thread.is_alive(), "shutdown waited on an app stuck in receive()"


def _read_large(address, target: str, results: dict[int, object], index: int) -> None:
    try:
        with RawClient(address, rcvbuf=32 * 1024, timeout=20, keep_log=False) as client:
            client.send(get(target))
            started = time.monotonic()
            client._fill("the first bytes")
            results[index] = ("first", time.monotonic() - started)
            time.sleep(0.5)  # a slow reader: the server must hold back, not copy
            response = client.read_final()
            results[index] = (response.status, response.chunked, response.body)
    except Exception as exc:  # reported by the main thread
        results[index] = exc


def test_one_large_body_reaches_several_slow_readers_whole(serve):
    srv = serve(apps.large_body)
    readers = 8
    for target, chunked in (("/cl", False), ("/chunked", True)):
        results: dict[int, object] = {}
        threads = [
            threading.Thread(target=_read_large, args=(srv.addr, target, results, i))
            for i in range(readers)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        for index in range(readers):
            status, got_chunked, body = results[index]  # an exception here fails the test
            assert (status, got_chunked) == (200, chunked)
            assert body == apps.LARGE, f"reader {index}: {len(body)} bytes, not byte-exact"


def test_head_of_a_large_body_has_no_body(serve):
    srv = serve(apps.large_body)
    with srv.client() as client:
        client.send(http_request("HEAD", "/cl"))
        response = client.read_final(head=True)
        assert response.status == 200
        assert response.header("content-length") == str(len(apps.LARGE)).encode()
        assert response.body == b""
        client.send(get("/ok"))
        assert client.read_final().body == apps.LARGE
