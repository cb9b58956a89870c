"""CPU pinning: keep the server and the load driver off each other's cores.

With 2+ usable cores the server gets the first half and the driver the rest (``--cpus``
overrides: ``SERVER:DRIVER`` with CPU lists like ``0``, ``0-1`` or ``2,3``; ``none``
disables pinning). Pinning is done with ``os.sched_setaffinity`` in the child before it
execs (Linux); elsewhere it is a no-op, and the plan says so in its ``note``. Children a
pinned process starts inherit its CPUs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from asgibench.errors import BenchError


def supported() -> bool:
    return hasattr(os, "sched_setaffinity") and hasattr(os, "sched_getaffinity")


def usable_cpus() -> list[int]:
    """The CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


@dataclass
class PinPlan:
    """Who runs where; ``server``/``driver`` are None when not pinned."""

    server: list[int] | None
    driver: list[int] | None
    method: str  # "sched_setaffinity" or "none"
    note: str = ""
    usable: list[int] = field(default_factory=usable_cpus)

    @property
    def active(self) -> bool:
        return self.server is not None

    def driver_slots(self) -> int:
        """How many driver threads/processes to run: one per driver CPU."""
        if self.driver:
            return len(self.driver)
        return max(len(self.usable) // 2, 1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "server_cpus": self.server,
            "driver_cpus": self.driver,
            "usable_cpus": self.usable,
            "note": self.note,
        }


def parse_cpu_list(text: str) -> list[int]:
    """``"0-2,5"`` -> ``[0, 1, 2, 5]``; BenchError on nonsense."""
    cpus: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if "-" in part:
                lo, hi = (int(x) for x in part.split("-", 1))
                if hi < lo:
                    raise ValueError
                cpus.update(range(lo, hi + 1))
            else:
                cpus.add(int(part))
        except ValueError:
            raise BenchError(f"bad CPU list {text!r}; use e.g. 0, 0-1 or 2,3") from None
    if not cpus or min(cpus) < 0:
        raise BenchError(f"bad CPU list {text!r}; use e.g. 0, 0-1 or 2,3")
    return sorted(cpus)


def check_spec(spec: str) -> None:
    """BenchError unless ``--cpus`` is ``auto``, ``none`` or ``SERVER:DRIVER`` CPU lists
    (its syntax only: which CPUs exist is known where they are)."""
    key = spec.strip().lower()
    if key in ("auto", "none"):
        return
    if ":" not in key:
        raise BenchError(f"bad --cpus {spec!r}; use auto, none or SERVER:DRIVER such as 0:1")
    server_text, driver_text = key.split(":", 1)
    parse_cpu_list(server_text)
    parse_cpu_list(driver_text)


def plan(spec: str = "auto") -> PinPlan:
    """Build the pinning plan from ``--cpus`` (``auto``, ``none`` or ``SERVER:DRIVER``)."""
    usable = usable_cpus()
    key = spec.strip().lower()
    if key == "none":
        return PinPlan(None, None, "none", "pinning disabled (--cpus none)", usable)
    if key == "auto":
        if not supported():
            return PinPlan(None, None, "none", "CPU pinning is not supported on this OS", usable)
        if len(usable) < 2:
            return PinPlan(None, None, "none", "only one usable CPU: server and driver share it",
                           usable)
        half = (len(usable) + 1) // 2
        return PinPlan(usable[:half], usable[half:], "sched_setaffinity", "", usable)
    if ":" not in key:
        raise BenchError(f"bad --cpus {spec!r}; use auto, none or SERVER:DRIVER such as 0:1")
    server_text, driver_text = key.split(":", 1)
    server, driver = parse_cpu_list(server_text), parse_cpu_list(driver_text)
    unknown = sorted(set(server + driver) - set(usable))
    if unknown:
        raise BenchError(
            f"--cpus names CPU(s) {', '.join(map(str, unknown))} this process cannot use; "
            f"usable: {', '.join(map(str, usable))}"
        )
    if not supported():
        return PinPlan(None, None, "none", f"--cpus {spec} ignored: no CPU pinning on this OS",
                       usable)
    note = "server and driver share CPUs" if set(server) & set(driver) else ""
    return PinPlan(server, driver, "sched_setaffinity", note, usable)


def preexec(cpus: list[int] | None) -> Callable[[], None] | None:
    """A ``preexec_fn`` pinning the child to ``cpus`` (None when nothing to do)."""
    if not cpus or not supported():
        return None
    chosen = set(cpus)

    def pin() -> None:
        os.sched_setaffinity(0, chosen)

    return pin


def pin_pid(pid: int, cpus: list[int] | None) -> bool:
    """Pin an already running process; False if it could not be done."""
    if not cpus or not supported():
        return False
    try:
        os.sched_setaffinity(pid, set(cpus))
    except OSError:
        return False
    return True
