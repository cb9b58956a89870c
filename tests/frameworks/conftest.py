"""Real frameworks (FastAPI/Starlette, Django, Litestar) served by a ``bench serve`` subprocess.

Every app lives in ``apps/`` and is started with that directory as the current directory
(``bench serve fastapi_app:app``), once per loop x parser combination and test module.
``FRAMEWORKS_SERVER=uvicorn`` runs the same apps under uvicorn instead, to check the tests
themselves against a reference server.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

HOST = "127.0.0.1"
APPS_DIR = Path(__file__).parent / "apps"
SERVER = os.environ.get("FRAMEWORKS_SERVER", "bench")  # "bench" or "uvicorn"
# Exit statuses of a graceful stop on SIGTERM (uvicorn re-raises the signal once it is done).
SIGTERM_CLEAN_EXIT = {0, -signal.SIGTERM} if SERVER == "uvicorn" else {0}

# Streaming timing: chunk i is produced DELAY * i seconds after the request arrives.
N_CHUNKS = 5
DELAY = 0.3
PROMPT = 0.25  # a chunk must reach the client within this long of being produced


def _combos() -> list:
    try:
        from asgibench import loops, protocols

        loop_ok = {s.name: (s.available, s.reason) for s in loops.describe()}
        proto_ok = {b.name: b.available() for b in protocols.backends()}
    except ImportError:  # asgibench itself broken: the subprocess will say how
        found = {n: importlib.util.find_spec(n) is not None for n in ("uvloop", "httptools")}
        loop_ok = {"asyncio": (True, ""), "uvloop": (found["uvloop"], "not installed")}
        proto_ok = {"h11": (True, ""), "httptools": (found["httptools"], "not installed")}
    params = []
    for loop, proto in [("uvloop", "httptools"), ("asyncio", "h11")]:
        reason = None
        if not loop_ok.get(loop, (False, "unknown loop"))[0]:
            reason = f"loop {loop} unavailable on this platform: {loop_ok.get(loop)}"
        elif not proto_ok.get(proto, (False, "unknown parser"))[0]:
            reason = f"parser {proto} unavailable on this platform: {proto_ok.get(proto)}"
        marks = [pytest.mark.skip(reason=reason)] if reason else []
        params.append(pytest.param((loop, proto), id=f"{loop}-{proto}", marks=marks))
    return params


COMBOS = _combos()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class ServerProcess:
    """One server subprocess serving ``app`` (MODULE:ATTR from ``apps/``) on a free port."""

    def __init__(self, app: str, loop: str, proto: str, state_dir: Path, keep_alive: int = 5):
        self.port = free_port()
        self.state_dir = state_dir
        self.log_path = state_dir / "server.log"
        common = ["--host", HOST, "--port", str(self.port), "--loop", loop]
        common += ["--log-level", "warning", "--timeout-keep-alive", str(keep_alive)]
        if SERVER == "uvicorn":
            cmd = [sys.executable, "-m", "uvicorn", app, *common, "--http", proto]
        else:
            cmd = [sys.executable, "-m", "asgibench", "serve", app, *common, "--proto", proto]
        env = {k: v for k, v in os.environ.items() if not k.startswith("ASGIBENCH_")}
        env.update(PYTHONUNBUFFERED="1", FW_STATE_DIR=str(state_dir))
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                cmd, cwd=APPS_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
            )

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def addr(self) -> tuple[str, int]:
        return (HOST, self.port)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def wait_ready(self, warmup: str, timeout: float = 20.0) -> None:
        """Poll until ``GET warmup`` answers 200 (so lazy imports are done before timing)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            with contextlib.suppress(httpx.TransportError):
                response = httpx.get(self.url + warmup, timeout=5)
                assert response.status_code == 200, (response, response.text[:500], self.log())
                return
            time.sleep(0.05)
        raise AssertionError(f"server not ready after {timeout} s:\n{self.log()}")

    def wait(self, timeout: float) -> int | None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            return self.proc.wait(timeout)
        return None

    def stop(self) -> bool:
        """SIGTERM; True if the server exits within 5 s (else it is killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            if self.wait(5) is None:
                self.proc.kill()
                self.proc.wait(10)
                return False
        return True


@contextlib.contextmanager
def running(app: str, combo: tuple[str, str], state_dir: Path, warmup: str, **kw):
    """A ready server; on leaving, it must stop within 5 s of SIGTERM, with no traceback."""
    server = ServerProcess(app, *combo, state_dir, **kw)
    try:
        server.wait_ready(warmup)
        yield server
    except BaseException:
        server.stop()
        raise
    assert server.stop(), f"server still running 5 s after SIGTERM (killed):\n{server.log()}"
    assert "Traceback" not in server.log(), f"server logged an exception:\n{server.log()}"


def server_fixture(app: str, warmup: str) -> Callable:
    """A module-scoped fixture: one running server for ``app`` per loop x parser combo."""

    @pytest.fixture(scope="module", params=COMBOS)
    def fixture(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[ServerProcess]:
        state_dir = tmp_path_factory.mktemp(app.split(":")[0])
        with running(app, request.param, state_dir, warmup) as server:
            yield server

    return fixture


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as c:
        yield c


# --------------------------------------------------------------------------------------
# Timing of streamed bodies


def expected_chunks(n: int = N_CHUNKS) -> list[bytes]:
    """What the apps' ``/stream?n=N`` endpoints yield: distinct, recognisable chunks."""
    return [f"chunk-{i:02d};".encode() * 8 for i in range(n)]


@dataclasses.dataclass
class Timed:
    response: httpx.Response
    head: float  # seconds from sending the request to having the response head
    pieces: list[tuple[float, bytes]]  # (seconds from sending the request, raw body bytes)

    @property
    def body(self) -> bytes:
        return b"".join(data for _, data in self.pieces)

    def arrivals(self, markers: list[bytes]) -> list[float]:
        """When (since the request) the body received so far first contained each marker."""
        out, seen, index = [], b"", 0
        for at, data in self.pieces:
            seen += data
            while index < len(markers) and markers[index] in seen:
                out.append(at)
                index += 1
        assert index == len(markers), f"marker {markers[index]!r} never arrived: {seen!r}"
        return out


def timed_request(client: httpx.Client, method: str, url: str, **kwargs) -> Timed:
    start = time.monotonic()
    with client.stream(method, url, **kwargs) as response:
        head = time.monotonic() - start
        pieces = [(time.monotonic() - start, data) for data in response.iter_raw()]
    return Timed(response, head, pieces)


def assert_streamed(timed: Timed, markers: list[bytes], delay: float = DELAY) -> None:
    """Each marker (produced ``delay * i`` s after the request) arrived promptly, one by one."""
    times = timed.arrivals(markers)
    shown = f"head at {timed.head:.3f} s, items at {[round(t, 3) for t in times]} s"
    assert timed.head < PROMPT, f"response head held back: {shown}"
    for i, at in enumerate(times):
        produced = i * delay
        assert at >= produced - 0.05, f"item {i} arrived before it was produced?! {shown}"
        assert at <= produced + PROMPT, f"item {i} held back (produced at {produced} s): {shown}"
    spread = times[-1] - times[0]
    assert spread >= (len(markers) - 1) * delay * 0.8, f"items arrived all at once: {shown}"
