"""Adapter for httptools (llhttp, C).

llhttp has no limit on the size of a request head and buffers an unfinished header line
inside itself, so the adapter bounds the head: exactly for completed lines, and for an
unfinished one by the bytes fed since the request began. An ``Upgrade`` request is answered
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
        self._fed = 0  # bytes of the current feed() seen in callbacks so far (a lower bound)
        self._head_start = 0  # self._fed when the current head began
        self._began_here = False  # the current head began in the current feed()
        self._feed_size = 0  # len() of the current feed()'s data
        self._finished = False

    def feed(self, data: bytes) -> list[Event]:
        if self._finished:
            return []
        self._events = events = []
        self._fed = 0
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
            if self._began_here:
                self._partial = len(data) - self._head_start
            else:
                self._partial += len(data)
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
        self._head_start = self._fed
        self._began_here = True

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._in_head:  # else a chunked body's trailer: not part of the request head
            self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._in_head = False
        if self._partial + self._feed_size > self._limit:  # else it cannot be too large
            size = head_size(self._url, self._headers)
            self._fed += size
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

    def on_message_complete(self) -> None:
        self._events.append(MESSAGE_END)
