"""Adapter for h11 (pure Python, strict).

h11 models a whole connection, including our responses, and will not parse a pipelined
request until it has seen the previous response. The core serialises responses itself,
so this adapter tells h11 that a minimal response went out (and discards those bytes)
right after each request ends; h11 then parses the next pipelined request at once.

h11 applies its size limit only to a head still incomplete, and will not keep an HTTP/1.0
connection alive; the adapter adds the limit for whole heads and starts a fresh h11
connection after an HTTP/1.0 request (the core decides whether more requests may follow).
"""

from __future__ import annotations

import h11

from asgibench.protocols.events import (
    MESSAGE_END,
    BodyData,
    Event,
    ProtocolError,
    RequestHead,
    head_size,
)

# Not a 2xx: h11 takes a 2xx to CONNECT (and a 101 to Upgrade) as a protocol switch, and the
# core switches to no other protocol; it answers CONNECT as plain HTTP (RFC 9110 §9.3.6).
_SENT_RESPONSE = h11.Response(status_code=404, headers=[])
_SENT_END = h11.EndOfMessage()
# h11's send() serialises the response, a quarter of the adapter's time, for bytes we throw
# away; _process_event() is the state change alone (h11 0.8 to 0.16 have it; else send()).
_HAS_PROCESS_EVENT = hasattr(h11.Connection, "_process_event")
# h11 accepts any chunk size of up to 20 hex digits and then waits for that much data; llhttp
# and zttp refuse one that overflows 64 bits. Larger than a signed 64-bit length is refused
# here too (a 400: RFC 9112 §7.1 leaves the bound to the recipient).
_MAX_CHUNK_SIZE = 2**63 - 1
try:
    from h11._readers import ChunkedReader as _ChunkedReader
except ImportError:  # another h11 layout: the check below is skipped
    _ChunkedReader = None


class H11Parser:
    name = "h11"

    def __init__(self, limit_request_head: int) -> None:
        self._limit = limit_request_head
        self._conn = self._new_connection()
        self._finished = False
        # Bytes fed since a head last completed: while under the limit, no head can be over.
        self._unchecked = 0

    def _new_connection(self) -> h11.Connection:
        return h11.Connection(h11.SERVER, max_incomplete_event_size=self._limit)

    def feed(self, data: bytes) -> list[Event]:
        if self._finished:
            return []
        conn = self._conn
        conn.receive_data(data)
        self._unchecked += len(data)
        events: list[Event] = []
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                self._finished = True
                # h11 answers an unknown transfer coding with 501; RFC 9112 §6.3 wants
                # 400 when chunked is not the final coding, which is every case h11 refuses.
                status = 400 if exc.error_status_hint == 501 else exc.error_status_hint
                events.append(ProtocolError(status, str(exc)))
                return events
            kind = type(event)
            if kind is h11.Data:
                data = bytes(event.data)
                if self._chunk_too_large(conn, len(data), events):
                    return events
                events.append(BodyData(data))
            elif kind is h11.Request:
                headers = list(event.headers.raw_items())
                if self._unchecked > self._limit and head_size(event.target, headers) > self._limit:
                    self._finished = True
                    events.append(ProtocolError(431, "request head too large"))
                    return events
                self._unchecked = len(data)  # the rest of this chunk may hold the next head
                events.append(
                    RequestHead(
                        event.method, event.target, event.http_version.decode("ascii"), headers
                    )
                )
            elif kind is h11.EndOfMessage:
                events.append(MESSAGE_END)
                self._next_cycle()
                conn = self._conn
            else:  # NEED_DATA, PAUSED (after a close-delimited request) or ConnectionClosed
                self._chunk_too_large(conn, 0, events)
                return events

    def _chunk_too_large(self, conn: h11.Connection, taken: int, events: list[Event]
                         ) -> bool:
        """Refuse a chunk larger than _MAX_CHUNK_SIZE. h11 keeps only what is left of the
        current chunk; that plus what it just handed out is the whole chunk the first time
        the chunk is seen, however the reads were split."""
        reader = conn._reader
        if type(reader) is not _ChunkedReader or \
                getattr(reader, "_bytes_in_chunk", 0) + taken <= _MAX_CHUNK_SIZE:
            return False
        self._finished = True
        events.append(ProtocolError(400, "chunk size too large"))
        return True

    def _next_cycle(self) -> None:
        conn = self._conn
        if _HAS_PROCESS_EVENT:
            conn._process_event(h11.SERVER, _SENT_RESPONSE)
            conn._process_event(h11.SERVER, _SENT_END)
        else:
            conn.send(_SENT_RESPONSE)
            conn.send(_SENT_END)
        try:
            conn.start_next_cycle()
        except h11.LocalProtocolError:
            # h11 closes after HTTP/1.0 (even with keep-alive) and Connection: close. The
            # core knows which of them really ends the connection and stops feeding then.
            leftover, closed = conn.trailing_data
            self._conn = self._new_connection()
            if leftover:
                self._conn.receive_data(bytes(leftover))
            if closed:
                self._conn.receive_data(b"")
