"""Pluggable asyncio event loops behind one small interface.

::

    import asgibench.loops as loops

    loops.run(main(), loop="uvloop")      # like asyncio.run, on the loop you name
    loop = loops.new_event_loop("rloop")  # a new loop you own (close it yourself)
    loops.available()                     # ['asyncio', 'selector', 'uvloop', ...]

Backends: ``asyncio`` (the stdlib default for this OS), ``selector``, ``proactor``
(Windows only), ``uvloop``, ``winloop``, ``rloop`` -- plus ``auto``, which picks uvloop,
else winloop, else the stdlib loop (Selector instead of Proactor on Windows when
``workers > 1``). Importing this package imports no third-party loop; no function here
reads or installs a global event-loop policy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from asgibench.errors import BenchError
from asgibench.loops import _runner as _runner_mod
from asgibench.loops._base import Backend, norm_platform
from asgibench.registry import Registry

__all__ = [
    "LOOPS",
    "Backend",
    "BackendStatus",
    "auto_name",
    "available",
    "backends",
    "describe",
    "get_backend",
    "new_event_loop",
    "run",
]

T = TypeVar("T")

#: The loop backends, in display order: one module each, one line here.
LOOPS: Registry[Backend] = Registry("loop", {
    "asyncio": "asgibench.loops._asyncio:BACKEND",
    "selector": "asgibench.loops._selector:BACKEND",
    "proactor": "asgibench.loops._proactor:BACKEND",
    "uvloop": "asgibench.loops._uvloop:BACKEND",
    "winloop": "asgibench.loops._winloop:BACKEND",
    "rloop": "asgibench.loops._rloop:BACKEND",
}, auto=lambda: auto_name())

#: Third-party loops ``auto`` prefers, best first.
AUTO_PREFERENCE: tuple[str, ...] = ("uvloop", "winloop")


@dataclass(frozen=True)
class BackendStatus:
    """One row of ``bench loops``: can this backend run here, and which version is it."""

    name: str
    available: bool
    reason: str  # "" when available; else why not (with the install hint when relevant)
    version: str | None
    is_auto: bool = False  # True for the backend "auto" resolves to


def backends() -> list[Backend]:
    """All known backends, available or not, in a stable display order."""
    return LOOPS.plugins()


def available(platform: str | None = None) -> list[str]:
    """Names of the backends usable on this machine, in display order (never ``"auto"``)."""
    return [b.name for b in backends() if b.available(platform)[0]]


def auto_name(workers: int = 1, platform: str | None = None) -> str:
    """The backend name ``"auto"`` resolves to for ``workers`` processes on ``platform``."""
    return _resolve_auto(workers, platform).name


def get_backend(name: str, *, workers: int = 1, platform: str | None = None) -> Backend:
    """Look up a backend by name, resolving ``"auto"``; raise :class:`BenchError` if unusable.

    ``workers`` and ``platform`` (default ``sys.platform``) only matter on Windows, where
    Proactor cannot serve a listening socket inherited by several worker processes
    (uvicorn issue #529): ``auto`` and ``asyncio`` then resolve to ``selector``, and an
    explicit ``proactor`` is refused. Errors are one line naming the valid choices.
    """
    key = name.strip().lower()
    if key == "auto":
        return _resolve_auto(workers, platform)
    if key not in LOOPS:
        raise BenchError(f"unknown loop {name!r}; {LOOPS.suggestion(key)}{_choices(platform)}")
    backend = LOOPS.plugin(key)
    ok, reason = backend.available(platform)
    if not ok:
        raise BenchError(
            f"loop {backend.name!r} is not available here: {_with_hint(backend, reason)}. "
            f"Available: {', '.join(['auto', *available(platform)])}"
        )
    if _is_windows(platform) and workers > 1:
        if backend.name == "asyncio":
            return LOOPS.plugin("selector")
        if backend.name == "proactor":
            raise BenchError(
                f"loop 'proactor' cannot be used with {workers} workers on Windows "
                "(workers inherit the listening socket, which Proactor cannot serve; "
                "uvicorn issue #529); use --loop selector or --loop auto"
            )
    return backend


def new_event_loop(name: str = "auto") -> asyncio.AbstractEventLoop:
    """A NEW event loop of backend ``name`` (the caller runs and closes it).

    No policy is consulted or changed; call ``asyncio.set_event_loop(loop)`` yourself if
    your code needs ``asyncio.get_event_loop()`` outside a running loop.
    """
    return get_backend(name).new_event_loop()


def run(
    main: Coroutine[Any, Any, T],
    *,
    loop: str = "auto",
    debug: bool | None = None,
) -> T:
    """Like :func:`asyncio.run`, but on the event loop named ``loop``; returns main's result.

    Uses ``asyncio.Runner(loop_factory=...)`` on Python 3.11+ and an equivalent backport
    on 3.10: a fresh loop, leftover tasks cancelled, async generators and the default
    executor shut down, loop closed. Raises :class:`BenchError` for an unknown or
    unavailable loop (the coroutine is closed, so nothing warns "never awaited").
    """
    try:
        backend = get_backend(loop)
    except BenchError:
        _runner_mod._close(main)
        raise
    return _runner_mod.run(main, loop_factory=backend.new_event_loop, debug=debug)


def describe(workers: int = 1, platform: str | None = None) -> list[BackendStatus]:
    """One :class:`BackendStatus` per known backend (display order), ``is_auto`` marked."""
    chosen = auto_name(workers, platform)
    rows = []
    for b in backends():
        ok, reason = b.available(platform)
        rows.append(
            BackendStatus(
                name=b.name,
                available=ok,
                reason=reason,
                version=b.version(),
                is_auto=b.name == chosen,
            )
        )
    return rows


def _is_windows(platform: str | None) -> bool:
    return norm_platform(platform) == "win32"


def _resolve_auto(workers: int, platform: str | None) -> Backend:
    for name in AUTO_PREFERENCE:
        backend = LOOPS.plugin(name)
        if backend.available(platform)[0]:
            return backend
    if _is_windows(platform):
        return LOOPS.plugin("selector" if workers > 1 else "proactor")
    return LOOPS.plugin("asyncio")


def _with_hint(backend: Backend, reason: str) -> str:
    if reason.startswith("not installed"):
        return f"not installed; install it with: {backend.install_hint}"
    if reason.startswith("import failed") and backend.install_hint:
        return f"{reason}; reinstall it with: {backend.install_hint}"
    return reason


def _choices(platform: str | None) -> str:
    names = available(platform)
    text = f"choose from: {', '.join(['auto', *names])}"
    missing = []
    for b in backends():
        if b.name in names:
            continue
        _, reason = b.available(platform)
        short = reason.split(":")[0] if reason.startswith(("not installed", "import")) else reason
        hint = f", {b.install_hint}" if short == "not installed" and b.install_hint else ""
        missing.append(f"{b.name}: {short}{hint}")
    if missing:
        text += f" (unavailable: {'; '.join(missing)})"
    return text
