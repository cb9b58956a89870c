"""asgibench's own server: ``bench serve`` (``python -m asgibench serve``), every loop and
parser asgibench has."""

from __future__ import annotations

import sys
from typing import Any

from asgibench import loops, protocols
from asgibench.harness.servers import LOG_LEVEL, RUST, ServerKind


class Asgibench(ServerKind):
    def loop_arg(self, loop: str) -> str | None:
        return loop if loop in loops.available() else None

    def parser_arg(self, parser: str) -> str | None:
        return parser if parser in protocols.available() else None

    def loop_reason(self, loop: str) -> str:
        return f"loop {loop} is not available here (see: bench loops)"

    def parser_reason(self, parser: str) -> str:
        if parser == RUST:
            return "the rust parser is granian's own; asgibench cannot use it"
        return f"parser {parser} is not available here (see: bench protos)"

    ws_selectable = True

    @staticmethod
    def _ws_registry() -> Any:
        """asgibench's WebSocket implementations (``bench serve --ws``), or None for a
        build without WebSocket support."""
        try:
            from asgibench.protocols.ws import WEBSOCKETS
        except ImportError:
            return None
        return WEBSOCKETS

    def ws_arg(self, impl: str) -> str | None:
        registry = self._ws_registry()
        if registry is None or impl == "none":
            return None
        return impl if impl in registry.available() else None

    def ws_reason(self, impl: str) -> str:
        registry = self._ws_registry()
        if registry is None:
            return "this asgibench has no WebSocket support (bench serve --ws)"
        if impl in registry:
            return f"WebSocket implementation {impl}: " \
                   f"{registry.plugin(impl).available()[1] or 'not available'}"
        return f"bench serve has no --ws {impl} ({', '.join(registry.names())})"

    def with_ws(self, argv: list[str], ws_arg: str | None) -> list[str]:
        return [*argv, "--ws", ws_arg or "auto"]

    def with_workers(self, argv: list[str], workers: int) -> list[str] | None:
        # bench serve --workers: a supervisor and N workers on SO_REUSEPORT sockets.
        return argv if workers == 1 else [*argv, "--workers", str(workers)]

    def argv(self, loop_arg: str, parser_arg: str, host: str, port: int, app: str
             ) -> list[str]:
        return [sys.executable, "-m", "asgibench", "serve", app, "--host", host,
                "--port", str(port), "--loop", loop_arg, "--proto", parser_arg,
                "--no-access-log", "--log-level", LOG_LEVEL]


SERVER = Asgibench("asgibench", "asgibench", "asgibench", "pip install asgibench")
