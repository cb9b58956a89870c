"""``bench memory``: a server's resident memory while it holds many keep-alive connections.

Each server starts alone; its resident size (VmRSS, summed over the process and its
children, so multi-process servers count whole) is read once it answers, then again after
``--connections`` clients have each made one request and stay connected, idle. The
difference per connection is what one kept-alive client costs the server.

The user's own app (``bench memory --app``) is measured the same way, lifespan included
(it runs as the server runs it). Its workloads are verified first; each held connection
then makes one request of them (round robin over the keep-alive workloads, each in its
weighted turn): the start-up size is the app's, the held size adds what its requests
left behind per connection. With ``--app`` alone the connections are held as opened,
without a request (the app is not called): per connection is then the server's own cost
of an idle connection.

With ``--ws`` the held connections are WebSockets: each upgrades on the built-in app's
``/ws``, has one 32-byte message echoed (so the server's WebSocket state is fully built),
then stays open and idle. One row per WebSocket implementation, as ``bench run --ws``.

Linux only: it reads ``/proc``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from asgibench import protocols
from asgibench.errors import BenchError
from asgibench.harness import verify
from asgibench.harness.cost import (
    Answers,
    start_failure,
    status_problem,
    websocket_echo,
    websocket_upgrade,
    workload_requests,
)
from asgibench.harness.process import ServerProcess, StartFailed, server_env
from asgibench.harness.servers import Launch
from asgibench.harness.testtypes import TestType
from asgibench.harness.testtypes.websocket_echo import message as websocket_echo_message
from asgibench.harness.workloads import Request, Workload, authority

_SETTLE = 0.5  # seconds for the server to finish with the last connection before reading


@dataclass(frozen=True)
class Footprint:
    server: str
    loop: str
    parser: str
    connections: int
    idle_kib: int | None  # resident size once started
    held_kib: int | None  # with every connection open
    reason: str = ""
    #: The user's app (``--app``; None: the built-in one), where it was imported from, and
    #: the workloads whose requests the held connections made (none: held as opened).
    app: str | None = None
    app_dir: str | None = None
    workloads: tuple[Workload, ...] = ()
    #: The held connections were WebSockets (``--ws``), idle after one echo.
    websocket: bool = False

    @property
    def per_connection_kib(self) -> float | None:
        if self.idle_kib is None or self.held_kib is None or not self.connections:
            return None
        return (self.held_kib - self.idle_kib) / self.connections

    def to_json(self) -> dict[str, Any]:
        """The row of a ``bench memory --out`` file; with ``--app``, also ``app``,
        ``app_dir`` (when given) and ``workloads`` (their definitions, as ``bench run``
        stores them; empty: the connections were held without a request)."""
        out: dict[str, Any] = {
            "server": self.server, "loop": self.loop, "parser": self.parser,
            "connections": self.connections, "idle_kib": self.idle_kib,
            "held_kib": self.held_kib, "per_connection_kib": self.per_connection_kib,
            "reason": self.reason}
        if self.app is not None:
            out["app"] = self.app
            if self.app_dir is not None:
                out["app_dir"] = self.app_dir
            out["workloads"] = [workload.to_dict() for workload in self.workloads]
        if self.websocket:
            out["held"] = "websocket"
        return out


#: The server every other row is compared with.
BASELINE_SERVER = "asgibench"


def baseline(row: Footprint, rows: Sequence[Footprint]) -> Footprint | None:
    """The measured asgibench row ``row`` is compared with, or None if there is none.

    Always the same loop: each server's own loop runs the app. The same parser too when
    asgibench has it; a server with a parser of its own (granian's ``rust``) is compared
    with asgibench as ``bench serve`` runs by default on that loop, the parser ``auto``
    picks (httptools where installed), else the first asgibench parser measured there.
    """
    measured = [
        r for r in rows if r.server == BASELINE_SERVER and r.loop == row.loop and r.held_kib
    ]
    for r in measured:
        if r.parser == row.parser:
            return r
    if not own_parser(row.parser):
        return None  # asgibench has this parser: another one would not be like for like
    preferred = protocols.auto_name()
    return next((r for r in measured if r.parser == preferred), measured[0] if measured else None)


def own_parser(parser: str) -> bool:
    """Whether ``parser`` is a server's own (granian's ``rust``), not one asgibench has."""
    return parser not in {b.name for b in protocols.backends()}


def check_platform() -> None:
    if not os.path.exists("/proc/self/status"):
        raise BenchError("bench memory reads /proc, which this OS does not have (Linux only)")


def resident_kib(pid: int) -> int:
    """VmRSS of ``pid`` and all its descendants, in KiB."""
    total = 0
    for each in _tree(pid):
        with contextlib.suppress(OSError), open(f"/proc/{each}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                    break
    return total


def _tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError), \
                open(f"/proc/{name}/stat", encoding="ascii", errors="replace") as f:
            # the parent pid is the 2nd field after the parenthesised command name
            parent = int(f.read().rpartition(")")[2].split()[1])
            children.setdefault(parent, []).append(int(name))
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(children.get(current, []))
    return out


def measure(launch: Launch, test: TestType, host: str, port: int, connections: int,
            startup_timeout: float, *, app: str | None = None, app_dir: str | None = None,
            workloads: Sequence[Workload] = (), websocket: str | None = None) -> Footprint:
    """The resident size of ``launch`` once it answers, and while it holds ``connections``
    connections. ``test`` is the readiness probe and, for the built-in app, the request
    each connection makes. With ``app`` (``app_dir`` first on the server's
    ``PYTHONPATH``), ``workloads`` are verified first (a failure is a failed row), then
    each connection makes one request of the keep-alive ones (round robin over them, each
    in its weighted turn; a ``connection = "close"`` workload holds nothing, so it is only
    verified); with no workload the connections are held as opened, without a request.
    ``websocket`` (a WebSocket path of the built-in app): each connection upgrades there
    and has one message echoed instead."""
    server = ServerProcess(launch.argv, None, server_env(app_dir))
    held_by = [w for w in workloads if w.connection != "close"]
    closing = [w.name for w in workloads if w.connection == "close"]
    note = (f"{', '.join(closing)}: connection = close, verified but not held"
            if closing else "")

    def row(idle: int | None, held: int | None, reason: str) -> Footprint:
        return Footprint(launch.server, launch.loop, launch.parser, connections, idle, held,
                         reason, app, app_dir, tuple(workloads), websocket is not None)

    turns: list[list[tuple[bytes, Request]]]
    if app is None:
        wire = (f"GET {test.path} HTTP/1.1\r\nHost: {authority(host, port)}\r\n"
                f"Accept: {test.accept}\r\n\r\n").encode("latin-1")
        turns = [[(wire, Request("GET", test.path, expect_status=200))]]
    else:
        turns = [workload_requests(w, authority(host, port)) for w in held_by]

    held: list[socket.socket] = []
    try:
        server.start_on(host, port)
        server.wait_ready(host, port, test, startup_timeout)
        assert server.proc is not None
        for workload in workloads:
            outcome = verify.verify_workload(workload, host, port)
            if not outcome.passed:
                return row(None, None, f"verification failed: {workload.name}: "
                                       f"{outcome.summary()}")
        time.sleep(_SETTLE)
        idle = resident_kib(server.proc.pid)
        for index in range(connections):
            sock = socket.create_connection((host, port), timeout=10)
            held.append(sock)
            if websocket is not None:
                _upgrade_and_echo(sock, websocket, host, port, index)
            elif turns:
                turn = turns[index % len(turns)]
                wire, request = turn[(index // len(turns)) % len(turn)]
                sock.sendall(wire)
                status, _body = Answers(sock, authority(host, port)).read(request)
                problem = status_problem(request, status)
                if problem:
                    raise BenchError(problem)
        time.sleep(_SETTLE)
        if not server.alive():
            return row(None, None, f"exited with status {server.returncode} holding "
                                   "connections")
        return row(idle, resident_kib(server.proc.pid), note)
    except StartFailed as exc:
        return row(None, None, start_failure(exc))
    except (OSError, BenchError) as exc:
        return row(None, None, f"after {len(held)} connection(s): {exc}")
    finally:
        for sock in held:
            sock.close()
        server.stop(10.0)
        server.close()



def _upgrade_and_echo(sock: socket.socket, path: str, host: str, port: int,
                      index: int) -> None:
    """Upgrade ``sock`` on ``path`` and have one 32-byte text message echoed (BenchError
    when the server refuses the upgrade or echoes something else)."""
    rest = websocket_upgrade(sock, path, host, port)
    websocket_echo(sock, websocket_echo_message(32, index), index.to_bytes(4, "big"), rest)
