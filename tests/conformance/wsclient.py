"""A raw-socket WebSocket client for the hostile cases (unmasked frames, reserved opcodes,
bad UTF-8, pings left unanswered): every frame is built here, byte by byte (RFC 6455 §5).
The well-behaved cases use the ``websockets`` client library instead."""

from __future__ import annotations

import base64
import os
import struct

from .client import IO_TIMEOUT, RawClient, Response

KEY = base64.b64encode(b"0123456789abcdef")
TEXT, BINARY, CONT, CLOSE, PING, PONG = 0x1, 0x2, 0x0, 0x8, 0x9, 0xA


def handshake_request(path: str = "/", *, key: bytes | None = KEY, version: bytes = b"13",
                      extra: bytes = b"") -> bytes:
    lines = [b"GET %s HTTP/1.1" % path.encode(), b"Host: example.com",
             b"Upgrade: websocket", b"Connection: Upgrade"]
    if key is not None:
        lines.append(b"Sec-WebSocket-Key: " + key)
    if version:
        lines.append(b"Sec-WebSocket-Version: " + version)
    return b"\r\n".join(lines) + b"\r\n" + extra + b"\r\n"


def frame(opcode: int, payload: bytes = b"", *, fin: bool = True, mask: bool = True,
          rsv: int = 0) -> bytes:
    head = bytes([(0x80 if fin else 0) | rsv << 4 | opcode])
    size = len(payload)
    bit = 0x80 if mask else 0
    if size < 126:
        head += bytes([bit | size])
    elif size < 1 << 16:
        head += bytes([bit | 126]) + struct.pack("!H", size)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", size)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def close_payload(code: int, reason: str = "") -> bytes:
    return struct.pack("!H", code) + reason.encode()


class RawWebSocket:
    """A RawClient that did the handshake; reads server frames (never masked)."""

    def __init__(self, client: RawClient, response: Response, rest: bytes) -> None:
        self.client = client
        self.response = response
        self.buffer = rest

    def send(self, data: bytes) -> None:
        self.client.sock.sendall(data)

    def _read(self, n: int, timeout: float) -> bytes:
        sock = self.client.sock
        sock.settimeout(timeout)
        while len(self.buffer) < n:
            chunk = sock.recv(65536)
            if not chunk:
                raise EOFError(f"EOF after {self.buffer!r}")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def read_frame(self, timeout: float = IO_TIMEOUT) -> tuple[int, bytes]:
        b0, b1 = self._read(2, timeout)
        assert not b1 & 0x80, "a server frame must not be masked"
        size = b1 & 0x7F
        if size == 126:
            size = struct.unpack("!H", self._read(2, timeout))[0]
        elif size == 127:
            size = struct.unpack("!Q", self._read(8, timeout))[0]
        return b0 & 0x0F, self._read(size, timeout) if size else b""

    def read_close(self, timeout: float = IO_TIMEOUT) -> tuple[int, str]:
        """Skip to the server's close frame: (code, reason)."""
        while True:
            opcode, payload = self.read_frame(timeout)
            if opcode == CLOSE:
                if not payload:
                    return 1005, ""
                return struct.unpack("!H", payload[:2])[0], payload[2:].decode()

    def at_eof(self, timeout: float = IO_TIMEOUT) -> bool:
        sock = self.client.sock
        sock.settimeout(timeout)
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    return True
        except (TimeoutError, ConnectionResetError):
            return False


def open_raw(address, path: str = "/", extra: bytes = b"") -> RawWebSocket:
    """Connect, send a handshake, read the 101 (asserted)."""
    client = RawClient(address)
    client.send(handshake_request(path, extra=extra))
    response = client.read_response(head=True)
    assert response.status == 101, response
    rest, client.buf = bytes(client.buf), bytearray()
    return RawWebSocket(client, response, rest)
