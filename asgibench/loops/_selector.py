"""``selector``: ``asyncio.SelectorEventLoop`` on every platform (epoll/kqueue/select)."""

from __future__ import annotations

import asyncio

from asgibench.loops._base import ALL_PLATFORMS, Backend


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new stdlib ``SelectorEventLoop`` (``select()``-based on Windows)."""
    return asyncio.SelectorEventLoop()


BACKEND = Backend(
    name="selector",
    platforms=ALL_PLATFORMS,
    install_hint="",
    summary="stdlib SelectorEventLoop",
    factory=new_event_loop,
)
