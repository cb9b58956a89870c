"""What a measured level cost: the server process tree's CPU time and peak resident memory,
and the load driver's CPU, sampled while the driver runs.

* **Server**: the process the harness started and every descendant (a multi-process
  server's workers), through psutil. CPU time (user and system) is read at the start and
  end of the level and by a sampling thread in between, so a worker that exits during the
  level still counts up to its last sample (at most :data:`INTERVAL_S` of it is lost).
  Resident memory is the tree's summed RSS, sampled every :data:`INTERVAL_S`; the peak is
  the largest sum (shared pages of forked workers count once per process, as
  ``bench memory`` counts them).
* **Driver**: the CPU time of this process's children that ended during the level
  (``os.times()``: the wrk process, or the Python driver's worker processes, each waited
  for before the driver returns). It includes the driver's own start-up (the Python
  driver's workers import and connect first, ~0.1 s of CPU each), over the same wall time.
  Not known on Windows, where a process's children times are not kept.
* A server not started here (``bench run --url``) has no figures: its CPU and memory are
  recorded as unknown, with the reason, never guessed.
"""

from __future__ import annotations

import os
import threading
import time
from types import TracebackType

from asgibench.harness.results import Resources

#: Seconds between RSS samples (a sample reads two small /proc files per process).
INTERVAL_S = 0.05

try:  # a dependency; without it the server's figures are unknown, with the reason
    import psutil
except ImportError:  # pragma: no cover - psutil is installed with asgibench
    psutil = None  # type: ignore[assignment]

_Key = tuple[int, float]  # (pid, create time): a reused pid is another process


def _children_cpu() -> float | None:
    """CPU seconds of this process's waited-for children so far (None on Windows)."""
    if os.name != "posix":
        return None
    times = os.times()
    return times.children_user + times.children_system


class Sampler:
    """Context manager around one measured level: ``with Sampler(pid, driver_cpus) as s:
    driver.run(...)``, then :attr:`resources`. ``pid`` is the server's process (None: not
    started here, ``unknown`` says why); ``driver_cpus`` how many CPUs the driver can use
    (its threads or processes, one per CPU of its set)."""

    def __init__(self, pid: int | None, driver_cpus: int,
                 unknown: str = "the server was not started by this run") -> None:
        self.pid = pid
        self.driver_cpus = max(driver_cpus, 1)
        self.unknown = unknown
        self.resources: Resources | None = None
        self._first: dict[_Key, tuple[float, float]] = {}
        self._last: dict[_Key, tuple[float, float]] = {}
        self._peak_rss = 0
        self._processes = 0
        self._error = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._started = 0.0
        self._driver_start: float | None = None

    # -- the server's tree ----------------------------------------------------------------

    def _tree(self) -> list[psutil.Process]:
        root = psutil.Process(self.pid)
        return [root, *root.children(recursive=True)]

    def _sample(self) -> None:
        """One reading of every process in the tree: CPU times and the RSS sum."""
        try:
            tree = self._tree()
        except (psutil.Error, OSError) as exc:
            self._error = self._error or f"cannot read the server's process: {exc}"
            return
        rss = 0
        seen: dict[_Key, tuple[float, float]] = {}
        for proc in tree:
            try:
                with proc.oneshot():
                    cpu = proc.cpu_times()
                    key = (proc.pid, proc.create_time())
                    rss += proc.memory_info().rss
            except (psutil.Error, OSError):
                continue  # exited between listing and reading: its last sample stands
            # Not the children times: a worker reaped during the level would count twice
            # (its last sample, then its parent's children times).
            seen[key] = (cpu.user, cpu.system)
        with self._lock:
            self._last.update(seen)
            self._peak_rss = max(self._peak_rss, rss)
            self._processes = max(self._processes, len(seen))

    def _loop(self) -> None:
        while not self._stop.wait(INTERVAL_S):
            self._sample()

    # -- the context --------------------------------------------------------------------

    def __enter__(self) -> Sampler:
        self._started = time.monotonic()
        self._driver_start = _children_cpu()
        if self.pid is not None and psutil is not None:
            self._sample()
            self._first = dict(self._last)
            self._thread = threading.Thread(target=self._loop, name="asgibench-sampler",
                                            daemon=True)
            self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        wall = time.monotonic() - self._started
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._sample()
        end = _children_cpu()
        driver_cpu = None if end is None or self._driver_start is None \
            else max(end - self._driver_start, 0.0)
        out = Resources(wall_s=round(wall, 4), driver_cpus=self.driver_cpus,
                        driver_cpu_s=None if driver_cpu is None else round(driver_cpu, 4),
                        driver_unknown=None if driver_cpu is not None else
                        "this OS keeps no CPU times of finished child processes")
        if self.pid is None:
            out.server_unknown = self.unknown
        elif psutil is None:
            out.server_unknown = "psutil is not installed"
        elif not self._last:
            out.server_unknown = self._error or "the server's process could not be read"
        else:
            user = system = 0.0
            for key, (last_user, last_system) in self._last.items():
                first_user, first_system = self._first.get(key, (0.0, 0.0))
                user += max(last_user - first_user, 0.0)
                system += max(last_system - first_system, 0.0)
            out.server_cpu_user_s = round(user, 4)
            out.server_cpu_system_s = round(system, 4)
            out.server_peak_rss_kib = self._peak_rss // 1024
            out.server_processes = self._processes
        self.resources = out
