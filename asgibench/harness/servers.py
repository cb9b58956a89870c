"""How to launch each ASGI server for a (loop, parser) -- or why it cannot.

Every server runs the same app (:data:`APP_IMPORT`), access log off, log level warning,
with one worker process unless ``bench run --workers`` asks for more (each server's own
workers flag, :meth:`ServerKind.with_workers`):

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
A launch with N > 1 workers is named ``SERVER xN`` (:func:`named`) wherever entries are
told apart: it is another configuration of the server, ranked beside the one-worker one.

A server asgibench does not start (``bench run --url``) is a :class:`Remote`: where it
listens and the name it is ranked under; its loop and parser are :data:`UNKNOWN`.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import socket
import sys
import threading
from dataclasses import dataclass, field
from importlib import metadata

from asgibench.registry import Registry

#: The benchmark app's import string, as given to every server (not imported here: the
#: app reads the test-type registry, whose plug-ins may extend this module's registry).
APP_IMPORT = "asgibench.harness.app:app"

#: Parser name for servers with a built-in parser that cannot be swapped.
RUST = "rust"
LOG_LEVEL = "warning"
#: The loop and parser of a server asgibench did not start (``--url``): not known here.
UNKNOWN = "unknown"


def named(server: str, workers: int | None) -> str:
    """The name a server's entries are told apart and ranked under: ``uvicorn`` with one
    worker (or an unknown count: results written before ``--workers``, a ``--url``
    server), ``uvicorn x2`` with two -- so a run that never asks for more workers shows
    nothing new."""
    return server if workers is None or workers == 1 else f"{server} x{workers}"


def replace_flag(argv: list[str], flag: str, value: str) -> list[str]:
    """``argv`` with the value after ``flag`` replaced (appended when ``flag`` is
    absent)."""
    if flag in argv:
        index = argv.index(flag)
        return [*argv[:index + 1], value, *argv[index + 2:]]
    return [*argv, flag, value]


@dataclass(frozen=True)
class Launch:
    """A runnable (server, loop, parser): the command line that serves the app."""

    server: str
    loop: str
    parser: str
    argv: list[str] = field(compare=False)
    note: str = field(default="", compare=False)
    #: The WebSocket implementation, in a run with WebSocket test types: the one chosen
    #: (``parser`` is then ``HTTP-PARSER+IMPL``) or the server's own (hypercorn: wsproto).
    ws: str | None = field(default=None, compare=False)
    #: Worker processes the command line starts (``bench run --workers``).
    workers: int = 1

    @property
    def name(self) -> str:
        return named(self.server, self.workers)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.name, self.loop, self.parser)

    @property
    def label(self) -> str:
        return f"{self.name} {self.loop}/{self.parser}"


@dataclass(frozen=True)
class Unsupported:
    """A combination the server cannot run, with the reason (kept in the results)."""

    server: str
    loop: str
    parser: str
    reason: str
    ws: str | None = field(default=None, compare=False)
    workers: int = 1

    @property
    def name(self) -> str:
        return named(self.server, self.workers)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.name, self.loop, self.parser)


@dataclass(frozen=True)
class Remote:
    """A server that is already running, anywhere (``bench run --url``): asgibench
    verifies and measures it but never starts or stops it. ``server`` is the name its
    entries are ranked under (``--label``); its loop, parser and version are unknown."""

    server: str
    url: str  # http://HOST:PORT, as recorded
    host: str
    port: int
    loop: str = UNKNOWN
    parser: str = UNKNOWN
    workers = None  # how many processes serve it is not known here

    @property
    def name(self) -> str:
        return self.server

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.server, self.loop, self.parser)

    @property
    def label(self) -> str:
        return f"{self.server} ({self.url})"

    def reachable(self, timeout: float) -> str | None:
        """None when it accepts a TCP connection within ``timeout`` s, else why not (one
        line). Bounded even when resolving the name hangs: the attempt runs in a thread."""
        outcome: list[str | None] = []

        def attempt() -> None:
            try:
                with socket.create_connection((self.host, self.port), timeout=timeout):
                    outcome.append(None)
            except OSError as exc:
                outcome.append(exc.strerror or str(exc) or type(exc).__name__)

        thread = threading.Thread(target=attempt, name="asgibench-probe", daemon=True)
        thread.start()
        thread.join(timeout + 0.5)
        return outcome[0] if outcome else f"no connection within {timeout:g} s"


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def version_tuple(text: str | None) -> tuple[int, ...]:
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
        return installed(self.module)

    def available(self) -> tuple[bool, str]:
        if self.installed():
            return True, ""
        return False, f"not installed; install it with: {self.install_hint}"

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

    # WebSockets (a run with WebSocket test types) ------------------------------------

    #: True for a server whose WebSocket implementation is chosen on its command line
    #: (uvicorn's and asgibench's ``--ws``): one launch per implementation asked for.
    ws_selectable = False

    def ws_arg(self, impl: str) -> str | None:
        """The server's flag value for WebSocket implementation ``impl`` (None: cannot)."""
        return None

    def ws_reason(self, impl: str) -> str:
        return f"{self.name} has no WebSocket implementation {impl}"

    def native_ws(self) -> str | None:
        """The WebSocket implementation of a server that has one, not chosen (recorded)."""
        return None

    def with_ws(self, argv: list[str], ws_arg: str | None) -> list[str]:
        """``argv`` for a run with WebSocket test types (``ws_arg``: the implementation's
        flag value for a ``ws_selectable`` server)."""
        return argv

    # Worker processes (bench run --workers) -------------------------------------------

    def with_workers(self, argv: list[str], workers: int) -> list[str] | None:
        """``argv`` serving with ``workers`` processes, pinned together to the server's
        CPUs (children inherit the affinity); None when this server cannot. ``argv`` is
        one worker's; a plug-in that does not override this runs one worker only."""
        return argv if workers == 1 else None

    def workers_reason(self, workers: int) -> str:
        return f"{self.name} cannot run {workers} worker processes here (its launcher " \
               "has no workers option)"

    # Shared --------------------------------------------------------------------------

    def plan(self, loops: list[str], parsers: list[str], host: str, port: int,
             app: str = APP_IMPORT, ws: list[str] | tuple[str, ...] = (),
             workers: list[int] | tuple[int, ...] = (1,)) -> list[Launch | Unsupported]:
        """One Launch or Unsupported per requested (loop, parser) and worker count, in a
        stable order (the worker counts of one combination next to each other).

        A server with a fixed parser gets one Launch per loop with that parser, and an
        Unsupported for every other parser asked for. ``ws``: the WebSocket
        implementations of a run with WebSocket test types; a ``ws_selectable`` server
        gets one per (loop, parser) and implementation, its parser shown as
        ``PARSER+IMPL``; any other serves WebSockets its own way, once. ``workers``: a
        count the server cannot run is an Unsupported with the reason.
        """
        out: list[Launch | Unsupported] = []
        for item in self._plan_one(loops, parsers, host, port, app, ws):
            for count in workers:
                out.append(self._with_count(item, count))
        return out

    def _with_count(self, item: Launch | Unsupported, count: int) -> Launch | Unsupported:
        if isinstance(item, Unsupported):
            return dataclasses.replace(item, workers=count)
        argv = self.with_workers(item.argv, count)
        if argv is None:
            return Unsupported(item.server, item.loop, item.parser,
                               self.workers_reason(count), ws=item.ws, workers=count)
        return dataclasses.replace(item, argv=argv, workers=count)

    def _plan_one(self, loops: list[str], parsers: list[str], host: str, port: int,
                  app: str, ws: list[str] | tuple[str, ...]) -> list[Launch | Unsupported]:
        out: list[Launch | Unsupported] = []
        fixed = self.fixed_parser()
        for loop in loops:
            loop_arg = self.loop_arg(loop)
            if fixed is not None:
                if loop_arg is None:
                    out.append(Unsupported(self.name, loop, fixed, self.loop_reason(loop)))
                else:
                    out.extend(self._launches(loop, fixed, self.argv(loop_arg, fixed, host,
                                                                      port, app), ws))
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
                    out.extend(self._launches(loop, parser, self.argv(
                        loop_arg, parser_arg, host, port, app), ws))
        return out

    def _launches(self, loop: str, parser: str, argv: list[str],
                  ws: list[str] | tuple[str, ...]) -> list[Launch | Unsupported]:
        if not ws:
            return [Launch(self.name, loop, parser, argv)]
        if not self.ws_selectable:
            return [Launch(self.name, loop, parser, self.with_ws(argv, None),
                           ws=self.native_ws())]
        out: list[Launch | Unsupported] = []
        for impl in ws:
            arg = self.ws_arg(impl)
            label = f"{parser}+{impl}"
            if arg is None:
                out.append(Unsupported(self.name, loop, label, self.ws_reason(impl), ws=impl))
            else:
                out.append(Launch(self.name, loop, label, self.with_ws(argv, arg), ws=impl))
        return out


#: WebSocket implementations ``bench run --ws`` can name (uvicorn's ``--ws`` names);
#: ``all`` means the first two, each where installed.
WS_IMPLS = ("websockets", "wsproto", "websockets-sansio")
WS_DEFAULT_ALL = ("websockets", "wsproto")


def asyncio_alias(loop: str) -> str | None:
    """Peers' own "asyncio" loop; off Windows that is also the selector loop."""
    if loop == "asyncio":
        return "asyncio"
    if loop == "selector" and sys.platform != "win32":
        return "asyncio"
    return None


#: The servers, in display order: one module each in asgibench/harness/peers/, one line here.
SERVERS: Registry[ServerKind] = Registry("server", {
    "asgibench": "asgibench.harness.peers.asgibench:SERVER",
    "uvicorn": "asgibench.harness.peers.uvicorn:SERVER",
    "hypercorn": "asgibench.harness.peers.hypercorn:SERVER",
    "granian": "asgibench.harness.peers.granian:SERVER",
})


def resolve(spec: str) -> list[ServerKind]:
    """``"asgibench,uvicorn"`` / ``"all"`` (every installed one) -> server kinds."""
    return SERVERS.select(spec.lower(), "server")


def versions() -> dict[str, str | None]:
    return {kind.name: kind.version() for kind in SERVERS.plugins()}
