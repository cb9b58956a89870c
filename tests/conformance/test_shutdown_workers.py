"""Graceful shutdown (in-process on every loop x parser; SIGTERM/SIGINT on ``bench serve``),
the graceful timeout, and ``--workers``."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from . import apps
from .client import RawClient, get
from .conftest import HOST, LOOPS, connection_refused, wait_until

# ---- in-process, every loop x parser


def test_graceful_shutdown_in_process(serve):
    app = apps.Gate()
    srv = serve(app, timeout_keep_alive=30)
    with srv.client() as idle, srv.client() as busy:
        idle.send(get("/"))
        assert idle.read_final().status == 200
        busy.send(get("/wait"))
        assert app.entered.wait(5)
        srv.server.request_exit()
        try:
            # Idle keep-alive connections are closed, new connections refused...
            assert idle.read_until_eof(timeout=5) == b""
            assert connection_refused(srv.addr, timeout=5), "still accepting after exit"
            assert srv.thread.is_alive(), "stopped without waiting for the in-flight request"
        finally:
            app.release.set()
        # ...and the in-flight request completes, then its connection closes.
        response = busy.read_final()
        assert (response.status, response.body) == (200, b"released")
        assert busy.read_until_eof(timeout=5) == b""
    srv.thread.join(5)
    assert not srv.thread.is_alive()


def test_graceful_shutdown_timeout_in_process(serve):
    app = apps.Gate()
    srv = serve(app, timeout_graceful_shutdown=0.3)
    try:
        with srv.client() as busy:
            busy.send(get("/wait"))
            assert app.entered.wait(5)
            srv.server.request_exit()
            srv.thread.join(5)
            assert not srv.thread.is_alive(), "request_exit did not honour the graceful timeout"
            response = busy.read_final()
            # Nothing was sent yet: 503 and a close, not a silent close.
            assert response.status == 503
            assert response.header("connection") == b"close"
            assert busy.read_until_eof(timeout=5) == b""
            assert b"released" not in bytes(busy.received)
    finally:
        app.release.set()


# ---- ``bench serve`` subprocesses

# Windows cannot signal another process: Popen.send_signal(SIGTERM) is TerminateProcess (a
# kill, no shutdown runs), SIGINT is refused outright, and os.kill(pid, SIGKILL) does not
# exist. Graceful shutdown there would need CTRL_BREAK_EVENT and a new process group.
NO_SIGNALS = pytest.mark.skipif(
    sys.platform == "win32",
    reason="Windows has no SIGTERM/SIGINT/SIGKILL for another process (send_signal "
    "terminates it outright)",
)


def _release(process) -> None:
    (process.cwd / "release").write_text("go")


def _signal_case(spawn, loop: str, sig: signal.Signals) -> None:
    process = spawn(["app_module:app", "--loop", loop, "--timeout-keep-alive", "30"])
    process.wait_ready()
    cwd: Path = process.cwd
    with RawClient(process.addr) as idle, RawClient(process.addr, timeout=15) as slow:
        idle.send(get("/"))
        assert idle.read_final().status == 200
        slow.send(get("/slow"))
        assert wait_until(lambda: (cwd / "slow-started").exists(), 5), "slow request not started"
        process.proc.send_signal(sig)
        try:
            assert idle.read_until_eof(timeout=5) == b"", "idle keep-alive connection not closed"
            assert connection_refused(process.addr, timeout=5), "new connections not refused"
            assert process.proc.poll() is None, "exited before the in-flight request finished"
        finally:
            _release(process)
        response = slow.read_final()
        assert (response.status, response.body) == (200, b"slow done")
    status = process.wait(15)
    assert status == 0, process.stderr()
    assert list(cwd.glob("shutdown-*")), f"lifespan shutdown did not run:\n{process.stderr()}"


@pytest.mark.slow
@NO_SIGNALS
@pytest.mark.parametrize("loop", LOOPS)
def test_sigterm_graceful_shutdown(spawn, loop):
    _signal_case(spawn, loop, signal.SIGTERM)


@pytest.mark.slow
@NO_SIGNALS
def test_sigint_graceful_shutdown(spawn):
    _signal_case(spawn, "auto", signal.SIGINT)


@pytest.mark.slow
@NO_SIGNALS  # there, the kill would pass this test without any graceful timeout at all
def test_graceful_shutdown_timeout_exits(spawn):
    process = spawn(["app_module:app", "--timeout-graceful-shutdown", "0.5"])
    process.wait_ready()
    with RawClient(process.addr, timeout=15) as hung:
        hung.send(get("/hang"))
        assert wait_until(lambda: (process.cwd / "hang-started").exists(), 5)
        process.proc.send_signal(signal.SIGTERM)
        status = process.wait(10)
        assert status >= 0, f"killed by signal {-status}"
        data = hung.read_until_eof(timeout=5)
    assert b"HTTP/1.1 200" not in data


def _pid_of_answer(address) -> int | None:
    try:
        with RawClient(address, timeout=3) as client:
            client.send(get("/pid", headers=[("Connection", "close")]))
            response = client.read_final()
    except (OSError, AssertionError):
        return None
    return int(response.body) if response.status == 200 else None


def _collect_pids(address, want, timeout: float) -> set[int]:
    """Connect repeatedly until ``want(pids)`` holds or ``timeout`` passes."""
    pids: set[int] = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not want(pids):
        pid = _pid_of_answer(address)
        if pid is not None:
            pids.add(pid)
        else:
            time.sleep(0.05)
    return pids


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:  # a zombie waiting to be reaped by someone else counts as gone
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


@pytest.mark.slow
@NO_SIGNALS
def test_two_workers_answer_and_a_killed_one_is_replaced(spawn):
    process = spawn(["app_module:app", "--workers", "2"])
    process.wait_ready(timeout=20)
    first = _collect_pids(process.addr, lambda p: len(p) >= 2, timeout=15)
    assert len(first) == 2, f"answers came from {first}; expected two worker pids"
    assert process.proc.pid not in first
    victim = min(first)
    os.kill(victim, signal.SIGKILL)
    replaced = _collect_pids(process.addr, lambda p: bool(p - first), timeout=20)
    assert replaced - first, f"no new worker answered after killing {victim}: saw {replaced}"
    after = _collect_pids(process.addr, lambda p: len(p) >= 2, timeout=10)
    assert len(after) == 2 and victim not in after, f"after the kill, answers from {after}"
    all_workers = first | replaced | after
    process.proc.send_signal(signal.SIGTERM)
    status = process.wait(30)
    assert status == 0, process.stderr()
    assert wait_until(lambda: all(_gone(pid) for pid in all_workers), 10), "workers left over"
    with pytest.raises(OSError):
        socket.create_connection((HOST, process.port), timeout=2).close()
