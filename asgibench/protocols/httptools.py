"""Adapter for httptools (llhttp, C).

llhttp has no limit on the size of a request head, so the adapter counts head bytes
itself. An ``Upgrade`` request is answered as plain HTTP/1.1 (the server speaks no other
protocol), so after llhttp stops at one the adapter restarts it on the remaining bytes.
"""

from __future__ import annotations

import httptools

from asgibench.protocols.events import MESSAGE_END, BodyData, Event, ProtocolError, RequestHead


class HttptoolsParser:
    name = "httptools"

    def __init__(self, limit_request_head: int) -> None:
        self._limit = limit_request_head
        self._parser = httptools.HttpRequestParser(self)
        self._events: list[Event] = []
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._head_bytes = 0
        self._finished = False

    def feed(self, data: bytes) -> list[Event]:
        if self._finished:
            return []
        self._events = events = []
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

    def _fail(self, status: int, reason: str) -> None:
        self._finished = True
        self._events.append(ProtocolError(status, reason))

    # llhttp callbacks

    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = []
        self._head_bytes = 0

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._count(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))
        self._count(len(name) + len(value) + 4)

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > self._limit:
            # llhttp turns a callback's exception into HttpParserCallbackError; feed()
            # tells this case apart by the byte count.
            raise ValueError("request head too large")

    def on_headers_complete(self) -> None:
        parser = self._parser
        self._events.append(
            RequestHead(parser.get_method(), self._url, parser.get_http_version(), self._headers)
        )

    def on_body(self, body: bytes) -> None:
        self._events.append(BodyData(body))

    def on_message_complete(self) -> None:
        self._events.append(MESSAGE_END)
