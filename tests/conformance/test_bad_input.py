"""Bad input gets an exact status, then a close, and no traceback in the log.

RFC 9112 §3.2 (Host), §5.1 (no whitespace before the colon), §6.3 (message body length:
Content-Length with Transfer-Encoding, invalid Content-Length, unknown final coding),
§7.1 (chunk size); RFC 6585 §5 (431).
"""

from __future__ import annotations

import pytest

from . import apps
from .client import count_status_lines, get, http_request
from .conftest import traceback_records

SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n"


def _post(headers: bytes, body: bytes = b"hello") -> bytes:
    return b"POST /p HTTP/1.1\r\nHost: t\r\n" + headers + b"\r\n" + body


BAD_REQUESTS = {
    "garbage-request-line": b"GARBAGE\r\n\r\n",
    "request-line-without-version": b"GET /\r\nHost: t\r\n\r\n",
    "malformed-version": b"GET / HTTP/1.x\r\nHost: t\r\n\r\n",
    "space-in-header-name": b"GET / HTTP/1.1\r\nHost: t\r\nBad Name: v\r\n\r\n",
    "paren-in-header-name": b"GET / HTTP/1.1\r\nHost: t\r\nBad(Name): v\r\n\r\n",
    "space-before-colon": b"GET / HTTP/1.1\r\nHost: t\r\nX-Foo : v\r\n\r\n",
    "header-line-without-colon": b"GET / HTTP/1.1\r\nHost: t\r\nNoColonHere\r\n\r\n",
    "content-length-abc": _post(b"Content-Length: abc\r\n"),
    "content-length-negative": _post(b"Content-Length: -1\r\n"),
    "content-length-plus-sign": _post(b"Content-Length: +5\r\n"),
    "content-length-two-different": _post(b"Content-Length: 5\r\nContent-Length: 6\r\n"),
    "content-length-list-different": _post(b"Content-Length: 5, 6\r\n"),
    "chunk-size-zz": _post(b"Transfer-Encoding: chunked\r\n", b"zz\r\nhello\r\n0\r\n\r\n"),
    # 80 bits: a parser that accepts it waits for that much data, for ever.
    "chunk-size-overflow": _post(b"Transfer-Encoding: chunked\r\n", b"ffffffffffffffffffff\r\nabc"),
    "http11-without-host": b"GET / HTTP/1.1\r\n\r\n",
    "http11-two-hosts": b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "transfer-encoding-not-ending-in-chunked": _post(b"Transfer-Encoding: gzip\r\n"),
}
# Errors found in the head: the app must never be called.
BODY_ERRORS = {"chunk-size-zz", "chunk-size-overflow"}
# RFC 9112 §6.3 (4) says 400 when chunked is not the final coding; §6.1 lets a server
# answer 501 to a coding it does not implement (h11 does). Both refuse and close.
ALSO_ACCEPTED = {"transfer-encoding-not-ending-in-chunked": {501}}


@pytest.mark.parametrize("name", list(BAD_REQUESTS))
def test_bad_request_gets_400_then_close(serve, caplog, name):
    app = apps.Recorder()
    srv = serve(app)
    with srv.client() as client:
        client.send_quiet(BAD_REQUESTS[name])
        response = client.read_final()
        rest = client.read_until_eof()
    expected = {400} | ALSO_ACCEPTED.get(name, set())
    assert response.status in expected, f"sent {BAD_REQUESTS[name]!r}, got {response!r}"
    assert rest == b""
    assert count_status_lines(bytes(client.received)) == 1
    assert response.header("server") == b"asgibench", "the server's own response lacks Server"
    if name not in BODY_ERRORS:
        assert app.scopes == [], "the app was called for a malformed request head"
    assert traceback_records(caplog.records) == []


def test_bad_request_after_a_good_one(serve, caplog):
    srv = serve(apps.echo)
    with srv.client() as client:
        client.send(get("/ok") + b"GARBAGE\r\n\r\n")
        good, bad = client.read_responses(2)
        assert (good.status, good.body) == (200, b"GET /ok\n")
        assert bad.status == 400
        assert client.read_until_eof() == b""
    assert traceback_records(caplog.records) == []


def _assert_not_smuggled(client, app):
    """At most one response, and if it is not a 400 the connection closes after it."""
    response = client.read_final()
    rest = client.read_until_eof()
    everything = bytes(client.received)
    assert count_status_lines(everything) == 1, f"more than one response: {everything!r}"
    assert rest == b""
    assert [s["path"] for s in app.scopes if s["path"] == "/smuggled"] == []
    return response


def test_content_length_with_chunked_cl_te(serve, caplog):
    """CL.TE: by Transfer-Encoding the body ends early and a second request follows."""
    app = apps.Recorder()
    srv = serve(app)
    body = b"0\r\n\r\n" + SMUGGLED
    request = _post(b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n" % len(body), body)
    with srv.client() as client:
        client.send(request)
        response = _assert_not_smuggled(client, app)
    assert response.status in (400, 200)
    assert traceback_records(caplog.records) == []


def test_content_length_with_chunked_te_cl(serve, caplog):
    """TE.CL: by Content-Length the body ends early and the chunk data is a request."""
    app = apps.Recorder()
    srv = serve(app)
    chunk = b"%x\r\n%b\r\n0\r\n\r\n" % (len(SMUGGLED), SMUGGLED)
    request = _post(b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n", chunk)
    with srv.client() as client:
        client.send(request)
        response = _assert_not_smuggled(client, app)
    assert response.status in (400, 200)
    assert traceback_records(caplog.records) == []


def _big_header_request(value_size: int, headers: int = 1) -> bytes:
    lines = b"".join(b"X-Big-%d: %b\r\n" % (i, b"a" * value_size) for i in range(headers))
    return b"GET / HTTP/1.1\r\nHost: t\r\n" + lines + b"\r\n"


@pytest.mark.parametrize(
    ("limit", "request_bytes", "status"),
    [
        pytest.param(None, _big_header_request(70_000), 431, id="default-limit-one-header"),
        pytest.param(None, _big_header_request(400, headers=200), 431, id="default-limit-many"),
        pytest.param(8192, _big_header_request(10_000), 431, id="8k-limit-over"),
        pytest.param(8192, _big_header_request(400, headers=25), 431, id="8k-limit-many"),
        pytest.param(8192, _big_header_request(6_000), 200, id="8k-limit-under"),
    ],
)
def test_request_head_limit(serve, caplog, limit, request_bytes, status):
    overrides = {} if limit is None else {"limit_request_head": limit}
    srv = serve(apps.hello, **overrides)
    with srv.client() as client:
        client.send_quiet(request_bytes)
        response = client.read_final()
        assert response.status == status, response
        if status != 200:
            assert client.read_until_eof() == b""
    assert traceback_records(caplog.records) == []


def test_request_line_over_head_limit(serve, caplog):
    """A huge target: 414 (URI Too Long) or 431, then a close."""
    srv = serve(apps.hello, limit_request_head=8192)
    with srv.client() as client:
        client.send_quiet(b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: t\r\n\r\n")
        response = client.read_final()
        assert response.status in (414, 431), response
        assert client.read_until_eof() == b""
    assert traceback_records(caplog.records) == []


def test_server_keeps_serving_after_bad_input(serve):
    srv = serve(apps.hello)
    for request in BAD_REQUESTS.values():
        with srv.client() as client:
            client.send_quiet(request)
            client.read_until_eof()
    assert srv.request(get("/")).status == 200


def test_connect_is_answered_as_plain_http(serve, caplog):
    """CONNECT (RFC 9110 §9.3.6) reaches the app like any method; the server tunnels
    nothing, so the connection goes on as HTTP/1.1 and the next request is answered."""
    app = apps.Recorder()
    srv = serve(app)
    with srv.client() as client:
        client.send(
            b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n" + get("/next")
        )
        first, second = client.read_responses(2)
    assert first.status == 200 and second.status == 200
    assert [s["method"] for s in app.scopes] == ["CONNECT", "GET"]
    assert traceback_records(caplog.records) == []


def test_unsupported_upgrade_is_answered_as_http_and_logged_once(serve, caplog):
    srv = serve(apps.hello)
    upgrade = [("Connection", "Upgrade, HTTP2-Settings"), ("Upgrade", "h2c"),
               ("HTTP2-Settings", "AAMAAABkAARAAAAAAAIAAAAA")]
    with srv.client() as client:
        client.send(http_request("GET", "/", headers=upgrade) * 2)
        responses = client.read_responses(2)
    assert [r.status for r in responses] == [200, 200]
    assert all(r.version == b"HTTP/1.1" for r in responses)
    warnings = [r for r in caplog.records
                if r.name.startswith("asgibench") and "upgrade" in r.getMessage().lower()]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "h2c" in warnings[0].getMessage()
