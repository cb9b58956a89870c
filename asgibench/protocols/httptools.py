"""Adapter for httptools (llhttp, C).

llhttp has no limit on the size of a request head and httptools buffers an unfinished
header line inside itself, so the adapter bounds the head: exactly once it is complete, and
while it is unfinished by the bytes fed since it began. Where that beginning lies inside a
feed is known exactly only when nothing but body bytes came before it in that feed (llhttp
reports no offsets, and a completed head's wire size is not its parsed size: optional
whitespace is dropped); after a completed head the adapter counts only what it has seen of
the unfinished one (target and completed fields), so a deep pipeline can never look like
one large head. That undercount is at most one read's worth and ends when the head
completes (exact check) or the next read arrives (counted whole). An ``Upgrade`` request is answered
as plain HTTP/1.1 (the server speaks no other protocol), so after llhttp stops at one the
adapter restarts it on the remaining bytes.
"""

from __future__ import annotations

import httptools

from asgibench.protocols.events import (
    MESSAGE_END,
    BodyData,
    Event,
    ProtocolError,
    RequestHead,
    head_size,
)


class HttptoolsParser:
    name = "httptools"

    def __init__(self, limit_request_head: int) -> None:
        self._limit = limit_request_head
        self._parser = httptools.HttpRequestParser(self)
        self._events: list[Event] = []
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._in_head = False
        self._head_bytes = 0  # the completed head's size, set only when it is over the limit
        self._partial = 0  # bytes fed since this head began: an upper bound of its size
        self._fed = 0  # bytes of the current feed() before the latest callback, exact
        # while only body bytes were seen in this feed (``_fed_exact``)
        self._fed_exact = True
        self._head_start = -1  # offset in this feed where the current head began; -1: unknown
        self._began_here = False  # the current head began in the current feed()
        self._feed_size = 0  # len() of the current feed()'s data
        self._finished = False

    def feed(self, data: bytes) -> list[Event]:
        if self._finished:
            return []
        self._events = events = []
        self._fed = 0
        self._fed_exact = True
        self._feed_size = len(data)
        self._began_here = False
        while True:
            try:
                self._parser.feed_data(data)
            except httptools.HttpParserUpgrade as exc:
                offset = exc.args[0]
                self._parser = httptools.HttpRequestParser(self)
                data = data[offset:]
                if data:
                    continue
            except httptools.HttpParserError as exc:
                if self._head_bytes > self._limit:
                    self._fail(431, "request head too large")
                else:
                    self._fail(400, str(exc))
                return events
            break
        if self._in_head:
            if not self._began_here:
                self._partial += len(data)
            elif self._head_start >= 0:
                self._partial = len(data) - self._head_start
            else:  # began after a completed head: count what is known of it
                self._partial = head_size(self._url, self._headers)
            if self._partial > self._limit:
                self._fail(431, "request head too large")
        return events

    def _fail(self, status: int, reason: str) -> None:
        self._finished = True
        self._events.append(ProtocolError(status, reason))

    # llhttp callbacks

    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = []
        self._head_bytes = 0
        self._in_head = True
        self._head_start = self._fed if self._fed_exact else -1
        self._began_here = True

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._in_head:  # else a chunked body's trailer: not part of the request head
            self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._fed_exact = False  # a head's wire size is not known from its parsed size
        if self._partial + self._feed_size > self._limit:  # else it cannot be too large
            size = head_size(self._url, self._headers)
            if size > self._limit:
                self._head_bytes = size
                # llhttp turns a callback's exception into HttpParserCallbackError; feed()
                # tells this case apart by the byte count.
                raise ValueError("request head too large")
        self._partial = 0
        parser = self._parser
        self._events.append(
            RequestHead(parser.get_method(), self._url, parser.get_http_version(), self._headers)
        )

    def on_body(self, body: bytes) -> None:
        self._fed += len(body)
        self._events.append(BodyData(body))

    def on_chunk_header(self) -> None:
        self._fed_exact = False  # chunk framing is not counted in _fed

    def on_message_complete(self) -> None:
        self._events.append(MESSAGE_END)
