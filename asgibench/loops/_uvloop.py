"""``uvloop``: libuv-based loop (Cython), Linux and macOS. Imported lazily."""

from __future__ import annotations

import asyncio

from asgibench.loops._base import Backend, import_probe


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new ``uvloop.Loop``."""
    import uvloop

    return uvloop.new_event_loop()


BACKEND = Backend(
    name="uvloop",
    platforms=("linux", "darwin"),
    install_hint="pip install uvloop",
    summary="libuv (Cython)",
    factory=new_event_loop,
    probe=import_probe("uvloop"),
    module="uvloop",
    dist="uvloop",
)
