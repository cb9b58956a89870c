"""Server settings. Every field is one ``bench serve`` flag (``--timeout-keep-alive`` ->
``timeout_keep_alive``) and one environment variable (``ASGIBENCH_TIMEOUT_KEEP_ALIVE``)."""

from __future__ import annotations

import importlib
import ipaddress
import logging
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from asgibench.errors import BenchError

ASGIApp = Callable[..., Any]

logger = logging.getLogger("asgibench.error")

LIFESPAN_CHOICES = ("auto", "on", "off")
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


@dataclass
class Config:
    app: ASGIApp | str
    host: str = "127.0.0.1"
    port: int = 8000
    uds: str | None = None
    fd: int | None = None
    loop: str = "auto"
    proto: str = "auto"
    ws: str = "auto"
    workers: int = 1
    backlog: int = 2048
    lifespan: str = "auto"
    timeout_keep_alive: float = 5.0
    timeout_request_head: float = 10.0
    timeout_request_body: float = 60.0
    timeout_graceful_shutdown: float | None = None
    limit_concurrency: int | None = None
    limit_max_requests: int | None = None
    limit_request_head: int = 65536
    root_path: str = ""
    proxy_headers: bool = True
    forwarded_allow_ips: str = "127.0.0.1"
    access_log: bool = True
    log_level: str = "info"
    server_header: bool = True
    date_header: bool = True
    app_factory: bool = False
    ws_max_size: int = 16 * 1024 * 1024
    ws_max_queue: int = 32
    ws_ping_interval: float | None = 20.0
    ws_ping_timeout: float | None = 20.0
    ws_per_message_deflate: bool = True

    def __post_init__(self) -> None:
        if self.lifespan not in LIFESPAN_CHOICES:
            raise BenchError(
                f"invalid lifespan {self.lifespan!r}; choose from: {', '.join(LIFESPAN_CHOICES)}"
            )
        if self.log_level not in LOG_LEVELS:
            raise BenchError(
                f"invalid log level {self.log_level!r}; choose from: {', '.join(LOG_LEVELS)}"
            )
        if self.workers < 1:
            raise BenchError("--workers must be 1 or more")
        if self.limit_request_head < 1024:
            raise BenchError("--limit-request-head must be at least 1024 bytes")
        if self.ws_max_size < 1:
            raise BenchError("--ws-max-size must be 1 byte or more")
        if self.ws_max_queue < 1:
            raise BenchError("--ws-max-queue must be 1 or more")
        self.trusted_proxies = _parse_trusted(self.forwarded_allow_ips)

    def import_app(self) -> ASGIApp:
        """The object APP names (the factory, with ``--app-factory``), imported and checked
        callable but not called. Any failure is a one-line :class:`BenchError`; the app's
        own traceback is logged at debug level."""
        app = self.app
        if isinstance(app, str):
            app = import_from_string(app)
        if not callable(app):
            what = "an ASGI app factory" if self.app_factory else "an ASGI app"
            raise BenchError(f"{self.app!r} is not callable; give MODULE:ATTR of {what}")
        return app

    def load_app(self) -> ASGIApp:
        """Import ``module:attr`` (the current directory first on sys.path) if needed."""
        app = self.import_app()
        if self.app_factory:
            app = app()
            if not callable(app):
                raise BenchError(
                    f"the factory {self.app!r} returned {type(app).__name__}, not an ASGI app"
                )
        return app


def import_from_string(target: str) -> Any:
    """``module:attr.attr`` imported, the current directory first on sys.path."""
    module_name, _, attrs = target.partition(":")
    if not module_name or not attrs:
        raise BenchError(f"app {target!r} must be given as MODULE:ATTR, e.g. main:app")
    if "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")
    try:
        obj: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name or module_name.startswith(f"{exc.name}."):
            # The module itself is missing: its traceback would only show importlib.
            raise BenchError(f"could not import {module_name!r}: {exc}") from None
        raise _import_failed(module_name, exc) from None
    # SystemExit too: a module that calls sys.exit() (a script's argparse, say) while being
    # imported would otherwise end bench serve silently.
    except (Exception, SystemExit) as exc:
        raise _import_failed(module_name, exc) from None
    for attr in attrs.split("."):
        try:
            obj = getattr(obj, attr)
        except AttributeError:
            raise BenchError(f"module {module_name!r} has no attribute {attrs!r}") from None
    return obj


def _import_failed(module_name: str, exc: BaseException) -> BenchError:
    """The one line for an app module that raised while being imported, the user's own
    traceback logged at debug level (a mistake in their code: the traceback is theirs)."""
    if isinstance(exc, ImportError):
        reason = str(exc)  # "No module named 'x'" says what it is without the class name
    else:
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    reason = " ".join(reason.split())  # one line, whatever the message holds
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug("importing %r failed:\n%s", module_name, _user_traceback(exc).rstrip())
        hint = "traceback above"
    else:
        hint = "--log-level debug shows the traceback"
    return BenchError(f"could not import {module_name!r}: {reason} ({hint})")


_MACHINERY = tuple(
    os.path.dirname(path) + os.sep for path in (importlib.__file__, os.path.dirname(__file__))
)


def _user_traceback(exc: BaseException) -> str:
    """The traceback from the first frame outside importlib and asgibench: the frames above
    it are ours, the same for every app, and would bury the line the user must fix."""
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if not (filename.startswith("<frozen ") or filename.startswith(_MACHINERY)):
            break
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


_PROBE_EXIT_S = 2.0  # s the import probe may take to exit once it has answered


def probe_app(config: Config) -> None:
    """Import the app in a throwaway process and raise its one-line :class:`BenchError` here.

    For ``--workers``: the supervisor binds the port before any worker imports the app,
    and it never imports the app itself (as uvicorn's does not), so that user code runs in
    workers only. Without this, a broken app is a worker that fails, is replaced, and fails
    again, with the port bound all along. The cost: the app's module is imported once more
    than there are workers, each time in a fresh process.
    """
    if not isinstance(config.app, str):
        config.import_app()
        return
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # as the workers are started
    receiver, sender = context.Pipe(duplex=False)
    # Not a daemon: an app module may start processes of its own while being imported.
    process = context.Process(target=_probe_main, args=(config, sender), daemon=False)
    process.start()
    sender.close()  # ours: EOF below then means the probe died without a word
    try:
        problem = receiver.recv()
    except EOFError:
        process.join(_PROBE_EXIT_S)
        problem = (
            f"could not import {config.app.partition(':')[0]!r}: the process importing "
            f"it exited with status {process.exitcode}"
        )
    finally:
        receiver.close()
    # The verdict is in. A module that started a non-daemon thread or process at import
    # would keep the probe alive for ever: give it a moment, then end it.
    process.join(_PROBE_EXIT_S)
    if process.is_alive():
        process.kill()
        process.join()
    if problem:
        raise BenchError(problem)


def _probe_main(config: Config, sender: Any) -> None:
    from asgibench.server.logs import configure_logging

    configure_logging(config.log_level)  # the debug traceback is the probe's to print
    try:
        config.import_app()
    except BenchError as exc:
        sender.send(str(exc))
    else:
        sender.send(None)
    finally:
        sender.close()


def _parse_trusted(value: str) -> tuple[bool, list[Any]]:
    """``*`` trusts everyone; otherwise a comma list of addresses or networks."""
    items = [item.strip() for item in value.split(",") if item.strip()]
    if "*" in items:
        return True, []
    networks = []
    for item in items:
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise BenchError(
                f"--forwarded-allow-ips: {item!r} is not an IP address or network"
            ) from None
    return False, networks
