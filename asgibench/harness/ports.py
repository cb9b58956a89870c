"""The server's port: is it free, pick a free one, or say (one line) why not."""

from __future__ import annotations

import os
import random
import socket
import time

from asgibench.errors import BenchError


def port_is_free(host: str, port: int) -> bool:
    """Could a server bind ``host:port`` now (TIME_WAIT leftovers do not count)?"""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        if os.name == "posix":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def wait_until_free(host: str, port: int, timeout: float = 3.0) -> bool:
    """Wait for ``host:port`` to be bindable: the previous server on it, stopped a moment
    ago, may still be releasing it (one port serves every server of a run in turn)."""
    deadline = time.monotonic() + timeout
    while not port_is_free(host, port):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def ephemeral_range() -> tuple[int, int]:
    """The OS's range for outgoing connections' local ports."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as handle:
            low, high = (int(x) for x in handle.read().split()[:2])
            return low, high
    except (OSError, ValueError):
        return 49152, 65535  # IANA's range: macOS, Windows, the BSDs


def pick_port(host: str) -> int:
    """A free port *outside* the ephemeral range: thousands of driver connections use
    ephemeral ports, and one could hold the server's port between two server starts."""
    low, _ = ephemeral_range()
    candidates = list(range(10000, max(low, 10001)))
    random.shuffle(candidates)
    for port in candidates[:200]:
        if port_is_free(host, port):
            return port
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, 0))
        except OSError as exc:
            raise BenchError(f"cannot bind {host}: {exc.strerror or exc}") from None
        return int(sock.getsockname()[1])


def check_port(host: str, port: int) -> None:
    """BenchError (one line) when ``host:port`` is taken or not bindable."""
    if not port_is_free(host, port):
        raise BenchError(f"port {port} on {host} is busy (another process is listening); "
                         "choose another with --port, or --port 0 for any free one")
