"""``winloop``: uvloop's libuv loop ported to Windows; it also builds and runs on POSIX.

Availability is decided by whether it imports, not by OS. Imported lazily.
"""

from __future__ import annotations

import asyncio

from asgibench.loops._base import ALL_PLATFORMS, Backend, import_probe


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new ``winloop.Loop``."""
    import winloop

    return winloop.new_event_loop()


BACKEND = Backend(
    name="winloop",
    platforms=ALL_PLATFORMS,
    install_hint="pip install winloop",
    summary="libuv (Cython), uvloop fork with Windows support",
    factory=new_event_loop,
    probe=import_probe("winloop"),
    module="winloop",
    dist="winloop",
)
