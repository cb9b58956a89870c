"""Fixtures for the hostile-client suite: ``bench serve`` subprocesses on every loop x parser
of the conformance matrix, and the server's memory as the kernel reports it.

Each test starts its own server (about 0.2 s), so one test's leak cannot spoil another's
baseline. Memory is VmRSS from ``/proc/PID/status``, summed over the process tree (the
server plus any workers); tests that read it skip elsewhere ("needs /proc").
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

# pytest imports tests/conformance/conftest.py as ``conformance.conftest`` (tests/ has no
# __init__.py, so tests/ is what goes on sys.path); importing it by that name shares the one
# module instead of loading a second copy.
try:
    from conformance.conftest import (
        COMBOS,
        ServeProcess,
        known_loop_bug,
        spawn,
    )
except ImportError:  # run with the repository root on sys.path instead
    from tests.conformance.conftest import (  # type: ignore[no-redef]
        COMBOS,
        ServeProcess,
        known_loop_bug,
        spawn,
    )

__all__ = [
    "NEEDS_PROC",
    "RssSampler",
    "ServeProcess",
    "error_lines",
    "known_loop_bug",
    "open_fds",
    "rss_bytes",
    "spawn",
    "wait_idle",
]

APPS_SOURCE = (Path(__file__).parent / "apps.py").read_text()
MB = 1024 * 1024

NEEDS_PROC = pytest.mark.skipif(
    not os.path.exists("/proc/self/status"),
    reason="reads memory, descriptors and CPU time from /proc, which macOS and Windows lack",
)


@pytest.fixture(params=COMBOS)
def combo(request: pytest.FixtureRequest) -> tuple[str, str]:
    """(loop, proto) of the current matrix cell."""
    return request.param


@pytest.fixture
def server(
    combo: tuple[str, str], spawn: Callable[..., ServeProcess]
) -> Callable[..., ServeProcess]:
    """``server(*extra_flags)`` -> a ready ``bench serve app_module:app`` on this combo.

    The app is ``tests/hostile/apps.py``; no access log (thousands of lines would only
    cost time), log level info so every ERROR the server logs is in ``.stderr()``.
    """
    loop, proto = combo

    def start(*extra: str) -> ServeProcess:
        process = spawn(
            ["app_module:app", "--loop", loop, "--proto", proto, "--no-access-log", *extra],
            app_source=APPS_SOURCE,
        )
        process.wait_ready(timeout=15)
        return process

    return start


# --------------------------------------------------------------------------------------
# Memory and CPU of a process tree, from /proc


def _children(pid: int) -> list[int]:
    """Direct children of ``pid`` (every thread's /proc children list, else a /proc scan)."""
    kids: list[int] = []
    task_dir = Path(f"/proc/{pid}/task")
    try:
        tasks = list(task_dir.iterdir())
    except OSError:
        return kids
    found_file = False
    for task in tasks:
        try:
            text = (task / "children").read_text()
        except OSError:
            continue
        found_file = True
        kids.extend(int(p) for p in text.split())
    if found_file:
        return kids
    for entry in Path("/proc").iterdir():  # kernels without CONFIG_PROC_CHILDREN
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                kids.append(int(entry.name))
    return kids


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (a server with workers is several processes)."""
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        todo.extend(_children(current))
    return pids


def _vmrss(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:  # exited meanwhile
        return 0
    match = re.search(r"^VmRSS:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) * 1024 if match else 0


def rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` and its descendants, in bytes (VmRSS summed)."""
    return sum(_vmrss(p) for p in process_tree(pid))


def open_fds(pid: int) -> int:
    """Open file descriptors of the process tree (a leaked socket stays one)."""
    total = 0
    for p in process_tree(pid):
        try:
            total += len(os.listdir(f"/proc/{p}/fd"))
        except OSError:
            pass
    return total


def cpu_ticks(pid: int) -> int:
    """utime + stime of the process tree, in clock ticks."""
    total = 0
    for p in process_tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total


def wait_idle(pid: int, quiet: float = 0.25, timeout: float = 5.0) -> bool:
    """Wait until the tree burns no CPU for ``quiet`` s (its backlog is done)."""
    deadline = time.monotonic() + timeout
    last, since = cpu_ticks(pid), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = cpu_ticks(pid)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return True
    return False


class RssSampler:
    """Baseline, then samples: ``peak_growth`` is the largest RSS rise seen so far."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.interval = interval
        self.baseline = rss_bytes(pid)
        self.peak = self.baseline
        self.last = self.baseline
        self._next = 0.0

    def sample(self) -> int:
        self.last = rss_bytes(self.pid)
        self.peak = max(self.peak, self.last)
        self._next = time.monotonic() + self.interval
        return self.last

    def tick(self) -> None:
        """Sample if ``interval`` has passed (cheap enough to call in any loop)."""
        if time.monotonic() >= self._next:
            self.sample()

    @property
    def peak_growth(self) -> int:
        return self.peak - self.baseline

    @property
    def growth(self) -> int:
        return self.last - self.baseline


def mb(n: float) -> str:
    return f"{n / MB:.1f} MB"


# --------------------------------------------------------------------------------------
# The server's log

_ERROR_LINE = re.compile(r"\b(ERROR|CRITICAL)\b|Traceback \(most recent call last\)")


def error_lines(stderr: str) -> list[str]:
    """Lines of the server's stderr that report an error or start a traceback."""
    return [line for line in stderr.splitlines() if _ERROR_LINE.search(line)]
