"""Loop factories handed to uvicorn as ``--loop asgibench.harness.peerloops:loop_<name>``.

uvicorn 0.36+ accepts ``--loop module:callable`` and uses the callable as its loop
factory, so uvicorn runs on exactly the loop class ``bench serve --loop <name>`` uses.
"""

from __future__ import annotations

import asyncio

from asgibench import loops


def loop_asyncio() -> asyncio.AbstractEventLoop:
    return loops.new_event_loop("asyncio")


def loop_selector() -> asyncio.AbstractEventLoop:
    return loops.new_event_loop("selector")


def loop_proactor() -> asyncio.AbstractEventLoop:
    return loops.new_event_loop("proactor")


def loop_uvloop() -> asyncio.AbstractEventLoop:
    return loops.new_event_loop("uvloop")


def loop_winloop() -> asyncio.AbstractEventLoop:
    return loops.new_event_loop("winloop")


def loop_rloop() -> asyncio.AbstractEventLoop:
    return loops.new_event_loop("rloop")
