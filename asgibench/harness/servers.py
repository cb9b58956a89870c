"""How to launch each ASGI server for a (loop, parser) -- or why it cannot.

Every server runs the same app (:data:`asgibench.harness.app.APP_IMPORT`), one process,
access log off, log level warning:

* ``asgibench`` -- ``bench serve`` (``python -m asgibench serve``): every loop and parser
  asgibench has.
* ``uvicorn`` -- ``--http h11|httptools|zttp``; any loop, through ``--loop
  asgibench.harness.peerloops:loop_<name>`` (uvicorn >= 0.36 takes a loop factory), so it
  runs the very loop class ``bench serve`` does.
* ``hypercorn`` -- ``-k asyncio|uvloop``; h11 only (its own h11-based protocol).
* ``granian`` -- ``--interface asgi --loop asyncio|uvloop|rloop|winloop``; its HTTP parser
  is its own (Rust, hyper), shown as parser ``rust``.

"selector" on a peer means its asyncio loop, which *is* the selector loop off Windows.
A combination a server cannot do becomes an :class:`Unsupported` entry, never dropped.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass, field
from importlib import metadata

from asgibench.errors import BenchError
from asgibench.harness.app import APP_IMPORT
from asgibench.harness.selection import select

SERVER_NAMES = ("asgibench", "uvicorn", "hypercorn", "granian")
#: Parser name for servers with a built-in parser that cannot be swapped.
RUST = "rust"
LOG_LEVEL = "warning"


@dataclass(frozen=True)
class Launch:
    """A runnable (server, loop, parser): the command line that serves the app."""

    server: str
    loop: str
    parser: str
    argv: list[str] = field(compare=False)
    note: str = field(default="", compare=False)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.server, self.loop, self.parser)

    @property
    def label(self) -> str:
        return f"{self.server} {self.loop}/{self.parser}"


@dataclass(frozen=True)
class Unsupported:
    """A combination the server cannot run, with the reason (kept in the results)."""

    server: str
    loop: str
    parser: str
    reason: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.server, self.loop, self.parser)


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _version_tuple(text: str | None) -> tuple[int, ...]:
    parts: list[int] = []
    for piece in (text or "0").split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


@dataclass(frozen=True)
class ServerKind:
    name: str
    module: str  # importable module (to tell installed from not)
    dist: str  # distribution, for the version
    install_hint: str

    def installed(self) -> bool:
        return _installed(self.module)

    def version(self) -> str | None:
        return _version(self.dist)

    # Overridden per server ------------------------------------------------------------

    def loop_arg(self, loop: str) -> str | None:
        """The server's own name for asgibench loop ``loop`` (None: cannot)."""
        raise NotImplementedError

    def parser_arg(self, parser: str) -> str | None:
        raise NotImplementedError

    def fixed_parser(self) -> str | None:
        """The parser name of a server whose parser cannot be chosen (else None)."""
        return None

    def argv(self, loop_arg: str, parser_arg: str, host: str, port: int, app: str
             ) -> list[str]:
        raise NotImplementedError

    def loop_reason(self, loop: str) -> str:
        return f"{self.name} cannot run the {loop} loop"

    def parser_reason(self, parser: str) -> str:
        return f"{self.name} cannot use the {parser} parser"

    # Shared --------------------------------------------------------------------------

    def plan(self, loops: list[str], parsers: list[str], host: str, port: int,
             app: str = APP_IMPORT) -> list[Launch | Unsupported]:
        """One Launch or Unsupported per requested (loop, parser), in a stable order.

        A server with a fixed parser gets one Launch per loop with that parser, and an
        Unsupported for every other parser asked for.
        """
        out: list[Launch | Unsupported] = []
        fixed = self.fixed_parser()
        for loop in loops:
            loop_arg = self.loop_arg(loop)
            if fixed is not None:
                if loop_arg is None:
                    out.append(Unsupported(self.name, loop, fixed, self.loop_reason(loop)))
                else:
                    out.append(Launch(self.name, loop, fixed,
                                      self.argv(loop_arg, fixed, host, port, app)))
                out.extend(Unsupported(self.name, loop, parser, self.parser_reason(parser))
                           for parser in parsers if parser != fixed)
                continue
            for parser in parsers:
                parser_arg = self.parser_arg(parser)
                if loop_arg is None:
                    out.append(Unsupported(self.name, loop, parser, self.loop_reason(loop)))
                elif parser_arg is None:
                    out.append(Unsupported(self.name, loop, parser, self.parser_reason(parser)))
                else:
                    out.append(Launch(self.name, loop, parser,
                                      self.argv(loop_arg, parser_arg, host, port, app)))
        return out


def _asyncio_alias(loop: str) -> str | None:
    """Peers' own "asyncio" loop; off Windows that is also the selector loop."""
    if loop == "asyncio":
        return "asyncio"
    if loop == "selector" and sys.platform != "win32":
        return "asyncio"
    return None


class _Asgibench(ServerKind):
    def loop_arg(self, loop: str) -> str | None:
        from asgibench import loops

        return loop if loop in loops.available() else None

    def parser_arg(self, parser: str) -> str | None:
        from asgibench import protocols

        return parser if parser in protocols.available() else None

    def loop_reason(self, loop: str) -> str:
        return f"loop {loop} is not available here (see: bench loops)"

    def parser_reason(self, parser: str) -> str:
        if parser == RUST:
            return "the rust parser is granian's own; asgibench cannot use it"
        return f"parser {parser} is not available here (see: bench protos)"

    def argv(self, loop_arg: str, parser_arg: str, host: str, port: int, app: str
             ) -> list[str]:
        return [sys.executable, "-m", "asgibench", "serve", app, "--host", host,
                "--port", str(port), "--loop", loop_arg, "--proto", parser_arg,
                "--no-access-log", "--log-level", LOG_LEVEL]


class _Uvicorn(ServerKind):
    def _custom_loops(self) -> bool:
        return _version_tuple(self.version()) >= (0, 36)

    def loop_arg(self, loop: str) -> str | None:
        from asgibench import loops

        if loop not in loops.available():
            return None
        if self._custom_loops():
            return f"asgibench.harness.peerloops:loop_{loop}"
        return {"asyncio": "asyncio", "uvloop": "uvloop"}.get(loop)

    def loop_reason(self, loop: str) -> str:
        from asgibench import loops

        if loop not in loops.available():
            return f"loop {loop} is not available here"
        return f"uvicorn {self.version()} takes no loop factory (needs >= 0.36 for {loop})"

    def parser_arg(self, parser: str) -> str | None:
        if parser not in ("h11", "httptools", "zttp"):
            return None
        if not _installed(parser):
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
        if not _installed(parser):
            return f"parser {parser} is not installed"
        return f"uvicorn {self.version()} has no --http {parser}"

    def argv(self, loop_arg: str, parser_arg: str, host: str, port: int, app: str
             ) -> list[str]:
        return [sys.executable, "-m", "uvicorn", app, "--host", host, "--port", str(port),
                "--loop", loop_arg, "--http", parser_arg, "--no-access-log",
                "--log-level", LOG_LEVEL, "--lifespan", "on"]


class _Hypercorn(ServerKind):
    def loop_arg(self, loop: str) -> str | None:
        if loop == "uvloop":
            return "uvloop" if _installed("uvloop") else None
        return _asyncio_alias(loop)

    def loop_reason(self, loop: str) -> str:
        return f"hypercorn's worker classes are asyncio, uvloop and trio; not {loop}"

    def parser_arg(self, parser: str) -> str | None:
        return "h11" if parser == "h11" else None

    def parser_reason(self, parser: str) -> str:
        return f"hypercorn parses HTTP/1.1 with h11 only; not {parser}"

    def argv(self, loop_arg: str, parser_arg: str, host: str, port: int, app: str
             ) -> list[str]:
        bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        return [sys.executable, "-m", "hypercorn", app, "--bind", bind,
                "--worker-class", loop_arg, "--workers", "1", "--log-level", LOG_LEVEL]


class _Granian(ServerKind):
    _LOOPS = ("asyncio", "uvloop", "rloop", "winloop")

    def loop_arg(self, loop: str) -> str | None:
        if loop in ("uvloop", "rloop", "winloop"):
            return loop if _installed(loop) else None
        return _asyncio_alias(loop)

    def loop_reason(self, loop: str) -> str:
        return f"granian's loops are {', '.join(self._LOOPS)}; not {loop}"

    def fixed_parser(self) -> str | None:
        return RUST

    def parser_reason(self, parser: str) -> str:
        return f"granian always parses HTTP with its own Rust stack (parser '{RUST}'), " \
               f"not {parser}"

    def argv(self, loop_arg: str, parser_arg: str, host: str, port: int, app: str
             ) -> list[str]:
        return [sys.executable, "-m", "granian", "--interface", "asgi", "--host", host,
                "--port", str(port), "--http", "1", "--workers", "1", "--loop", loop_arg,
                "--no-ws", "--log-level", LOG_LEVEL, app]


KINDS: dict[str, ServerKind] = {
    "asgibench": _Asgibench("asgibench", "asgibench", "asgibench", "pip install asgibench"),
    "uvicorn": _Uvicorn("uvicorn", "uvicorn", "uvicorn", "pip install 'asgibench[peers]'"),
    "hypercorn": _Hypercorn("hypercorn", "hypercorn", "hypercorn",
                            "pip install 'asgibench[peers]'"),
    "granian": _Granian("granian", "granian", "granian", "pip install 'asgibench[peers]'"),
}


def installed() -> list[str]:
    return [name for name, kind in KINDS.items() if kind.installed()]


def get(name: str) -> ServerKind:
    kind = KINDS.get(name)
    if kind is None:
        raise BenchError(f"unknown server {name!r}; choose from: {', '.join(SERVER_NAMES)}"
                         " (or all)")
    if not kind.installed():
        raise BenchError(f"server {name!r} is not installed; install it with: "
                         f"{kind.install_hint}")
    return kind


def resolve(spec: str) -> list[ServerKind]:
    """``"asgibench,uvicorn"`` / ``"all"`` (every installed one) -> server kinds."""
    return select(
        (item.strip().lower() for item in spec.split(",") if item.strip()),
        lambda: [KINDS[name] for name in installed()],
        get,
        f"no server given; choose from: {', '.join(SERVER_NAMES)} (or all)",
    )


def versions() -> dict[str, str | None]:
    return {name: kind.version() for name, kind in KINDS.items()}
