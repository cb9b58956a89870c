"""``bench cost`` (instructions per request under callgrind) and ``bench memory`` (resident
size per kept-alive connection), run for real against servers on loopback."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from asgibench.errors import BenchError
from asgibench.harness import cost, memory
from asgibench.harness.servers import Launch, Unsupported
from tests.harness.conftest import free_port, start, stop

NO_VALGRIND = shutil.which("valgrind") is None or shutil.which("callgrind_control") is None


def _bench(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "asgibench", *args], capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.skipif(
    NO_VALGRIND,
    reason="valgrind is not installed (Linux: apt-get install valgrind; there is none for "
    "Windows or for macOS on arm64)",
)
def test_cost_counts_instructions_per_request_against_the_floor(tmp_path: Path) -> None:
    out = tmp_path / "cost.json"
    done = _bench("cost", "--server", "asgibench", "--loop", "asyncio", "--proto", "httptools",
                  "--test", "plaintext,db", "--requests", "40", "--warmup", "10",
                  "--out", str(out))
    assert done.returncode == 0, done.stderr + done.stdout
    rows = {(row["server"], row["test"]): row for row in json.loads(out.read_text())["rows"]}
    ours, floor = rows["asgibench", "plaintext"], rows["canned", "plaintext"]
    assert ours["requests"] == 40
    # A Python server spends thousands of instructions on a request, and more than the
    # canned server (no parser, no ASGI) whose cost is the floor.
    assert 5_000 < floor["per_request"] < ours["per_request"] < 5_000_000
    # db answers (checked: 200 and a row) came from a SQLite file seeded for the count,
    # and the database driver's work is in the count.
    assert rows["asgibench", "db"]["per_request"] > ours["per_request"] + 20_000
    assert "instructions per request" in done.stdout
    assert "floor / server" in done.stdout


def test_cost_refuses_what_callgrind_cannot_follow() -> None:
    plan = [Launch("granian", "uvloop", "rust", ["granian"]),
            Launch("asgibench", "uvloop", "h11", ["python"])]
    counted = cost.countable(plan)
    assert isinstance(counted[0], Unsupported)
    assert "worker processes" in counted[0].reason
    assert counted[1] is plan[1]


def test_cost_reads_each_dump_by_its_label(tmp_path: Path) -> None:
    (tmp_path / "callgrind.out.1").write_text(
        "version: 1\ndesc: Trigger: dump warm-up json\nsummary: 999\n")
    (tmp_path / "callgrind.out.2").write_text(
        "version: 1\ndesc: Trigger: dump measured json\nevents: Ir\nsummary: 123456\n")
    (tmp_path / "callgrind.out").write_text(
        "desc: Trigger: Program termination\nsummary: 5\n")
    assert cost._read_dumps(str(tmp_path)) == {"warm-up json": 999, "measured json": 123456}


def test_cost_bad_loop_is_one_line_naming_the_choices() -> None:
    done = _bench("cost", "--loop", "nosuchloop")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "nosuchloop" in lines[0] and "asyncio" in lines[0]


@pytest.mark.parametrize("command", ["cost", "memory"])
def test_bad_flag_is_named_before_a_missing_tool_or_os(command: str) -> None:
    """Without valgrind (CI runners, macOS, Windows) or /proc, a mistyped --loop is still
    reported as itself: the selection is checked first."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASGIBENCH_")}
    env["PATH"] = os.path.dirname(sys.executable)  # no valgrind on it
    done = subprocess.run(
        [sys.executable, "-m", "asgibench", command, "--loop", "nosuchloop"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown loop 'nosuchloop'" in lines[0], done.stderr


@pytest.mark.skipif(
    not os.path.exists("/proc/self/status"),
    reason="bench memory reads /proc, which macOS and Windows lack",
)
def test_memory_grows_with_held_connections(tmp_path: Path) -> None:
    out = tmp_path / "memory.json"
    done = _bench("memory", "--server", "asgibench", "--loop", "asyncio", "--proto", "h11",
                  "--connections", "300", "--out", str(out))
    assert done.returncode == 0, done.stderr + done.stdout
    (row,) = json.loads(out.read_text())["rows"]
    assert row["connections"] == 300
    assert 5_000 < row["idle_kib"] < row["held_kib"]
    assert 0 < row["per_connection_kib"] < 200


@pytest.mark.skipif(
    not os.path.exists("/proc/self/status"),
    reason="bench memory reads /proc, which macOS and Windows lack",
)
def test_memory_holds_idle_websockets_per_implementation(tmp_path: Path) -> None:
    out = tmp_path / "memory.json"
    done = _bench("memory", "--ws", "websockets,wsproto", "--server", "asgibench", "--loop",
                  "asyncio", "--proto", "h11", "--connections", "200", "--out", str(out))
    assert done.returncode == 0, done.stderr + done.stdout
    rows = json.loads(out.read_text())["rows"]
    assert [row["parser"] for row in rows] == ["h11+websockets", "h11+wsproto"]
    for row in rows:
        assert row["held"] == "websocket" and row["connections"] == 200, row
        assert 0 < row["per_connection_kib"] < 200, row
    assert "idle WebSocket connections" in done.stdout


def test_memory_websocket_hold_fails_on_a_refused_upgrade() -> None:
    # --ws none answers the upgrade as plain HTTP (the app's 426): the hold must say so
    # rather than count a plain keep-alive connection as a WebSocket.
    port = free_port()
    proc = start([sys.executable, "-m", "asgibench", "serve", "asgibench.harness.app:app",
                  "--port", str(port), "--loop", "asyncio", "--proto", "h11", "--ws", "none"],
                 port)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock, \
                pytest.raises(BenchError, match=r"upgrade refused.*426"):
            memory._upgrade_and_echo(sock, "/ws", "127.0.0.1", port, 0)
    finally:
        stop(proc)


def test_memory_ws_refuses_the_users_app() -> None:
    done = _bench("memory", "--ws", "websockets", "--app", "main:app", timeout=30)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "--ws" in done.stderr, done.stderr


@pytest.mark.skipif(
    not os.path.exists("/proc/self/status"),
    reason="bench memory reads /proc, which macOS and Windows lack",
)
def test_resident_size_counts_child_processes() -> None:
    child = subprocess.Popen([sys.executable, "-c",
                              "import time; x = bytearray(64 << 20); time.sleep(30)"])
    try:
        deadline = time.monotonic() + 10
        while memory.resident_kib(child.pid) < 60 * 1024 and time.monotonic() < deadline:
            time.sleep(0.05)
        alone = memory.resident_kib(child.pid)
        assert alone >= 60 * 1024
        assert memory.resident_kib(os.getpid()) >= alone  # this process + the child
    finally:
        child.kill()
        child.wait()


@pytest.mark.parametrize("command", ["cost", "memory"])
@pytest.mark.parametrize(("out", "needle"), [("counts.txt", "is not a .json file"),
                                             ("somewhere/", "is not a .json file")])
def test_out_is_checked_before_measuring(command: str, out: str, needle: str,
                                         tmp_path: Path) -> None:
    """--out FILE.json only; a mistake is one line before any server starts."""
    done = subprocess.run([sys.executable, "-m", "asgibench", command, "--out", out],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    if command == "cost" and NO_VALGRIND:
        pytest.skip("bench cost checks for valgrind first; valgrind is not installed")
    if command == "memory" and not Path("/proc/self/status").is_file():
        pytest.skip("bench memory checks for /proc first; this platform has none")
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], done.stderr
    assert "counting" not in done.stderr and not list(tmp_path.iterdir())
