"""``rloop``: Rust (PyO3) loop, Linux and macOS; optional extra ``asgibench[rloop]``.

Imported lazily. Known gaps in rloop 0.5: ``set_debug()`` is a no-op, Unix-socket
servers raise ``NotImplementedError``, ``remove_signal_handler()`` raises
``AttributeError``, and every ``run_forever()`` drops its self-pipe sockets without
closing them (a ``ResourceWarning`` per run; the fds are reclaimed by refcounting).
"""

from __future__ import annotations

import asyncio

from asgibench.loops._base import Backend, import_probe


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new ``rloop.RLoop``."""
    import rloop

    return rloop.new_event_loop()


BACKEND = Backend(
    name="rloop",
    platforms=("linux", "darwin"),
    install_hint="pip install 'asgibench[rloop]'",
    summary="Rust (PyO3), experimental",
    factory=new_event_loop,
    probe=import_probe("rloop"),
    module="rloop",
    dist="rloop",
)
