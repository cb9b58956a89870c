"""Server settings. Every field is one ``bench serve`` flag (``--timeout-keep-alive`` ->
``timeout_keep_alive``) and one environment variable (``ASGIBENCH_TIMEOUT_KEEP_ALIVE``)."""

from __future__ import annotations

import importlib
import ipaddress
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from asgibench.errors import BenchError

ASGIApp = Callable[..., Any]

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
        self.trusted_proxies = _parse_trusted(self.forwarded_allow_ips)

    def load_app(self) -> ASGIApp:
        """Import ``module:attr`` (the current directory first on sys.path) if needed."""
        app = self.app
        if isinstance(app, str):
            app = import_from_string(app)
        if self.app_factory:
            app = app()
        if not callable(app):
            raise BenchError(f"{self.app!r} is not callable; give MODULE:ATTR of an ASGI app")
        return app


def import_from_string(target: str) -> Any:
    module_name, _, attrs = target.partition(":")
    if not module_name or not attrs:
        raise BenchError(f"app {target!r} must be given as MODULE:ATTR, e.g. main:app")
    if "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")
    try:
        obj: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name and not module_name.startswith(f"{exc.name}."):
            raise  # a missing dependency of the app: its own traceback says more
        raise BenchError(f"could not import module {module_name!r}: {exc}") from None
    for attr in attrs.split("."):
        try:
            obj = getattr(obj, attr)
        except AttributeError:
            raise BenchError(f"module {module_name!r} has no attribute {attrs!r}") from None
    return obj


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
