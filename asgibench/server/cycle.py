"""One request/response exchange: the ASGI ``receive``/``send`` pair and response framing."""

from __future__ import annotations

import asyncio
import os
import stat
from typing import TYPE_CHECKING, Any

from asgibench.server import http11
from asgibench.server.state import access_log, error_log

if TYPE_CHECKING:
    from asgibench.server.connection import HTTPConnection

_DISCONNECT = {"type": "http.disconnect"}
_NO_BODY_STATUSES = frozenset((204, 304))
_STATUS_LINES = http11.STATUS_LINES
# Response header names the server reads or adds itself.
_FRAMING_NAMES = frozenset(
    (b"content-length", b"transfer-encoding", b"connection", b"server", b"date")
)
_CONTROL_ESCAPES = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F)}
# Response bytes batched before they are written even though more are coming
# (HTTPConnection.write; RequestCycle.send does the same inline).
WRITE_BATCH_LIMIT = 64 * 1024
# A body larger than this is never copied whole: it goes to the transport in pieces of
# this size, each after the previous one drained below the high-water mark, so a slow
# reader of a large body costs about one piece plus the transport's buffer, on every loop.
LARGE_BODY = 64 * 1024
# http.response.pathsend reads the file in pieces of this size, each written after the
# transport drained below its high-water mark (docs/server.md).
PATHSEND_PIECE = 256 * 1024
# O_NONBLOCK: opening a FIFO must not block the loop (it is then refused as not a regular
# file); it changes nothing for the reads of a regular file.
_END_OF_BODY = {"type": "http.response.body", "body": b"", "more_body": False}
_PATHSEND_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)


class RequestCycle:
    __slots__ = (
        "bodiless",
        "body",
        "body_complete",
        "chunked",
        "conn",
        "content_length",
        "delivered_final",
        "disconnected",
        "expect_continue",
        "head_request",
        "http10",
        "keep_alive",
        "peer_eof",
        "pending_head",
        "response_complete",
        "response_started",
        "scope",
        "sent_length",
        "status",
        "waiter",
    )

    def __init__(
        self, conn: HTTPConnection, scope: dict[str, Any], keep_alive: bool, expect: bool
    ) -> None:
        self.conn = conn
        self.scope = scope
        self.keep_alive = keep_alive
        self.expect_continue = expect
        self.http10 = scope["http_version"] == "1.0"
        self.head_request = scope["method"] == "HEAD"
        self.body: list[bytes] = []
        self.body_complete = False
        self.bodiless = False  # HEAD, 1xx, 204, 304: body bytes are dropped
        self.delivered_final = False
        self.disconnected = False
        self.peer_eof = False
        self.response_started = False
        self.response_complete = False
        self.waiter: asyncio.Future[None] | None = None
        self.pending_head = b""
        self.chunked = False
        self.content_length: int | None = None
        self.sent_length = 0
        self.status = 0

    # Events from the connection

    def feed_body(self, data: bytes) -> None:
        self.body.append(data)
        self._wake()

    def end_body(self) -> None:
        self.body_complete = True
        waiter = self.waiter
        if waiter is not None and not waiter.done():  # _wake(), inlined: once a request
            waiter.set_result(None)

    def disconnect(self) -> None:
        self.disconnected = True
        self._wake()

    def reject(self, status: int) -> bool:
        """The body proved malformed or stalled: take the response away from the app if
        still ours, to answer ``status`` instead.

        Returns False when response bytes already went out (the caller must just close).
        """
        if not self.take_over(status):
            return False
        self.disconnect()  # the app's receive() says so; its sends are dropped
        return True

    def take_over(self, status: int) -> bool:
        """Answer ``status`` in the app's place, if none of its response is on the wire.

        The app's head is held back until its first body bytes, so until then it can
        still be replaced.
        """
        if self.response_complete or (self.response_started and not self.pending_head):
            return False
        self.pending_head = b""
        self.response_started = self.response_complete = True
        self.status = status
        return True

    def peer_closed(self) -> None:
        """The client sent FIN: nothing more will arrive, though it may still read."""
        self.peer_eof = True
        self._wake()

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # The ASGI application

    def app_failed(self) -> None:
        """The app raised: log it, and answer 500 if none of its response went out."""
        error_log.exception("Exception in ASGI application")
        self._fail()

    def app_returned(self) -> None:
        if self.response_complete:
            return
        if self.disconnected:
            return  # the client left: an unfinished response is expected, not an app error
        if not self.peer_eof:  # a half-closed client was told http.disconnect too
            error_log.error(
                "ASGI application returned without %s the response",
                "completing" if self.response_started else "starting",
            )
        self._fail()

    def _fail(self) -> None:
        if self.response_complete:
            return
        if self.take_over(500):
            self.conn.write(self.conn.state.error_response(500, "the application failed"))
            self.keep_alive = False
            self.conn.response_complete(self)
        else:
            # The client must not take a partial body for a whole one.
            self.conn.abort()

    async def receive(self) -> dict[str, Any]:
        if self.expect_continue:
            self.expect_continue = False
            if not self.response_started and not self.disconnected:
                self.conn.write(http11.CONTINUE_RESPONSE)
                self.conn.continue_sent(self)
        while True:
            if self.disconnected or self.response_complete:
                return _DISCONNECT
            body = self.body
            if body:
                data = body[0] if len(body) == 1 else b"".join(body)
                body.clear()
                self.conn.body_consumed(len(data))
            elif self.body_complete and not self.delivered_final:
                data = b""
            elif self.peer_eof:
                # No more body can come; the response may still be sent (half-close).
                return _DISCONNECT
            else:
                self.waiter = self.conn.loop.create_future()
                await self.waiter
                self.waiter = None
                continue
            more = not self.body_complete
            self.delivered_final = not more
            return {"type": "http.request", "body": data, "more_body": more}

    async def send(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if self.disconnected:
            # Per ASGI: sends after a disconnect are no-ops; receive() reports it.
            return
        if not self.response_started:
            if kind != "http.response.start":
                raise RuntimeError(f"expected 'http.response.start', got {kind!r}")
            self._start(message["status"], message.get("headers", ()))
            self.response_started = True
            return
        if kind != "http.response.body" or self.response_complete:
            if kind == "http.response.pathsend" and not self.response_complete:
                await self._send_path(message)  # off the hot path: only here
                return
            raise RuntimeError(
                f"unexpected {kind!r}: "
                + ("the response is complete" if self.response_complete else "body expected")
            )
        body = message.get("body", b"")
        more_body = message.get("more_body", False)
        conn = self.conn
        self.sent_length += len(body)
        if self.content_length is not None and self.sent_length > self.content_length:
            raise RuntimeError("response body longer than its Content-Length")
        if self.bodiless:
            body = b""
        elif len(body) > LARGE_BODY:
            await self._send_large(body, more_body)
            if self.disconnected:
                return
            body = b""
        elif self.chunked:
            if body:
                body = b"%x\r\n%b\r\n" % (len(body), body)
            if not more_body:
                body += b"0\r\n\r\n"
        if self.pending_head:
            body = self.pending_head + body
            self.pending_head = b""
        if body:
            # conn.write(body), inlined (once a response): a Python call is ~450
            # instructions, a tenth of what the server itself spends on a response.
            conn.out.append(body)
            conn.out_size += len(body)
            if conn.out_size > WRITE_BATCH_LIMIT or not conn.batching:
                conn.flush()
        if not more_body:
            if (
                self.content_length is not None
                and self.sent_length != self.content_length
                and not self.head_request
            ):
                raise RuntimeError("response body shorter than its Content-Length")
            self.response_complete = True
            if self.waiter is not None:  # ASGI: receive() after the response: disconnect
                self._wake()
            conn.response_complete(self)
        elif conn.writing_paused:
            await conn.drain()

    async def _send_large(self, body: bytes, more_body: bool) -> None:
        """Write ``body`` in pieces without copying it whole (see LARGE_BODY), framed as
        one chunk (and the last, when ``more_body`` is false) if the response is chunked."""
        conn = self.conn
        head = self.pending_head
        self.pending_head = b""
        if self.chunked:
            head += b"%x\r\n" % len(body)
        conn.write(head)
        conn.flush()
        view = memoryview(body)
        transport = conn.transport
        for start in range(0, len(body), LARGE_BODY):
            if self.disconnected or transport.is_closing():
                return
            transport.write(view[start : start + LARGE_BODY])
            if conn.writing_paused:
                await conn.drain()
        if self.chunked:
            conn.write(b"\r\n" if more_body else b"\r\n0\r\n\r\n")

    async def _send_path(self, message: dict[str, Any]) -> None:
        """``http.response.pathsend``: the file's contents end the body (docs/server.md).

        Read in PATHSEND_PIECE pieces, each sent as a body part (the body path frames it,
        writes large pieces uncopied and waits for the transport to drain), then the
        final empty part. Reads are blocking: fine for a regular file on a local disk.
        """
        path = message.get("path")
        if not isinstance(path, str) or not path:
            raise RuntimeError(f"http.response.pathsend needs a path string, got {path!r}")
        # A relative path is opened against the working directory, as the app's own
        # os.stat() resolved it (Starlette's FileResponse passes its path unchanged).
        fd = os.open(path, _PATHSEND_FLAGS)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise RuntimeError(f"http.response.pathsend: {path!r} is not a regular file")
            size = info.st_size
            declared = self.content_length
            # Checked before a byte is sent, so a mismatch is a 500, not a cut response.
            # A HEAD (or 204/304) is checked alike: it gets the status a GET would get.
            if declared is not None and self.sent_length + size != declared:
                longer = self.sent_length + size > declared
                raise RuntimeError(
                    f"response body {'longer' if longer else 'shorter'} than its "
                    f"Content-Length ({path!r} is {size} bytes)"
                )
            transport = self.conn.transport
            remaining = 0 if self.bodiless else size
            while remaining and not (self.disconnected or self.response_complete
                                     or transport.is_closing()):
                data = os.read(fd, min(remaining, PATHSEND_PIECE))
                if not data:
                    break  # the file shrank since fstat(): said below
                remaining -= len(data)
                await self.send({"type": "http.response.body", "body": data, "more_body": True})
        finally:
            os.close(fd)
        if self.disconnected or self.response_complete:
            return  # the client left, or the server answered in the app's place
        if transport.is_closing():
            # The server is cutting the connection (the request body turned out malformed
            # after the head went out): end quietly, as a body send into it would.
            self.response_complete = True
            self.conn.response_complete(self)
            return
        if remaining:  # the file shrank since fstat(): a cut, never a short "whole" body
            raise RuntimeError(f"http.response.pathsend: {path!r} shrank while it was sent")
        await self.send(_END_OF_BODY)

    def _start(self, status: int, headers: Any) -> None:
        self.status = status
        conn = self.conn
        state = conn.state
        # http11.status_line() and http11.render_header()'s cache are looked up here, not
        # called: a Python call costs ~450 instructions, three a plain response.
        line = _STATUS_LINES.get(status)
        lines = [line if line is not None else http11.status_line(status)]
        add_server = add_date = True
        app_close = False
        rendered = http11.RENDERED
        for name, value in headers:
            try:
                lname, line = rendered[name, value]
            except (KeyError, TypeError):  # not rendered yet, or not hashable
                lname, line = http11.render_header(name, value)
            lines.append(line)
            if lname not in _FRAMING_NAMES:
                continue
            if lname == b"content-length":
                try:
                    self.content_length = int(value)
                except ValueError:
                    raise RuntimeError(f"invalid Content-Length {value!r}") from None
            elif lname == b"transfer-encoding":
                lines.pop()  # framing is the server's job; added below when needed
            elif lname == b"connection":
                app_close = b"close" in value.lower()
            elif lname == b"server":
                add_server = False
            else:
                add_date = False
        if add_server and add_date:
            lines.insert(1, state.default_headers)
        else:
            if add_server:
                lines.insert(1, state.server_line)
            if add_date:
                lines.insert(1, state.date_line)

        self.bodiless = bodiless = (
            self.head_request or status in _NO_BODY_STATUSES or status < 200
        )
        if self.content_length is None and not bodiless:
            if self.http10:
                self.keep_alive = False  # close-delimited: the close ends the body
            else:
                self.chunked = True
                lines.append(b"transfer-encoding: chunked\r\n")
        if app_close or conn.closing:
            self.keep_alive = False
        if not self.keep_alive and not app_close:
            lines.append(b"connection: close\r\n")
        elif self.keep_alive and self.http10:
            lines.append(b"connection: keep-alive\r\n")
        lines.append(b"\r\n")
        self.pending_head = b"".join(lines)

    def log_access(self) -> None:
        scope = self.scope
        client = scope["client"]
        access_log.info(
            '%s - "%s %s HTTP/%s" %d',
            _escape(f"{client[0]}:{client[1]}") if client else "-",
            _escape(scope["method"]),
            _escape(_target(scope)),
            scope["http_version"],
            self.status,
        )


def _target(scope: dict[str, Any]) -> str:
    query = scope["query_string"]
    target = scope["raw_path"] + b"?" + query if query else scope["raw_path"]
    return target.decode("latin-1")


def _escape(text: str) -> str:
    """Keep a client's bytes from forging log lines (CR, LF, ANSI escapes...)."""
    return text.translate(_CONTROL_ESCAPES)
