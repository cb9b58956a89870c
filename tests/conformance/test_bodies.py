"""Request bodies (Content-Length, chunked) and response framing (length, chunked, close)."""

from __future__ import annotations

import hashlib
import time

from . import apps
from .client import get, http_request

CHUNKED_BODY = (
    b"5\r\nhello\r\n"
    b"1;name=value\r\n \r\n"  # a chunk extension
    b'5;a=1;b="quoted"\r\nworld\r\n'  # several, one a quoted-string (RFC 9112 §7.1.1)
    b"A\r\n, chunked!\r\n"  # upper-case hex
    b"0\r\nX-Trailer: yes\r\nX-Other: 2\r\n\r\n"  # trailer fields
)
CHUNKED_HEAD = b"POST /chunked HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"


def test_content_length_body(serve):
    srv = serve(apps.echo)
    response = srv.request(http_request("POST", "/cl", body=b"a body"))
    assert response.body == b"POST /cl\na body"


def test_large_content_length_body_delivered_whole(serve):
    app = apps.SlowUpload()
    app.release.set()
    srv = serve(app)
    body = bytes(range(256)) * 4096  # 1 MiB
    response = srv.request(http_request("POST", "/big", body=body))
    assert response.body == f"{len(body)} {hashlib.sha256(body).hexdigest()}".encode()


def test_chunked_request_with_extensions_and_trailers(serve):
    srv = serve(apps.echo)
    with srv.client() as client:
        client.send(CHUNKED_HEAD + CHUNKED_BODY + get("/after"))
        first, second = client.read_responses(2)
    assert first.body == b"POST /chunked\nhello world, chunked!"
    # The trailers are not a new request, and the connection stays usable.
    assert second.body == b"GET /after\n"


def test_chunked_request_trickling_in(serve):
    """Chunk boundaries split across writes, mid size line and mid CRLF."""
    srv = serve(apps.echo)
    data = CHUNKED_HEAD + CHUNKED_BODY
    with srv.client() as client:
        cuts = [len(CHUNKED_HEAD) + 1, len(CHUNKED_HEAD) + 9, len(data) - 20, len(data) - 3]
        start = 0
        for cut in [*cuts, len(data)]:
            client.send(data[start:cut])
            start = cut
            time.sleep(0.01)
        response = client.read_final()
    assert response.body == b"POST /chunked\nhello world, chunked!"


def test_chunked_request_is_delivered_in_messages(serve):
    app = apps.Recorder()
    srv = serve(app)
    response = srv.request(CHUNKED_HEAD + CHUNKED_BODY)
    assert response.status == 200
    messages = app.messages
    assert all(m["type"] == "http.request" for m in messages)
    assert b"".join(m["body"] for m in messages) == b"hello world, chunked!"
    assert [m.get("more_body", False) for m in messages][-1] is False
    assert all(m["more_body"] for m in messages[:-1])


def test_get_without_body_receives_one_empty_message(serve):
    app = apps.Recorder()
    srv = serve(app)
    srv.request(get("/"))
    assert len(app.messages) == 1
    message = app.messages[0]
    assert message["type"] == "http.request"
    assert message.get("body", b"") == b""
    assert message.get("more_body", False) is False


def test_zero_content_length(serve):
    srv = serve(apps.echo)
    response = srv.request(http_request("POST", "/z", body=b"", content_length=True))
    assert response.body == b"POST /z\n"


def test_response_without_length_is_chunked_for_http11(serve):
    srv = serve(apps.stream)
    with srv.client() as client:
        client.send(get("/"))
        response = client.read_final()
        assert response.header("transfer-encoding") == b"chunked"
        assert response.header("content-length") is None
        # One chunk per send(); the empty final send() is the last-chunk.
        assert response.raw_body == b"5\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\n"
        assert response.body == b"hello world"
        assert client.is_open(0.05)  # chunked framing keeps the connection usable


def test_response_without_length_is_close_delimited_for_http10(serve):
    srv = serve(apps.stream)
    with srv.client() as client:
        client.send(b"GET / HTTP/1.0\r\n\r\n")
        response = client.read_final()
    assert response.header("transfer-encoding") is None
    assert response.header("content-length") is None
    assert response.close_delimited
    assert response.raw_body == b"hello world"


def test_response_without_length_to_http10_keep_alive_still_closes(serve):
    """Without a length the close is the only way an HTTP/1.0 client can find the end."""
    srv = serve(apps.stream)
    with srv.client() as client:
        client.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        response = client.read_final()
    assert response.header("transfer-encoding") is None
    assert response.raw_body == b"hello world"
    assert (response.header("connection") or b"").lower() != b"keep-alive"


def test_content_length_response_in_several_sends(serve):
    srv = serve(apps.multi_part_content_length)
    with srv.client() as client:
        client.send(get("/") + get("/"))
        first, second = client.read_responses(2)
    assert first.raw_body == second.raw_body == b"hello world"
    assert first.header("transfer-encoding") is None


def test_204_has_no_body_and_keeps_the_connection(serve):
    srv = serve(apps.no_content)
    with srv.client() as client:
        client.send(get("/") + get("/"))
        first, second = client.read_responses(2)
        assert first.status == second.status == 204
        assert first.header("transfer-encoding") is None
        assert client.is_open(0.05)
