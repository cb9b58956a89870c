"""A fake peer server: ``bench serve`` under another name."""

from __future__ import annotations

import sys

from asgibench.harness.servers import SERVERS, ServerKind
from asgibench.loops import LOOPS
from asgibench.protocols import PARSERS


class FakeServer(ServerKind):
    def loop_arg(self, loop: str) -> str | None:
        return loop if loop in LOOPS.available() else None

    def parser_arg(self, parser: str) -> str | None:
        return parser if parser in PARSERS.available() else None

    def argv(self, loop_arg: str, parser_arg: str, host: str, port: int, app: str
             ) -> list[str]:
        return [sys.executable, "-m", "asgibench", "serve", app, "--host", host, "--port",
                str(port), "--loop", loop_arg, "--proto", parser_arg, "--no-access-log",
                "--log-level", "warning"]


SERVERS.register("fakeserver", FakeServer("fakeserver", "asgibench", "asgibench", ""))
