"""HTTP/1.1 parser adapters: each turns its parser's output into ``events``.

A new parser costs one module with a class of this shape::

    class MyParser:
        name = "myparser"
        def __init__(self, limit_request_head: int) -> None: ...
        def feed(self, data: bytes) -> list[Event]: ...

``feed`` returns every event the bytes complete, across pipelined requests, and
``ProtocolError`` (status 400 or 431) as its last event when the bytes are malformed.
Register it in ``_BACKENDS`` below.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib import metadata
from typing import Protocol

from asgibench.errors import BenchError
from asgibench.protocols.events import Event


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


_BACKENDS = (
    ParserBackend("httptools", "httptools", "asgibench.protocols.httptools:HttptoolsParser",
                  "pip install httptools"),
    ParserBackend("h11", "h11", "asgibench.protocols.h11:H11Parser", "pip install h11"),
    ParserBackend("zttp", "zttp", "asgibench.protocols.zttp:ZttpParser",
                  "pip install 'asgibench[zttp]'"),
)
_BY_NAME = {backend.name: backend for backend in _BACKENDS}

#: Every name ``--proto`` accepts, ``auto`` first.
PROTO_NAMES: tuple[str, ...] = ("auto", *_BY_NAME)


def backends() -> list[ParserBackend]:
    """All known parsers, installed or not, in display order."""
    return list(_BACKENDS)


def available() -> list[str]:
    """Names of the parsers installed here (``auto`` not included)."""
    return [backend.name for backend in _BACKENDS if backend.available()[0]]


def auto_name() -> str:
    """What ``auto`` means here: httptools when importable, else h11."""
    return "httptools" if _BY_NAME["httptools"].available()[0] else "h11"


def get_backend(name: str) -> ParserBackend:
    """Resolve ``name`` (``auto`` included) to an installed parser, or raise BenchError."""
    if name == "auto":
        name = auto_name()
    backend = _BY_NAME.get(name)
    if backend is None:
        raise BenchError(
            f"unknown parser {name!r}; choose from: auto, {', '.join(available())}"
        )
    usable, reason = backend.available()
    if not usable:
        raise BenchError(
            f"parser {name!r} is not available here: {reason}; "
            f"available: auto, {', '.join(available())}"
        )
    return backend
