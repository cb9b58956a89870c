"""hypercorn: ``-k asyncio|uvloop``; h11 only (its own h11-based protocol); WebSockets
always through wsproto."""

from __future__ import annotations

import sys

from asgibench.harness.servers import (
    LOG_LEVEL,
    ServerKind,
    asyncio_alias,
    installed,
    replace_flag,
)


class Hypercorn(ServerKind):
    def loop_arg(self, loop: str) -> str | None:
        if loop == "uvloop":
            return "uvloop" if installed("uvloop") else None
        return asyncio_alias(loop)

    def loop_reason(self, loop: str) -> str:
        return f"hypercorn's worker classes are asyncio, uvloop and trio; not {loop}"

    def parser_arg(self, parser: str) -> str | None:
        return "h11" if parser == "h11" else None

    def parser_reason(self, parser: str) -> str:
        return f"hypercorn parses HTTP/1.1 with h11 only; not {parser}"

    def native_ws(self) -> str | None:
        return "wsproto"  # hypercorn's WebSocket protocol is wsproto, always

    def with_workers(self, argv: list[str], workers: int) -> list[str] | None:
        return replace_flag(argv, "--workers", str(workers))  # its argv names one worker

    def argv(self, loop_arg: str, parser_arg: str, host: str, port: int, app: str
             ) -> list[str]:
        bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        return [sys.executable, "-m", "hypercorn", app, "--bind", bind,
                "--worker-class", loop_arg, "--workers", "1", "--log-level", LOG_LEVEL]


SERVER = Hypercorn("hypercorn", "hypercorn", "hypercorn", "pip install 'asgibench[peers]'")
