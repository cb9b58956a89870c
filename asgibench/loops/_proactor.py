"""``proactor``: ``asyncio.ProactorEventLoop`` (IOCP), Windows only."""

from __future__ import annotations

import asyncio

from asgibench.loops._base import Backend, Unsupported


def _probe() -> None:
    if not hasattr(asyncio, "ProactorEventLoop"):
        raise Unsupported("Windows only")


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new stdlib ``ProactorEventLoop``."""
    _probe()
    return asyncio.ProactorEventLoop()  # type: ignore[attr-defined,unused-ignore]


BACKEND = Backend(
    name="proactor",
    platforms=("win32",),
    install_hint="",
    summary="stdlib ProactorEventLoop (IOCP)",
    factory=new_event_loop,
    probe=_probe,
)
