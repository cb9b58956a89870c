"""Adapter for zttp (Zig core, sans-I/O like h11).

zttp enforces its own head-size ceiling (about 32 KiB, not configurable in 0.0.35); the
adapter adds ``limit_request_head`` below it so both limits answer 431. zttp reports no
offsets, so an unfinished head's size is known exactly only when it began a read; one that
began after a completed head in the same read is counted from the next read on (zttp's own
ceiling bounds it meanwhile), never guessed from the parsed size of the heads before it.
"""

from __future__ import annotations

import zttp

from asgibench.protocols.events import (
    MESSAGE_END,
    BodyData,
    Event,
    ProtocolError,
    RequestHead,
    head_size,
)

_NEED_DATA = zttp.NEED_DATA
_SIZE_LIMIT_MESSAGE = "exceeded configured size limit"


class ZttpParser:
    name = "zttp"

    def __init__(self, limit_request_head: int) -> None:
        self._conn = zttp.Connection(zttp.SERVER)
        self._limit = limit_request_head
        self._finished = False
        self._in_head = True
        self._head_bytes = 0  # bytes fed since the head began (at most its size)
        self._body_only = True  # only body bytes came before the head in this read
        self._accounted = 0  # body bytes of this read so far
        self._chunked = False  # the current request's body is chunked
        self._last_feed = 0

    def feed(self, data: bytes) -> list[Event]:
        if self._finished:
            return []
        conn = self._conn
        conn.receive_data(data)
        self._last_feed = len(data)
        self._accounted = 0
        self._body_only = True
        if self._in_head:
            self._head_bytes += len(data)
        events: list[Event] = []
        while True:
            try:
                event = conn.next_event()
            except zttp.RemoteProtocolError as exc:
                return self._fail(events, str(exc))
            kind = type(event)
            if kind is zttp.Data:
                self._accounted += len(event.data)
                if self._chunked:
                    self._body_only = False  # chunk framing is not counted
                events.append(BodyData(event.data))
            elif kind is zttp.Request:
                headers = list(event.headers)
                self._body_only = False
                self._chunked = not event.end_stream and any(
                    name.lower() == b"transfer-encoding" for name, _ in headers
                )
                if head_size(event.target, headers) > self._limit:
                    return self._fail(events, _SIZE_LIMIT_MESSAGE)
                self._in_head = False
                events.append(
                    RequestHead(
                        event.method, event.target, event.http_version.decode("ascii"), headers
                    )
                )
                if event.end_stream:
                    events.append(MESSAGE_END)
                    if not self._next_cycle():
                        return events
            elif kind is zttp.EndOfMessage:
                events.append(MESSAGE_END)
                if not self._next_cycle():
                    return events
            else:  # NEED_DATA or CONNECTION_CLOSED
                if self._in_head and self._head_bytes > self._limit:
                    return self._fail(events, _SIZE_LIMIT_MESSAGE)
                return events

    def _fail(self, events: list[Event], reason: str) -> list[Event]:
        self._finished = True
        status = 431 if _SIZE_LIMIT_MESSAGE in reason and self._in_head else 400
        events.append(ProtocolError(status, reason))
        return events

    def _next_cycle(self) -> bool:
        if self._conn.should_close():
            # HTTP/1.0 or Connection: close: nothing after this request is a request.
            self._finished = True
            return False
        self._conn.start_next_cycle()
        self._in_head = True
        # Exact when only body bytes came before this head in the read; else unknown and
        # counted from the next read on (see the module docstring).
        self._head_bytes = self._last_feed - self._accounted if self._body_only else 0
        return True
