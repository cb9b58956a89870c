"""Load drivers: what generates the requests and measures them.

* ``wrk`` -- TechEmpower's own driver (Debian's ``wrk`` 4), driven as TFB does.
* ``python`` -- asgibench's lean Python driver (raw asyncio Protocol connections in
  several processes, on the fastest loop available), for machines without wrk.

A driver takes a :class:`LoadSpec` and returns a :class:`LoadResult`; ``auto`` picks wrk
when it is on PATH, else the Python driver.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Protocol

from asgibench.harness.workloads import authority
from asgibench.registry import Registry

ERROR_KINDS = ("connect", "read", "write", "timeout")
PERCENTILES = (50, 75, 90, 99)


class DriverError(Exception):
    """The driver itself failed during a measurement (recorded; the run goes on)."""


@dataclass
class LoadSpec:
    """One measurement: ``connections`` keep-alive connections for ``duration`` seconds."""

    host: str
    port: int
    path: str
    connections: int
    duration: float
    pipeline: int = 1
    timeout: float = 8.0
    accept: str = "*/*"
    test: str | None = None  # test-type name, for response-body checks under load
    cpus: list[int] | None = None  # pin the driver to these CPUs (None: no pinning)
    slots: int = 1  # wrk threads / Python driver processes
    #: A workload's requests, ready to send (asgibench.harness.workloads.wires): sent in
    #: turn instead of ``GET path``, bodies not checked under load (verification did).
    wires: tuple[str, ...] = ()
    close: bool = False  # a new connection per request (the workload's connection="close")
    #: WebSocket mode (the Python driver only): ``path`` is upgraded, and each connection
    #: sends ``message_size``-byte messages, each echoed before the next; ``storm``: a
    #: new connection (upgrade, one echo, close handshake) per message.
    websocket: bool = False
    message_size: int = 0
    storm: bool = False
    #: Open loop (the Python driver only): ``rate`` requests per second in total, sent on
    #: a schedule that does not wait for responses (``arrival``: ``fixed`` intervals or
    #: ``poisson``), each latency measured from its scheduled time. ``connections`` are
    #: opened first; more are opened under load, up to ``max_connections``, when every
    #: one is busy. 0: closed loop.
    rate: float = 0.0
    arrival: str = "fixed"
    max_connections: int = 0

    @property
    def url(self) -> str:
        scheme = "ws" if self.websocket else "http"
        return f"{scheme}://{authority(self.host, self.port)}{self.path}"


class Window(Protocol):
    """Told when a driver's measured window starts and ends (the harness reads the
    server's CPU then, so the server's CPU and the requests cover the same seconds)."""

    def started(self) -> None: ...

    def ended(self) -> None: ...


@dataclass
class DriverUsage:
    """What the driver itself used over its measured window (start-up and connecting
    excluded), summed over its ``units`` (the Python driver's processes, wrk's threads):
    CPU seconds, seconds runnable but waiting for a CPU (Linux schedstat; None
    elsewhere), and the window's wall seconds (each unit's, averaged)."""

    cpu_s: float
    window_s: float
    units: int
    wait_s: float | None = None

    @property
    def busy(self) -> float | None:
        """The share of the window its units were never idle: (CPU + waiting) / (window
        x units); CPU alone where the waiting is unknown."""
        if self.window_s <= 0 or self.units <= 0:
            return None
        return (self.cpu_s + (self.wait_s or 0.0)) / (self.window_s * self.units)


@dataclass
class LoadResult:
    """What one measurement produced. Latencies in milliseconds."""

    requests: int  # responses completed within the duration
    duration_s: float
    latency_ms: dict[str, float]  # p50 p75 p90 p99 max mean stdev
    errors: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ERROR_KINDS, 0))
    non_2xx: int = 0  # wrk counts non-2xx/3xx; the Python driver non-2xx
    bad_body: int = 0  # 2xx responses whose body failed the test type's check
    checked: int = 0  # responses whose body was checked (all, or wrk's sample)
    usage: DriverUsage | None = None  # the driver's own CPU (None: not measured)
    #: The latencies as an encoded HDR histogram (asgibench.harness.latency), when the
    #: driver keeps one (the Python driver); microseconds. Results from several driver
    #: hosts merge exactly through it.
    histogram: str | None = None
    #: Open loop: target and sent rates, scheduled/sent/late/dropped counts, flags
    #: (see asgibench.harness.results.OpenLoop).
    open_loop: dict[str, Any] | None = None
    #: Facts a driver adds to the measurement's record (several driver hosts: each
    #: host's share, and whether the merged latencies are exact).
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def good_requests(self) -> int:
        return max(self.requests - self.non_2xx - self.bad_body, 0)

    @property
    def requests_per_s(self) -> float:
        """TFB's figure: (requests - non-2xx [- wrong bodies]) / duration."""
        return self.good_requests / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values()) + self.non_2xx + self.bad_body

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "duration_s": round(self.duration_s, 4),
            "requests_per_s": round(self.requests_per_s, 2),
            "latency_ms": {k: round(v, 4) for k, v in self.latency_ms.items()},
            "errors": dict(self.errors),
            "non_2xx": self.non_2xx,
            "bad_body": self.bad_body,
            "checked": self.checked,
            **({"histogram": self.histogram} if self.histogram else {}),
            **({"open_loop": dict(self.open_loop)} if self.open_loop is not None else {}),
            **self.extra,
        }


class Driver(ABC):
    name: str
    install_hint: str = ""

    @abstractmethod
    def available(self) -> tuple[bool, str]:
        """(usable, reason-if-not)."""

    @abstractmethod
    def version(self) -> str | None: ...

    @abstractmethod
    def run(self, spec: LoadSpec, window: Window | None = None) -> LoadResult:
        """Run one measurement; raise DriverError if the driver itself fails. ``window``
        is told when the measured duration starts and ends (as near as the driver can
        tell), and the result's ``usage`` holds the driver's own CPU over it."""

    def describe(self, slots: int) -> dict[str, Any]:
        """The driver's settings for the results file."""
        return {"name": self.name, "version": self.version()}


def _auto() -> str:
    """wrk (TechEmpower's own driver) when it is on PATH, else the Python driver."""
    return "wrk" if DRIVERS.plugin("wrk").available()[0] else "python"


#: The load drivers: one module each (defining ``DRIVER``), one line here.
DRIVERS: Registry[Driver] = Registry("driver", {
    "wrk": "asgibench.harness.drivers.wrk:DRIVER",
    "python": "asgibench.harness.drivers.pydriver:DRIVER",
}, auto=_auto)


def get_driver(name: str) -> Driver:
    """``auto`` or a driver's name -> a usable driver, or BenchError (one line)."""
    return DRIVERS.get(name.strip().lower())
