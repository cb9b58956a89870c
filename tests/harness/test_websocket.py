"""The WebSocket benchmark: the websocket-* test types, the app's /ws echo route, the
Python driver's WebSocket mode, verification, the plan (--ws, drivers, peers) and one
tiny bench run ranking uvicorn (both --ws), granian, hypercorn and asgibench, on real
loopback sockets."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from asgibench.errors import BenchError
from asgibench.harness import app, plan, servers, testtypes, verify
from asgibench.harness.drivers import LoadSpec, pyworker
from asgibench.harness.drivers.pydriver import DRIVER
from asgibench.harness.testtypes import websocket_echo
from tests.harness.conftest import free_port, start, stop

WS_TYPES = ("websocket-echo", "websocket-echo-16k", "websocket-connect")


# -- the test types and the app ----------------------------------------------------------

def test_the_types_are_registered_without_a_ceiling() -> None:
    sizes = {name: testtypes.get(name).websocket for name in WS_TYPES}
    assert sizes["websocket-echo"].size == 32 and not sizes["websocket-echo"].storm
    assert sizes["websocket-echo-16k"].size == 16 * 1024
    assert sizes["websocket-connect"].storm
    for name in WS_TYPES:
        test = testtypes.get(name)
        assert not test.has_ceiling and test.ranking == "best" and test.weight == 1.0
        assert test.quick_levels == (128,) and test.levels == (16, 32, 64, 128, 256, 512)
    assert testtypes.get("json").has_ceiling
    assert not testtypes.get("upload").has_ceiling
    for size in (1, 9, 32, 16 * 1024):
        assert len(websocket_echo.message(size, 3)) == size
    assert websocket_echo.message(32, 1) != websocket_echo.message(32, 2)


def _asgi(scope: dict[str, Any], incoming: list[dict[str, Any]]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    queue = list(incoming)

    async def receive() -> dict[str, Any]:
        return queue.pop(0) if queue else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app.app(scope, receive, send))
    return sent


def test_the_app_echoes_on_ws_and_refuses_other_paths() -> None:
    sent = _asgi({"type": "websocket", "path": "/ws"}, [
        {"type": "websocket.connect"},
        {"type": "websocket.receive", "text": "hello"},
        {"type": "websocket.receive", "bytes": b"\x00\xff"},
    ])
    assert sent == [{"type": "websocket.accept"},
                    {"type": "websocket.send", "text": "hello"},
                    {"type": "websocket.send", "bytes": b"\x00\xff"}]
    assert _asgi({"type": "websocket", "path": "/json"}, [{"type": "websocket.connect"}]) \
        == [{"type": "websocket.close"}]
    plain = _asgi({"type": "http", "path": "/ws", "method": "GET"}, [])
    assert plain[0]["status"] == 426


# -- the driver's frames -----------------------------------------------------------------

def test_the_accept_key_is_rfc_6455s() -> None:
    key = pyworker.WS_KEY
    assert len(base64.b64decode(key)) == 16
    expected = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
                                             ).digest())
    assert pyworker.WS_ACCEPT == expected
    # RFC 6455 1.3's example, through the same formula
    sample = base64.b64encode(hashlib.sha1(b"dGhlIHNhbXBsZSBub25jZQ==" + pyworker.WS_GUID
                                           ).digest())
    assert sample == b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    head = b"HTTP/1.1 101 Switching Protocols\r\nSEC-WEBSOCKET-ACCEPT: %s\r\n\r\n"
    assert pyworker._WS_ACCEPT(head % pyworker.WS_ACCEPT)
    assert pyworker._WS_ACCEPT(head % pyworker.WS_ACCEPT.swapcase()) is None


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536])
def test_frames_round_trip(size: int) -> None:
    key = b"\x01\x02\x03\x04"
    payload = bytes(range(256)) * (size // 256 + 1)
    payload = payload[:size]
    frame = pyworker.ws_frame(pyworker.WS_BINARY, payload, key)
    assert frame[1] & 0x80  # masked, as a client must
    frames, used = pyworker.ws_frames(frame + b"\x81")  # and the start of the next
    assert used == len(frame)
    assert frames == [(pyworker.WS_BINARY, True, payload, True)]
    assert pyworker.ws_mask(pyworker.ws_mask(payload, key), key) == payload
    # a server's (unmasked) frame, split anywhere, parses once complete
    unmasked = bytes((0x81, 5)) + b"hello"
    for cut in range(len(unmasked)):
        assert pyworker.ws_frames(unmasked[:cut]) == ([], 0)
    assert pyworker.ws_frames(unmasked) == ([(pyworker.WS_TEXT, True, b"hello", False)], 7)


# -- against uvicorn, on loopback --------------------------------------------------------

def _uvicorn(app_import: str, ws: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    proc = start([sys.executable, "-m", "uvicorn", app_import, "--port", str(port),
                  "--ws", ws, "--log-level", "warning", "--no-access-log"], port)
    return proc, port


@pytest.fixture(scope="module")
def echo_port() -> Iterator[int]:
    proc, port = _uvicorn("asgibench.harness.app:app", "wsproto")
    yield port
    stop(proc)


@pytest.fixture(scope="module")
def broken_port() -> Iterator[int]:
    proc, port = _uvicorn("tests.harness.apps.broken_ws:app", "websockets-sansio")
    yield port
    stop(proc)


def _spec(port: int, test: str, connections: int = 4) -> LoadSpec:
    load = testtypes.get(test).websocket
    return LoadSpec("127.0.0.1", port, "/ws", connections, 0.3, timeout=5.0, test=test,
                    slots=1, websocket=True, message_size=load.size, storm=load.storm)


@pytest.mark.parametrize("test", WS_TYPES)
def test_the_driver_counts_echoes(echo_port: int, test: str) -> None:
    result = DRIVER.run(_spec(echo_port, test))
    assert result.requests > 20, result
    assert result.checked == result.requests
    assert result.bad_body == 0 and result.non_2xx == 0 and result.error_count == 0
    assert 0 < result.latency_ms["p50"] <= result.latency_ms["p99"] <= result.latency_ms["max"]
    assert result.requests_per_s > 0


def test_wrong_echoes_are_bad_bodies(broken_port: int) -> None:
    result = DRIVER.run(_spec(broken_port, "websocket-echo"))
    assert result.requests > 20
    assert result.bad_body == result.requests and result.good_requests == 0


def test_a_refused_upgrade_is_a_non_2xx(echo_port: int) -> None:
    spec = _spec(echo_port, "websocket-echo", connections=2)
    spec.path = "/json"  # the app refuses the upgrade there (403)
    result = DRIVER.run(spec)
    assert result.non_2xx > 0 and result.good_requests == 0 and result.bad_body == 0


def test_verification_passes_a_right_echo(echo_port: int) -> None:
    outcome = verify.verify_websocket(testtypes.get("websocket-echo"), "127.0.0.1", echo_port)
    assert outcome.passed, outcome.summary()
    assert [c.name for c in outcome.checks] == [
        "handshake", "echo text 32 B", "echo binary 32 B", "echo text 16384 B",
        "echo binary 16384 B", "close"]


def test_verification_fails_a_wrong_echo(broken_port: int) -> None:
    outcome = verify.verify_websocket(testtypes.get("websocket-echo"), "127.0.0.1",
                                      broken_port)
    assert not outcome.passed
    failed = [c.name for c in outcome.failures()]
    assert failed == ["echo text 32 B", "echo binary 32 B", "echo text 16384 B",
                      "echo binary 16384 B"]
    assert "echoed 32 bytes" in outcome.failures()[0].detail


def test_verification_fails_without_a_server() -> None:
    outcome = verify.verify_websocket(testtypes.get("websocket-echo"), "127.0.0.1",
                                      free_port(), timeout=2.0)
    assert not outcome.passed and outcome.checks[0].name == "handshake"


# -- the plan ----------------------------------------------------------------------------

def test_drivers_for_websocket_types() -> None:
    ws = [testtypes.get("websocket-echo")]
    assert plan.websocket_driver("auto", ws) == "python"
    assert plan.websocket_driver("python", ws) == "python"
    assert plan.websocket_driver("auto", [testtypes.get("json")]) == "auto"
    with pytest.raises(BenchError, match="wrk cannot drive websocket-echo"):
        plan.websocket_driver("wrk", ws)


def test_ws_names() -> None:
    assert plan.resolve_ws("all") == [n for n in ("websockets", "wsproto")
                                      if servers.installed(n)]
    assert plan.resolve_ws("wsproto,websockets-sansio,wsproto") == ["wsproto",
                                                                     "websockets-sansio"]
    with pytest.raises(BenchError, match="unknown WebSocket implementation 'ws'"):
        plan.resolve_ws("ws")


def test_peers_launch_per_ws_implementation() -> None:
    uvicorn = servers.SERVERS.plugin("uvicorn")
    plain = uvicorn.plan(["asyncio"], ["h11"], "127.0.0.1", 8000)
    assert [p.parser for p in plain] == ["h11"] and "--ws" not in plain[0].argv
    both = uvicorn.plan(["asyncio"], ["h11"], "127.0.0.1", 8000,
                        ws=["websockets", "wsproto"])
    assert [(p.parser, p.ws) for p in both] == [("h11+websockets", "websockets"),
                                                ("h11+wsproto", "wsproto")]
    assert both[1].argv[-2:] == ["--ws", "wsproto"]
    granian = servers.SERVERS.plugin("granian")
    assert "--no-ws" in granian.plan(["asyncio"], [], "127.0.0.1", 8000)[0].argv
    native = granian.plan(["asyncio"], [], "127.0.0.1", 8000, ws=["wsproto"])[0]
    assert "--no-ws" not in native.argv and native.ws == "rust" and native.parser == "rust"
    hyper = servers.SERVERS.plugin("hypercorn").plan(["asyncio"], ["h11"], "127.0.0.1",
                                                      8000, ws=["websockets"])[0]
    assert hyper.parser == "h11" and hyper.ws == "wsproto"
    ours = servers.SERVERS.plugin("asgibench").plan(["asyncio"], ["h11"], "127.0.0.1", 8000,
                                                    ws=["websockets-sansio"])[0]
    assert isinstance(ours, servers.Unsupported) and "no --ws websockets-sansio" in ours.reason


def _bench(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "asgibench", "run", *args],
                          capture_output=True, text=True, timeout=timeout)


def test_wrk_is_refused_before_anything_starts() -> None:
    proc = _bench("--test", "json,websocket-echo", "--driver", "wrk", timeout=30)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "wrk cannot drive websocket-echo" in lines[0], proc.stderr


# -- bench run: one tiny interleaved run ---------------------------------------------------

PEERS = [("uvicorn", "h11+websockets"), ("uvicorn", "h11+wsproto"), ("granian", "rust"),
         ("hypercorn", "h11")]
OURS = [("asgibench", "h11+websockets"), ("asgibench", "h11+wsproto")]


@pytest.fixture(scope="module")
def ws_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("ws-run") / "run.json"
    proc = _bench("--test", "websocket-echo", "--server", "uvicorn,granian,hypercorn,asgibench",
                  "--loop", "asyncio", "--proto", "h11,rust", "--driver", "python",
                  "--levels", "4", "--duration", "0.3", "--warmup", "0", "--repeat", "1",
                  "--ws", "websockets,wsproto", "--out", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(Path(out).read_text())
    data["_stdout"] = proc.stdout
    report = subprocess.run([sys.executable, "-m", "asgibench", "report", str(out),
                             "--format", "md"], capture_output=True, text=True,
                            timeout=60)
    assert report.returncode == 0, report.stderr
    data["_markdown"] = report.stdout
    return data


def _entry(run: dict[str, Any], server: str, parser: str) -> dict[str, Any]:
    return next(e for e in run["entries"] if (e["server"], e["parser"]) == (server, parser))


def test_bench_run_ranks_the_peers(ws_run: dict[str, Any]) -> None:
    assert ws_run["settings"]["driver"]["name"] == "python"
    assert ws_run["settings"]["ws"] == ["websockets", "wsproto"]
    assert ws_run["ceiling"] == []  # no canned answer: no ceiling
    assert any(n.startswith("no driver ceiling for websocket-echo:")
               for n in ws_run["settings"]["notes"])
    ranked = [(row["server"], row["parser"]) for row in ws_run["ranking"]["websocket-echo"]]
    for server, parser in PEERS:
        entry = _entry(ws_run, server, parser)
        assert entry["status"] == "ok", entry.get("reason")
        assert entry["verification"]["passed"]
        assert entry["ws"] == {"h11+websockets": "websockets",
                                        "h11+wsproto": "wsproto", "rust": "rust",
                                        "h11": "wsproto"}[parser]
        repeat = entry["levels"][0]["repeats"][0]
        assert repeat["requests_per_s"] > 0 and repeat["bad_body"] == 0
        assert (server, parser) in ranked
    assert "h11+wsproto" in ws_run["_stdout"] and "websocket-echo" in ws_run["_stdout"]


def test_tables_count_messages_and_blame_no_flag(ws_run: dict[str, Any]) -> None:
    # An echo is a message, not a request; and no --no-ceiling was given, so no table may
    # say the ceiling was switched off (the plan's note says why there is none).
    for text in (ws_run["_stdout"], ws_run["_markdown"]):
        assert "msg/s" in text and "req/s" not in text, text
        assert "--no-ceiling" not in text, text


def test_bench_run_ranks_asgibench(ws_run: dict[str, Any]) -> None:
    ranked = [(row["server"], row["parser"]) for row in ws_run["ranking"]["websocket-echo"]]
    for server, parser in OURS:
        entry = _entry(ws_run, server, parser)
        assert entry["status"] == "ok", entry.get("reason")
        assert (server, parser) in ranked


def test_cost_and_memory_take_websocket_types_only_with_ws() -> None:
    # bench cost / bench memory without --ws pass no ws_spec: they count HTTP requests
    with pytest.raises(BenchError, match="needs --ws IMPL here"):
        plan.app_and_tests({"test_spec": "json,websocket-echo"})
    _, _, tests = plan.app_and_tests({"test_spec": "all"})
    assert tests and not any(t.websocket for t in tests)
    _, _, tests = plan.app_and_tests({"test_spec": "all", "ws_spec": "all"})
    assert [t.name for t in tests if t.websocket] == list(WS_TYPES)


@pytest.mark.parametrize(("args", "needle"), [
    (("--ws", "websockets", "--test", "plaintext"), "is not one"),
    (("--ws", "websockets", "--test", "websocket-connect"), "measured by bench run"),
    (("--ws", "websockets", "--pipeline", "4"), "--pipeline is for HTTP"),
    (("--ws", "websockets", "--app", "main:app", "--endpoint", "GET /"), "does not combine"),
    (("--test", "websocket-echo"), "needs --ws IMPL"),
])
def test_cost_ws_misuse_is_one_line(args: tuple[str, ...], needle: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "asgibench", "cost", *args],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], proc.stderr


@pytest.mark.skipif(shutil.which("valgrind") is None or shutil.which("callgrind_control")
                    is None, reason="valgrind is not installed (Linux: apt-get install "
                                    "valgrind; none for Windows or macOS on arm64)")
def test_cost_counts_instructions_per_echo(tmp_path: Path) -> None:
    out = tmp_path / "cost.json"
    proc = subprocess.run([sys.executable, "-m", "asgibench", "cost", "--ws", "websockets",
                           "--server", "asgibench", "--loop", "asyncio", "--proto", "h11",
                           "--requests", "60", "--warmup", "10", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    (row,) = json.loads(out.read_text())["rows"]  # no floor: the canned server has no /ws
    assert (row["parser"], row["test"], row["requests"]) == ("h11+websockets",
                                                            "websocket-echo", 60)
    # a Python server's echo is tens of thousands of instructions, not a handful
    assert 10_000 < row["instructions"] / 60 < 2_000_000, row
    assert "one message echoed" in proc.stdout
