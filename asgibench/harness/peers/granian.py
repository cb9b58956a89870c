"""granian: ``--interface asgi --loop asyncio|uvloop|rloop|winloop``; its HTTP parser is
its own (Rust, hyper), shown as parser ``rust``. ``--no-ws`` (HTTP only), except in a
run with WebSocket test types."""

from __future__ import annotations

import sys

from asgibench.harness.servers import (
    LOG_LEVEL,
    RUST,
    ServerKind,
    asyncio_alias,
    installed,
    replace_flag,
)


class Granian(ServerKind):
    _LOOPS = ("asyncio", "uvloop", "rloop", "winloop")

    def loop_arg(self, loop: str) -> str | None:
        if loop in ("uvloop", "rloop", "winloop"):
            return loop if installed(loop) else None
        return asyncio_alias(loop)

    def loop_reason(self, loop: str) -> str:
        return f"granian's loops are {', '.join(self._LOOPS)}; not {loop}"

    def fixed_parser(self) -> str | None:
        return RUST

    def parser_reason(self, parser: str) -> str:
        return f"granian always parses HTTP with its own Rust stack (parser '{RUST}'), " \
               f"not {parser}"

    def native_ws(self) -> str | None:
        return RUST  # granian's WebSockets are its own (Rust, tungstenite)

    def with_ws(self, argv: list[str], ws_arg: str | None) -> list[str]:
        return [arg for arg in argv if arg != "--no-ws"]  # WebSockets stay on

    def with_workers(self, argv: list[str], workers: int) -> list[str] | None:
        return replace_flag(argv, "--workers", str(workers))  # its argv names one worker

    def argv(self, loop_arg: str, parser_arg: str, host: str, port: int, app: str
             ) -> list[str]:
        return [sys.executable, "-m", "granian", "--interface", "asgi", "--host", host,
                "--port", str(port), "--http", "1", "--workers", "1", "--loop", loop_arg,
                "--no-ws", "--log-level", LOG_LEVEL, app]


SERVER = Granian("granian", "granian", "granian", "pip install 'asgibench[peers]'")
