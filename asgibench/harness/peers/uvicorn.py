"""uvicorn: ``--http h11|httptools|zttp``; any loop, through ``--loop
asgibench.harness.peerloops:loop_<name>`` (uvicorn >= 0.36 takes a loop factory), so it
runs the very loop class ``bench serve`` does."""

from __future__ import annotations

import sys

from asgibench import loops
from asgibench.harness.servers import LOG_LEVEL, RUST, ServerKind, installed, version_tuple


class Uvicorn(ServerKind):
    def _custom_loops(self) -> bool:
        return version_tuple(self.version()) >= (0, 36)

    def loop_arg(self, loop: str) -> str | None:
        if loop not in loops.available():
            return None
        if self._custom_loops():
            return f"asgibench.harness.peerloops:loop_{loop}"
        return {"asyncio": "asyncio", "uvloop": "uvloop"}.get(loop)

    def loop_reason(self, loop: str) -> str:
        if loop not in loops.available():
            return f"loop {loop} is not available here"
        return f"uvicorn {self.version()} takes no loop factory (needs >= 0.36 for {loop})"

    def parser_arg(self, parser: str) -> str | None:
        if parser not in ("h11", "httptools", "zttp"):
            return None
        if not installed(parser):
            return None
        if parser == "zttp":
            try:
                from uvicorn.config import HTTP_PROTOCOLS
            except ImportError:
                return None
            return parser if parser in HTTP_PROTOCOLS else None
        return parser

    def parser_reason(self, parser: str) -> str:
        if parser == RUST:
            return "the rust parser is granian's own; uvicorn cannot use it"
        if not installed(parser):
            return f"parser {parser} is not installed"
        return f"uvicorn {self.version()} has no --http {parser}"

    ws_selectable = True

    def ws_arg(self, impl: str) -> str | None:
        try:
            from uvicorn.config import WS_PROTOCOLS
        except ImportError:
            return None
        module = "websockets" if impl.startswith("websockets") else impl
        return impl if impl in WS_PROTOCOLS and installed(module) else None

    def ws_reason(self, impl: str) -> str:
        module = "websockets" if impl.startswith("websockets") else impl
        if not installed(module):
            return f"WebSocket implementation {impl}: {module} is not installed"
        return f"uvicorn {self.version()} has no --ws {impl}"

    def with_ws(self, argv: list[str], ws_arg: str | None) -> list[str]:
        return [*argv, "--ws", ws_arg or "auto"]

    def with_workers(self, argv: list[str], workers: int) -> list[str] | None:
        # uvicorn --workers: a supervisor and N spawned workers on one inherited socket.
        return argv if workers == 1 else [*argv, "--workers", str(workers)]

    def argv(self, loop_arg: str, parser_arg: str, host: str, port: int, app: str
             ) -> list[str]:
        return [sys.executable, "-m", "uvicorn", app, "--host", host, "--port", str(port),
                "--loop", loop_arg, "--http", parser_arg, "--no-access-log",
                "--log-level", LOG_LEVEL, "--lifespan", "on"]


SERVER = Uvicorn("uvicorn", "uvicorn", "uvicorn", "pip install 'asgibench[peers]'")
