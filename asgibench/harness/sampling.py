"""What a measured level cost: the server process tree's CPU time and peak resident
memory over the driver's measured window, and the load driver's own CPU over it.

* **Window**: the driver tells the sampler (:class:`~asgibench.harness.drivers.Window`)
  when its measured duration starts and ends, so the server's CPU covers the seconds its
  requests were counted in, not the driver's start-up and connecting. A driver that does
  not tell leaves the window as the whole of its run.
* **Server CPU**: every process of the tree the harness started (a multi-process server's
  workers too), read at both ends of the window and whenever the tree is listed again
  (every :data:`LIST_INTERVAL_S`), so a worker that exits during the level counts up to
  its last reading. On Linux the total comes from each process's CPU clock (nanoseconds,
  :mod:`asgibench.harness.procstat`); psutil's user/system split (10 ms clock ticks) is
  kept as information. Elsewhere the total is psutil's, and its resolution is stored.
* **Server memory**: the tree's summed RSS every :data:`RSS_INTERVAL_S`; the peak is the
  largest sum (shared pages of forked workers count once per process, as ``bench memory``
  counts them). Only processes of the tree count: a database server the app talks to
  (PostgreSQL) is not in it.
* **Driver**: the driver's own reading over its window (``LoadResult.usage``): CPU and the
  time it was runnable but waiting for a CPU. **Saturated** means never idle:
  (CPU + waiting) / (window x its processes or threads) >= ``DRIVER_SATURATED``; where
  the waiting is unknown (not Linux), CPU alone.
* A server not started here (``bench run --url``) has no server figures: its CPU and
  memory are recorded as unknown, with the reason, never guessed.

Listing a tree (psutil's ``children(recursive=True)`` scans all of /proc: milliseconds)
is done every 0.5 s, not at every memory sample, so the sampler costs well under 1% of a
core.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType

from asgibench.harness import procstat
from asgibench.harness.drivers import LoadResult
from asgibench.harness.results import Resources

#: Seconds between RSS samples (a sample reads one small /proc file per process).
RSS_INTERVAL_S = 0.25
#: Seconds between listings of the server's process tree (and CPU readings of it).
LIST_INTERVAL_S = 0.5

try:  # a dependency; without it the server's figures are unknown, with the reason
    import psutil
except ImportError:  # pragma: no cover - psutil is installed with asgibench
    psutil = None  # type: ignore[assignment]

_Key = tuple[int, float]  # (pid, create time): a reused pid is another process
#: One process's CPU reading: total seconds, user and system seconds (psutil's ticks).
_Cpu = tuple[float, float, float]


def _cpu(proc: psutil.Process) -> _Cpu:
    times = proc.cpu_times()
    total = procstat.cpu_clock_s(proc.pid)
    return (times.user + times.system if total is None else total, times.user, times.system)


class Sampler:
    """Around one measured level: ``with Sampler(pid) as s: result = driver.run(spec, s)``,
    then ``s.resources(result)``. ``pid`` is the server's process (None: not started
    here, ``unknown`` says why)."""

    def __init__(self, pid: int | None,
                 unknown: str = "the server was not started by this run") -> None:
        self.pid = pid
        self.unknown = unknown
        self._procs: dict[_Key, psutil.Process] = {}
        self._first: dict[_Key, _Cpu] = {}
        self._last: dict[_Key, _Cpu] = {}
        self._peak_rss = 0
        self._processes = 0
        self._error = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._window: list[float] = []  # monotonic start (and end) of the window
        self._ended = False

    @property
    def _active(self) -> bool:
        return self.pid is not None and psutil is not None

    # -- the server's tree ----------------------------------------------------------------

    def _list(self) -> None:
        """List the tree again (a new worker joins, an exited one drops out)."""
        try:
            root = psutil.Process(self.pid)
            tree = [root, *root.children(recursive=True)]
        except (psutil.Error, OSError) as exc:
            self._error = self._error or f"cannot read the server's process: {exc}"
            return
        procs: dict[_Key, psutil.Process] = {}
        for proc in tree:
            try:
                procs[(proc.pid, proc.create_time())] = proc
            except (psutil.Error, OSError):
                continue
        with self._lock:
            self._procs = procs
            self._processes = max(self._processes, len(procs))

    def _read_cpu(self) -> dict[_Key, _Cpu]:
        """Every listed process's CPU now (an exited one keeps its last reading)."""
        with self._lock:
            procs = dict(self._procs)
        seen: dict[_Key, _Cpu] = {}
        for key, proc in procs.items():
            try:
                seen[key] = _cpu(proc)
            except (psutil.Error, OSError):
                continue
        with self._lock:
            if not self._ended:
                self._last.update(seen)
        return seen

    def _read_rss(self) -> None:
        with self._lock:
            procs = list(self._procs.values())
        rss = 0
        for proc in procs:
            try:
                rss += proc.memory_info().rss
            except (psutil.Error, OSError):
                continue
        with self._lock:
            self._peak_rss = max(self._peak_rss, rss)

    def _loop(self) -> None:
        listed = time.monotonic()
        while not self._stop.wait(RSS_INTERVAL_S):
            if time.monotonic() - listed >= LIST_INTERVAL_S:
                listed = time.monotonic()
                self._list()
                self._read_cpu()
            self._read_rss()

    # -- the window (drivers.Window) ------------------------------------------------------

    def started(self) -> None:
        """The driver's measured window starts: the server's CPU counts from here."""
        now = time.monotonic()
        if self._active:
            first = self._read_cpu()
            with self._lock:
                self._first = first
                self._last = dict(first)
        self._window = [now]

    def ended(self) -> None:
        """The window ends: later CPU is the server finishing after it, not counted."""
        if self._ended:
            return
        now = time.monotonic()
        if self._active:
            self._read_cpu()
        with self._lock:
            self._ended = True
        self._window = [*self._window[:1], now]

    # -- the context --------------------------------------------------------------------

    def __enter__(self) -> Sampler:
        self._window = [time.monotonic()]
        if self._active:
            self._list()
            self._first = self._read_cpu()
            self._read_rss()
            self._thread = threading.Thread(target=self._loop, name="asgibench-sampler",
                                            daemon=True)
            self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._read_rss()
        self.ended()  # no-op when the driver said so itself

    def resources(self, result: LoadResult | None = None) -> Resources:
        """The level's figures; ``result`` (the driver's) brings the driver's own CPU."""
        wall = self._window[-1] - self._window[0] if len(self._window) == 2 else 0.0
        out = Resources(wall_s=round(wall, 4))
        usage = None if result is None else result.usage
        if usage is None:
            out.driver_unknown = "the driver did not measure its own CPU"
        else:
            out.driver_cpu_s = round(usage.cpu_s, 6)
            out.driver_wait_s = None if usage.wait_s is None else round(usage.wait_s, 6)
            out.driver_window_s = round(usage.window_s, 4)
            out.driver_cpus = usage.units
        if self.pid is None:
            out.server_unknown = self.unknown
        elif psutil is None:
            out.server_unknown = "psutil is not installed"
        elif not self._last:
            out.server_unknown = self._error or "the server's process could not be read"
        else:
            total = user = system = 0.0
            for key, last in self._last.items():
                first = self._first.get(key, (0.0, 0.0, 0.0))  # born in the window
                total += max(last[0] - first[0], 0.0)
                user += max(last[1] - first[1], 0.0)
                system += max(last[2] - first[2], 0.0)
            out.server_cpu_s = round(total, 6)
            out.server_cpu_resolution_s = 1e-9 if procstat.has_cpu_clock() \
                else round(procstat.TICK_S, 6)
            out.server_cpu_user_s = round(user, 2)
            out.server_cpu_system_s = round(system, 2)
            out.server_peak_rss_kib = self._peak_rss // 1024
            out.server_processes = self._processes
        return out
