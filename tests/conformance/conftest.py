"""Fixtures for the conformance suite: the loop x parser matrix, in-process servers,
``bench serve`` subprocesses, and small helpers.

The raw-socket HTTP/1.1 client the tests talk to the servers with (``RawClient``,
``Response``, ``http_request``, ``get``, ...) is tests/conformance/client.py.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from asgibench import loops, protocols

from .client import RawClient, Response

HOST = "127.0.0.1"

# --------------------------------------------------------------------------------------
# The matrix: every known loop x every known parser; unusable ones are skipped with why.

PROACTOR_SKIP = "ProactorEventLoop exists only on Windows"


def _loop_statuses() -> list[tuple[str, str | None]]:
    """(name, skip reason or None) for every loop backend, in display order."""
    rows = []
    for status in loops.describe():
        if status.name == "proactor" and sys.platform != "win32":
            rows.append((status.name, PROACTOR_SKIP))
        elif not status.available:
            rows.append((status.name, f"loop {status.name} unavailable here: {status.reason}"))
        else:
            rows.append((status.name, None))
    return rows


def _proto_statuses() -> list[tuple[str, str | None]]:
    rows = []
    for backend in protocols.backends():
        ok, reason = backend.available()
        rows.append((backend.name, None if ok else f"parser {backend.name}: {reason}"))
    return rows


LOOP_STATUSES = _loop_statuses()
PROTO_STATUSES = _proto_statuses()
LOOPS = [name for name, skip in LOOP_STATUSES if skip is None]
PROTOS = [name for name, skip in PROTO_STATUSES if skip is None]


#: Only these cells of the matrix ("LOOP-PROTO,..."), when set: tests/test_builds.py runs
#: every test function once this way on the build the rest of the suite does not run.
ONLY_COMBOS = {cell for cell in os.environ.get("ASGIBENCH_TEST_COMBOS", "").split(",") if cell}


def _combo_params() -> list[Any]:
    params = []
    for loop, loop_skip in LOOP_STATUSES:
        for proto, proto_skip in PROTO_STATUSES:
            if ONLY_COMBOS and f"{loop}-{proto}" not in ONLY_COMBOS:
                continue
            reason = loop_skip or proto_skip
            marks = [pytest.mark.skip(reason=reason)] if reason else []
            params.append(pytest.param((loop, proto), id=f"{loop}-{proto}", marks=marks))
    return params


COMBOS = _combo_params()


def _loop_params() -> list[Any]:
    """One cell per loop, with the first installed parser: for behaviour that rests on the
    loop's transport (back-pressure, a file changing under a send), not on parsing."""
    proto = PROTOS[0] if PROTOS else "h11"
    return [pytest.param((loop, proto), id=f"{loop}-{proto}",
                         marks=[pytest.mark.skip(reason=skip)] if skip else [])
            for loop, skip in LOOP_STATUSES
            if not ONLY_COMBOS or any(cell.startswith(f"{loop}-") for cell in ONLY_COMBOS)]


#: Use as ``@pytest.mark.parametrize("combo", LOOP_COMBOS)`` in place of the full matrix.
LOOP_COMBOS = _loop_params()


@pytest.fixture(params=COMBOS)
def combo(request: pytest.FixtureRequest) -> tuple[str, str]:
    """(loop, proto) of the current matrix cell."""
    return request.param


def known_loop_bug(
    request: pytest.FixtureRequest, loop: str, reason: str, *, strict: bool = True
) -> None:
    """Expect this test to fail on ``loop`` because of a bug in that loop itself.

    Strict by default: the test still runs in full, and it fails the suite once the loop
    is fixed, so the mark cannot outlive the bug. ``strict=False`` only for a bug that
    shows intermittently (the reason says so).
    """
    if request.getfixturevalue("combo")[0] == loop:
        request.applymarker(pytest.mark.xfail(strict=strict, reason=reason))


# --------------------------------------------------------------------------------------
# In-process servers


@dataclasses.dataclass
class Running:
    """A Server running in a daemon thread."""

    server: Any
    thread: threading.Thread
    config: Any
    errors: list[BaseException]

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def addr(self) -> tuple[str, int] | str:
        if self.config.uds:
            return self.config.uds
        return (HOST, self.server.port)

    def client(self, **kwargs: Any) -> RawClient:
        return RawClient(self.addr, **kwargs)

    def request(self, data: bytes, *, head: bool = False) -> Response:
        """One request on a fresh connection; returns the final response."""
        with self.client() as client:
            client.send(data)
            return client.read_final(head=head)

    def stop(self, timeout: float = 15.0) -> None:
        self.server.request_exit()
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise AssertionError(f"server did not stop within {timeout} s of request_exit()")


def start_server(app: Any, *, wait: bool = True, **overrides: Any) -> Running:
    """Start ``Server(Config(app=app, **overrides))`` in a thread (port 0 by default)."""
    from asgibench.server import Config, Server

    options: dict[str, Any] = {"host": HOST, "port": 0, "access_log": False}
    options.update(overrides)
    config = Config(app=app, **options)
    server = Server(config)
    errors: list[BaseException] = []

    def target() -> None:
        try:
            server.run()
        except BaseException as exc:  # reported by the test, not by threading.excepthook
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True, name="asgibench-server")
    thread.start()
    running = Running(server, thread, config, errors)
    if wait and not server.wait_started(timeout=5):
        if thread.is_alive():
            running.stop(timeout=5)
        detail = f": {errors[0]!r}" if errors else ""
        raise AssertionError(f"server did not start within 5 s{detail}")
    return running


@pytest.fixture
def serve(combo: tuple[str, str]) -> Iterator[Callable[..., Running]]:
    """``serve(app, **config_overrides)`` -> a Running server on this test's loop x proto.

    Every server started is stopped (and must stop) at teardown.
    """
    loop, proto = combo
    started: list[Running] = []

    def start(app: Any, *, wait: bool = True, **overrides: Any) -> Running:
        overrides.setdefault("loop", loop)
        overrides.setdefault("proto", proto)
        running = start_server(app, wait=wait, **overrides)
        started.append(running)
        return running

    yield start
    failures = []
    for running in started:
        try:
            running.stop()
        except AssertionError as exc:
            failures.append(str(exc))
        if running.errors:
            failures.append(f"server.run() raised {running.errors[0]!r}")
    if failures:
        pytest.fail("; ".join(failures))


# --------------------------------------------------------------------------------------
# Small helpers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def connection_refused(address: tuple[str, int], timeout: float = 5.0) -> bool:
    """True once a connect() to ``address`` is refused (polls for up to ``timeout`` s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(address, timeout=1):
                pass
        except ConnectionRefusedError:
            return True
        except OSError:
            pass
        time.sleep(0.02)
    return False


def traceback_records(records: list[logging.LogRecord]) -> list[logging.LogRecord]:
    """Records from asgibench's (or asyncio's) loggers that carry a traceback."""
    return [
        r
        for r in records
        if r.exc_info and (r.name.startswith("asgibench") or r.name.startswith("asyncio"))
    ]


# --------------------------------------------------------------------------------------
# ``bench serve`` subprocesses


class ServeProcess:
    """``python -m asgibench serve ...`` in ``cwd``; stdout/stderr go to files."""

    def __init__(
        self,
        cwd: Path,
        args: list[str],
        *,
        port: int | None,
        env: dict[str, str] | None = None,
        pass_fds: tuple[int, ...] = (),
        name: str = "serve",
    ) -> None:
        self.cwd = cwd
        self.port = port
        self.args = args
        self.stdout_path = cwd / f"{name}.stdout"
        self.stderr_path = cwd / f"{name}.stderr"
        full_env = dict(os.environ)
        full_env["PYTHONUNBUFFERED"] = "1"
        for key in [k for k in full_env if k.startswith("ASGIBENCH_")]:
            del full_env[key]
        full_env.update(env or {})
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "asgibench", "serve", *args],
                cwd=cwd,
                stdout=out,
                stderr=err,
                env=full_env,
                pass_fds=pass_fds,
            )

    @property
    def addr(self) -> tuple[str, int]:
        assert self.port is not None
        return (HOST, self.port)

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 15.0, address: Any = None) -> None:
        """Poll connect() until the server accepts, or fail with its stderr."""
        address = address or self.addr
        family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"bench serve exited with status {self.proc.returncode} before serving; "
                    f"stderr:\n{self.stderr()}"
                )
            with socket.socket(family, socket.SOCK_STREAM) as sock:
                sock.settimeout(1)
                try:
                    sock.connect(address)
                    return
                except OSError:
                    pass
            time.sleep(0.05)
        raise AssertionError(f"bench serve not ready after {timeout} s; stderr:\n{self.stderr()}")

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"bench serve still running {timeout} s later; stderr:\n{self.stderr()}"
            ) from None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., ServeProcess]]:
    """``spawn(args, app_source=..., port=...)`` -> a ServeProcess in ``tmp_path``.

    ``app_source`` (default: ``apps.SUBPROCESS_APP``) is written to
    ``tmp_path/app_module.py``. ``port="free"`` appends ``--port <a free port>``, an int
    appends that port, None appends nothing. Processes still running at teardown are killed.
    """
    from .apps import SUBPROCESS_APP

    processes: list[ServeProcess] = []

    def start(
        args: list[str],
        *,
        app_source: str | None = None,
        port: int | str | None = "free",
        env: dict[str, str] | None = None,
        pass_fds: tuple[int, ...] = (),
    ) -> ServeProcess:
        (tmp_path / "app_module.py").write_text(app_source or SUBPROCESS_APP)
        if port == "free":
            port = free_port()
        extra = ["--port", str(port)] if isinstance(port, int) else []
        process = ServeProcess(
            tmp_path,
            [*args, *extra],
            port=port if isinstance(port, int) else None,
            env=env,
            pass_fds=pass_fds,
            name=f"serve{len(processes)}",
        )
        processes.append(process)
        return process

    yield start
    for process in processes:
        process.kill()
