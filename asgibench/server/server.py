"""One server process: bind, lifespan, serve connections, shut down gracefully."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
import threading
import time
from typing import Any

from asgibench import loops, protocols
from asgibench.errors import BenchError
from asgibench.protocols.ws import WEBSOCKETS
from asgibench.server.config import Config
from asgibench.server.connection import HTTPConnection
from asgibench.server.lifespan import Lifespan, LifespanFailed
from asgibench.server.state import ServerState

logger = logging.getLogger("asgibench.error")
#: Exit status of a server whose app or lifespan startup failed (uvicorn uses 3 too).
STARTUP_FAILED = 3
_HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Server:
    """Serve ``config.app`` on one event loop.

    ``run()`` blocks until the server stops (a signal, ``request_exit()``,
    ``--limit-max-requests``). It may run in a non-main thread (tests do); it then
    installs no signal handlers.
    """

    def __init__(self, config: Config, sockets: list[socket.socket] | None = None) -> None:
        self.config = config
        self._given_sockets = sockets
        self._started = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._state: ServerState | None = None
        self._exit_requested = False
        self.addresses: list[Any] = []  # getsockname() of each listening socket
        self.exit_code = 0

    @property
    def port(self) -> int | None:
        """The bound TCP port (useful with ``port=0``); None for a Unix socket."""
        for address in self.addresses:
            if isinstance(address, tuple):
                return address[1]
        return None

    def wait_started(self, timeout: float | None = None) -> bool:
        return self._started.wait(timeout)

    def request_exit(self) -> None:
        """Begin a graceful shutdown; safe from any thread."""
        self._exit_requested = True
        loop, state = self._loop, self._state
        if loop is not None and state is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(state.should_exit.set)
            except RuntimeError:
                pass  # the loop closed in between

    def run(self) -> None:
        backend = preflight(self.config)
        loops.run(self.serve(), loop=backend.name)

    async def serve(self) -> None:
        config = self.config
        loop = asyncio.get_running_loop()
        parser_class = protocols.get_backend(config.proto).parser_class()
        ws_adapter = WEBSOCKETS.get(config.ws).adapter_class()
        app = config.load_app()
        state = ServerState(config, app, parser_class, ws_adapter)
        self._loop, self._state = loop, state
        if self._exit_requested:
            state.should_exit.set()

        restore_signals = self._install_signal_handlers(loop, state)
        lifespan = Lifespan(app, config.lifespan, state.lifespan_state)
        try:
            try:
                await lifespan.startup()
            except LifespanFailed as exc:
                raise StartupFailed(f"application startup failed: {exc}") from None
            try:
                await self._serve_until_exit(loop, state)
            finally:
                try:
                    await lifespan.shutdown()
                except LifespanFailed as exc:
                    logger.error("application shutdown failed: %s", exc)
                    self.exit_code = 1
        finally:
            restore_signals()
        logger.info("asgibench stopped (pid %d)", os.getpid())

    async def _serve_until_exit(self, loop: asyncio.AbstractEventLoop, state: ServerState) -> None:
        config = self.config
        owned = self._given_sockets is None
        sockets = bind_sockets(config) if owned else self._given_sockets
        # Read before create_server: some loops (rloop) detach the socket object.
        self.addresses = [sock.getsockname() for sock in sockets]
        unix_paths = [a for a in self.addresses if isinstance(a, str) and a]
        # rloop 0.5 never closes a socket it detached, and its Server.close() leaves live
        # connections half-dead; with it we keep a duplicate to stop listening ourselves
        # (only for sockets no other process shares). Other loops must not see their
        # listening socket shut under them: winloop's libuv aborts the process.
        leaky = type(loop).__module__.partition(".")[0] == "rloop"
        handles = [sock.dup() for sock in sockets] if owned and leaky else []
        servers = []
        date_timer = _SecondTicker(loop, state.refresh_default_headers)
        try:
            for sock in sockets:
                servers.append(
                    await loop.create_server(
                        lambda: HTTPConnection(state, loop), sock=sock, backlog=config.backlog
                    )
                )
            logger.info(
                "asgibench serving on %s (loop %s, parser %s, websockets %s, pid %d)",
                ", ".join(_describe(address) for address in self.addresses),
                loops.get_backend(config.loop, workers=config.workers).name,
                state.parser_class.name,
                state.ws_adapter.name if state.ws_adapter is not None else "none",
                os.getpid(),
            )
            self._started.set()
            await state.should_exit.wait()
            logger.info("shutting down")
        finally:
            date_timer.cancel()
            await self._shutdown(servers, state, handles)
            if owned:
                for sock in sockets:
                    sock.close()
                for path in unix_paths:
                    _unlink(path)

    async def _shutdown(
        self,
        servers: list[asyncio.AbstractServer],
        state: ServerState,
        listening: list[socket.socket],
    ) -> None:
        state.shutting_down = True
        # Stop accepting (see _serve_until_exit for why rloop is special).
        for sock in listening:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        if not listening:
            for server in servers:
                server.close()
        for conn in list(state.connections):
            conn.shutdown()
        timeout = self.config.timeout_graceful_shutdown
        if state.tasks:
            if state.active:
                logger.info("waiting for %d in-flight request(s) to finish", state.active)
            _, still_running = await asyncio.wait(list(state.tasks), timeout=timeout)
            if still_running:
                logger.warning("cancelling %d request(s) after the graceful timeout",
                               len(still_running))
                for conn in list(state.connections):
                    if conn.worker in still_running:
                        conn.shutdown_timed_out()  # 503 where nothing was sent yet
                for task in still_running:
                    task.cancel()
                await asyncio.wait(still_running, timeout=1)
        for conn in list(state.connections):
            conn.abort()
        for server in servers:
            server.close()
            await server.wait_closed()

    def _install_signal_handlers(self, loop: asyncio.AbstractEventLoop, state: ServerState):
        if threading.current_thread() is not threading.main_thread():
            return lambda: None

        def handle(signum: int, frame: Any = None) -> None:
            if state.shutting_down or state.should_exit.is_set():
                logger.info("second signal: exiting now")
                os._exit(1)
            loop.call_soon_threadsafe(state.should_exit.set)

        try:
            for sig in _HANDLED_SIGNALS:
                loop.add_signal_handler(sig, handle, sig)
        except (NotImplementedError, RuntimeError):
            # Windows loops and some third-party loops: fall back to signal.signal.
            previous = {sig: signal.signal(sig, handle) for sig in _HANDLED_SIGNALS}
            return lambda: [signal.signal(sig, handler) for sig, handler in previous.items()]

        def restore() -> None:
            for sig in _HANDLED_SIGNALS:
                try:
                    loop.remove_signal_handler(sig)
                except AttributeError:  # rloop 0.5 has a typo in remove_signal_handler
                    signal.signal(sig, signal.SIG_DFL)

        return restore


def preflight(config: Config) -> loops.Backend:
    """Refuse a bad --loop/--proto/--uds combination before anything binds or starts."""
    backend = loops.get_backend(config.loop, workers=config.workers)
    protocols.get_backend(config.proto)
    WEBSOCKETS.get(config.ws)
    if config.uds is not None and backend.name == "rloop":
        raise BenchError("rloop 0.5 cannot serve a Unix socket; choose another --loop")
    return backend


class StartupFailed(BenchError):
    exit_code = STARTUP_FAILED


def bind_sockets(
    config: Config, reuse_port: bool = False, listen: bool = True
) -> list[socket.socket]:
    """The listening socket for ``--uds``, ``--fd`` or ``--host/--port``."""
    if config.fd is not None:
        sock = socket.socket(fileno=config.fd)
        sock.setblocking(False)
        return [sock]
    if config.uds is not None:
        path = config.uds
        if os.path.exists(path):
            os.unlink(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(path)
        except OSError as exc:
            raise BenchError(f"cannot bind unix socket {path}: {exc.strerror}") from None
        os.chmod(path, 0o666)
        sock.listen(config.backlog)
        sock.setblocking(False)
        return [sock]
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    if sys.platform != "win32":
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((config.host, config.port))
    except OSError as exc:
        sock.close()
        raise BenchError(
            f"cannot bind {config.host}:{config.port}: {exc.strerror}"
            + ("; is another server running there? choose --port" if exc.errno in
               (98, 48, 10048) else "")
        ) from None
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if listen:
        sock.listen(config.backlog)
    sock.setblocking(False)
    return [sock]


class _SecondTicker:
    """Calls ``callback`` just after each wall-clock second turns, so Date flips on time."""

    def __init__(self, loop: asyncio.AbstractEventLoop, callback: Any) -> None:
        self._loop = loop
        self._callback = callback
        self._schedule()

    def _schedule(self) -> None:
        self._handle = self._loop.call_later(1.001 - time.time() % 1.0, self._tick)

    def _tick(self) -> None:
        self._callback()
        self._schedule()

    def cancel(self) -> None:
        self._handle.cancel()


def _describe(address: Any) -> str:
    if isinstance(address, tuple):
        host = f"[{address[0]}]" if ":" in address[0] else address[0]
        return f"http://{host}:{address[1]}"
    return f"unix:{address}"


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
