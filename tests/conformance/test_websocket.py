"""WebSockets (RFC 6455, ASGI WebSocket spec 2.4) on real sockets.

The core set runs on every loop x HTTP parser x WebSocket implementation (``ws_combo``);
cases whose behaviour rests on one layer only run one cell per value of that layer
(``WS_IMPL_COMBOS``: the WebSocket implementation decides protocol errors and limits;
``PARSER_COMBOS``: the HTTP parser feeds the handshake checks; ``LOOP_WS_COMBOS``: the loop's
transport carries back-pressure). Well-behaved clients are the ``websockets`` library's sync
client; hostile ones are raw frames (``wsclient.py``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from asgibench.protocols.ws import WEBSOCKETS

from .client import RawClient, get
from .conftest import LOOP_STATUSES, PROTO_STATUSES, Running, start_server, traceback_records
from .wsclient import (
    BINARY,
    CLOSE,
    PING,
    PONG,
    TEXT,
    close_payload,
    frame,
    handshake_request,
    open_raw,
)

pytestmark = pytest.mark.timeout(30)

WS_IMPLS = [(b.name, None if b.available()[0] else f"{b.name}: {b.available()[1]}")
            for b in WEBSOCKETS.plugins() if b.name != "none"]
_FIRST = {"loop": next(n for n, skip in LOOP_STATUSES if skip is None),
          "proto": next(n for n, skip in PROTO_STATUSES if skip is None),
          "ws": next((n for n, skip in WS_IMPLS if skip is None), "websockets")}


def _param(loop: tuple[str, str | None], proto: tuple[str, str | None],
           ws: tuple[str, str | None]) -> Any:
    reason = loop[1] or proto[1] or ws[1]
    return pytest.param((loop[0], proto[0], ws[0]), id=f"{loop[0]}-{proto[0]}-{ws[0]}",
                        marks=[pytest.mark.skip(reason=reason)] if reason else [])


def _first(statuses: list[tuple[str, str | None]], key: str) -> tuple[str, str | None]:
    return next(((n, s) for n, s in statuses if n == _FIRST[key]), statuses[0])


ALL_WS_COMBOS = [_param(loop, proto, ws) for loop in LOOP_STATUSES for proto in PROTO_STATUSES
                 for ws in WS_IMPLS]
#: One cell per WebSocket implementation (first loop and parser).
WS_IMPL_COMBOS = [_param(_first(LOOP_STATUSES, "loop"), _first(PROTO_STATUSES, "proto"), ws)
                  for ws in WS_IMPLS]
#: One cell per HTTP parser (the handshake's checks are the core's, fed by the parser).
PARSER_COMBOS = [_param(_first(LOOP_STATUSES, "loop"), proto, _first(WS_IMPLS, "ws"))
                 for proto in PROTO_STATUSES]
#: One cell per loop (flow control rests on the loop's transport).
LOOP_WS_COMBOS = [_param(loop, _first(PROTO_STATUSES, "proto"), _first(WS_IMPLS, "ws"))
                  for loop in LOOP_STATUSES]


@pytest.fixture(params=ALL_WS_COMBOS)
def ws_combo(request: pytest.FixtureRequest) -> tuple[str, str, str]:
    return request.param


@pytest.fixture
def wserve(ws_combo: tuple[str, str, str], caplog: pytest.LogCaptureFixture
           ) -> Iterator[Callable[..., Running]]:
    """``wserve(app, **overrides)``: a server on this cell; at teardown it must stop, have
    no task left and have logged no traceback the test did not expect (``app.tracebacks``)."""
    loop, proto, ws = ws_combo
    started: list[tuple[Running, Any]] = []
    caplog.set_level(logging.INFO, logger="asgibench")

    def start(app: Any, **overrides: Any) -> Running:
        overrides.setdefault("loop", loop)
        overrides.setdefault("proto", proto)
        overrides.setdefault("ws", ws)
        running = start_server(app, **overrides)
        started.append((running, app))
        return running

    yield start
    for running, _ in started:
        state = running.server._state
        running.stop()
        assert not running.errors, running.errors
        assert not state.tasks, f"tasks left: {state.tasks}"
    expected = sum(getattr(app, "tracebacks", 0) for _, app in started)
    records = traceback_records(caplog.get_records("call") + caplog.records)
    assert len(records) == expected, [r.getMessage() for r in records]


def url(srv: Running, path: str = "/echo") -> str:
    return f"ws://127.0.0.1:{srv.port}{path}"


class WsApp:
    """Routes by path; records what the app saw (``disconnects``, ``scopes``)."""

    def __init__(self) -> None:
        self.disconnects: list[dict[str, Any]] = []
        self.scopes: list[dict[str, Any]] = []
        self.accepted = threading.Event()
        self.release = threading.Event()
        self.sent = 0
        self.received: list[Any] = []
        self.tracebacks = 0
        self.send_errors: list[BaseException] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return
        if scope["type"] == "http":
            body = f"http scope: {scope['path']}".encode()
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-length", b"%d" % len(body))]})
            await send({"type": "http.response.body", "body": body})
            return
        self.scopes.append(scope)
        path = scope["path"]
        query = {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}
        assert (await receive()) == {"type": "websocket.connect"}
        if path == "/reject":
            await send({"type": "websocket.close"})
            self.disconnects.append(await receive())
            return
        if path == "/deny":
            await send({"type": "websocket.http.response.start", "status": 401,
                        "headers": [(b"content-type", b"text/plain"), (b"x-why", b"token")]})
            await send({"type": "websocket.http.response.body", "body": b"no ",
                        "more_body": True})
            await send({"type": "websocket.http.response.body", "body": b"entry"})
            return
        if path == "/error-before":
            raise RuntimeError("boom before accept")
        if path == "/return-before":
            return
        accept: dict[str, Any] = {"type": "websocket.accept"}
        if scope["subprotocols"]:
            accept["subprotocol"] = scope["subprotocols"][-1]
            accept["headers"] = [(b"x-extra", b"yes")]
        await send(accept)
        self.accepted.set()
        if path == "/close":
            await send({"type": "websocket.close", "code": int(query.get("code", 1000)),
                        "reason": query.get("reason", "")})
            self.disconnects.append(await receive())
            return
        if path == "/error-after":
            raise RuntimeError("boom after accept")
        if path == "/scope":
            await send({"type": "websocket.send", "text": json.dumps({
                k: scope[k] for k in ("path", "query_string", "scheme", "subprotocols",
                                      "http_version", "extensions", "asgi")
            }, default=lambda b: b.decode())})
        if path == "/hold":
            while not self.release.is_set():
                await asyncio.sleep(0.01)
        if path == "/flood":
            payload = b"f" * 65536
            try:
                for _ in range(int(query["n"])):
                    await send({"type": "websocket.send", "bytes": payload})
                    self.sent += 1
            except OSError as exc:
                self.send_errors.append(exc)
            self.disconnects.append(await receive())
            return
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                self.disconnects.append(message)
                return
            self.received.append(message.get("text", message.get("bytes")))
            if path in ("/echo", "/hold") or path == "/scope":
                await send({"type": "websocket.send", **{k: message[k] for k in
                                                         ("text", "bytes") if k in message}})


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return predicate()


# ---- the core set: every loop x parser x WebSocket implementation


def test_handshake_and_scope(wserve):
    app = WsApp()
    srv = wserve(app)
    with connect(url(srv, "/scope?x=1"), subprotocols=["chat", "superchat"],
                 compression=None) as ws:
        response = ws.response
        assert response.status_code == 101
        assert response.headers["upgrade"].lower() == "websocket"
        assert response.headers["sec-websocket-protocol"] == "superchat"
        assert response.headers["x-extra"] == "yes"
        assert response.headers["server"] == "asgibench"
        assert "sec-websocket-extensions" not in response.headers
        seen = json.loads(ws.recv())
    assert seen == {"path": "/scope", "query_string": "x=1", "scheme": "ws",
                    "subprotocols": ["chat", "superchat"], "http_version": "1.1",
                    "extensions": {"websocket.http.response": {}},
                    "asgi": {"version": "3.0", "spec_version": "2.4"}}


def test_echo_text_binary_fragmented_large(wserve):
    app = WsApp()
    srv = wserve(app)
    large = bytes(range(256)) * 4096  # 1 MiB
    with connect(url(srv), max_size=None) as ws:
        ws.send("héllo")
        assert ws.recv() == "héllo"
        ws.send(b"\x00\xff")
        assert ws.recv() == b"\x00\xff"
        ws.send(["frag", "men", "ted"])  # one message in three frames
        assert ws.recv() == "fragmented"
        ws.send(large)
        assert ws.recv() == large
        ws.send("")
        assert ws.recv() == ""
    assert wait_for(lambda: app.disconnects)
    assert app.disconnects[0]["code"] == 1000


def test_ping_pong(wserve):
    srv = wserve(WsApp())
    with connect(url(srv)) as ws:
        assert ws.ping(b"abc").wait(5)
        ws.send("after ping")
        assert ws.recv() == "after ping"


def test_client_close_code_and_reason_reach_the_app(wserve):
    app = WsApp()
    srv = wserve(app)
    with connect(url(srv)) as ws:
        ws.send("x")
        ws.recv()
        ws.close(4001, "bye now")
    assert wait_for(lambda: app.disconnects)
    assert app.disconnects[0] == {"type": "websocket.disconnect", "code": 4001,
                                  "reason": "bye now"}


def test_server_close_with_code_and_reason(wserve):
    app = WsApp()
    srv = wserve(app)
    with connect(url(srv, "/close?code=4002&reason=done")) as ws:
        with pytest.raises(ConnectionClosed) as info:
            ws.recv()
    assert info.value.rcvd.code == 4002
    assert info.value.rcvd.reason == "done"
    assert wait_for(lambda: app.disconnects)
    assert app.disconnects[0]["type"] == "websocket.disconnect"


def test_rejections_and_denial_response(wserve):
    app = WsApp()
    srv = wserve(app)
    with pytest.raises(InvalidStatus) as info:
        connect(url(srv, "/reject"))
    assert info.value.response.status_code == 403
    with pytest.raises(InvalidStatus) as info:
        connect(url(srv, "/deny"))
    response = info.value.response
    assert response.status_code == 401
    assert response.headers["x-why"] == "token"
    assert response.body == b"no entry"
    assert wait_for(lambda: app.disconnects)
    assert app.disconnects[0]["type"] == "websocket.disconnect"


def test_app_errors_before_and_after_accept(wserve):
    app = WsApp()
    app.tracebacks = 2
    srv = wserve(app)
    with pytest.raises(InvalidStatus) as info:
        connect(url(srv, "/error-before"))
    assert info.value.response.status_code == 500
    with pytest.raises(InvalidStatus) as info:
        connect(url(srv, "/return-before"))
    assert info.value.response.status_code == 500
    with connect(url(srv, "/error-after")) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv()
    assert closed.value.rcvd.code == 1011


def test_permessage_deflate_negotiated(wserve):
    app = WsApp()
    srv = wserve(app)
    text = "compress me " * 1000
    with connect(url(srv)) as ws:  # the client offers permessage-deflate
        assert "permessage-deflate" in ws.response.headers["sec-websocket-extensions"]
        ws.send(text)
        assert ws.recv() == text
    srv2 = wserve(WsApp(), ws_per_message_deflate=False)
    with connect(url(srv2)) as ws:
        assert "sec-websocket-extensions" not in ws.response.headers
        ws.send(text)
        assert ws.recv() == text


def test_shutdown_closes_with_1012(wserve):
    app = WsApp()
    srv = wserve(app)
    with connect(url(srv)) as ws:
        ws.send("x")
        assert ws.recv() == "x"
        srv.server.request_exit()
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=5)
    assert info.value.rcvd.code == 1012
    srv.thread.join(5)
    assert not srv.thread.is_alive()
    assert app.disconnects[0]["code"] == 1012


def test_plain_http_beside_websockets(wserve):
    """A request without Upgrade, and one with Upgrade: h2c, stay plain HTTP; a keep-alive
    connection may upgrade after HTTP requests."""
    srv = wserve(WsApp())
    with srv.client() as client:
        client.send(get("/a"))
        assert client.read_final().body == b"http scope: /a"
        client.send(b"GET /b HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
        assert client.read_final().body == b"http scope: /b"
        client.send(handshake_request("/echo"))
        assert client.read_response(head=True).status == 101
        client.send(frame(TEXT, b"hi"))
        assert bytes(client.buf) or client.sock.recv(100)


# ---- one cell per HTTP parser: the core's handshake checks


@pytest.mark.parametrize("ws_combo", PARSER_COMBOS, indirect=True)
def test_bad_handshakes(wserve):
    srv = wserve(WsApp())
    response = srv.request(handshake_request(version=b"8"))
    assert response.status == 426
    assert response.header("sec-websocket-version") == b"13"
    assert srv.request(handshake_request(key=None)).status == 400
    assert srv.request(handshake_request(key=b"c2hvcnQ=")).status == 400  # 5 bytes
    assert srv.request(handshake_request(extra=b"Content-Length: 3\r\n") + b"abc").status == 400
    # A client that sends frames before our 101 (RFC 6455 §4.1: it must wait).
    assert srv.request(handshake_request() + frame(TEXT, b"early")).status == 400
    # Not an upgrade to WebSocket: plain HTTP.
    response = srv.request(b"GET /p HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n")
    assert (response.status, response.body) == (200, b"http scope: /p")


@pytest.mark.parametrize("ws_combo", PARSER_COMBOS, indirect=True)
def test_ws_none_answers_upgrades_as_http(wserve):
    srv = wserve(WsApp(), ws="none")
    response = srv.request(handshake_request("/echo"))
    assert (response.status, response.body) == (200, b"http scope: /echo")


# ---- one cell per WebSocket implementation: protocol errors and limits


@pytest.mark.parametrize("ws_combo", WS_IMPL_COMBOS, indirect=True)
@pytest.mark.parametrize(("data", "code"), [
    (frame(TEXT, b"unmasked", mask=False), 1002),
    (frame(TEXT, b"\xff\xfe bad utf-8"), 1007),
    (frame(0x3, b"reserved opcode"), 1002),
    (frame(0xB, b"reserved control opcode"), 1002),
    (frame(PING, b"p" * 126), 1002),  # control frames carry at most 125 bytes
    (frame(PING, b"p", fin=False), 1002),  # and are never fragmented
    (frame(TEXT, b"rsv", rsv=0b100), 1002),  # RSV1 without a negotiated extension
    (frame(0x0, b"continuation of nothing"), 1002),
    (frame(TEXT, b"a", fin=False) + frame(TEXT, b"b"), 1002),  # a new message mid-message
    (frame(CLOSE, close_payload(999)), 1002),  # an invalid close code
], ids=["unmasked", "bad-utf8", "reserved-opcode", "reserved-control", "big-control",
        "fragmented-control", "rsv1", "bare-continuation", "interleaved", "bad-close-code"])
def test_protocol_errors_close_with_rfc_codes(wserve, data, code):
    app = WsApp()
    srv = wserve(app)
    ws = open_raw(srv.addr, "/echo")
    with ws.client:
        ws.send(data)
        assert ws.read_close()[0] == code
        assert ws.at_eof()
    assert wait_for(lambda: app.disconnects)
    assert app.disconnects[0]["code"] == code


@pytest.mark.parametrize("ws_combo", WS_IMPL_COMBOS, indirect=True)
def test_max_size_closes_with_1009(wserve):
    app = WsApp()
    srv = wserve(app, ws_max_size=1000)
    with connect(url(srv), max_size=None, compression=None) as ws:
        ws.send("x" * 1000)
        assert ws.recv() == "x" * 1000
        ws.send(["y" * 600, "y" * 600])  # the limit is per message, across fragments
        with pytest.raises(ConnectionClosed) as info:
            ws.recv()
    assert info.value.rcvd.code == 1009


@pytest.mark.parametrize("ws_combo", WS_IMPL_COMBOS, indirect=True)
def test_compressed_bomb_is_bounded_by_max_size(wserve):
    srv = wserve(WsApp(), ws_max_size=100_000)
    with connect(url(srv), max_size=None) as ws:
        assert "permessage-deflate" in ws.response.headers["sec-websocket-extensions"]
        ws.send(b"\x00" * 5_000_000)  # compresses to a few KiB
        with pytest.raises(ConnectionClosed) as info:
            ws.recv()
    assert info.value.rcvd.code == 1009


@pytest.mark.parametrize("ws_combo", WS_IMPL_COMBOS, indirect=True)
def test_ping_timeout_closes_with_1011(wserve):
    app = WsApp()
    srv = wserve(app, ws_ping_interval=0.05, ws_ping_timeout=0.1)
    ws = open_raw(srv.addr, "/echo")
    with ws.client:
        assert ws.read_frame()[0] == PING
        assert ws.read_close() == (1011, "keepalive ping timeout")
        assert ws.at_eof()
    # A client that answers pings stays connected.
    with connect(url(srv)) as client:
        time.sleep(0.4)
        client.send("alive")
        assert client.recv() == "alive"


@pytest.mark.parametrize("ws_combo", WS_IMPL_COMBOS, indirect=True)
def test_raw_ping_pong_and_close_echo(wserve):
    srv = wserve(WsApp())
    ws = open_raw(srv.addr, "/echo")
    with ws.client:
        ws.send(frame(PING, b"raw"))
        assert ws.read_frame() == (PONG, b"raw")
        ws.send(frame(BINARY, b"x" * 70000))
        assert ws.read_frame() == (BINARY, b"x" * 70000)
        ws.send(frame(CLOSE, close_payload(1000, "ok")))
        assert ws.read_close() == (1000, "ok")
        assert ws.at_eof()  # the server closes the TCP connection first (§7.1.1)


@pytest.mark.parametrize("ws_combo", WS_IMPL_COMBOS, indirect=True)
def test_abrupt_disconnects_are_quiet(wserve):
    """Resets, EOF mid-frame and an unanswered close: 1006 for the app, no traceback,
    no task left (the fixture checks both)."""
    app = WsApp()
    srv = wserve(app)
    ws = open_raw(srv.addr, "/echo")
    ws.send(frame(TEXT, b"half a frame")[:5])
    ws.client.sock.shutdown(socket.SHUT_WR)
    assert ws.at_eof()
    ws.client.close()
    ws = open_raw(srv.addr, "/echo")
    ws.client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    ws.client.close()  # RST
    assert wait_for(lambda: len(app.disconnects) == 2)
    # EOF right after the handshake, before the app accepted: the 101, then 1006.
    with RawClient(srv.addr) as client:
        client.send(handshake_request("/echo"))
        client.sock.shutdown(socket.SHUT_WR)
        assert client.read_response(head=True).status == 101
        assert client.read_until_eof() == b""
    assert wait_for(lambda: len(app.disconnects) == 3)
    assert [d["code"] for d in app.disconnects] == [1006, 1006, 1006]


# ---- one cell per loop: flow control both ways


@pytest.mark.parametrize("ws_combo", LOOP_WS_COMBOS, indirect=True)
def test_fast_sender_is_not_read_ahead_of_the_app(wserve):
    app = WsApp()
    srv = wserve(app, ws_max_queue=4)
    ws = open_raw(srv.addr, "/hold")
    message = frame(BINARY, b"m" * 65536)
    sent = 0
    with ws.client:
        ws.client.sock.settimeout(0.5)
        try:
            for _ in range(1000):  # 64 MiB: far beyond the socket buffers
                ws.client.sock.sendall(message)
                sent += 1
        except TimeoutError:
            pass
        assert sent < 1000, "the server read everything the client sent"
        assert app.received == []
        app.release.set()  # the app reads now: the rest is read too, all of it, in order
        for _ in range(sent):
            assert ws.read_frame(timeout=10) == (BINARY, b"m" * 65536)
        ws.send(frame(CLOSE, close_payload(1000)))
        ws.read_close()


@pytest.mark.parametrize("ws_combo", LOOP_WS_COMBOS, indirect=True)
def test_slow_reader_pauses_the_apps_send(wserve):
    app = WsApp()
    srv = wserve(app)
    ws = open_raw(srv.addr, "/flood?n=1000")  # 64 MiB
    with ws.client:
        time.sleep(0.3)
        paused_at = app.sent
        assert paused_at < 1000, "send() did not wait for the client"
        time.sleep(0.1)
        assert app.sent == paused_at
        for _ in range(1000):
            assert ws.read_frame(timeout=10)[0] == BINARY
        assert app.sent == 1000
        ws.send(frame(CLOSE, close_payload(1000)))
        ws.read_close()


def test_bench_serve_ws_flags(spawn):
    process = spawn(["app_module:app", "--ws", "bogus"])
    assert process.wait(15) != 0
    assert "bogus" in process.stderr() and "websockets" in process.stderr()


def test_inflate_sanity():
    """The bomb above really is small on the wire (the test would prove nothing else)."""
    assert len(zlib.compress(b"\x00" * 5_000_000)) < 10_000


def test_bench_protos_lists_websocket_implementations():
    from .test_cli import _bench

    result = _bench("protos")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "WebSocket implementations" in out
    for backend in WEBSOCKETS.plugins():
        row = next((line for line in out.splitlines() if f" {backend.name} " in line), None)
        assert row is not None, f"no row for {backend.name} in:\n{out}"
        assert ("unavailable" in row) is (not backend.available()[0]), row
        if backend.version():
            assert backend.version() in row
    assert f"auto resolves to: {WEBSOCKETS.auto_name()}" in " ".join(out.split())


@pytest.mark.parametrize("ws_combo", WS_IMPL_COMBOS, indirect=True)
def test_random_bytes_after_the_handshake_are_quiet(wserve):
    """Garbage frames (seeded): each connection ends with a close frame or EOF; the fixture
    checks that nothing was logged with a traceback and no task is left."""
    import random

    rng = random.Random(14)
    app = WsApp()
    srv = wserve(app, ws_max_size=4096)
    for i in range(25):
        ws = open_raw(srv.addr, "/echo")
        with ws.client:
            garbage = bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 300)))
            if i % 2:  # a plausible masked header first, then garbage
                garbage = frame(rng.choice([TEXT, BINARY, PING]), garbage[:50]) + garbage
            ws.send(garbage)
            ws.client.sock.shutdown(socket.SHUT_WR)
            try:
                while True:
                    ws.read_frame(timeout=5)
            except (EOFError, ConnectionResetError):
                pass
    # Every app returned (an echo into a connection the garbage closed raises in the app,
    # which is the app's business: ClientDisconnected, not logged by the server).
    assert wait_for(lambda: srv.server._state.active == 0)
