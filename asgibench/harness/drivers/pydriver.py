"""asgibench's lean Python load driver: works wherever Python does (Windows has no wrk).

This is the parent side. It splits the connections over one worker process per driver
CPU (:mod:`asgibench.harness.drivers.pyworker`: closed-loop keep-alive connections on the
fastest loop available, every response's status and body checked, latency counted in
exact microseconds; or, with a ``rate``, open loop: see that module), starts them, waits
until all are connected, starts them together, and merges their results (their HDR
histograms exactly, bucket by bucket). httpx would be the obvious choice but costs ~10x
more CPU per request than the raw protocols the workers use, so it would be the
bottleneck, not the server.

Worker protocol (internal): ``python -m asgibench.harness.drivers.pyworker SPEC_JSON``
prints ``{"ready": ...}``, waits for ``go`` on stdin, runs, prints the result as JSON.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from typing import Any

from asgibench import __version__, loops
from asgibench.harness import latency, pinning
from asgibench.harness.drivers import (
    ERROR_KINDS,
    Driver,
    DriverError,
    DriverUsage,
    LoadResult,
    LoadSpec,
    Window,
)
from asgibench.harness.drivers.pyworker import LATE_MS

#: The module each worker process runs (``python -m``); see its docstring.
WORKER_MODULE = "asgibench.harness.drivers.pyworker"


class PythonDriver(Driver):
    name = "python"
    install_hint = ""

    def available(self) -> tuple[bool, str]:
        return True, ""

    def version(self) -> str | None:
        return f"asgibench {__version__}"

    def describe(self, slots: int) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version(),
            "processes": slots,
            "loop": loops.auto_name(),
        }

    def run(self, spec: LoadSpec, window: Window | None = None) -> LoadResult:
        count = max(1, min(spec.slots, spec.connections))
        shares = [spec.connections // count + (1 if i < spec.connections % count else 0)
                  for i in range(count)]
        payload = asdict(spec)
        for local in ("cpus", "slots", "connections"):
            payload.pop(local, None)
        shared = json.dumps(payload)  # once: a workload's requests can be megabytes
        workers = [_WorkerProcess(spec, shared, _share(spec, shares, i), i)
                   for i in range(count)]
        try:
            for worker in workers:
                worker.start()
            deadline = time.monotonic() + 30 + spec.connections / 200
            for worker in workers:
                worker.wait_line("ready", deadline)
            for worker in workers:
                worker.go()
            if window is not None:
                window.started()
            deadline = time.monotonic() + spec.duration + spec.timeout + 15
            reports = []
            for worker in workers:
                reports.append(worker.wait_line("result", deadline))
                if window is not None and len(reports) == 1:
                    window.ended()  # the workers end together: one result marks it
        finally:
            for worker in workers:
                worker.close()
        return _merge(reports, spec)


def _share(spec: LoadSpec, shares: list[int], index: int) -> str:
    """Worker ``index``'s line: its connections; open loop, also its share of the rate,
    where its schedule starts (the workers' fixed schedules interleave evenly) and how
    many connections it may open under load."""
    if not spec.rate:
        return str(shares[index])
    count = len(shares)
    most = max(spec.max_connections, spec.connections)
    return json.dumps({
        "connections": shares[index],
        "rate": spec.rate / count,
        "phase": index / spec.rate,
        "max_connections": most // count + (1 if index < most % count else 0),
    })


class _WorkerProcess:
    """The parent's handle on one worker process."""

    def __init__(self, spec: LoadSpec, payload: str, connections: str, index: int) -> None:
        self.payload = payload
        self.connections = connections
        self.cpus = spec.cpus
        self.index = index
        self.proc: subprocess.Popen[str] | None = None
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stderr: list[str] = []

    def start(self) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", WORKER_MODULE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            preexec_fn=pinning.preexec(self.cpus),
        )
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines), daemon=True
                         ).start()
        threading.Thread(target=self._pump_err, daemon=True).start()
        # The spec and this worker's share of the connections (pyworker's protocol).
        self._tell(f"{self.payload}\n{self.connections}\n")

    @staticmethod
    def _pump(stream: Any, lines: queue.Queue[str | None]) -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)

    def _pump_err(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line.rstrip())
            del self.stderr[:-20]

    def wait_line(self, key: str, deadline: float) -> dict[str, Any]:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DriverError(f"python driver worker {self.index}: no {key!r} in time")
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                time.sleep(0.05)  # let stderr drain
                tail = " | ".join(self.stderr[-5:]) or "no output"
                raise DriverError(f"python driver worker {self.index} exited: {tail}")
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if isinstance(message, dict) and key in message:
                return message

    def go(self) -> None:
        self._tell("go\n")

    def _tell(self, text: str) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        try:
            self.proc.stdin.write(text)
            self.proc.stdin.flush()
        except OSError as exc:
            raise DriverError(f"python driver worker {self.index}: {exc}") from exc

    def close(self) -> None:
        proc = self.proc
        if proc is None:
            return
        with contextlib.suppress(OSError):
            if proc.stdin:
                proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _merge(reports: list[dict[str, Any]], spec: LoadSpec) -> LoadResult:
    """The workers' results as one: counts added, HDR histograms merged exactly."""
    results = [r["result"] for r in reports]
    hist = latency.merge(latency.decode(r["hdr"]) for r in results)
    latency_ms = latency.stats_ms(hist)
    latency_ms["max"] = max((r["max_us"] for r in results), default=0) / 1000
    errors = {kind: sum(r["errors"][kind] for r in results) for kind in ERROR_KINDS}
    duration = max(r["duration_s"] for r in results)
    open_loop = None
    if spec.rate:
        counts = {key: sum(r["open_loop"][key] for r in results)
                  for key in ("scheduled", "sent", "late", "dropped", "connections")}
        open_loop = {"target_rps": spec.rate, "arrival": spec.arrival,
                     "sent_per_s": round(counts["sent"] / duration, 2) if duration else 0.0,
                     **counts, "late_after_ms": LATE_MS}
    return LoadResult(
        requests=sum(r["requests"] for r in results),
        duration_s=duration,
        latency_ms=latency_ms,
        errors=errors,
        non_2xx=sum(r["non_2xx"] for r in results),
        bad_body=sum(r["bad_body"] for r in results),
        checked=sum(r["checked"] for r in results),
        usage=_usage(results),
        histogram=latency.encode(hist),
        open_loop=open_loop,
    )


def _usage(results: list[dict[str, Any]]) -> DriverUsage | None:
    """The workers' own CPU over their windows, summed (None from an older worker)."""
    usages = [r.get("usage") for r in results]
    if not usages or any(not isinstance(u, dict) for u in usages):
        return None
    waits = [u.get("wait_s") for u in usages]
    return DriverUsage(
        cpu_s=sum(float(u["cpu_s"]) for u in usages),
        window_s=sum(float(u["window_s"]) for u in usages) / len(usages),
        units=len(usages),
        wait_s=None if None in waits else sum(float(w) for w in waits))


DRIVER = PythonDriver()
