"""``asyncio.run`` with a loop factory, for every supported Python.

3.11+ has ``asyncio.Runner(loop_factory=...)``; :func:`run_with_factory` is the small
3.10 backport (it also works, and is tested, on newer versions). Neither reads nor
changes the global event-loop policy's loop *class*.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def run_with_factory(
    main: Coroutine[Any, Any, T],
    *,
    loop_factory: LoopFactory,
    debug: bool | None = None,
) -> T:
    """Backport of ``asyncio.Runner(loop_factory=...).run(main)`` for Python 3.10.

    Creates the loop, makes it the current loop for the duration, runs ``main``, then
    cancels leftover tasks, shuts down async generators and the default executor,
    unsets the current loop and closes the loop -- the same steps as ``asyncio.run``.
    """
    if _running_loop() is not None:
        _close(main)
        raise RuntimeError("run() cannot be called from a running event loop")
    if not asyncio.iscoroutine(main):
        raise ValueError(f"a coroutine was expected, got {main!r}")

    loop = loop_factory()
    try:
        asyncio.set_event_loop(loop)
        if debug is not None:
            loop.set_debug(debug)
        return loop.run_until_complete(main)
    finally:
        try:
            _cancel_all_tasks(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            shutdown_executor = getattr(loop, "shutdown_default_executor", None)
            if shutdown_executor is not None:
                loop.run_until_complete(shutdown_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


def run(
    main: Coroutine[Any, Any, T],
    *,
    loop_factory: LoopFactory,
    debug: bool | None = None,
) -> T:
    """Run ``main`` on a fresh loop from ``loop_factory``: ``asyncio.Runner`` on 3.11+."""
    if _running_loop() is not None:
        _close(main)
        raise RuntimeError("run() cannot be called from a running event loop")
    if sys.version_info >= (3, 11):
        with asyncio.Runner(loop_factory=loop_factory, debug=debug) as runner:
            return runner.run(main)
    return run_with_factory(main, loop_factory=loop_factory, debug=debug)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _close(main: object) -> None:
    """Close an un-awaited coroutine so it does not warn 'was never awaited'."""
    if asyncio.iscoroutine(main):
        main.close()


def _cancel_all_tasks(loop: asyncio.AbstractEventLoop) -> None:
    # Same as CPython's asyncio.runners._cancel_all_tasks.
    to_cancel = asyncio.all_tasks(loop)
    if not to_cancel:
        return
    for task in to_cancel:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*to_cancel, return_exceptions=True))
    for task in to_cancel:
        if task.cancelled():
            continue
        if task.exception() is not None:
            loop.call_exception_handler(
                {
                    "message": "unhandled exception during run() shutdown",
                    "exception": task.exception(),
                    "task": task,
                }
            )
