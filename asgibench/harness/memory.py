"""``bench memory``: a server's resident memory while it holds many keep-alive connections.

Each server starts alone; its resident size (VmRSS, summed over the process and its
children, so multi-process servers count whole) is read once it answers, then again after
``--connections`` clients have each made one request and stay connected, idle. The
difference per connection is what one kept-alive client costs the server.

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
from asgibench.harness.process import ServerProcess, StartFailed
from asgibench.harness.servers import Launch
from asgibench.harness.testtypes import TestType

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

    @property
    def per_connection_kib(self) -> float | None:
        if self.idle_kib is None or self.held_kib is None or not self.connections:
            return None
        return (self.held_kib - self.idle_kib) / self.connections

    def to_json(self) -> dict[str, Any]:
        return {"server": self.server, "loop": self.loop, "parser": self.parser,
                "connections": self.connections, "idle_kib": self.idle_kib,
                "held_kib": self.held_kib, "per_connection_kib": self.per_connection_kib,
                "reason": self.reason}


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
            startup_timeout: float) -> Footprint:
    server = ServerProcess(launch.argv, None)

    def failed(reason: str) -> Footprint:
        return Footprint(launch.server, launch.loop, launch.parser, connections, None, None,
                         reason)

    held: list[socket.socket] = []
    try:
        server.start()
        server.wait_ready(host, port, test, startup_timeout)
        assert server.proc is not None
        time.sleep(_SETTLE)
        idle = resident_kib(server.proc.pid)
        request = (f"GET {test.path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                   f"Accept: {test.accept}\r\n\r\n").encode("latin-1")
        for _ in range(connections):
            sock = socket.create_connection((host, port), timeout=10)
            held.append(sock)
            sock.sendall(request)
            _read_response(sock)
        time.sleep(_SETTLE)
        if not server.alive():
            return failed(f"exited with status {server.returncode} holding connections")
        return Footprint(launch.server, launch.loop, launch.parser, connections, idle,
                         resident_kib(server.proc.pid))
    except StartFailed as exc:
        return failed(exc.reason)
    except OSError as exc:
        return failed(f"after {len(held)} connection(s): {exc}")
    finally:
        for sock in held:
            sock.close()
        server.stop(10.0)
        server.close()


def _read_response(sock: socket.socket) -> None:
    """Read one response with a Content-Length body (the benchmark app's), or fail."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise OSError("the server closed a keep-alive connection")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise OSError("the server closed the connection mid-body")
        body += chunk
