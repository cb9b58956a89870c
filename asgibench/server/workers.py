"""``--workers N``: N server processes sharing one port, each restarted if it dies.

Where the OS has SO_REUSEPORT (Linux, BSDs, macOS) each worker listens on its own socket
bound to the same port and the kernel spreads connections across them; the supervisor
holds a bound, never-listening socket only to reserve the port (and learn it for
``--port 0``). Elsewhere, and for ``--uds``/``--fd``, the supervisor binds one listening
socket that every worker inherits.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import multiprocessing.connection
import signal
import socket
import sys
import threading
from typing import Any

from asgibench.errors import BenchError
from asgibench.server.config import Config
from asgibench.server.logs import configure_logging
from asgibench.server.server import STARTUP_FAILED, Server, bind_sockets

logger = logging.getLogger("asgibench.error")


def run_workers(config: Config, log_level: str) -> int:
    """Supervise ``config.workers`` processes until SIGINT/SIGTERM; return an exit status."""
    reuse_port = hasattr(socket, "SO_REUSEPORT") and config.uds is None and config.fd is None
    if reuse_port:
        holder = bind_sockets(config, reuse_port=True, listen=False)[0]
        config = dataclasses.replace(config, port=holder.getsockname()[1])
        shared: list[socket.socket] | None = None
    else:
        holder = None
        shared = bind_sockets(config)
    context = multiprocessing.get_context("spawn")
    stop = threading.Event()

    def start() -> multiprocessing.process.BaseProcess:
        process = context.Process(
            target=_worker_main, args=(config, shared, reuse_port, log_level), daemon=False
        )
        process.start()
        return process

    def request_stop(signum: int, frame: Any) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    processes = [start() for _ in range(config.workers)]
    logger.info("supervisor %d started %d workers", multiprocessing.current_process().pid,
                config.workers)
    status = 0
    try:
        while not stop.is_set():
            multiprocessing.connection.wait([p.sentinel for p in processes], timeout=0.2)
            for index, process in enumerate(processes):
                if process.is_alive() or stop.is_set():
                    continue
                if process.exitcode == STARTUP_FAILED:
                    logger.error("worker %d failed to start; stopping", process.pid)
                    status = STARTUP_FAILED
                    stop.set()
                    break
                logger.warning("worker %d exited (status %s); starting a new one",
                               process.pid, process.exitcode)
                processes[index] = start()
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: each worker shuts down gracefully
        grace = (config.timeout_graceful_shutdown or 30.0) + 5.0
        for process in processes:
            process.join(grace)
            if process.is_alive():
                process.kill()
                process.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for sock in [holder, *(shared or [])]:
            if sock is not None:
                sock.close()
    return status


def _worker_main(
    config: Config, sockets: list[socket.socket] | None, reuse_port: bool, log_level: str
) -> None:
    configure_logging(log_level)
    try:
        if reuse_port:
            sockets = bind_sockets(config, reuse_port=True)
        server = Server(config, sockets=sockets)
        server.run()
    except BenchError as exc:
        print(f"bench serve: error: {exc}", file=sys.stderr)
        sys.exit(getattr(exc, "exit_code", STARTUP_FAILED))
    sys.exit(server.exit_code)
