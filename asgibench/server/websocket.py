"""WebSockets in the core: the HTTP/1.1 upgrade handshake (RFC 6455 §4) and the one ASGI
``websocket`` cycle (ASGI WebSocket spec 2.4) that runs over any adapter.

The connection detects the upgrade once, for every HTTP parser (``HTTPConnection._on_head``
calls :func:`handshake` only for a request that has an ``Upgrade`` header), and from then on
hands its bytes to :class:`WebSocketCycle`, which feeds them to the adapter chosen with
``--ws`` (``asgibench/protocols/ws/``) and turns the adapter's events into ASGI messages.
Decisions and their reasons: docs/server.md, "WebSockets".
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import os
import sys
from collections import deque
from typing import TYPE_CHECKING, Any

from asgibench.protocols.events import ProtocolError
from asgibench.protocols.ws.events import CloseReceived, Failure, Message, Pong
from asgibench.server import http11
from asgibench.server.state import access_log, error_log

if TYPE_CHECKING:
    from asgibench.server.connection import HTTPConnection

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3
_ASGI = {"version": "3.0", "spec_version": "2.4"}
_CONNECT = {"type": "websocket.connect"}
#: How long the server waits for the client's close frame after sending its own
#: (websockets' close_timeout); then it closes the TCP connection anyway.
CLOSE_TIMEOUT = 10.0
# Response header names the server sets in a 101 itself; the app's own are dropped.
_HANDSHAKE_NAMES = frozenset((b"upgrade", b"connection", b"sec-websocket-accept",
                              b"sec-websocket-extensions", b"content-length",
                              b"transfer-encoding"))

# States of a cycle.
_CONNECTING = 0  # handshake received, the app has not answered it yet
_OPEN = 1  # accepted: messages flow
_CLOSING = 2  # the server sent its close frame and waits for the client's
_CLOSED = 3  # the WebSocket is over (both close frames, a failure, or the TCP close)
_RESPONSE = 4  # the app is sending a denial response (websocket.http.response.*)
_REFUSED = 5  # the handshake was answered with an HTTP status: nothing more goes out


class ClientDisconnected(OSError):
    """``send()`` on a WebSocket that is closed (the ASGI spec asks for an OSError)."""


def is_websocket_upgrade(method: bytes, headers: list[tuple[bytes, bytes]]) -> bool:
    """A GET asking to upgrade to WebSocket: ``Upgrade: websocket`` and ``Connection:
    upgrade`` (RFC 6455 §4.2.1, tokens case-insensitive). ``headers`` are lower-cased."""
    if method != b"GET":
        return False
    upgrade = connection = False
    for name, value in headers:
        if name == b"upgrade":
            upgrade = upgrade or any(t.strip() == b"websocket"
                                     for t in value.lower().split(b","))
        elif name == b"connection":
            connection = connection or any(t.strip() == b"upgrade"
                                           for t in value.lower().split(b","))
    return upgrade and connection


def handshake(headers: list[tuple[bytes, bytes]], has_body: bool
              ) -> tuple[bytes | None, ProtocolError | None]:
    """Check a WebSocket handshake (RFC 6455 §4.2.1): (its Sec-WebSocket-Key, None), or
    (None, the error to answer): 426 with the version we speak for a wrong
    Sec-WebSocket-Version (§4.4), 400 for a missing or malformed key."""
    versions = [value.strip() for name, value in headers if name == b"sec-websocket-version"]
    keys = [value.strip() for name, value in headers if name == b"sec-websocket-key"]
    if versions != [b"13"]:
        error = ProtocolError(426, "unsupported Sec-WebSocket-Version; this server speaks 13")
        error.headers = b"sec-websocket-version: 13\r\n"
        return None, error
    if len(keys) != 1:
        return None, ProtocolError(400, "the WebSocket handshake needs one Sec-WebSocket-Key")
    try:
        valid = len(base64.b64decode(keys[0], validate=True)) == 16
    except (binascii.Error, ValueError):
        valid = False
    if not valid:
        return None, ProtocolError(400, "invalid Sec-WebSocket-Key")
    if has_body:
        return None, ProtocolError(400, "a WebSocket handshake has no body")
    return keys[0], None


def accept_value(key: bytes) -> bytes:
    """Sec-WebSocket-Accept for ``key`` (RFC 6455 §4.2.2)."""
    return base64.b64encode(hashlib.sha1(key + _GUID).digest())


def websocket_scope(conn: HTTPConnection, http_scope: dict[str, Any]) -> dict[str, Any]:
    """The ASGI websocket scope, from the fields the connection computed for HTTP."""
    headers = http_scope["headers"]
    subprotocols = [item.strip() for name, value in headers if name == b"sec-websocket-protocol"
                    for item in value.decode("latin-1").split(",") if item.strip()]
    return {
        "type": "websocket",
        "asgi": _ASGI,
        "http_version": http_scope["http_version"],
        "scheme": "wss" if http_scope["scheme"] == "https" else "ws",
        "server": http_scope["server"],
        "client": http_scope["client"],
        "root_path": http_scope["root_path"],
        "path": http_scope["path"],
        "raw_path": http_scope["raw_path"],
        "query_string": http_scope["query_string"],
        "headers": headers,
        "subprotocols": subprotocols,
        "state": http_scope["state"],
        # The Denial Response extension: the app may answer the handshake with any
        # HTTP response (websocket.http.response.start/body).
        "extensions": {"websocket.http.response": {}},
    }


class WebSocketCycle:
    """One WebSocket: the handshake's answer, then messages both ways, then the close.

    It stands in the connection's request queue like a ``RequestCycle`` (the worker runs
    its app through ``scope``/``receive``/``send``/``app_returned``/``app_failed``), and
    once it is queued the connection hands it every byte it reads (``data_received``).
    """

    keep_alive = False

    def __init__(self, conn: HTTPConnection, scope: dict[str, Any], key: bytes,
                 adapter: Any, extensions: bytes | None) -> None:
        self.conn = conn
        self.scope = scope
        self.key = key
        self.adapter = adapter
        self.extensions = extensions
        config = conn.state.config
        self.max_queue = max(1, config.ws_max_queue)
        self.ping_interval = config.ws_ping_interval
        self.ping_timeout = config.ws_ping_timeout
        self.state = _CONNECTING
        self.connect_delivered = False
        self.queue: deque[dict[str, Any]] = deque()
        self.waiter: asyncio.Future[None] | None = None
        self.early: list[bytes] = []  # bytes the client sent before our 101
        # The handshake's head, until the connection checked the read that brought it.
        self.head: Any = None
        self.read_blocked = False
        self.close_code = 1006  # RFC 6455 §7.1.5: closed without a close frame
        self.close_reason = ""
        self.ping_payload: bytes | None = None
        self.timer: asyncio.TimerHandle | None = None  # ping, pong timeout or close timeout
        self.app_done = False
        self.status = 0

    # Bytes and events from the connection

    def data_received(self, data: bytes) -> None:
        state = self.state
        if state is _OPEN or state is _CLOSING:
            self._feed(data)
        elif state is _CONNECTING:
            # RFC 6455 §4.1: a client waits for our answer before it sends. Kept for after
            # the accept, and nothing more is read meanwhile.
            self.early.append(data)
            self._block_reading()

    def _feed(self, data: bytes) -> None:
        adapter = self.adapter
        queue = self.queue
        ended = None
        for event in adapter.feed(data):
            kind = type(event)
            if kind is Message:
                payload = event.data
                queue.append({"type": "websocket.receive", "text": payload}
                             if type(payload) is str else
                             {"type": "websocket.receive", "bytes": payload})
            elif kind is Pong:
                if event.payload == self.ping_payload:
                    self.ping_payload = None
                    self._schedule_ping()
            elif kind is CloseReceived or kind is Failure:
                ended = event
        out = adapter.take_output()
        if out:
            self.conn.write(out)
        if ended is not None:
            if type(ended) is Failure:
                error_log.debug("WebSocket protocol error from %s: %s (close %d)",
                                self.scope["client"], ended.reason, ended.code)
            self._finish(ended.code, ended.reason)
        elif len(queue) >= self.max_queue:
            self._block_reading()  # --ws-max-queue: the app is behind; the client waits
        self._wake()

    def disconnect(self) -> None:
        """The TCP connection is gone."""
        if self.state is not _CLOSED:
            self.state = _CLOSED
        self._cancel_timer()
        self._wake()

    def peer_closed(self) -> None:
        """EOF from the client without a closing handshake: 1006, and close (after the
        accept, if the app has not answered the handshake yet)."""
        if self.state is _OPEN or self.state is _CLOSING:
            self._finish(1006, "")
        elif self.state is _CONNECTING:
            self.early.append(b"")  # the end of what the client sent before our 101

    def take_over(self, status: int) -> bool:
        """Graceful shutdown ran out: answer ``status`` if the handshake is unanswered."""
        if self.state is _CONNECTING:
            self.state = _REFUSED
            self._wake()
            return True
        return False

    def shutdown(self) -> None:
        """The server is stopping: close an open WebSocket with 1012 (Service Restart)
        and tell the app at once; a handshake still unanswered is closed so when accepted."""
        if self.state is _OPEN:
            self.conn.write(self.adapter.send_close(1012, "server shutting down"))
            self._finish(1012, "server shutting down")
        elif self.state is _CLOSED or self.state is _REFUSED:
            self.conn.close()

    # The ASGI application

    async def receive(self) -> dict[str, Any]:
        if not self.connect_delivered:
            self.connect_delivered = True
            return _CONNECT
        while True:
            queue = self.queue
            if queue:
                message = queue.popleft()
                if self.read_blocked and len(queue) <= self.max_queue // 2:
                    self._unblock_reading()
                return message
            state = self.state
            if state is _CLOSED or state is _REFUSED:
                return {"type": "websocket.disconnect", "code": self.close_code,
                        "reason": self.close_reason}
            self.waiter = self.conn.loop.create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None

    async def send(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        state = self.state
        conn = self.conn
        if state is _OPEN:
            if kind == "websocket.send":
                data = message.get("text")
                if data is None:
                    data = message.get("bytes")
                    if data is None:
                        raise RuntimeError("websocket.send needs 'bytes' or 'text'")
                conn.write(self.adapter.send_message(data))
                if conn.writing_paused:
                    await conn.drain()  # a slow reader holds the app here
                return
            if kind == "websocket.close":
                self._start_close(message.get("code") or 1000, message.get("reason") or "")
                return
            raise RuntimeError(f"unexpected {kind!r} on an open WebSocket")
        if state is _CONNECTING:
            if kind == "websocket.accept":
                self._accept(message)
            elif kind == "websocket.close":
                # Refused before the handshake completed: 403 (ASGI WebSocket spec).
                self._refuse(403, "WebSocket connection refused")
                self.close_code = message.get("code") or 1000
            elif kind == "websocket.http.response.start":
                self._start_response(message)
            else:
                raise RuntimeError(f"expected 'websocket.accept', 'websocket.close' or "
                                   f"'websocket.http.response.start', got {kind!r}")
            return
        if state is _RESPONSE:
            if kind != "websocket.http.response.body":
                raise RuntimeError(f"expected 'websocket.http.response.body', got {kind!r}")
            body = message.get("body", b"")
            if body:
                conn.write(body)
            if not message.get("more_body", False):
                self.state = _REFUSED
                conn.close()
            elif conn.writing_paused:
                await conn.drain()
            return
        raise ClientDisconnected(f"{kind!r} on a closed WebSocket")

    def app_failed(self) -> None:
        exc = sys.exc_info()[1]
        state = self.state
        if not (isinstance(exc, ClientDisconnected) and state is _CLOSED):
            error_log.exception("Exception in ASGI application")
        if state is _CONNECTING:
            self._refuse(500, "the application failed")
        elif state is _OPEN:
            self._start_close(1011, "internal error")  # RFC 6455 §7.4.1
        elif state is _RESPONSE:
            self.conn.abort()
        self._app_ended()

    def app_returned(self) -> None:
        state = self.state
        if state is _CONNECTING:
            error_log.error("ASGI application returned without accepting or closing "
                            "the WebSocket")
            self._refuse(500, "the application did not answer the WebSocket handshake")
        elif state is _OPEN:
            self._start_close(1000, "")
        elif state is _RESPONSE:
            error_log.error("ASGI application returned without completing the response")
            self.conn.abort()
        self._app_ended()

    def _app_ended(self) -> None:
        self.app_done = True
        conn = self.conn
        conn.cycle = None
        if self.state is _CLOSED or self.state is _REFUSED:
            conn.close()

    # Handshake answers

    def _accept(self, message: dict[str, Any]) -> None:
        conn = self.conn
        lines = [b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n"
                 b"connection: Upgrade\r\nsec-websocket-accept: %b\r\n" % accept_value(self.key)]
        subprotocol = message.get("subprotocol")
        if subprotocol is not None:
            lines.append(http11.render_header(b"sec-websocket-protocol",
                                              subprotocol.encode("latin-1"))[1])
        if self.extensions:
            lines.append(b"sec-websocket-extensions: %b\r\n" % self.extensions)
        lines.append(self._app_headers(message.get("headers") or (), _HANDSHAKE_NAMES))
        lines.append(b"\r\n")
        conn.write(b"".join(lines))
        self.state = _OPEN
        self.status = 101
        self._log_access()
        early, self.early = self.early, []
        if self.read_blocked:
            self._unblock_reading()
        if conn.closing:  # shutting down meanwhile: the handshake completes, then 1012
            self.shutdown()
            return
        self._schedule_ping()
        for data in early:
            if self.state is not _OPEN:
                break
            if data:
                self._feed(data)
            else:  # the client's EOF came before the accept
                self._finish(1006, "")

    def _start_response(self, message: dict[str, Any]) -> None:
        """The Denial Response extension: any HTTP response instead of the handshake; the
        connection closes after it (the body is close-delimited without a length)."""
        status = message["status"]
        lines = [http11.status_line(status)]
        lines.append(self._app_headers(message.get("headers") or (),
                                       frozenset((b"connection", b"transfer-encoding"))))
        lines.append(b"connection: close\r\n\r\n")
        self.conn.write(b"".join(lines))
        self.state = _RESPONSE
        self.status = status
        self._log_access()

    def _refuse(self, status: int, reason: str) -> None:
        self.state = _REFUSED
        self.status = status
        self._log_access()
        self.conn.write(self.conn.state.error_response(status, reason))
        self.conn.close()
        self._wake()

    def _app_headers(self, headers: Any, skip: frozenset[bytes]) -> bytes:
        state = self.conn.state
        lines = []
        add_server = add_date = True
        for name, value in headers:
            lname, line = http11.render_header(name, value)
            if lname in skip:
                continue
            if lname == b"server":
                add_server = False
            elif lname == b"date":
                add_date = False
            lines.append(line)
        if add_server:
            lines.append(state.server_line)
        if add_date:
            lines.append(state.date_line)
        return b"".join(lines)

    def _log_access(self) -> None:
        if self.conn.state.access_log:
            client = self.scope["client"]
            query = self.scope["query_string"]
            target = self.scope["raw_path"] + (b"?" + query if query else b"")
            access_log.info('%s - "WebSocket %s" %d',
                            f"{client[0]}:{client[1]}" if client else "-",
                            target.decode("latin-1").encode("unicode_escape").decode("ascii"),
                            self.status)

    # Closing

    def _start_close(self, code: int, reason: str) -> None:
        """The server starts the closing handshake (RFC 6455 §7.1.2): its close frame,
        then the client's within CLOSE_TIMEOUT, then the TCP close."""
        if self.state is not _OPEN:
            return
        self.conn.write(self.adapter.send_close(code, reason))
        self.state = _CLOSING
        self.close_code, self.close_reason = code, reason
        self._cancel_timer()
        self.timer = self.conn.loop.call_later(CLOSE_TIMEOUT, self._close_timed_out)

    def _close_timed_out(self) -> None:
        self.timer = None
        if self.state is _CLOSING:
            self._finish(1006, "")

    def _finish(self, code: int, reason: str) -> None:
        """The WebSocket is over: tell the app, and close the TCP connection (the server
        closes first, RFC 6455 §7.1.1)."""
        self.state = _CLOSED
        self.close_code, self.close_reason = code, reason
        self._cancel_timer()
        self._wake()
        self.conn.close()

    # Liveness: --ws-ping-interval / --ws-ping-timeout

    def _schedule_ping(self) -> None:
        self._cancel_timer()
        if self.ping_interval and self.state is _OPEN:
            self.timer = self.conn.loop.call_later(self.ping_interval, self._ping)

    def _ping(self) -> None:
        self.timer = None
        if self.state is not _OPEN:
            return
        self.ping_payload = payload = os.urandom(4)
        self.conn.write(self.adapter.send_ping(payload))
        if self.ping_timeout:
            self.timer = self.conn.loop.call_later(self.ping_timeout, self._pong_timed_out)
        else:
            self.ping_payload = None
            self._schedule_ping()

    def _pong_timed_out(self) -> None:
        self.timer = None
        if self.state is _OPEN and self.ping_payload is not None:
            # As websockets: 1011 "keepalive ping timeout", and the TCP connection closes.
            self.conn.write(self.adapter.send_close(1011, "keepalive ping timeout"))
            self._finish(1011, "keepalive ping timeout")

    def _cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    # Flow control of incoming messages

    def _block_reading(self) -> None:
        if not self.read_blocked:
            self.read_blocked = True
            if not self.conn.reading_paused:
                self.conn._pause_reading()

    def _unblock_reading(self) -> None:
        self.read_blocked = False
        if self.conn.reading_paused:
            self.conn._maybe_resume_reading()

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
