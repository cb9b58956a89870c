"""The ASGI HTTP connection scope (ASGI spec, HTTP connection scope, version 2.3+),
lifespan state, http.disconnect, and proxy headers."""

from __future__ import annotations

import socket
import struct

import pytest

from . import apps
from .client import get, http_request
from .conftest import HOST, known_loop_bug


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def test_http11_scope(serve):
    app = apps.Recorder()
    srv = serve(app)
    raw = (
        b"GET /caf%C3%A9/a%2Fb?x=1&y=%20z HTTP/1.1\r\n"
        b"Host: example.org\r\n"
        b"X-Dup: 1\r\n"
        b"X-Mixed-CASE: Keep The Value\r\n"
        b"x-dup: 2\r\n"
        b"\r\n"
    )
    with srv.client() as client:
        client.send(raw)
        assert client.read_final().status == 200
        local = client.local_address
    (scope,) = app.scopes
    assert scope["type"] == "http"
    assert scope["asgi"]["version"] == "3.0"
    assert _version(scope["asgi"].get("spec_version", "2.0")) >= (2, 3)
    assert scope["http_version"] == "1.1"
    assert scope["method"] == "GET"
    assert scope["scheme"] == "http"
    assert scope["path"] == "/café/a/b"
    assert scope["raw_path"] == b"/caf%C3%A9/a%2Fb"
    assert scope["query_string"] == b"x=1&y=%20z"
    assert scope.get("root_path", "") == ""
    assert scope["headers"] == [
        (b"host", b"example.org"),
        (b"x-dup", b"1"),
        (b"x-mixed-case", b"Keep The Value"),
        (b"x-dup", b"2"),
    ]
    assert all(type(n) is bytes and type(v) is bytes for n, v in scope["headers"])
    assert tuple(scope["client"]) == (local[0], local[1])
    assert tuple(scope["server"]) == (HOST, srv.port)


def test_http10_post_scope(serve):
    app = apps.Recorder()
    srv = serve(app)
    srv.request(http_request("POST", "/submit", body=b"abc", version="1.0"))
    (scope,) = app.scopes
    assert scope["http_version"] == "1.0"
    assert scope["method"] == "POST"
    assert scope["path"] == "/submit"
    assert scope["query_string"] == b""
    assert b"".join(m["body"] for m in app.messages) == b"abc"


def test_each_request_gets_its_own_scope(serve):
    app = apps.Recorder()
    srv = serve(app)
    with srv.client() as client:
        client.send(get("/one?a=1") + http_request("DELETE", "/two"))
        client.read_responses(2)
    assert [(s["method"], s["path"], s["query_string"]) for s in app.scopes] == [
        ("GET", "/one", b"a=1"),
        ("DELETE", "/two", b""),
    ]
    assert app.scopes[0] is not app.scopes[1]
    assert app.scopes[0]["headers"] is not app.scopes[1]["headers"]


def test_root_path(serve):
    app = apps.Recorder()
    srv = serve(app, root_path="/api")
    srv.request(get("/items?x=1"))
    (scope,) = app.scopes
    assert scope["root_path"] == "/api"
    # ASGI: path is the full path, root_path included (WSGI PATH_INFO = path[len(root):]).
    assert scope["path"] == "/api/items"
    assert scope["query_string"] == b"x=1"


def test_lifespan_state_is_visible_in_scope(serve):
    app = apps.Recorder()
    srv = serve(app, lifespan="on")
    srv.request(get("/"))
    srv.request(get("/"))
    first, second = app.scopes
    assert first["state"]["db"] == "connected"
    assert first["state"]["started"] is True
    # Each request gets a shallow copy: one request's writes do not leak into the next.
    first["state"]["per-request"] = 1
    assert "per-request" not in second["state"]


@pytest.mark.parametrize("how", ["close", "reset"])
def test_http_disconnect_after_body(serve, how, request):
    """The client goes away while the app waits on receive() after the body.

    ``close``: an ordinary close() (FIN); ``reset``: SO_LINGER 0 (RST).
    """
    if how == "reset":
        # Usually rloop never reports the reset; now and then (timing) it does.
        known_loop_bug(request, "rloop", "rloop 0.5 usually reports no connection reset",
                       strict=False)
    app = apps.DisconnectWatcher()
    srv = serve(app)
    with srv.client() as client:
        client.send(http_request("POST", "/", body=b"data"))
        assert app.body_read.wait(5)
        if how == "reset":
            client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    assert app.done.wait(5), f"receive() did not return within 5 s of the client's {how}"
    assert app.after_body == {"type": "http.disconnect"}


def test_proxy_headers_from_trusted_proxy(serve):
    app = apps.Recorder()
    srv = serve(app, proxy_headers=True, forwarded_allow_ips="127.0.0.1")
    srv.request(get("/", headers=[("X-Forwarded-For", "1.2.3.4"), ("X-Forwarded-Proto", "https")]))
    (scope,) = app.scopes
    assert scope["client"][0] == "1.2.3.4"
    assert scope["scheme"] == "https"


def test_proxy_headers_from_untrusted_address_are_ignored(serve):
    app = apps.Recorder()
    srv = serve(app, proxy_headers=True, forwarded_allow_ips="10.0.0.1")
    with srv.client() as client:
        client.send(
            get("/", headers=[("X-Forwarded-For", "1.2.3.4"), ("X-Forwarded-Proto", "https")])
        )
        client.read_final()
        local = client.local_address
    (scope,) = app.scopes
    assert tuple(scope["client"]) == (local[0], local[1])
    assert scope["scheme"] == "http"


def test_proxy_headers_off(serve):
    app = apps.Recorder()
    srv = serve(app, proxy_headers=False, forwarded_allow_ips="*")
    srv.request(get("/", headers=[("X-Forwarded-For", "1.2.3.4"), ("X-Forwarded-Proto", "https")]))
    (scope,) = app.scopes
    assert scope["client"][0] == HOST
    assert scope["scheme"] == "http"
