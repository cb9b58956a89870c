"""Adapter for wsproto's frame-level ``Connection`` (wsproto 1.x).

The core did the opening handshake, so the adapter makes wsproto's ``Connection`` (the
object ``WSConnection`` hands over to after its own HTTP handshake) directly, with
permessage-deflate negotiated by ``server_extensions_handshake``. wsproto checks masking,
reserved bits and opcodes, control-frame size, close codes and UTF-8 (incrementally) and
reports a violation as a ``CloseConnection`` carrying RFC 6455's code; it has no message
size limit, so the adapter counts each message as its pieces arrive (1009 past the limit).
"""

from __future__ import annotations

from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import (
    BytesMessage,
    CloseConnection,
    Ping,
    TextMessage,
)
from wsproto.events import (
    Message as WsprotoMessage,
)
from wsproto.events import (
    Pong as WsprotoPong,
)
from wsproto.extensions import PerMessageDeflate
from wsproto.handshake import server_extensions_handshake
from wsproto.utilities import LocalProtocolError

from asgibench.protocols.ws.events import CloseReceived, Failure, Message, Pong, WsEvent

_OPEN = ConnectionState.OPEN
_REMOTE_CLOSING = ConnectionState.REMOTE_CLOSING


class WsprotoAdapter:
    name = "wsproto"

    def __init__(self, max_size: int, per_message_deflate: bool) -> None:
        self._max_size = max_size
        self._deflate = per_message_deflate
        self._conn = Connection(ConnectionType.SERVER)
        self._parts: list[str | bytes] = []
        self._size = 0
        self._out: list[bytes] = []
        self._done = False

    def negotiate(self, offers: list[bytes]) -> bytes | None:
        if not self._deflate or not offers:
            return None
        requested = [item.strip() for value in offers
                     for item in value.decode("latin-1").split(",") if item.strip()]
        extension = PerMessageDeflate()
        try:
            accepted = server_extensions_handshake(requested, [extension])
        except Exception:  # a malformed offer: no extension rather than a failure
            return None
        if accepted:
            self._conn = Connection(ConnectionType.SERVER, extensions=[extension])
        return accepted

    def feed(self, data: bytes) -> list[WsEvent]:
        if self._done:
            return []
        conn = self._conn
        conn.receive_data(data)
        events: list[WsEvent] = []
        for event in conn.events():
            kind = type(event)
            if kind is TextMessage or kind is BytesMessage:
                self._size += len(event.data)
                if self._size > self._max_size:
                    self._fail(1009, "message too big", events)
                    return events
                if event.message_finished:
                    parts = self._parts
                    if parts:
                        parts.append(event.data)
                        data = "".join(parts) if kind is TextMessage else b"".join(parts)
                        self._parts = []
                    else:
                        data = event.data
                    self._size = 0
                    events.append(Message(data if kind is TextMessage else bytes(data)))
                else:
                    self._parts.append(event.data)
            elif kind is Ping:
                self._out.append(conn.send(event.response()))
            elif kind is WsprotoPong:
                events.append(Pong(bytes(event.payload)))
            elif kind is CloseConnection:
                self._done = True
                if conn.state is _REMOTE_CLOSING:
                    self._out.append(conn.send(event.response()))
                    events.append(CloseReceived(event.code, event.reason or ""))
                elif conn.state is _OPEN:  # a protocol violation wsproto found
                    self._out.append(conn.send(CloseConnection(event.code, event.reason)))
                    events.append(Failure(event.code, event.reason or ""))
                else:  # the client's answer to our close
                    events.append(CloseReceived(event.code, event.reason or ""))
                return events
        return events

    def _fail(self, code: int, reason: str, events: list[WsEvent]) -> None:
        self._done = True
        if self._conn.state is _OPEN:
            self._out.append(self._conn.send(CloseConnection(code, reason)))
        events.append(Failure(code, reason))

    def send_message(self, data: str | bytes) -> bytes:
        try:
            return bytes(self._conn.send(WsprotoMessage(data=data)))
        except LocalProtocolError:
            return b""  # closing: nothing more may be sent

    def send_ping(self, payload: bytes) -> bytes:
        try:
            return bytes(self._conn.send(Ping(payload)))
        except LocalProtocolError:
            return b""

    def send_close(self, code: int, reason: str) -> bytes:
        try:
            return bytes(self._conn.send(CloseConnection(code, reason)))
        except LocalProtocolError:
            return b""

    def take_output(self) -> bytes:
        out, self._out = b"".join(self._out), []
        return out
