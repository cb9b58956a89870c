"""A fake event loop: the stdlib selector loop under another name (one module, one
registry line)."""

from __future__ import annotations

import asyncio

from asgibench.loops import LOOPS
from asgibench.loops._base import ALL_PLATFORMS, Backend


def _fake_loop() -> asyncio.AbstractEventLoop:
    return asyncio.SelectorEventLoop()


LOOPS.register("fakeloop", Backend(name="fakeloop", platforms=ALL_PLATFORMS, install_hint="",
                                   summary="a fake loop for tests", factory=_fake_loop))
