"""``bench cost``: CPU instructions per request, counted by callgrind -- a noise-free
measure of how much work a server does per request.

Requests per second on a shared machine move by 25% between identical runs; the number
of instructions a process executes for the same requests barely moves at all. So each
server runs under ``valgrind --tool=callgrind`` while one keep-alive client sends it
requests, and the counters are dumped (``callgrind_control --dump``) after a warm-up and
again after the measured requests: the second dump holds exactly the measured part.

The canned-response server (:mod:`asgibench.harness.canned`: no parser, no ASGI) is
measured the same way on every loop: its cost is the floor, Python's and the loop's own
work per request. ``floor / server`` is then the share of the floor's speed a server can
reach when the CPU is the limit.

Only servers that serve from the process they were started as can be counted (callgrind
follows one process): asgibench and uvicorn; hypercorn and granian fork workers.

The user's own app (``bench cost --app``) is counted on its workloads
(:mod:`asgibench.harness.workloads`): each verified first (:func:`verify.verify_workload`),
then its own request bytes in their weighted turn (:func:`workloads.wires`), pipelined at
its depth, or one connection per request with ``connection = "close"`` (so accept and
teardown are counted). :func:`workload_requests`, :class:`Answers`,
:func:`start_failure` serves ``bench memory`` too.

A WebSocket echo type (``bench cost --ws IMPL``) is counted per message: one connection
upgraded on ``/ws`` before the warm-up, then each message sent as a masked text frame and
its echo read and checked (:class:`WebSocketSender`; :func:`websocket_upgrade` and
:func:`websocket_echo` serve ``bench memory --ws`` too). The handshake is outside both
dumps; the canned server speaks no WebSocket, so there is no floor.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import Any

import h11

from asgibench.errors import BenchError
from asgibench.harness import verify, workloads
from asgibench.harness.drivers.pyworker import (
    WS_PING,
    WS_PONG,
    WS_TEXT,
    ws_accepted,
    ws_frame,
    ws_frames,
    ws_handshake,
)
from asgibench.harness.httpclient import Client, VerifyError
from asgibench.harness.process import ServerProcess, StartFailed, server_env
from asgibench.harness.servers import Launch, Unsupported
from asgibench.harness.testtypes import TestType
from asgibench.harness.testtypes.websocket_echo import message as websocket_echo_message
from asgibench.harness.workloads import Request, Workload

#: Servers whose requests are served by the launched process itself.
COUNTABLE_SERVERS = ("asgibench", "uvicorn")
FLOOR = "canned"
_STARTUP_TIMEOUT = 180.0  # interpreter start-up under valgrind takes ~10 s here
_DUMP_TIMEOUT = 60.0


@dataclass(frozen=True)
class Cost:
    server: str
    loop: str
    parser: str
    test: str
    pipeline: int
    requests: int
    instructions: int | None  # over the measured requests; None when it failed
    reason: str = ""
    #: The user's app (``--app``; None: the built-in one), where it was imported from, and
    #: the workload this row counts (None: a built-in test type).
    app: str | None = None
    app_dir: str | None = None
    workload: Workload | None = None

    @property
    def per_request(self) -> float | None:
        return None if self.instructions is None else self.instructions / self.requests

    @classmethod
    def from_json(cls, row: Any) -> Cost:
        """A row of a ``bench cost --out`` file back (ValueError, one line, for a row that
        is not one). A workload's definition is not read back (its bodies are stored by
        size only): ``workload`` is None, ``test`` names it."""
        if not isinstance(row, dict):
            raise ValueError(f"is a {type(row).__name__}, not an object")
        missing = [key for key in ("server", "loop", "parser", "test", "pipeline",
                                   "instructions", "requests") if key not in row]
        if missing:
            raise ValueError(f"lacks {', '.join(missing)}")
        instructions = row["instructions"]
        if instructions is not None and (isinstance(instructions, bool) or
                                         not isinstance(instructions, int) or
                                         instructions < 0):
            raise ValueError(f"has instructions {instructions!r}, not a count")
        requests = row["requests"]
        if isinstance(requests, bool) or not isinstance(requests, int) or requests <= 0:
            raise ValueError(f"has requests {requests!r}, not a positive count")
        pipeline = row["pipeline"]
        if isinstance(pipeline, bool) or not isinstance(pipeline, int) or pipeline <= 0:
            raise ValueError(f"has pipeline {pipeline!r}, not a positive depth")
        return cls(str(row["server"]), str(row["loop"]), str(row["parser"]), str(row["test"]),
                   pipeline, requests, instructions, str(row.get("reason") or ""),
                   app=None if row.get("app") is None else str(row["app"]),
                   app_dir=None if row.get("app_dir") is None else str(row["app_dir"]))

    def to_json(self) -> dict[str, Any]:
        """The row of a ``bench cost --out`` file; ``app``, ``app_dir`` and ``workload``
        (its definition, as ``bench run`` stores it) only when set."""
        out: dict[str, Any] = {
            "server": self.server, "loop": self.loop, "parser": self.parser,
            "test": self.test, "pipeline": self.pipeline, "requests": self.requests,
            "instructions": self.instructions, "per_request": self.per_request,
            "reason": self.reason,
        }
        if self.app is not None:
            out["app"] = self.app
        if self.app_dir is not None:
            out["app_dir"] = self.app_dir
        if self.workload is not None:
            out["workload"] = self.workload.to_dict()
        return out


def check_tools() -> None:
    """BenchError unless valgrind and callgrind_control are installed."""
    missing = [tool for tool in ("valgrind", "callgrind_control") if not shutil.which(tool)]
    if missing:
        raise BenchError(f"bench cost needs {' and '.join(missing)}: install valgrind "
                         "(apt-get install valgrind, brew install valgrind)")


def countable(plan: list[Launch | Unsupported]) -> list[Launch | Unsupported]:
    """The plan with servers callgrind cannot follow turned into Unsupported."""
    out: list[Launch | Unsupported] = []
    for item in plan:
        if isinstance(item, Launch) and item.server not in COUNTABLE_SERVERS:
            item = Unsupported(item.server, item.loop, item.parser,
                               f"{item.server} serves from worker processes; "
                               "callgrind counts one process")
        out.append(item)
    return out


def floor_launch(loop: str, host: str, port: int) -> Launch:
    argv = [sys.executable, "-m", "asgibench.harness.canned", "--host", host,
            "--port", str(port), "--loop", loop]
    return Launch(FLOOR, loop, "-", argv)


def measure(launch: Launch, tests: list[TestType], host: str, port: int, requests: int,
            warmup: int, app: str | None = None, app_dir: str | None = None,
            db: str | None = None) -> list[Cost]:
    """Count the instructions ``launch`` spends on ``requests`` requests of each test type
    (pipelined ``test.pipeline`` at a time), in one server process (interpreter start-up
    under valgrind is most of the time).

    The server starts with callgrind's instrumentation off (``--instr-atstart=no``), which
    runs the interpreter's start-up and the readiness check ~3x faster; it is switched on
    for the first warm-up. Each test type gets its own warm-up, then a dump that ends it,
    then its measured requests and a dump holding exactly them; a dump resets the
    counters, so one test type's work never reaches another's count.

    ``db`` is the database of the database test types, given to the server as every
    ``bench run`` gives it; their count includes the database driver's work in the server
    process (aiosqlite's thread too: callgrind counts every thread).

    ``app`` and ``app_dir`` are the user's app (``app_dir`` goes first on the server's
    ``PYTHONPATH``); its workloads are verified before counting starts, and one that fails
    is a failed row while the others are counted.
    """
    with tempfile.TemporaryDirectory(prefix="asgibench-cost-") as folder:
        out_file = os.path.join(folder, "callgrind.out")
        argv = ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                f"--callgrind-out-file={out_file}", *launch.argv]
        # A fixed hash seed keeps dict layouts, and so instruction counts, repeatable.
        env = server_env(app_dir, db, base={**os.environ, "PYTHONHASHSEED": "0"})
        server = ServerProcess(argv, None, env=env)

        def cost(test: TestType, instructions: int | None, reason: str = "") -> Cost:
            return Cost(launch.server, launch.loop, launch.parser, test.name, test.pipeline,
                        requests, instructions, reason, app, app_dir, _workload(test))

        failure = ""
        refused: dict[str, str] = {}
        try:
            server.start_on(host, port)
            server.wait_ready(host, port, tests[0], _STARTUP_TIMEOUT)
            for test in tests:  # before counting: uninstrumented, so fast
                workload = _workload(test)
                if workload is not None:
                    outcome = verify.verify_workload(workload, host, port)
                    if not outcome.passed:
                        refused[test.name] = f"verification failed: {outcome.summary()}"
            counted = [test for test in tests if test.name not in refused]
            if counted:
                _callgrind(server, "--instr=on")
                _count(server, counted, host, port, requests, warmup)
                # Shutting down uninstrumented is faster too.
                _callgrind(server, "--instr=off")
        except StartFailed as exc:
            failure = start_failure(exc)
        except (VerifyError, BenchError, OSError) as exc:
            failure = str(exc)
        finally:
            server.stop(30.0)
            server.close()
        counts = _read_dumps(folder)
        out = []
        for test in tests:
            instructions = counts.get(f"measured {test.name}")
            if instructions is not None:
                out.append(cost(test, instructions))
            else:
                out.append(cost(test, None, refused.get(test.name) or failure or
                                "callgrind wrote no dump of the measured requests"))
        return out


def _count(server: ServerProcess, tests: list[TestType], host: str, port: int,
           requests: int, warmup: int) -> None:
    """Per test type: the warm-up, a dump, the measured requests, a dump. The built-in
    test types share one keep-alive connection; a workload has its own connection(s)."""
    with contextlib.ExitStack() as shared:
        client: Client | None = None
        for test in tests:
            workload = _workload(test)
            with contextlib.ExitStack() as own:
                if test.websocket is not None:
                    sender: _Sender = own.enter_context(WebSocketSender(test, host, port))
                elif workload is None:
                    if client is None:
                        client = shared.enter_context(Client(host, port,
                                                             timeout=_DUMP_TIMEOUT))
                    sender = _TestSender(client, test)
                else:
                    sender = own.enter_context(WorkloadSender(workload, host, port))
                sender.send(warmup)
                _callgrind(server, f"--dump=warm-up {test.name}")
                sender.send(requests)
                _callgrind(server, f"--dump=measured {test.name}")


def _workload(test: TestType) -> Workload | None:
    """The workload a test type measures, at the depth it is counted with (``--pipeline``
    may have changed ``test.pipeline``), or None for a built-in test type."""
    if test.workload is None:
        return None
    return dataclasses.replace(test.workload, pipeline=test.pipeline)


def start_failure(exc: StartFailed) -> str:
    """The reason of a server that did not start, with the last line of its output (where
    an app that cannot be imported says why)."""
    lines = [line.strip() for line in (exc.output or "").splitlines() if line.strip()]
    return f"{exc.reason}: {lines[-1]}" if lines else exc.reason


def not_counted(item: Unsupported, tests: list[TestType], requests: int,
                app: str | None = None, app_dir: str | None = None) -> list[Cost]:
    """The rows of a combination that cannot be counted, one per test type."""
    return [Cost(item.server, item.loop, item.parser, test.name, test.pipeline, requests,
                 None, item.reason, app, app_dir, _workload(test)) for test in tests]


class _Sender:
    def send(self, count: int) -> None:
        raise NotImplementedError


class _TestSender(_Sender):
    """A built-in test type's requests on the shared connection, every answer checked."""

    def __init__(self, client: Client, test: TestType) -> None:
        self.client = client
        self.test = test

    def send(self, count: int) -> None:
        """``count`` requests in pipelined batches of ``test.pipeline``."""
        test = self.test
        left = count
        while left > 0:
            batch = min(test.pipeline, left)
            for response in self.client.get(test.path, test.accept, batch):
                if response.status != 200 or not test.body_ok(response.body):
                    raise BenchError(f"wrong answer to {test.path}: status "
                                     f"{response.status}, body {response.body[:60]!r}")
            left -= batch


# -- a workload's own requests (bench cost and bench memory) ----------------------------------


def workload_requests(workload: Workload, host: str) -> list[tuple[bytes, Request]]:
    """The workload's requests in their weighted turn, each as the exact bytes the load
    drivers send (``host`` as ``HOST:PORT``) with the request it is (for its
    expectations)."""
    close = workload.connection == "close"
    return [(workloads.request_wire(request, host, close), request)
            for request in workloads.turn(workload)]


def status_problem(request: Request, status: int) -> str | None:
    """None when ``status`` is what ``request`` expects, else a one-line reason naming
    the request."""
    problem = request.status_problem(status)
    return f"wrong answer to {request.label}: {problem}" if problem else None


class Answers:
    """Reads the answers on one connection to requests sent as raw bytes
    (:func:`workload_requests`), parsed by h11 (a strict HTTP/1.1 parser). h11 is told only
    what frames an answer: the method (a HEAD answer has no body) and ``Connection:
    close``. Every failure is a :class:`~asgibench.errors.BenchError`."""

    def __init__(self, sock: socket.socket, host: str) -> None:
        self.sock = sock
        self.host = host
        self.conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=1 << 20)

    def read(self, request: Request, close: bool = False) -> tuple[int, bytes]:
        """(status, body) of the answer to ``request``, sent already."""
        conn = self.conn
        try:
            if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
                conn.start_next_cycle()
            elif conn.our_state is not h11.IDLE:
                raise BenchError(f"{request.label}: the server closed a keep-alive "
                                 "connection (or said close)")
            headers = [("Host", self.host)] + ([("Connection", "close")] if close else [])
            conn.send(h11.Request(method=request.method, target=request.path,
                                  headers=headers))
            conn.send(h11.EndOfMessage())
            status, body = 0, bytearray()
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(self.sock.recv(65536))
                elif isinstance(event, h11.Response):
                    status = event.status_code
                elif isinstance(event, h11.Data):
                    body += event.data
                elif isinstance(event, h11.EndOfMessage):
                    return status, bytes(body)
                elif isinstance(event, h11.ConnectionClosed):
                    raise BenchError(f"{request.label}: the server closed the connection "
                                     "without answering")
        except h11.ProtocolError as exc:
            raise BenchError(f"{request.label}: malformed answer ({exc})") from None
        except OSError as exc:
            raise BenchError(f"{request.label}: {exc or type(exc).__name__}") from None

    def until_closed(self) -> None:
        """Wait for the server to close the connection (after ``Connection: close``)."""
        try:
            while self.sock.recv(65536):
                pass
        except OSError as exc:
            raise BenchError(f"the server did not close the connection after "
                             f"Connection: close ({exc or type(exc).__name__})") from None


class WorkloadSender(_Sender):
    """Sends a workload's requests in their weighted turn (from the start of it on every
    :meth:`send`), in pipelined batches of its depth on one keep-alive connection, or each
    on a new connection with ``connection = "close"`` (waiting for the server to close it,
    so accept and teardown fall in the phase that sent it). Each answer's status is
    checked (:func:`status_problem`)."""

    def __init__(self, workload: Workload, host: str, port: int,
                 timeout: float = _DUMP_TIMEOUT) -> None:
        self.address = (host, port)
        self.timeout = timeout
        self.close_each = workload.connection == "close"
        self.depth = 1 if self.close_each else max(workload.pipeline, 1)
        self.turn = workload_requests(workload, workloads.authority(host, port))
        self.sock: socket.socket | None = None
        self.answers: Answers | None = None

    def __enter__(self) -> WorkloadSender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.close()
        self.sock = self.answers = None

    def _connect(self) -> tuple[socket.socket, Answers]:
        try:
            sock = socket.create_connection(self.address, timeout=self.timeout)
        except OSError as exc:
            raise BenchError(f"cannot connect to {self.address[0]}:{self.address[1]}: "
                             f"{exc}") from None
        return sock, Answers(sock, f"{self.address[0]}:{self.address[1]}")

    def send(self, count: int) -> None:
        sent = 0
        while sent < count:
            batch = [self.turn[(sent + i) % len(self.turn)]
                     for i in range(min(self.depth, count - sent))]
            sent += len(batch)
            if self.close_each:
                sock, answers = self._connect()
                with sock:
                    self._exchange(sock, answers, batch, close=True)
                    answers.until_closed()
                continue
            if self.sock is None or self.answers is None:
                self.sock, self.answers = self._connect()
            self._exchange(self.sock, self.answers, batch)

    @staticmethod
    def _exchange(sock: socket.socket, answers: Answers, batch: list[tuple[bytes, Request]],
                  close: bool = False) -> None:
        try:
            sock.sendall(b"".join(wire for wire, _ in batch))
        except OSError as exc:
            raise BenchError(f"cannot send {batch[0][1].label}: {exc}") from None
        for _, request in batch:
            status, _body = answers.read(request, close)
            problem = status_problem(request, status)
            if problem:
                raise BenchError(problem)


# -- WebSocket echoes (bench cost --ws, bench memory --ws) ------------------------------------


def websocket_upgrade(sock: socket.socket, path: str, host: str, port: int) -> bytes:
    """Upgrade ``sock`` on ``path`` (the driver's own handshake); return what came after
    the 101's head. BenchError when the server answers anything but a 101 with the right
    ``Sec-WebSocket-Accept``."""
    sock.sendall(ws_handshake(path, host, port))
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise BenchError("the server closed the connection during the WebSocket upgrade")
        buffer += chunk
    head, _, rest = buffer.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101") or not ws_accepted(head + b"\r\n"):
        raise BenchError(f"WebSocket upgrade refused: {head.splitlines()[0]!r}")
    return rest


def websocket_echo(sock: socket.socket, message: bytes, key: bytes,
                   buffer: bytes = b"") -> bytes:
    """Send ``message`` as one masked text frame and read its echo (``buffer``: bytes
    already received); return what came after it. BenchError for anything but the same
    text, unmasked."""
    sock.sendall(ws_frame(WS_TEXT, message, key))
    while True:
        frames, used = ws_frames(buffer)
        buffer = buffer[used:]
        for index, (opcode, fin, payload, masked) in enumerate(frames):
            if opcode == WS_PING:  # the server's keepalive (slow under callgrind): answer
                sock.sendall(ws_frame(WS_PONG, payload, key))
                continue
            # One message in flight: its echo is the one data frame due, and the last.
            extra = buffer or index < len(frames) - 1
            if extra or (opcode, fin, payload, masked) != (WS_TEXT, True, message, False):
                raise BenchError(f"the WebSocket echo came back wrong: opcode {opcode}, "
                                 f"{len(payload)} of {len(message)} bytes"
                                 f"{', then more' if extra else ''}")
            return buffer
        chunk = sock.recv(65536)
        if not chunk:
            raise BenchError("the server closed the WebSocket before echoing")
        buffer += chunk


class WebSocketSender(_Sender):
    """A WebSocket echo type's messages on one upgraded connection (``bench cost --ws``):
    each sent as a masked text frame and its echo awaited and checked, as the Python
    driver does under load."""

    def __init__(self, test: TestType, host: str, port: int,
                 timeout: float = _DUMP_TIMEOUT) -> None:
        assert test.websocket is not None and not test.websocket.storm
        self.message = websocket_echo_message(test.websocket.size)
        try:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as exc:
            raise BenchError(f"cannot connect to {host}:{port}: {exc}") from None
        self.buffer = websocket_upgrade(self.sock, test.path, host, port)

    def __enter__(self) -> WebSocketSender:
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def send(self, count: int) -> None:
        for index in range(count):
            self.buffer = websocket_echo(self.sock, self.message, index.to_bytes(4, "big"),
                                         self.buffer)


def _callgrind(server: ServerProcess, command: str) -> None:
    """``callgrind_control COMMAND PID``: dump the counters, switch instrumentation."""
    assert server.proc is not None
    try:
        done = subprocess.run(["callgrind_control", command, str(server.proc.pid)],
                              capture_output=True, text=True, timeout=_DUMP_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise BenchError("callgrind_control did not answer") from None
    if done.returncode != 0:
        raise BenchError(f"callgrind_control failed: {(done.stderr or done.stdout).strip()}")


def _read_dumps(folder: str) -> dict[str, int]:
    """The instruction total of each dump, by the label it was triggered with."""
    totals: dict[str, int] = {}
    for name in sorted(os.listdir(folder)):
        total: int | None = None
        trigger = ""
        with contextlib.suppress(OSError), open(os.path.join(folder, name),
                                                encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("desc: Trigger:"):
                    trigger = line.split(":", 2)[2].strip()
                elif line.startswith(("summary:", "totals:")) and total is None:
                    total = int(line.split()[1])
        if trigger.startswith("dump ") and total is not None:
            totals[trigger[len("dump "):]] = total
    return totals
