"""``asyncio``: the platform's default stdlib loop (Proactor on Windows, Selector elsewhere).

Built from the loop classes directly rather than ``asyncio.new_event_loop()``, so an
installed policy (``uvloop.install()``, a Selector policy on Windows...) cannot silently
swap in a different loop behind this name.
"""

from __future__ import annotations

import asyncio
import sys

from asgibench.loops._base import ALL_PLATFORMS, Backend


def new_event_loop() -> asyncio.AbstractEventLoop:
    """What ``asyncio.new_event_loop()`` gives under the default policy."""
    if sys.platform == "win32":
        return asyncio.ProactorEventLoop()
    return asyncio.SelectorEventLoop()


BACKEND = Backend(
    name="asyncio",
    platforms=ALL_PLATFORMS,
    install_hint="",
    summary="stdlib default (Proactor on Windows, Selector elsewhere)",
    factory=new_event_loop,
)
