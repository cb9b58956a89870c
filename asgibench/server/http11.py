"""HTTP/1.1 semantics shared by every parser: request-head checks and response heads.

Pure functions and constants, no I/O (RFC 9110 / RFC 9112).
"""

from __future__ import annotations

import http
import re
from email.utils import formatdate

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+").fullmatch
# Field values may hold HTAB and visible/obs-text bytes, never other controls (RFC 9110 §5.5).
_INVALID_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]").search

STATUS_LINES: dict[int, bytes] = {
    status.value: b"HTTP/1.1 %d %s\r\n" % (status.value, status.phrase.encode("ascii"))
    for status in http.HTTPStatus
}

CONTINUE_RESPONSE = b"HTTP/1.1 100 Continue\r\n\r\n"


def status_line(status: int) -> bytes:
    line = STATUS_LINES.get(status)
    if line is None:
        if not 100 <= status <= 999:
            raise RuntimeError(f"invalid HTTP status code {status!r}")
        line = b"HTTP/1.1 %d \r\n" % status
    return line


def date_header() -> bytes:
    return b"date: " + formatdate(usegmt=True).encode("ascii") + b"\r\n"


def error_response(status: int, message: str, default_headers: bytes) -> bytes:
    """A complete error response with ``Connection: close``; the caller closes afterwards.

    ``default_headers`` are the server's rendered Server and Date lines.
    """
    body = f"{http.HTTPStatus(status).phrase}: {message}\n".encode("ascii", "replace")
    return b"".join(
        (
            status_line(status),
            default_headers,
            b"content-type: text/plain; charset=utf-8\r\n"
            b"connection: close\r\n"
            b"content-length: %d\r\n\r\n" % len(body),
            body,
        )
    )


#: (name, value) -> what render_header() returns for it (RequestCycle._start reads it directly).
RENDERED: dict[tuple[bytes, bytes], tuple[bytes, bytes]] = {}


def render_header(name: bytes, value: bytes) -> tuple[bytes, bytes]:
    """``(lower-cased name, b"name: value\\r\\n")``, after refusing a name or value that
    could split the response.

    Apps send the same few headers over and over, so checked and rendered pairs are
    remembered (up to 4,096 of them; others are checked every time).
    """
    try:
        return RENDERED[name, value]
    except (KeyError, TypeError):  # TypeError: an unhashable name or value
        pass
    if type(name) is not bytes or _TOKEN(name) is None:
        raise RuntimeError(f"invalid HTTP header name {name!r}")
    if _INVALID_VALUE(value) is not None:
        raise RuntimeError(f"invalid HTTP header value {value!r}")
    rendered = (name.lower(), b"%b: %b\r\n" % (name, value))
    if len(RENDERED) < 4096:
        RENDERED[name, value] = rendered
    return rendered


class RequestCheck:
    """What the core needs from one request head, found in a single pass over its headers.

    ``error`` is set (and the request must get 400 and a close) when the head is
    well-formed syntax but unacceptable HTTP: missing or repeated Host on HTTP/1.1,
    Content-Length beside Transfer-Encoding (RFC 9112 §6.3: a smuggling vector, so it is
    refused rather than processed), Transfer-Encoding on HTTP/1.0, bad Content-Length.
    """

    __slots__ = ("error", "expect_continue", "forwarded", "headers", "keep_alive", "upgrade")

    def __init__(self, raw_headers: list[tuple[bytes, bytes]], http_version: str) -> None:
        headers = []
        hosts = 0
        content_length: bytes | None = None
        transfer_encoding = False
        connection_close = False
        connection_keep_alive = False
        self.expect_continue = False
        self.forwarded = False  # an X-Forwarded-For/-Proto header is present
        self.upgrade: bytes | None = None  # the Upgrade header's value, if any
        self.error: str | None = None
        for name, value in raw_headers:
            name = name.lower()
            headers.append((name, value))
            if name not in _FRAMING_NAMES:
                continue
            if name == b"host":
                hosts += 1
            elif name == b"content-length":
                if not value.strip().isdigit() or (
                    content_length is not None and content_length != value.strip()
                ):
                    self.error = "invalid Content-Length"
                content_length = value.strip()
            elif name == b"transfer-encoding":
                transfer_encoding = True
                # RFC 9112 §6.3: a request whose final coding is not chunked has no
                # knowable length.
                if value.rpartition(b",")[2].strip().lower() != b"chunked":
                    self.error = "Transfer-Encoding must end with chunked"
            elif name == b"connection":
                value = value.lower()
                if value == b"keep-alive":  # the usual single token, without splitting
                    connection_keep_alive = True
                    continue
                for token in value.split(b","):
                    token = token.strip()
                    if token == b"close":
                        connection_close = True
                    elif token == b"keep-alive":
                        connection_keep_alive = True
            elif name == b"expect":
                self.expect_continue = value.lower() == b"100-continue"
            elif name == b"upgrade":
                self.upgrade = value
            else:
                self.forwarded = True
        self.headers = headers
        if http_version == "1.1":
            self.keep_alive = not connection_close
            if hosts != 1:
                self.error = "HTTP/1.1 requests need exactly one Host header"
        else:
            self.keep_alive = connection_keep_alive and not connection_close
            if hosts > 1:
                self.error = "more than one Host header"
            if transfer_encoding:
                self.error = "Transfer-Encoding is not allowed in HTTP/1.0"
        if transfer_encoding and content_length is not None:
            self.error = "Content-Length and Transfer-Encoding together"


# The request headers the check reads; the rest are only lower-cased.
_FRAMING_NAMES = frozenset(
    (b"host", b"content-length", b"transfer-encoding", b"connection", b"expect",
     b"x-forwarded-for", b"x-forwarded-proto", b"upgrade")
)
