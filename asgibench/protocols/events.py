"""Parser-neutral events: the only vocabulary between a parser adapter and the server core.

An adapter turns bytes into these and nothing else. Everything about what the events mean
(keep-alive, framing checks, limits, the ASGI cycle) lives once, in ``asgibench.server``.
"""

from __future__ import annotations


class RequestHead:
    """A complete request line and header block.

    ``headers`` keeps the names as received (any case) and their order; the core lowers
    them once while it validates. ``http_version`` is ``"1.1"`` or ``"1.0"``.
    """

    __slots__ = ("headers", "http_version", "method", "target")

    def __init__(
        self, method: bytes, target: bytes, http_version: str, headers: list[tuple[bytes, bytes]]
    ) -> None:
        self.method = method
        self.target = target
        self.http_version = http_version
        self.headers = headers

    def __repr__(self) -> str:
        return f"RequestHead({self.method!r}, {self.target!r}, {self.http_version!r})"


class BodyData:
    """Decoded request-body bytes (chunked framing already removed)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __repr__(self) -> str:
        return f"BodyData({len(self.data)} bytes)"


class MessageEnd:
    """The request body is complete."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MessageEnd()"


MESSAGE_END = MessageEnd()


class ProtocolError:
    """The client sent something unparseable; answer ``status`` and close.

    After an adapter emits this it emits nothing more: the connection is done.
    """

    __slots__ = ("headers", "reason", "status")

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        self.reason = reason
        self.headers = b""  # rendered header lines the answer carries (426's version)

    def __repr__(self) -> str:
        return f"ProtocolError({self.status}, {self.reason!r})"


Event = RequestHead | BodyData | MessageEnd | ProtocolError


def head_size(target: bytes, headers: list[tuple[bytes, bytes]]) -> int:
    """The size of a request head as the limit counts it: line and fields, no whitespace."""
    return len(target) + sum(len(name) + len(value) + 4 for name, value in headers)
