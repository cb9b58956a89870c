"""Adapter for websockets' sans-I/O protocol (``websockets.protocol.Protocol``, 13+).

The core did the opening handshake, so the adapter starts websockets' frame protocol
already OPEN on the server side and negotiates permessage-deflate with websockets' own
extension factory. websockets checks masking, reserved bits and opcodes, control-frame
size, close codes and the message size limit (across fragments) and fails the connection
with the close code RFC 6455 gives; it answers pings and echoes the client's close. Its
frames are joined into messages here, where text is decoded (bad UTF-8: 1007).
"""

from __future__ import annotations

import logging

from websockets.exceptions import InvalidHeader, NegotiationError
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.frames import Opcode
from websockets.headers import build_extension, parse_extension
from websockets.protocol import Protocol, Side

from asgibench.protocols.ws.events import CloseReceived, Failure, Message, Pong, WsEvent

_TEXT, _BINARY, _CONT, _PONG, _CLOSE = (
    Opcode.TEXT, Opcode.BINARY, Opcode.CONT, Opcode.PONG, Opcode.CLOSE)
# websockets logs each closed connection at INFO; the core logs what matters itself.
_LOGGER = logging.getLogger("asgibench.ws.websockets")
_LOGGER.setLevel(logging.WARNING)


class WebsocketsAdapter:
    name = "websockets"

    def __init__(self, max_size: int, per_message_deflate: bool) -> None:
        self._proto = Protocol(Side.SERVER, max_size=max_size, logger=_LOGGER)
        self._deflate = per_message_deflate
        self._parts: list[bytes] = []
        self._text = False
        self._failed = False

    def negotiate(self, offers: list[bytes]) -> bytes | None:
        if not self._deflate or not offers:
            return None
        try:
            requested = parse_extension(", ".join(v.decode("latin-1") for v in offers))
        except InvalidHeader:
            return None
        # websockets' own serve() defaults (uvicorn's too): 4 KiB windows and memLevel 5
        # keep an idle compressed connection at tens of KiB instead of hundreds.
        factory = ServerPerMessageDeflateFactory(
            server_max_window_bits=12, client_max_window_bits=12,
            compress_settings={"memLevel": 5})
        accepted = []
        response = []
        for name, params in requested:
            if name != factory.name:
                continue
            try:
                response_params, extension = factory.process_request_params(params, accepted)
            except NegotiationError:
                continue
            accepted.append(extension)
            response.append((name, response_params))
            break  # one permessage-deflate at most
        self._proto.extensions = accepted
        return build_extension(response).encode("ascii") if response else None

    def feed(self, data: bytes) -> list[WsEvent]:
        proto = self._proto
        if self._failed:
            return []
        proto.receive_data(data)
        events: list[WsEvent] = []
        for frame in proto.events_received():
            opcode = frame.opcode
            if opcode is _TEXT or opcode is _BINARY:
                self._text = opcode is _TEXT
                if frame.fin:
                    self._message(bytes(frame.data), events)
                else:
                    self._parts = [bytes(frame.data)]
            elif opcode is _CONT:
                self._parts.append(bytes(frame.data))
                if frame.fin:
                    data, self._parts = b"".join(self._parts), []
                    self._message(data, events)
            elif opcode is _PONG:
                events.append(Pong(bytes(frame.data)))
            elif opcode is _CLOSE:
                close = proto.close_rcvd
                if proto.parser_exc is None:
                    events.append(CloseReceived(close.code, close.reason))
            if self._failed:
                return events
        if proto.parser_exc is not None and not self._failed:
            self._failed = True
            sent = proto.close_sent
            events.append(Failure(sent.code if sent else 1006, str(proto.parser_exc)))
        return events

    def _message(self, data: bytes, events: list[WsEvent]) -> None:
        if not self._text:
            events.append(Message(data))
            return
        try:
            events.append(Message(data.decode("utf-8")))
        except UnicodeDecodeError as exc:
            self._failed = True
            self._proto.fail(1007, f"invalid UTF-8 at position {exc.start}")
            events.append(Failure(1007, "invalid UTF-8 in a text message"))

    def send_message(self, data: str | bytes) -> bytes:
        proto = self._proto
        if type(data) is str:
            proto.send_text(data.encode("utf-8"))
        else:
            proto.send_binary(data)
        return self.take_output()

    def send_ping(self, payload: bytes) -> bytes:
        self._proto.send_ping(payload)
        return self.take_output()

    def send_close(self, code: int, reason: str) -> bytes:
        self._proto.send_close(code, reason)
        return self.take_output()

    def take_output(self) -> bytes:
        # b"" in the list is websockets' "half-close now": the core closes after a close.
        return b"".join(self._proto.data_to_send())
