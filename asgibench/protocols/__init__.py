"""HTTP/1.1 parser adapters: each turns its parser's output into ``events``.

A new parser costs one module with a class of this shape::

    class MyParser:
        name = "myparser"
        def __init__(self, limit_request_head: int) -> None: ...
        def feed(self, data: bytes) -> list[Event]: ...

``feed`` returns every event the bytes complete, across pipelined requests, and
``ProtocolError`` (status 400 or 431) as its last event when the bytes are malformed.
Register it in ``PARSERS`` below (one line).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib import metadata
from typing import Protocol

from asgibench.protocols.events import Event
from asgibench.registry import Registry


class Parser(Protocol):
    name: str

    def __init__(self, limit_request_head: int) -> None: ...

    def feed(self, data: bytes) -> list[Event]: ...


@dataclass(frozen=True)
class ParserBackend:
    """One parser: its adapter module, the distribution it needs and how to install it."""

    name: str
    distribution: str
    adapter: str
    install_hint: str

    def available(self) -> tuple[bool, str]:
        try:
            importlib.import_module(self.distribution)
        except ImportError:
            return False, f"not installed ({self.install_hint})"
        return True, ""

    def version(self) -> str | None:
        try:
            return metadata.version(self.distribution)
        except metadata.PackageNotFoundError:
            return None

    def parser_class(self) -> type[Parser]:
        module_name, _, attr = self.adapter.partition(":")
        return getattr(importlib.import_module(module_name), attr)


#: The parsers, in display order: one adapter module each, one line here.
PARSERS: Registry[ParserBackend] = Registry("parser", {
    "httptools": ParserBackend("httptools", "httptools",
                               "asgibench.protocols.httptools:HttptoolsParser",
                               "pip install httptools"),
    "h11": ParserBackend("h11", "h11", "asgibench.protocols.h11:H11Parser", "pip install h11"),
    "zttp": ParserBackend("zttp", "zttp", "asgibench.protocols.zttp:ZttpParser",
                          "pip install 'asgibench[zttp]'"),
}, auto=lambda: auto_name())


def backends() -> list[ParserBackend]:
    """All known parsers, installed or not, in display order."""
    return PARSERS.plugins()


def available() -> list[str]:
    """Names of the parsers installed here (``auto`` not included)."""
    return PARSERS.available()


def auto_name() -> str:
    """What ``auto`` means here: httptools when importable, else h11."""
    return "httptools" if PARSERS.plugin("httptools").available()[0] else "h11"


def get_backend(name: str) -> ParserBackend:
    """Resolve ``name`` (``auto`` included) to an installed parser, or raise BenchError."""
    return PARSERS.get(name)
