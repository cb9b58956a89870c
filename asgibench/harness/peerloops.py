"""Loop factories handed to uvicorn as ``--loop asgibench.harness.peerloops:loop_<name>``.

uvicorn 0.36+ accepts ``--loop module:callable`` and uses the callable as its loop
factory, so uvicorn runs on exactly the loop class ``bench serve --loop <name>`` uses.
``loop_<name>`` exists for every loop in :data:`asgibench.loops.LOOPS` (a module
``__getattr__``, PEP 562), so a new loop backend needs nothing here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from asgibench import loops


def __getattr__(attribute: str) -> Callable[[], asyncio.AbstractEventLoop]:
    name = attribute.removeprefix("loop_")
    if attribute.startswith("loop_") and name in loops.LOOPS:

        def factory() -> asyncio.AbstractEventLoop:
            return loops.new_event_loop(name)

        factory.__name__ = attribute
        return factory
    raise AttributeError(f"module {__name__!r} has no attribute {attribute!r}")
