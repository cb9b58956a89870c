"""Adapter for h11 (pure Python, strict).

h11 models a whole connection, including our responses, and will not parse a pipelined
request until it has seen the previous response. The core serialises responses itself,
so this adapter tells h11 that a minimal response went out (and discards those bytes)
right after each request ends; h11 then parses the next pipelined request at once.
"""

from __future__ import annotations

import h11

from asgibench.protocols.events import MESSAGE_END, BodyData, Event, ProtocolError, RequestHead

_SENT_RESPONSE = h11.Response(status_code=204, headers=[])
_SENT_END = h11.EndOfMessage()


class H11Parser:
    name = "h11"

    def __init__(self, limit_request_head: int) -> None:
        self._conn = h11.Connection(h11.SERVER, max_incomplete_event_size=limit_request_head)
        self._finished = False

    def feed(self, data: bytes) -> list[Event]:
        if self._finished:
            return []
        conn = self._conn
        conn.receive_data(data)
        events: list[Event] = []
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                self._finished = True
                events.append(ProtocolError(exc.error_status_hint, str(exc)))
                return events
            kind = type(event)
            if kind is h11.Data:
                events.append(BodyData(bytes(event.data)))
            elif kind is h11.Request:
                events.append(
                    RequestHead(
                        event.method,
                        event.target,
                        event.http_version.decode("ascii"),
                        list(event.headers.raw_items()),
                    )
                )
            elif kind is h11.EndOfMessage:
                events.append(MESSAGE_END)
                self._next_cycle()
                if self._finished:
                    return events
            else:  # NEED_DATA, PAUSED (after a close-delimited request) or ConnectionClosed
                return events

    def _next_cycle(self) -> None:
        conn = self._conn
        conn.send(_SENT_RESPONSE)
        conn.send(_SENT_END)
        try:
            conn.start_next_cycle()
        except h11.LocalProtocolError:
            # The request closes the connection (HTTP/1.0, Connection: close): the core
            # closes after its response, and nothing after this request is a request.
            self._finished = True
