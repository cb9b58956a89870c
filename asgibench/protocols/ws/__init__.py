"""WebSocket implementations: each a small sans-I/O adapter turning frames into ``events``.

The HTTP/1.1 upgrade (detection, handshake checks, the 101 response) is the server core's
(``asgibench/server/websocket.py``); after it, the connection's bytes go to one of these
adapters, and the one shared ``WebSocketCycle`` turns its events into ASGI. An adapter::

    class MyAdapter:
        name = "mine"
        def __init__(self, max_size: int, per_message_deflate: bool) -> None: ...
        def negotiate(self, offers: list[bytes]) -> bytes | None: ...  # Sec-WebSocket-Extensions
        def feed(self, data: bytes) -> list[WsEvent]: ...
        def send_message(self, data: str | bytes) -> bytes: ...
        def send_ping(self, payload: bytes) -> bytes: ...
        def send_close(self, code: int, reason: str) -> bytes: ...
        def take_output(self) -> bytes: ...  # what feed() queued: pongs, the close reply

Register it in ``WEBSOCKETS`` below (one line), as the HTTP parsers are in
``asgibench.protocols.PARSERS``. ``none`` is the registry entry for "no WebSocket
support": an upgrade request is then answered as plain HTTP (uvicorn's ``--ws none``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from asgibench.registry import Registry


@dataclass(frozen=True)
class WsBackend:
    """One WebSocket implementation: its adapter, the distribution it needs, the install."""

    name: str
    distribution: str | None  # None: "none", always available
    adapter: str | None
    install_hint: str

    def available(self) -> tuple[bool, str]:
        if self.distribution is None:
            return True, ""
        try:
            importlib.import_module(self.distribution)
        except ImportError:
            return False, f"not installed ({self.install_hint})"
        return True, ""

    def version(self) -> str | None:
        if self.distribution is None:
            return None
        try:
            return metadata.version(self.distribution)
        except metadata.PackageNotFoundError:
            return None

    def adapter_class(self) -> Any:
        """The adapter class, or None for ``none``."""
        if self.adapter is None:
            return None
        module_name, _, attr = self.adapter.partition(":")
        return getattr(importlib.import_module(module_name), attr)


#: The WebSocket implementations, in display order (uvicorn's ``--ws`` names).
WEBSOCKETS: Registry[WsBackend] = Registry("WebSocket implementation", {
    "websockets": WsBackend("websockets", "websockets",
                            "asgibench.protocols.ws.websockets:WebsocketsAdapter",
                            "pip install 'asgibench[ws]'"),
    "wsproto": WsBackend("wsproto", "wsproto", "asgibench.protocols.ws.wsproto:WsprotoAdapter",
                         "pip install 'asgibench[ws]'"),
    "none": WsBackend("none", None, None, ""),
}, auto=lambda: auto_name())


def auto_name() -> str:
    """What ``auto`` means here (as uvicorn): websockets if importable, else wsproto,
    else none."""
    for name in ("websockets", "wsproto"):
        if WEBSOCKETS.plugin(name).available()[0]:
            return name
    return "none"


def backends() -> list[WsBackend]:
    return WEBSOCKETS.plugins()


def get_backend(name: str) -> WsBackend:
    """Resolve ``name`` (``auto`` included) to a usable implementation, or BenchError."""
    return WEBSOCKETS.get(name)
