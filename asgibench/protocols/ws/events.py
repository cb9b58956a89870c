"""What a WebSocket adapter reports: the only vocabulary between it and the core's cycle."""

from __future__ import annotations


class Message:
    """A whole data message (fragments joined): ``str`` for text, ``bytes`` for binary."""

    __slots__ = ("data",)

    def __init__(self, data: str | bytes) -> None:
        self.data = data

    def __repr__(self) -> str:
        return f"Message({type(self.data).__name__}, {len(self.data)})"


class Pong:
    __slots__ = ("payload",)

    def __init__(self, payload: bytes) -> None:
        self.payload = payload


class CloseReceived:
    """The client sent a close frame; the adapter queued the reply (``take_output``).
    The server then closes the TCP connection (RFC 6455 §7.1.1)."""

    __slots__ = ("code", "reason")

    def __init__(self, code: int, reason: str) -> None:
        self.code = code
        self.reason = reason


class Failure:
    """The client broke the protocol (RFC 6455 §7.1.7): the adapter queued a close frame
    with ``code`` (1002, 1007, 1009...), and the connection must be closed."""

    __slots__ = ("code", "reason")

    def __init__(self, code: int, reason: str) -> None:
        self.code = code
        self.reason = reason

    def __repr__(self) -> str:
        return f"Failure({self.code}, {self.reason!r})"


WsEvent = Message | Pong | CloseReceived | Failure
