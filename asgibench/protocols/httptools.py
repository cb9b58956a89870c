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
adapter restarts it on the remaining bytes; llhttp ends an Upgrade request at its head, so
when that request declared a body the new parser is first given a head with the same
framing (its head is not reported), and the body is parsed as the body, never as the
next request (a smuggling vector otherwise).

llhttp keeps optional whitespace after a field value in some cases (e.g. a Connection
value it reads token by token); the adapter drops it (RFC 9110 §5.5). llhttp also reads
``Proxy-Connection`` as ``Connection`` and refuses bytes after a ``close``: its lenient
keep-alive mode is on, because whether a connection goes on is the core's decision.
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
        self._parser = self._new_parser()
        self._primed = False  # the head being parsed is the adapter's own (see below)
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
                self._parser = self._new_parser()
                data = data[offset:]
                framing = _body_framing(self._headers)
                if framing:
                    # llhttp ended the message at the head, but a body follows: parse it
                    # as a body, behind a head of ours that declares the same framing.
                    if events and events[-1] is MESSAGE_END:
                        events.pop()
                    self._primed = True
                    data = b"PUT / HTTP/1.1\r\n" + framing + b"\r\n" + data
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

    def _new_parser(self) -> httptools.HttpRequestParser:
        parser = httptools.HttpRequestParser(self)
        if hasattr(parser, "set_dangerous_leniencies"):  # httptools >= 0.6
            parser.set_dangerous_leniencies(lenient_keep_alive=True)
        return parser

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
            self._headers.append((name, value.rstrip(b" \t")))  # llhttp keeps trailing OWS

    def on_headers_complete(self) -> None:
        self._in_head = False
        if self._primed:  # our own head before an Upgrade request's body: not reported
            self._primed = False
            self._fed_exact = False
            self._partial = 0
            return
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


def _body_framing(headers: list[tuple[bytes, bytes]]) -> bytes:
    """The Content-Length/Transfer-Encoding lines of a head that declares a body, else b""."""
    lines = b""
    for name, value in headers:
        lowered = name.lower()
        if lowered == b"transfer-encoding" or (
            lowered == b"content-length" and value.strip() not in (b"0", b"")
        ):
            lines += name + b": " + value + b"\r\n"
    return lines
