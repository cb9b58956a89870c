"""Fixtures for the harness tests: free ports and servers in subprocesses."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
BADSERVER = str(HERE / "badserver.py")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


def start(argv: list[str], port: int, cwd: Path | None = None) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_listening(port, proc)
    except RuntimeError:
        proc.kill()
        proc.wait()
        raise
    return proc


def kill_tree(proc: subprocess.Popen[Any]) -> None:
    """SIGKILL ``proc`` and every process under it (listed first, so that killing the
    parent does not orphan them out of sight), then reap ``proc``."""
    import psutil

    try:
        tree = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        tree = []
    proc.kill()
    for child in tree:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
    proc.wait(10)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture
def unused_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def canned_port() -> Iterator[int]:
    """The canned-response server, for the module's tests."""
    port = free_port()
    proc = start([sys.executable, "-m", "asgibench.harness.canned", "--port", str(port)], port)
    yield port
    stop(proc)


@pytest.fixture
def bad_server():
    """``bad_server(mode) -> port``: tests/harness/badserver.py in a subprocess."""
    procs: list[subprocess.Popen[bytes]] = []

    def launch(mode: str) -> int:
        port = free_port()
        procs.append(start([sys.executable, BADSERVER, str(port), mode], port))
        return port

    yield launch
    for proc in procs:
        stop(proc)
