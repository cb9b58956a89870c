"""A process's CPU time and run-queue delay, read precisely where the OS allows it.

psutil's CPU times come from ``/proc/<pid>/stat`` in clock ticks (10 ms on Linux): over a
0.5 s level that is an error of several percent. On Linux two better sources exist:

* the process's CPU clock (``clock_gettime`` on the id glibc's ``clock_getcpuclockid``
  builds, ``(~pid << 3) | 2``): every thread's CPU time in nanoseconds, threads that
  already exited included;
* ``/proc/<pid>/task/*/schedstat``: per thread, nanoseconds on a CPU and nanoseconds
  runnable but **waiting** for one (field 2). CPU time alone cannot tell a saturated
  process on a shared machine (runnable all the time, given half a core: 50%) from a half
  idle one; CPU + waiting over the wall time can: never idle is ~100%.

Elsewhere the CPU time is psutil's (or this process's ``time.process_time()``) and the
waiting is unknown (None).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import dataclass

try:  # a dependency of asgibench; pyworker imports this module too
    import psutil
except ImportError:  # pragma: no cover
    psutil = None  # type: ignore[assignment]

#: Resolution of psutil's CPU times (clock ticks) where the CPU clock is unavailable.
TICK_S = 1 / (os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100)
_LINUX = sys.platform.startswith("linux")


def cpu_clock_s(pid: int) -> float | None:
    """``pid``'s CPU seconds (all its threads, dead ones too) at nanosecond resolution;
    None where the OS has no such clock or the process is gone."""
    if not _LINUX:
        return None
    try:
        return time.clock_gettime_ns((~pid << 3) | 2) / 1e9
    except OSError:
        return None


def has_cpu_clock() -> bool:
    """Whether :func:`cpu_clock_s` works here (Linux)."""
    return cpu_clock_s(os.getpid()) is not None


def schedstat_s(pid: int | str = "self") -> tuple[float, float] | None:
    """(seconds on a CPU, seconds runnable but waiting for one), summed over ``pid``'s
    live threads; None without ``/proc/<pid>/task/*/schedstat``."""
    if not _LINUX:
        return None
    run = wait = 0
    found = False
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat", "rb") as handle:
                fields = handle.read().split()
        except OSError:
            continue  # the thread exited between the listing and the read
        if len(fields) >= 2:
            run += int(fields[0])
            wait += int(fields[1])
            found = True
    return (run / 1e9, wait / 1e9) if found else None


@dataclass(frozen=True)
class Reading:
    """One reading of a process: when (``time.monotonic()``), its CPU seconds so far,
    and its run-queue delay so far (None where unknown)."""

    at: float
    cpu_s: float
    wait_s: float | None

    def since(self, before: Reading) -> dict[str, float | None]:
        """What happened between ``before`` and this reading (JSON-ready)."""
        wait = None if self.wait_s is None or before.wait_s is None \
            else max(self.wait_s - before.wait_s, 0.0)
        return {"cpu_s": max(self.cpu_s - before.cpu_s, 0.0), "wait_s": wait,
                "window_s": max(self.at - before.at, 0.0)}


def reading(pid: int | None = None) -> Reading | None:
    """A :class:`Reading` of ``pid`` (None: this process, its CPU from
    ``time.process_time()``); None when the process cannot be read."""
    at = time.monotonic()
    sched = schedstat_s("self" if pid is None else pid)
    wait = None if sched is None else sched[1]
    if pid is None:
        return Reading(at, time.process_time(), wait)
    cpu = cpu_clock_s(pid)
    if cpu is None:
        if psutil is None:
            return None
        try:
            times = psutil.Process(pid).cpu_times()
        except (psutil.Error, OSError):
            return None
        cpu = times.user + times.system
    return Reading(at, cpu, wait)


def threads(pid: int) -> int | None:
    """How many threads ``pid`` has now; None when it cannot be read."""
    if _LINUX:
        with contextlib.suppress(OSError):
            return len(os.listdir(f"/proc/{pid}/task"))
    if psutil is None:
        return None
    try:
        return psutil.Process(pid).num_threads()
    except (psutil.Error, OSError):
        return None
