"""``bench serve`` flags, env vars, socket sources (--uds, --fd), --app-factory, and the
``bench loops`` / ``bench protos`` tables."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import socket
import subprocess
import sys
import tempfile

import pytest

from . import apps
from .client import RawClient, get
from .conftest import (
    HOST,
    LOOP_STATUSES,
    LOOPS,
    PROTO_STATUSES,
    PROTOS,
    free_port,
    start_server,
    wait_until,
)

# What type(asyncio.get_running_loop()) looks like on each backend.
LOOP_TYPE_MARKERS = {
    "asyncio": "asyncio.",
    "selector": "SelectorEventLoop",
    "proactor": "ProactorEventLoop",
    "uvloop": "uvloop",
    "winloop": "winloop",
    "rloop": "rloop",
}


def _bench(*args: str, cwd=None, env=None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ASGIBENCH_")}
    full_env.update({"COLUMNS": "200", "PYTHONUNBUFFERED": "1", **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "asgibench", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def short_tmp():
    """A short directory path: AF_UNIX paths are limited to ~100 bytes."""
    path = tempfile.mkdtemp(prefix="abconf", dir="/tmp" if os.path.isdir("/tmp") else None)
    yield path
    shutil.rmtree(path, ignore_errors=True)


# ---- bad flag values: one line, exit 2, nothing bound


@pytest.mark.slow
@pytest.mark.parametrize(("flag", "choices"), [("--loop", LOOPS), ("--proto", PROTOS)])
def test_bad_choice_is_one_line_and_exit_2(tmp_path, flag, choices):
    (tmp_path / "app_module.py").write_text(apps.SUBPROCESS_APP)
    # Hold the port: a server that bound before validating would report the bind instead.
    with socket.socket() as holder:
        holder.bind((HOST, 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = _bench("serve", "app_module:app", flag, "nope", "--port", str(port), cwd=tmp_path)
    assert result.returncode == 2, result
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got:\n{result.stderr}"
    line = lines[0]
    assert "Traceback" not in result.stderr
    assert "nope" in line
    assert "bind" not in line.lower() and "address already in use" not in line.lower()
    for name in choices:
        assert name in line, f"{name!r} missing from the choices in {line!r}"


# ---- serving through the CLI


def _diagonal() -> list[tuple[str, str]]:
    """Each available loop once and each parser at least once, plus auto x auto."""
    if not LOOPS or not PROTOS:
        return []
    pairs = [(loop, PROTOS[i % len(PROTOS)]) for i, loop in enumerate(LOOPS)]
    for i, proto in enumerate(PROTOS[len(LOOPS) :]):
        pairs.append((LOOPS[i % len(LOOPS)], proto))
    return [*pairs, ("auto", "auto")]


@pytest.mark.slow
@pytest.mark.parametrize(("loop", "proto"), _diagonal(), ids=lambda v: v)
def test_cli_serves_with_loop_and_proto(spawn, loop, proto):
    process = spawn(["app_module:app", "--loop", loop, "--proto", proto])
    process.wait_ready()
    with RawClient(process.addr) as client:
        client.send(get("/") + get("/loop"))
        first, second = client.read_responses(2)
    assert (first.status, first.body) == (200, b"ok")
    if loop != "auto":
        assert LOOP_TYPE_MARKERS[loop] in second.body.decode(), second.body


@pytest.mark.slow
def test_env_var_is_the_default(spawn):
    port = free_port()
    process = spawn(["app_module:app"], port=None, env={"ASGIBENCH_PORT": str(port)})
    process.port = port
    process.wait_ready()
    with RawClient(process.addr) as client:
        client.send(get("/"))
        assert client.read_final().body == b"ok"


NO_AF_UNIX = pytest.mark.skipif(
    not hasattr(socket, "AF_UNIX"),
    reason="this platform's Python has no Unix domain sockets (socket.AF_UNIX)",
)


@pytest.mark.slow
@NO_AF_UNIX
def test_cli_unix_socket(spawn, short_tmp):
    path = os.path.join(short_tmp, "s.sock")
    process = spawn(["app_module:app", "--uds", path], port=None)
    process.wait_ready(address=path)
    with RawClient(path) as client:
        client.send(get("/"))
        assert client.read_final().body == b"ok"


@pytest.mark.slow
@pytest.mark.skipif(
    sys.platform == "win32",
    reason="Windows cannot hand a socket to a child as a file descriptor (no pass_fds; "
    "sockets are handles)",
)
def test_cli_inherited_fd(spawn):
    listener = socket.socket()
    listener.bind((HOST, 0))
    listener.listen()
    port = listener.getsockname()[1]
    try:
        listener.set_inheritable(True)
        process = spawn(
            ["app_module:app", "--fd", str(listener.fileno())],
            port=None,
            pass_fds=(listener.fileno(),),
        )
    finally:
        listener.close()  # the child has its own copy now
    process.port = port
    process.wait_ready()
    with RawClient(process.addr, timeout=15) as client:
        client.send(get("/"))
        assert client.read_final().body == b"ok"


@pytest.mark.slow
def test_cli_app_factory(spawn):
    process = spawn(["app_module:factory", "--app-factory"])
    process.wait_ready()
    with RawClient(process.addr) as client:
        client.send(get("/"))
        assert client.read_final().body == b"from factory"


@pytest.mark.slow
def test_bench_loops_table():
    from asgibench import loops

    result = _bench("loops")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for name, skip in LOOP_STATUSES:
        row = next((line for line in out.splitlines() if f" {name} " in line), None)
        assert row is not None, f"no row for {name} in:\n{out}"
        assert ("unavailable" in row) is (skip is not None), row
    for name in LOOPS:
        if name in ("asyncio", "selector", "proactor"):
            continue
        version = importlib.metadata.version(name)
        assert version in out, f"{name} {version} not shown"
    assert f"auto resolves to: {loops.auto_name()}" in " ".join(out.split())


@pytest.mark.slow
def test_bench_protos_table():
    from asgibench import protocols

    result = _bench("protos")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for name, skip in PROTO_STATUSES:
        row = next((line for line in out.splitlines() if f" {name} " in line), None)
        assert row is not None, f"no row for {name} in:\n{out}"
        assert ("unavailable" in row) is (skip is not None), row
        if skip is None:
            assert importlib.metadata.version(name) in row
    assert f"auto resolves to: {protocols.auto_name()}" in " ".join(out.split())


# ---- the same socket sources in-process, on every loop x parser


def test_runs_on_the_requested_loop(serve, combo):
    loop, _ = combo
    srv = serve(apps.loop_type)
    body = srv.request(get("/")).body.decode()
    assert LOOP_TYPE_MARKERS[loop] in body, f"asked for {loop}, app runs on {body}"


@NO_AF_UNIX
def test_unix_socket_in_process(serve, short_tmp):
    from asgibench.errors import BenchError

    path = os.path.join(short_tmp, "s.sock")
    srv = serve(apps.echo, uds=path, wait=False)
    # A loop that refuses Unix sockets ends the server thread at once: stop waiting then,
    # not after the whole 5 s (rloop refuses; three cells of the matrix).
    wait_until(lambda: srv.server.wait_started(0) or not srv.thread.is_alive(), 5)
    if not srv.server.wait_started(0):
        srv.thread.join(5)
        error = srv.errors[0] if srv.errors else None
        if isinstance(error, BenchError):  # a clean refusal is a documented limitation
            srv.errors.clear()
            pytest.skip(f"refused: {error}")
        raise AssertionError(f"server on {path} did not start: {error!r}")
    with RawClient(path) as client:
        client.send(get("/u1") + get("/u2"))
        first, second = client.read_responses(2)
    assert (first.body, second.body) == (b"GET /u1\n", b"GET /u2\n")


def test_inherited_fd_in_process(serve):
    listener = socket.socket()
    listener.bind((HOST, 0))
    listener.listen()
    port = listener.getsockname()[1]
    srv = serve(apps.echo, fd=listener.detach())
    assert srv.port == port
    with RawClient((HOST, port)) as client:
        client.send(get("/fd"))
        assert client.read_final().body == b"GET /fd\n"


def test_app_factory_in_process():
    def factory():
        return apps.hello

    running = start_server(factory, app_factory=True)
    try:
        with running.client() as client:
            client.send(get("/"))
            assert client.read_final().body == apps.HELLO
    finally:
        running.stop()


def test_app_import_string_in_process():
    running = start_server(f"{apps.__name__}:hello")
    try:
        with running.client() as client:
            client.send(get("/"))
            assert client.read_final().body == apps.HELLO
    finally:
        running.stop()
