"""The conformance suite's raw-socket HTTP/1.1 client and its strict response parser.

Nothing here uses an HTTP client library: every byte sent is written out by the test and
every byte received is parsed here, so the tests can assert exact framing. Pure client
code, no fixtures and no servers: tests/conformance/conftest.py (fixtures, servers) and
the frameworks and hostile suites import it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import select
import socket
import time
from typing import Any

IO_TIMEOUT = 5.0  # per socket operation: a hung server fails the test instead of hanging it


_STATUS_LINE = re.compile(rb"(HTTP/\d\.\d) (\d{3})(?: (.*))?")
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_STATUS_LINES_ANYWHERE = re.compile(rb"(?:^|\n)HTTP/1\.[01] \d{3}")


def count_status_lines(data: bytes) -> int:
    """How many HTTP status lines appear at line starts in ``data``."""
    return len(_STATUS_LINES_ANYWHERE.findall(data))


class _EOF(Exception):
    def __init__(self, partial: bytes = b"") -> None:
        super().__init__("EOF")
        self.partial = partial


class ConnectionClosed(AssertionError):
    """The server closed the connection before sending any byte of a response."""


@dataclasses.dataclass
class Response:
    version: bytes
    status: int
    reason: bytes
    headers: list[tuple[bytes, bytes]]  # (lower-cased name, value), in order
    raw_head: bytes
    body: bytes = b""
    raw_body: bytes = b""  # the body bytes exactly as framed on the wire
    chunked: bool = False
    close_delimited: bool = False
    complete: bool = True
    trailers: list[tuple[bytes, bytes]] = dataclasses.field(default_factory=list)
    informational: list[Response] = dataclasses.field(default_factory=list)

    def get_all(self, name: str) -> list[bytes]:
        key = name.lower().encode()
        return [value for n, value in self.headers if n == key]

    def header(self, name: str) -> bytes | None:
        values = self.get_all(name)
        assert len(values) <= 1, f"header {name!r} appears {len(values)} times: {values!r}"
        return values[0] if values else None

    def __repr__(self) -> str:
        body = self.raw_body if len(self.raw_body) < 300 else self.raw_body[:300] + b"..."
        return f"<Response {self.raw_head!r} body={body!r} complete={self.complete}>"


class RawClient:
    """A blocking TCP (or Unix) client with per-operation timeouts.

    ``received`` holds every byte ever received (unless ``keep_log=False``), so a test can
    assert on the whole conversation, e.g. that only one status line was ever sent.
    """

    def __init__(
        self,
        address: tuple[str, int] | str,
        *,
        timeout: float = IO_TIMEOUT,
        rcvbuf: int | None = None,
        sndbuf: int | None = None,
        keep_log: bool = True,
    ) -> None:
        family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if sndbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(address)
        self._setup(self.sock, timeout, keep_log)

    def _setup(self, sock: socket.socket, timeout: float, keep_log: bool) -> None:
        self.sock = sock
        sock.settimeout(timeout)
        self.timeout = timeout
        self.buf = bytearray()
        self.received = bytearray()
        self.keep_log = keep_log
        self.eof = False
        self.reset = False

    @classmethod
    def adopt(cls, sock: socket.socket, timeout: float = IO_TIMEOUT) -> RawClient:
        """A RawClient over an already connected socket."""
        client = cls.__new__(cls)
        client._setup(sock, timeout, keep_log=True)
        return client

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    @property
    def local_address(self) -> tuple[str, int]:
        return self.sock.getsockname()

    # Sending

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_quiet(self, data: bytes) -> bool:
        """sendall, but a server that already closed is not an error (returns False)."""
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            return False
        return True

    # Receiving

    def _fill(self, what: str) -> None:
        if self.eof:
            raise _EOF()
        try:
            chunk = self.sock.recv(1 << 18)
        except ConnectionResetError:
            self.reset = True
            chunk = b""
        except TimeoutError:
            raise AssertionError(
                f"timed out after {self.timeout} s waiting for {what}; "
                f"received so far: {self._tail()!r}"
            ) from None
        if not chunk:
            self.eof = True
            raise _EOF()
        self.buf += chunk
        if self.keep_log:
            self.received += chunk

    def _tail(self) -> bytes:
        return bytes(self.received[-1500:]) if self.keep_log else bytes(self.buf[-1500:])

    def _read_until(self, delimiter: bytes, what: str) -> bytes:
        start = 0
        while True:
            index = self.buf.find(delimiter, start)
            if index >= 0:
                end = index + len(delimiter)
                out = bytes(self.buf[:end])
                del self.buf[:end]
                return out
            start = max(0, len(self.buf) - len(delimiter) + 1)
            try:
                self._fill(what)
            except _EOF:
                partial = bytes(self.buf)
                self.buf.clear()
                raise _EOF(partial) from None

    def _read_exact(self, n: int, what: str) -> bytes:
        if len(self.buf) >= n:
            out = bytes(self.buf[:n])
            del self.buf[:n]
            return out
        out = bytearray(n)
        view = memoryview(out)
        have = len(self.buf)
        view[:have] = self.buf
        self.buf.clear()
        while have < n:
            try:
                got = self.sock.recv_into(view[have:], min(n - have, 1 << 20))
            except ConnectionResetError:
                self.reset = True
                got = 0
            except TimeoutError:
                raise AssertionError(
                    f"timed out after {self.timeout} s reading {what} ({have}/{n} bytes)"
                ) from None
            if got == 0:
                self.eof = True
                if self.keep_log:
                    self.received += view[:have]
                raise _EOF(bytes(view[:have]))
            if self.keep_log:
                self.received += view[have : have + got]
            have += got
        return bytes(out)

    def _read_to_eof(self) -> bytes:
        while True:
            try:
                self._fill("EOF")
            except _EOF:
                out = bytes(self.buf)
                self.buf.clear()
                return out

    def read_response(self, *, head: bool = False, allow_incomplete: bool = False) -> Response:
        """Parse exactly one response (a 1xx interim one included) off the connection."""
        if not self.buf and self.eof:
            raise ConnectionClosed("the connection is closed; no response")
        try:
            raw_head = self._read_until(b"\r\n\r\n", "a response head")
        except _EOF as exc:
            if not exc.partial:
                raise ConnectionClosed(
                    f"server closed the connection without a response; received before: "
                    f"{self._tail()!r}"
                ) from None
            raise AssertionError(f"EOF inside a response head: {exc.partial!r}") from None
        lines = raw_head[:-4].split(b"\r\n")
        match = _STATUS_LINE.fullmatch(lines[0])
        assert match, f"malformed status line {lines[0]!r} (head {raw_head!r})"
        headers = []
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            assert colon and _TOKEN.fullmatch(name), f"malformed header line {line!r}"
            headers.append((name.lower(), value.strip(b" \t")))
        response = Response(
            version=match.group(1),
            status=int(match.group(2)),
            reason=match.group(3) or b"",
            headers=headers,
            raw_head=raw_head,
        )
        if response.status < 200 or head or response.status in (204, 304):
            return response
        transfer_encoding = response.header("transfer-encoding")
        content_length = response.header("content-length")
        try:
            if transfer_encoding is not None:
                assert transfer_encoding.lower() == b"chunked", transfer_encoding
                assert content_length is None, "both Content-Length and Transfer-Encoding sent"
                response.chunked = True
                self._read_chunked(response)
            elif content_length is not None:
                assert content_length.isdigit(), f"bad Content-Length {content_length!r}"
                response.body = response.raw_body = self._read_exact(
                    int(content_length), "a response body"
                )
            else:
                response.close_delimited = True
                response.body = response.raw_body = self._read_to_eof()
        except _EOF as exc:
            response.raw_body += exc.partial
            if not response.chunked:
                response.body = response.raw_body
            response.complete = False
            if not allow_incomplete:
                raise AssertionError(f"connection closed inside the body of {response!r}") from None
        return response

    def _read_chunked(self, response: Response) -> None:
        body = bytearray()
        raw = bytearray()
        try:
            while True:
                line = self._read_until(b"\r\n", "a chunk size line")
                raw += line
                size_text = line[:-2].split(b";")[0].strip()
                assert re.fullmatch(rb"[0-9a-fA-F]+", size_text), f"bad chunk size {line!r}"
                size = int(size_text, 16)
                if size == 0:
                    break
                data = self._read_exact(size + 2, "a chunk")
                raw += data
                assert data[-2:] == b"\r\n", f"chunk not followed by CRLF: {data[-10:]!r}"
                body += data[:-2]
            while True:
                line = self._read_until(b"\r\n", "trailers")
                raw += line
                if line == b"\r\n":
                    break
                name, _, value = line[:-2].partition(b":")
                response.trailers.append((name.lower(), value.strip()))
        except _EOF as exc:
            response.raw_body = bytes(raw) + exc.partial
            response.body = bytes(body)
            raise
        response.raw_body = bytes(raw)
        response.body = bytes(body)

    def read_final(self, *, head: bool = False, allow_incomplete: bool = False) -> Response:
        """The next final (non-1xx) response; interim ones go to ``.informational``."""
        interim = []
        while True:
            response = self.read_response(head=head, allow_incomplete=allow_incomplete)
            if response.status >= 200:
                response.informational = interim
                return response
            interim.append(response)

    def read_responses(self, n: int, *, heads: list[bool] | None = None) -> list[Response]:
        return [self.read_final(head=bool(heads and heads[i])) for i in range(n)]

    def read_until_eof(self, timeout: float = IO_TIMEOUT) -> bytes:
        """Everything left until the server closes; fails if it stays open ``timeout`` s."""
        self.sock.settimeout(timeout)
        try:
            return self._read_to_eof()
        except AssertionError:
            raise AssertionError(
                f"server did not close the connection within {timeout} s; "
                f"received: {self._tail()!r}"
            ) from None
        finally:
            self.sock.settimeout(self.timeout)

    def wait_closed(self, timeout: float = IO_TIMEOUT) -> tuple[float, bytes]:
        """(seconds until EOF, bytes received meanwhile)."""
        start = time.monotonic()
        data = self.read_until_eof(timeout)
        return time.monotonic() - start, data

    def is_open(self, wait: float = 0.1) -> bool:
        """True if, after ``wait`` s, the server has neither closed nor sent anything."""
        if self.eof:
            return False
        if not wait_readable(self.sock, wait):
            return True
        try:
            chunk = self.sock.recv(1 << 16, socket.MSG_PEEK)
        except ConnectionResetError:
            return False
        return bool(chunk)


def http_request(
    method: str = "GET",
    target: str = "/",
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    *,
    version: str = "1.1",
    host: bool = True,
    content_length: bool | None = None,
) -> bytes:
    """Serialise a request. ``Host`` is added for HTTP/1.1 and a Content-Length for bodies."""
    lines = [f"{method} {target} HTTP/{version}"]
    if host and version == "1.1":
        lines.append("Host: testserver")
    for name, value in headers or []:
        lines.append(f"{name}: {value}")
    if content_length or (content_length is None and body):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def get(target: str = "/", **kwargs: Any) -> bytes:
    return http_request("GET", target, **kwargs)


# --------------------------------------------------------------------------------------
# Socket readiness


def _poll(sock: socket.socket, events: int, timeout: float) -> bool:
    # poll(), not select(): select() fails on fds above 1024, and a long run can get there.
    poller = select.poll()
    poller.register(sock, events)
    return bool(poller.poll(max(0, int(timeout * 1000))))


def wait_readable(sock: socket.socket, timeout: float) -> bool:
    return _poll(sock, select.POLLIN | select.POLLERR | select.POLLHUP, timeout)


def wait_writable(sock: socket.socket, timeout: float) -> bool:
    return _poll(sock, select.POLLOUT | select.POLLERR | select.POLLHUP, timeout)
