"""What every connection of one server process shares: settings, app, counters, clocks."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from asgibench.protocols import Parser
from asgibench.server import http11
from asgibench.server.config import ASGIApp, Config

error_log = logging.getLogger("asgibench.error")
access_log = logging.getLogger("asgibench.access")


class ServerState:
    def __init__(self, config: Config, app: ASGIApp, parser_class: type[Parser],
                 ws_adapter: Any = None) -> None:
        self.config = config
        self.app = app
        self.parser_class = parser_class
        # The WebSocket adapter class (--ws), or None: upgrades are answered as plain HTTP.
        self.ws_adapter = ws_adapter
        self.limit_request_head = config.limit_request_head
        self.timeout_keep_alive = config.timeout_keep_alive
        self.timeout_request_head = config.timeout_request_head
        self.timeout_request_body = config.timeout_request_body
        self.upgrade_warned = False  # an unsupported Upgrade is logged once per process
        self.limit_concurrency = config.limit_concurrency
        self.limit_max_requests = config.limit_max_requests
        self.root_path = config.root_path
        self.root_path_bytes = config.root_path.encode("ascii")
        self.access_log = config.access_log and access_log.isEnabledFor(logging.INFO)
        self.lifespan_state: dict[str, Any] = {}
        self.connections: set[Any] = set()
        self.tasks: set[asyncio.Task[None]] = set()  # connection workers
        self.active = 0  # requests whose app is running
        self.total_requests = 0
        self.should_exit = asyncio.Event()
        self.shutting_down = False
        self.server_line = b"server: asgibench\r\n" if config.server_header else b""
        self.date_line = b""
        self.default_headers = b""
        self.refresh_default_headers()

    def refresh_default_headers(self) -> None:
        """Re-render Date; called once a second so requests never format it themselves."""
        self.date_line = http11.date_header() if self.config.date_header else b""
        self.default_headers = self.server_line + self.date_line

    def error_response(self, status: int, reason: str, headers: bytes = b"") -> bytes:
        """A response the server makes itself (400, 408, 500, 503...), with Server/Date
        and any further rendered ``headers``."""
        return http11.error_response(status, reason, self.default_headers + headers)
