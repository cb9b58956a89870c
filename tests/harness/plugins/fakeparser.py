"""A fake HTTP/1.1 parser: h11's adapter under another name."""

from __future__ import annotations

from asgibench.protocols import PARSERS, ParserBackend
from asgibench.protocols.h11 import H11Parser


class FakeParser(H11Parser):
    name = "fakeparser"


PARSERS.register("fakeparser", ParserBackend("fakeparser", "h11", f"{__name__}:FakeParser", ""))
