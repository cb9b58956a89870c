"""Pipelining: requests sent back to back in one write are answered in order."""

from __future__ import annotations

from . import apps
from .client import count_status_lines, get, http_request
from .conftest import HOST


def test_ten_pipelined_gets_in_order(serve):
    srv = serve(apps.echo)
    with srv.client() as client:
        client.send(b"".join(get(f"/p{i}?n={i}") for i in range(10)))
        responses = client.read_responses(10)
        assert [r.body for r in responses] == [f"GET /p{i}?n={i}\n".encode() for i in range(10)]
        assert all(r.status == 200 for r in responses)
        assert client.is_open(0.05)


def test_pipelined_order_holds_when_first_is_slow(serve):
    srv = serve(apps.echo)
    targets = ["/slow?sleep=0.2"] + [f"/fast{i}" for i in range(9)]
    with srv.client() as client:
        client.send(b"".join(get(t) for t in targets))
        responses = client.read_responses(10)
    assert [r.body for r in responses] == [f"GET {t}\n".encode() for t in targets]


def test_pipelined_posts_with_bodies(serve):
    srv = serve(apps.echo)
    requests = [
        http_request("POST", "/a", body=b"first body"),
        http_request(
            "POST",
            "/b",
            headers=[("Transfer-Encoding", "chunked")],
            body=b"4\r\nchun\r\n3\r\nked\r\n0\r\n\r\n",
            content_length=False,
        ),
        http_request("POST", "/c", body=b"", content_length=True),
        http_request("PUT", "/d?sleep=0.05", body=b"x" * 5000),
        get("/e"),
    ]
    with srv.client() as client:
        client.send(b"".join(requests))
        responses = client.read_responses(5)
    assert [r.body for r in responses] == [
        b"POST /a\nfirst body",
        b"POST /b\nchunked",
        b"POST /c\n",
        b"PUT /d?sleep=0.05\n" + b"x" * 5000,
        b"GET /e\n",
    ]


def test_many_pipelined_requests(serve):
    """More pipelined requests than any sane read-ahead queue: all answered, in order."""
    srv = serve(apps.echo)
    count = 200
    with srv.client() as client:
        client.send(b"".join(get(f"/{i}") for i in range(count)))
        responses = client.read_responses(count)
    assert [r.body for r in responses] == [f"GET /{i}\n".encode() for i in range(count)]


def test_pipelined_close_stops_the_pipeline(serve):
    srv = serve(apps.echo)
    with srv.client() as client:
        client.send(get("/1") + get("/2", headers=[("Connection", "close")]) + get("/3"))
        first, second = client.read_responses(2)
        assert (first.body, second.body) == (b"GET /1\n", b"GET /2\n")
        assert client.read_until_eof() == b""
        assert count_status_lines(bytes(client.received)) == 2


def test_pipelined_head_then_get(serve):
    srv = serve(apps.hello)
    with srv.client() as client:
        client.send(http_request("HEAD", "/") + http_request("HEAD", "/") + get("/"))
        first, second, third = client.read_responses(3, heads=[True, True, False])
    assert first.status == second.status == 200
    assert first.header("content-length") == b"13"
    assert third.body == apps.HELLO


def test_request_split_across_many_writes(serve):
    """A request trickling in a few bytes at a time is parsed the same."""
    srv = serve(apps.echo)
    data = http_request("POST", "/split?q=1", body=b"0123456789") + get("/next")
    with srv.client() as client:
        for i in range(0, len(data), 7):
            client.send(data[i : i + 7])
        first, second = client.read_responses(2)
    assert first.body == b"POST /split?q=1\n0123456789"
    assert second.body == b"GET /next\n"


def test_a_deep_pipeline_of_small_requests_is_answered_not_431(serve):
    """Thousands of small requests in one write are not one large head (the head-size
    limit counts each head, not the bytes of the requests before it)."""
    srv = serve(apps.hello)
    count = 5000
    with srv.client(timeout=10, keep_log=False) as client:
        client.send(get("/") * count)
        responses = client.read_responses(count)
    assert [r.status for r in responses] == [200] * count


def test_a_client_that_pipelines_and_never_reads_is_not_read_without_end(serve):
    """Back-pressure: while written responses are not read, no more requests are read."""
    import socket
    import time

    app = apps.CountingResponder()
    srv = serve(app, timeout_keep_alive=30)
    count = 4000  # 4000 x 48 KiB = 188 MiB of responses if every request were answered
    sock = socket.create_connection((HOST, srv.port), timeout=5)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
        sock.setblocking(False)
        data = memoryview(get("/") * count)
        sent = 0
        deadline = time.monotonic() + 3
        while sent < len(data) and time.monotonic() < deadline:
            try:
                sent += sock.send(data[sent:])
            except BlockingIOError:
                time.sleep(0.01)
        time.sleep(0.5)  # let the server answer all it read
        answered = app.answered
    finally:
        sock.close()
    # Kernel buffers absorb a few MiB of responses (autotuned); the rest must wait.
    assert answered < count // 4, f"{answered} of {count} answered while nothing was read"


def test_the_next_request_does_not_wait_for_the_previous_apps_background_work(serve):
    """Once a response is complete, the next request on the connection is answered even
    while the previous app goes on (FastAPI's BackgroundTasks), as uvicorn does."""
    import time

    app = apps.BackgroundWork()
    srv = serve(app, timeout_keep_alive=30)
    with srv.client() as client:
        client.send(get("/background"))
        assert client.read_final().body == b"done"
        started = time.monotonic()
        client.send(get("/quick"))
        assert client.read_final().body == b"done"
        waited = time.monotonic() - started
        assert waited < app.WORK / 2, f"the second request waited {waited:.2f} s"
        assert app.finished == 0
    srv.stop()  # a graceful stop waits for the background work
    assert app.finished == 1
