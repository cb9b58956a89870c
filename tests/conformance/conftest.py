"""Fixtures for the conformance suite: the loop x parser matrix, in-process servers,
``bench serve`` subprocesses, and a raw-socket HTTP/1.1 client with a strict response parser.

Nothing here uses an HTTP client library: every byte sent is written out by the test and
every byte received is parsed here, so the tests can assert exact framing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import re
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

HOST = "127.0.0.1"
IO_TIMEOUT = 5.0  # per socket operation: a hung server fails the test instead of hanging it

# --------------------------------------------------------------------------------------
# The matrix: every known loop x every known parser; unusable ones are skipped with why.

_FALLBACK_LOOPS = ("asyncio", "selector", "proactor", "uvloop", "winloop", "rloop")
_FALLBACK_PROTOS = ("h11", "httptools", "zttp")
PROACTOR_SKIP = "ProactorEventLoop exists only on Windows"


def _loop_statuses() -> list[tuple[str, str | None]]:
    """(name, skip reason or None) for every loop backend, in display order."""
    try:
        from asgibench import loops
    except ImportError:  # the loop backends are not written yet
        import importlib.util

        rows = []
        for name in _FALLBACK_LOOPS:
            module = {"asyncio": "asyncio", "selector": "asyncio"}.get(name, name)
            if name == "proactor":
                ok = sys.platform == "win32"
            else:
                ok = importlib.util.find_spec(module) is not None
            rows.append((name, None if ok else f"{name} is not installed"))
        return [(n, PROACTOR_SKIP if n == "proactor" and r else r) for n, r in rows]
    rows = []
    for status in loops.describe():
        if status.name == "proactor" and sys.platform != "win32":
            rows.append((status.name, PROACTOR_SKIP))
        elif not status.available:
            rows.append((status.name, f"loop {status.name} unavailable here: {status.reason}"))
        else:
            rows.append((status.name, None))
    return rows


def _proto_statuses() -> list[tuple[str, str | None]]:
    try:
        from asgibench import protocols
    except ImportError:
        import importlib.util

        return [
            (n, None if importlib.util.find_spec(n) else f"{n} is not installed")
            for n in _FALLBACK_PROTOS
        ]
    rows = []
    for backend in protocols.backends():
        ok, reason = backend.available()
        rows.append((backend.name, None if ok else f"parser {backend.name}: {reason}"))
    return rows


LOOP_STATUSES = _loop_statuses()
PROTO_STATUSES = _proto_statuses()
LOOPS = [name for name, skip in LOOP_STATUSES if skip is None]
PROTOS = [name for name, skip in PROTO_STATUSES if skip is None]


def _combo_params() -> list[Any]:
    params = []
    for loop, loop_skip in LOOP_STATUSES:
        for proto, proto_skip in PROTO_STATUSES:
            reason = loop_skip or proto_skip
            marks = [pytest.mark.skip(reason=reason)] if reason else []
            params.append(pytest.param((loop, proto), id=f"{loop}-{proto}", marks=marks))
    return params


COMBOS = _combo_params()


@pytest.fixture(params=COMBOS)
def combo(request: pytest.FixtureRequest) -> tuple[str, str]:
    """(loop, proto) of the current matrix cell."""
    return request.param


def known_loop_bug(
    request: pytest.FixtureRequest, loop: str, reason: str, *, strict: bool = True
) -> None:
    """Expect this test to fail on ``loop`` because of a bug in that loop itself.

    Strict by default: the test still runs in full, and it fails the suite once the loop
    is fixed, so the mark cannot outlive the bug. ``strict=False`` only for a bug that
    shows intermittently (the reason says so).
    """
    if request.getfixturevalue("combo")[0] == loop:
        request.applymarker(pytest.mark.xfail(strict=strict, reason=reason))


# --------------------------------------------------------------------------------------
# In-process servers


@dataclasses.dataclass
class Running:
    """A Server running in a daemon thread."""

    server: Any
    thread: threading.Thread
    config: Any
    errors: list[BaseException]

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def addr(self) -> tuple[str, int] | str:
        if self.config.uds:
            return self.config.uds
        return (HOST, self.server.port)

    def client(self, **kwargs: Any) -> RawClient:
        return RawClient(self.addr, **kwargs)

    def request(self, data: bytes, *, head: bool = False) -> Response:
        """One request on a fresh connection; returns the final response."""
        with self.client() as client:
            client.send(data)
            return client.read_final(head=head)

    def stop(self, timeout: float = 15.0) -> None:
        self.server.request_exit()
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise AssertionError(f"server did not stop within {timeout} s of request_exit()")


def start_server(app: Any, *, wait: bool = True, **overrides: Any) -> Running:
    """Start ``Server(Config(app=app, **overrides))`` in a thread (port 0 by default)."""
    from asgibench.server import Config, Server

    options: dict[str, Any] = {"host": HOST, "port": 0, "access_log": False}
    options.update(overrides)
    config = Config(app=app, **options)
    server = Server(config)
    errors: list[BaseException] = []

    def target() -> None:
        try:
            server.run()
        except BaseException as exc:  # reported by the test, not by threading.excepthook
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True, name="asgibench-server")
    thread.start()
    running = Running(server, thread, config, errors)
    if wait and not server.wait_started(timeout=5):
        if thread.is_alive():
            running.stop(timeout=5)
        detail = f": {errors[0]!r}" if errors else ""
        raise AssertionError(f"server did not start within 5 s{detail}")
    return running


@pytest.fixture
def serve(combo: tuple[str, str]) -> Iterator[Callable[..., Running]]:
    """``serve(app, **config_overrides)`` -> a Running server on this test's loop x proto.

    Every server started is stopped (and must stop) at teardown.
    """
    loop, proto = combo
    started: list[Running] = []

    def start(app: Any, *, wait: bool = True, **overrides: Any) -> Running:
        overrides.setdefault("loop", loop)
        overrides.setdefault("proto", proto)
        running = start_server(app, wait=wait, **overrides)
        started.append(running)
        return running

    yield start
    failures = []
    for running in started:
        try:
            running.stop()
        except AssertionError as exc:
            failures.append(str(exc))
        if running.errors:
            failures.append(f"server.run() raised {running.errors[0]!r}")
    if failures:
        pytest.fail("; ".join(failures))


# --------------------------------------------------------------------------------------
# Raw-socket client and response parser

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
# Small helpers


def _poll(sock: socket.socket, events: int, timeout: float) -> bool:
    # poll(), not select(): select() fails on fds above 1024, and a long run can get there.
    poller = select.poll()
    poller.register(sock, events)
    return bool(poller.poll(max(0, int(timeout * 1000))))


def wait_readable(sock: socket.socket, timeout: float) -> bool:
    return _poll(sock, select.POLLIN | select.POLLERR | select.POLLHUP, timeout)


def wait_writable(sock: socket.socket, timeout: float) -> bool:
    return _poll(sock, select.POLLOUT | select.POLLERR | select.POLLHUP, timeout)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def connection_refused(address: tuple[str, int], timeout: float = 5.0) -> bool:
    """True once a connect() to ``address`` is refused (polls for up to ``timeout`` s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(address, timeout=1):
                pass
        except ConnectionRefusedError:
            return True
        except OSError:
            pass
        time.sleep(0.02)
    return False


def traceback_records(records: list[logging.LogRecord]) -> list[logging.LogRecord]:
    """Records from asgibench's (or asyncio's) loggers that carry a traceback."""
    return [
        r
        for r in records
        if r.exc_info and (r.name.startswith("asgibench") or r.name.startswith("asyncio"))
    ]


# --------------------------------------------------------------------------------------
# ``bench serve`` subprocesses


class ServeProcess:
    """``python -m asgibench serve ...`` in ``cwd``; stdout/stderr go to files."""

    def __init__(
        self,
        cwd: Path,
        args: list[str],
        *,
        port: int | None,
        env: dict[str, str] | None = None,
        pass_fds: tuple[int, ...] = (),
        name: str = "serve",
    ) -> None:
        self.cwd = cwd
        self.port = port
        self.args = args
        self.stdout_path = cwd / f"{name}.stdout"
        self.stderr_path = cwd / f"{name}.stderr"
        full_env = dict(os.environ)
        full_env["PYTHONUNBUFFERED"] = "1"
        for key in [k for k in full_env if k.startswith("ASGIBENCH_")]:
            del full_env[key]
        full_env.update(env or {})
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "asgibench", "serve", *args],
                cwd=cwd,
                stdout=out,
                stderr=err,
                env=full_env,
                pass_fds=pass_fds,
            )

    @property
    def addr(self) -> tuple[str, int]:
        assert self.port is not None
        return (HOST, self.port)

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 15.0, address: Any = None) -> None:
        """Poll connect() until the server accepts, or fail with its stderr."""
        address = address or self.addr
        family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"bench serve exited with status {self.proc.returncode} before serving; "
                    f"stderr:\n{self.stderr()}"
                )
            with socket.socket(family, socket.SOCK_STREAM) as sock:
                sock.settimeout(1)
                try:
                    sock.connect(address)
                    return
                except OSError:
                    pass
            time.sleep(0.05)
        raise AssertionError(f"bench serve not ready after {timeout} s; stderr:\n{self.stderr()}")

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"bench serve still running {timeout} s later; stderr:\n{self.stderr()}"
            ) from None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., ServeProcess]]:
    """``spawn(args, app_source=..., port=...)`` -> a ServeProcess in ``tmp_path``.

    ``app_source`` (default: ``apps.SUBPROCESS_APP``) is written to
    ``tmp_path/app_module.py``. ``port="free"`` appends ``--port <a free port>``, an int
    appends that port, None appends nothing. Processes still running at teardown are killed.
    """
    from .apps import SUBPROCESS_APP

    processes: list[ServeProcess] = []

    def start(
        args: list[str],
        *,
        app_source: str | None = None,
        port: int | str | None = "free",
        env: dict[str, str] | None = None,
        pass_fds: tuple[int, ...] = (),
    ) -> ServeProcess:
        (tmp_path / "app_module.py").write_text(app_source or SUBPROCESS_APP)
        if port == "free":
            port = free_port()
        extra = ["--port", str(port)] if isinstance(port, int) else []
        process = ServeProcess(
            tmp_path,
            [*args, *extra],
            port=port if isinstance(port, int) else None,
            env=env,
            pass_fds=pass_fds,
            name=f"serve{len(processes)}",
        )
        processes.append(process)
        return process

    yield start
    for process in processes:
        process.kill()
