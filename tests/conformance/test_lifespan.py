"""ASGI lifespan: startup before serving, shutdown on exit, failures, on/off/auto."""

from __future__ import annotations

import socket
import time

import pytest

from . import apps
from .client import get
from .conftest import HOST, free_port, start_server


def test_startup_completes_before_any_request_is_served(serve):
    app = apps.LifespanApp(startup_delay=0.3)
    port = free_port()
    srv = serve(app, port=port, lifespan="on", wait=False)
    answers = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not answers:
        try:
            sock = socket.create_connection((HOST, port), timeout=5)
        except OSError:
            time.sleep(0.01)
            continue
        with sock:
            sock.sendall(get("/"))
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
                if data.endswith(b"ready") or data.endswith(b"NOT READY"):
                    break
            answers.append(data)
    assert srv.server.wait_started(5)
    assert app.startup_complete
    assert answers, "never managed to connect"
    assert answers[0].endswith(b"\r\n\r\nready"), answers[0]


def test_shutdown_runs_on_exit(serve):
    app = apps.LifespanApp()
    srv = serve(app, lifespan="on")
    assert srv.request(get("/")).body == b"ready"
    srv.stop()
    assert app.events == ["lifespan.startup", "lifespan.shutdown"]


def test_lifespan_off_never_calls_app_with_lifespan(serve):
    app = apps.LifespanApp()
    srv = serve(app, lifespan="off")
    assert srv.request(get("/")).body == b"NOT READY"
    srv.stop()
    assert app.scope_types == ["http"]


def test_lifespan_auto_tolerates_app_without_lifespan(serve):
    app = apps.LifespanApp(fail_with="unsupported")
    srv = serve(app, lifespan="auto")
    response = srv.request(get("/"))
    assert response.status == 200
    srv.stop()
    assert app.scope_types[0] == "lifespan"


@pytest.mark.parametrize(
    ("mode", "fail_with"), [("on", "message"), ("auto", "message"), ("on", "raise")]
)
def test_failed_startup_does_not_serve(combo, mode, fail_with):
    loop, proto = combo
    app = apps.LifespanApp(fail_with=fail_with)
    port = free_port()
    running = start_server(app, wait=False, loop=loop, proto=proto, port=port, lifespan=mode)
    running.thread.join(5)
    assert not running.thread.is_alive(), "server still running after a failed startup"
    assert not running.server.wait_started(0)
    # In-process, run() may raise or just return a non-zero exit code; either says so.
    assert running.errors or running.server.exit_code != 0, "a failed startup looked like success"
    assert "http" not in app.scope_types
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((HOST, port), timeout=2).close()


# ---- through ``bench serve`` (process-level: one loop x parser is enough)


@pytest.mark.slow
def test_cli_startup_failed_message_exits_nonzero(spawn):
    process = spawn(["app_module:startup_failed"])
    status = process.wait(15)
    assert status != 0
    assert "database is down: code 7" in process.stderr()


@pytest.mark.slow
def test_cli_startup_exception_with_lifespan_on_exits_nonzero(spawn):
    process = spawn(["app_module:startup_raises", "--lifespan", "on"])
    status = process.wait(15)
    assert status != 0
    assert "startup exploded: code 9" in process.stderr()
