"""HTTP/1.1 and 1.0 basics: keep-alive, Connection: close, HEAD, 100-continue, Date/Server."""

from __future__ import annotations

import re

import pytest

from . import apps
from .client import count_status_lines, get, http_request

IMF_FIXDATE = re.compile(
    rb"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
    rb" \d{4} \d{2}:\d{2}:\d{2} GMT"
)


def test_http11_get(serve):
    srv = serve(apps.hello)
    with srv.client() as client:
        client.send(get("/"))
        response = client.read_final()
        assert response.version == b"HTTP/1.1"
        assert response.status == 200
        assert response.reason == b"OK"
        assert response.body == apps.HELLO
        assert response.header("content-length") == b"13"
        assert response.header("content-type") == b"text/plain"
        assert response.header("transfer-encoding") is None
        # HTTP/1.1 defaults to persistent: no close, and the socket stays open.
        assert response.header("connection") is None
        assert client.is_open(0.1)


def test_http10_get_closes_after_response(serve):
    srv = serve(apps.hello)
    with srv.client() as client:
        client.send(b"GET / HTTP/1.0\r\n\r\n")  # no Host: fine for HTTP/1.0
        response = client.read_final()
        assert response.status == 200
        assert response.body == apps.HELLO
        assert client.read_until_eof() == b""


def test_http10_keep_alive(serve):
    srv = serve(apps.echo)
    with srv.client() as client:
        for i in range(3):
            client.send(get(f"/{i}", version="1.0", headers=[("Connection", "keep-alive")]))
            response = client.read_final()
            assert response.status == 200
            assert response.body == f"GET /{i}\n".encode()
            # An HTTP/1.0 client only keeps the connection if the server says it will.
            assert response.header("connection").lower() == b"keep-alive"
        client.send(get("/last", version="1.0"))
        assert client.read_final().body == b"GET /last\n"
        assert client.read_until_eof() == b""


def test_http10_post_with_body(serve):
    srv = serve(apps.echo)
    with srv.client() as client:
        client.send(http_request("POST", "/p", body=b"payload", version="1.0"))
        response = client.read_final()
        assert response.body == b"POST /p\npayload"
        assert client.read_until_eof() == b""


def test_keep_alive_several_requests_one_socket(serve):
    srv = serve(apps.echo)
    with srv.client() as client:
        for i in range(5):
            client.send(get(f"/r{i}"))
            response = client.read_final()
            assert response.status == 200
            assert response.body == f"GET /r{i}\n".encode()
            assert response.header("connection") is None
        assert client.is_open(0.1)


@pytest.mark.parametrize("value", ["close", "CLOSE", "Close", "keep-alive, close"])
def test_connection_close_any_case(serve, value):
    """RFC 9112 §9.6: after a request with the ``close`` option, respond, then close.

    The second (pipelined) request must get no response.
    """
    srv = serve(apps.echo)
    with srv.client() as client:
        client.send(get("/first", headers=[("Connection", value)]) + get("/second"))
        response = client.read_final()
        assert response.status == 200
        assert response.body == b"GET /first\n"
        assert response.header("connection").lower() == b"close"
        assert client.read_until_eof() == b""
        assert count_status_lines(bytes(client.received)) == 1


def test_head_same_headers_as_get_and_no_body(serve):
    srv = serve(apps.hello)
    with srv.client() as client:
        client.send(get("/"))
        got = client.read_final()
        # HEAD then GET pipelined: any stray body byte after the HEAD response would
        # corrupt the parse of the GET response.
        client.send(http_request("HEAD", "/") + get("/"))
        headed = client.read_final(head=True)
        after = client.read_final()
    assert headed.status == 200
    assert headed.header("content-length") == b"13"

    def comparable(response):
        return [(n, v) for n, v in response.headers if n != b"date"]

    assert comparable(headed) == comparable(got)
    assert after.status == 200
    assert after.body == apps.HELLO


def test_head_of_streamed_response_has_no_body(serve):
    srv = serve(apps.stream)
    with srv.client() as client:
        client.send(http_request("HEAD", "/") + get("/"))
        headed = client.read_final(head=True)
        after = client.read_final()
    assert headed.status == 200
    assert after.body == b"hello world"


def test_expect_100_continue_sent_when_app_reads(serve):
    app = apps.ExpectApp()
    srv = serve(app)
    with srv.client() as client:
        client.send(
            b"POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
        )
        assert app.entered.wait(5), "the app was not called"
        # The app has not called receive(): no 100 Continue yet.
        assert client.is_open(0.2), f"server sent {bytes(client.received)!r} too early"
        app.go.set()
        interim = client.read_response()
        assert interim.raw_head == b"HTTP/1.1 100 Continue\r\n\r\n"
        client.send(b"hello")
        response = client.read_final()
        assert response.status == 200
        assert response.body == b"got:hello"


def test_expect_100_continue_not_sent_when_app_does_not_read(serve):
    srv = serve(apps.hello)
    with srv.client() as client:
        client.send(
            b"POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
        )
        response = client.read_response()
        assert response.status == 200, f"got {response.raw_head!r} before the final response"
        assert response.body == apps.HELLO
        assert b"100 Continue" not in bytes(client.received)


def test_date_and_server_headers(serve):
    srv = serve(apps.hello)
    response = srv.request(get("/"))
    date = response.header("date")
    assert date is not None and IMF_FIXDATE.fullmatch(date), date
    server = response.header("server")
    assert server, "no Server header"


def test_app_server_and_date_not_duplicated(serve):
    srv = serve(apps.own_server_and_date)
    response = srv.request(get("/"))
    assert response.get_all("server") == [apps.CUSTOM_SERVER]
    assert response.get_all("date") == [apps.CUSTOM_DATE]


@pytest.mark.parametrize(
    ("server_header", "date_header"), [(False, True), (True, False), (False, False)]
)
def test_server_and_date_headers_can_be_turned_off(serve, server_header, date_header):
    srv = serve(apps.hello, server_header=server_header, date_header=date_header)
    response = srv.request(get("/"))
    assert response.status == 200
    assert (response.header("server") is not None) is server_header
    assert (response.header("date") is not None) is date_header
