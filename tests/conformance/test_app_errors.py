"""App errors: 500 before the response starts; after it starts, a close that cannot pass
for a complete response. The server keeps serving afterwards."""

from __future__ import annotations

import logging
import time

from . import apps
from .client import get


def _app_tracebacks(caplog, message: str):
    return [
        r
        for r in caplog.records
        if r.name.startswith("asgibench") and r.exc_info and message in str(r.exc_info[1])
    ]


def _still_serving(srv) -> None:
    response = srv.request(get("/ok"))
    assert (response.status, response.body) == (200, b"ok")


def test_exception_before_start_gives_500(serve, caplog):
    srv = serve(apps.raise_before_start)
    with srv.client() as client:
        client.send(get("/fail"))
        response = client.read_final()
    assert response.status == 500
    assert response.body, "a 500 should say something"
    assert response.complete
    assert response.header("server") == b"asgibench"
    assert response.header("date")
    assert _app_tracebacks(caplog, "boom before start"), "no traceback logged for the app error"
    _still_serving(srv)


def test_exception_after_start_with_content_length(serve, caplog):
    srv = serve(apps.raise_after_partial_body)
    with srv.client() as client:
        client.send(get("/cl"))
        response = client.read_final(allow_incomplete=True)
    assert response.status == 200
    assert response.header("content-length") == b"100"
    # Fewer bytes than declared, then EOF: the client can tell the body is truncated.
    assert not response.complete
    assert response.body == b"0123456789"
    assert _app_tracebacks(caplog, "boom after start")
    _still_serving(srv)


def test_exception_after_start_with_chunked_response(serve, caplog):
    srv = serve(apps.raise_after_partial_body)
    with srv.client() as client:
        client.send(get("/chunked"))
        response = client.read_final(allow_incomplete=True)
    assert response.status == 200
    assert response.chunked
    # No terminating last-chunk: the truncation is visible.
    assert not response.complete
    assert not response.raw_body.endswith(b"0\r\n\r\n")
    assert response.raw_body == b"a\r\n0123456789\r\n"
    _still_serving(srv)


def test_app_returning_without_response_gives_500(serve, caplog):
    srv = serve(apps.no_response)
    with srv.client() as client:
        client.send(get("/nothing"))
        response = client.read_final()
    assert response.status == 500
    assert response.complete
    _still_serving(srv)


def test_keep_alive_connection_after_500_is_not_reused_wrongly(serve):
    """A 500 then the next pipelined request: either answered properly or closed."""
    srv = serve(apps.raise_before_start)
    with srv.client() as client:
        client.send(get("/fail") + get("/ok"))
        first = client.read_final()
        assert first.status == 500
        rest = client.read_until_eof() if not client.is_open(0.2) else None
        if rest is None:  # kept alive: the pipelined request must get its own answer
            second = client.read_final()
            assert (second.status, second.body) == (200, b"ok")
        else:
            assert rest == b""


def test_response_header_injection_is_refused(serve, caplog):
    """An app header value holding CRLF must not reach the wire as a second header."""
    srv = serve(apps.header_injection)
    with srv.client() as client:
        client.send(get("/evil"))
        response = client.read_final(allow_incomplete=True)
    assert b"injected" not in bytes(client.received).lower()
    assert response.status == 500
    _still_serving(srv)


def _server_errors(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name.startswith("asgibench") and r.levelno >= logging.ERROR]


def test_clients_leaving_mid_request_are_not_app_errors(serve, caplog):
    """A client that closes before its body is complete: the app is told http.disconnect
    and returns without a response; that is the client's doing, not an app error."""
    srv = serve(apps.body_or_disconnect)
    for _ in range(30):
        with srv.client() as client:
            client.send(b"POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n0123")
    _still_serving(srv)
    assert _server_errors(caplog) == []


def test_clients_leaving_mid_response_are_not_app_errors(serve, caplog):
    srv = serve(apps.slow_stream)
    for _ in range(10):
        with srv.client() as client:
            client.send(get("/stream"))
            client._fill("the first chunk")
    time.sleep(1.2)  # every app has finished sending into the void
    _still_serving(srv)
    assert _server_errors(caplog) == []
