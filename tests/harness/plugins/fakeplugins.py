"""Fake plug-ins, one of each kind, for tests/harness/test_plugins.py.

Each is its own small definition plus exactly one registry line, as a third-party plug-in
would be; ``ASGIBENCH_PLUGINS=fakeplugins`` makes every asgibench process import this.
"""

from __future__ import annotations

import asyncio
import re
import sys
from typing import Any

from asgibench.harness.drivers import DRIVERS
from asgibench.harness.drivers.pydriver import PythonDriver
from asgibench.harness.servers import SERVERS, ServerKind
from asgibench.harness.testtypes import TEST_TYPES, TestType
from asgibench.loops import LOOPS
from asgibench.loops._base import ALL_PLATFORMS, Backend
from asgibench.protocols import PARSERS, ParserBackend
from asgibench.protocols.h11 import H11Parser

# -- a loop: the stdlib selector loop under another name


def _fake_loop() -> asyncio.AbstractEventLoop:
    return asyncio.SelectorEventLoop()


LOOPS.register("fakeloop", Backend(name="fakeloop", platforms=ALL_PLATFORMS, install_hint="",
                                   summary="a fake loop for tests", factory=_fake_loop))


# -- a parser: h11's adapter under another name


class FakeParser(H11Parser):
    name = "fakeparser"


PARSERS.register("fakeparser", ParserBackend("fakeparser", "h11", f"{__name__}:FakeParser", ""))


# -- a test type: its own route, body check and canned response

FAKE_BODY = b"fake plug-in body"
_HEADERS = [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(FAKE_BODY))]


async def handle_fake(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": FAKE_BODY})


def check_fake(body: bytes) -> str | None:
    return None if body == FAKE_BODY else f"body is {body[:40]!r}"


TEST_TYPES.register("fake", TestType(
    name="fake", path="/fake", accept="text/plain", content_type=re.compile(r"^text/plain$"),
    check_body=check_fake, levels=(4,), quick_levels=(4,), weight=1.0,
    fast_bodies=(FAKE_BODY,), handler=handle_fake, canned=(b"text/plain", FAKE_BODY)))


# -- a load driver: the Python driver under another name


class FakeDriver(PythonDriver):
    name = "fakedriver"


DRIVERS.register("fakedriver", FakeDriver())


# -- a peer server: bench serve under another name


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
