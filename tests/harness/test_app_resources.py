"""``bench cost --app`` and ``bench memory --app``: the user's app (the Starlette app of
``tests/harness/apps``) counted and measured on its own workloads, through real server
processes on loopback; mistakes are one line before any server starts."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from asgibench.harness import cost
from asgibench.harness.workloads import Request, Workload

pytestmark = pytest.mark.slow

APPS = Path(__file__).resolve().parent / "apps"
NO_VALGRIND = shutil.which("valgrind") is None or shutil.which("callgrind_control") is None
NO_PROC = not os.path.exists("/proc/self/status")
ONE = ["--server", "asgibench", "--loop", "asyncio", "--proto", "h11"]


def _bench(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASGIBENCH_")}
    return subprocess.run([sys.executable, "-m", "asgibench", *args], capture_output=True,
                          text=True, timeout=300, cwd=tmp_path, env=env, check=False)


@pytest.mark.skipif(
    NO_VALGRIND,
    reason="valgrind is not installed (Linux: apt-get install valgrind; there is none for "
    "Windows or for macOS on arm64)",
)
def test_cost_counts_each_workload_of_your_app(tmp_path: Path) -> None:
    """One server process under callgrind counts an endpoint, a scenario's weighted POST
    mix and its connection = "close" workload; an endpoint that fails verification is a
    failed row (exit 1) and the others are still counted. No floor: the canned server
    cannot answer the app's paths."""
    out = tmp_path / "cost.json"
    done = _bench(tmp_path, "cost", "--app", "items:app", "--app-dir", str(APPS), *ONE,
                  "--endpoint", "GET /items/1", "--endpoint", "GET /missing",
                  "--scenario", str(APPS / "items.toml"),
                  "--requests", "20", "--warmup", "5", "--out", str(out))
    assert done.returncode == 1, done.stderr + done.stdout
    rows = {row["test"]: row for row in json.loads(out.read_text())["rows"]}
    assert set(rows) == {"get-items-1", "get-missing", "item-mix", "health-close"}
    assert {row["server"] for row in rows.values()} == {"asgibench"}  # no canned floor
    for name in ("get-items-1", "item-mix", "health-close"):
        row = rows[name]
        assert row["requests"] == 20 and not row["reason"], row
        # A Starlette route costs a Python server tens of thousands of instructions.
        assert 10_000 < row["per_request"] < 20_000_000, row
        assert row["app"] == "items:app" and row["app_dir"] == str(APPS)
        assert row["workload"]["name"] == name
    # Accept and teardown per request cost more than a request on a kept connection.
    assert rows["health-close"]["per_request"] > rows["get-items-1"]["per_request"]
    assert rows["item-mix"]["workload"]["requests"][1]["body_bytes"] > 0
    missing = rows["get-missing"]
    assert missing["instructions"] is None
    assert "verification failed" in missing["reason"] and "status 404" in missing["reason"]


@pytest.mark.skipif(NO_PROC, reason="bench memory reads /proc, which macOS and Windows lack")
@pytest.mark.parametrize("requests", [["--endpoint", "GET /items/1"], []],
                         ids=["endpoint", "app-alone"])
def test_memory_of_your_app(tmp_path: Path, requests: list[str]) -> None:
    """With an endpoint each held connection made one of its requests; with --app alone
    the connections are held without one. Either way: figures, and the app recorded."""
    out = tmp_path / "memory.json"
    done = _bench(tmp_path, "memory", "--app", "items:app", "--app-dir", str(APPS), *ONE,
                  *requests, "--connections", "50", "--out", str(out))
    assert done.returncode == 0, done.stderr + done.stdout
    (row,) = json.loads(out.read_text())["rows"]
    assert row["connections"] == 50 and not row["reason"]
    assert 5_000 < row["idle_kib"] <= row["held_kib"]
    assert row["per_connection_kib"] is not None
    assert row["app"] == "items:app" and row["app_dir"] == str(APPS)
    assert [w["name"] for w in row["workloads"]] == (["get-items-1"] if requests else [])


@pytest.mark.parametrize(("args", "needle"), [
    (["cost", "--app", "nosuch:app", "--endpoint", "GET /x"], "no module 'nosuch'"),
    (["memory", "--app", "nosuch:app"], "no module 'nosuch'"),
    (["memory", "--app", "items", "--app-dir", str(APPS)], "must be MODULE:ATTR"),
    (["cost", "--app", "items:app", "--app-dir", str(APPS)],
     "--app needs the requests to measure it with"),
    (["cost", "--app", "items:app", "--app-dir", str(APPS), "--scenario",
      str(APPS / "items.toml"), "--pipeline", "4"], "'health-close' has connection"),
])
def test_a_bad_app_is_one_line_before_any_server(tmp_path: Path, args: list[str],
                                                 needle: str) -> None:
    """Checked before valgrind or /proc is looked for, so on every OS."""
    done = _bench(tmp_path, *args, "--out", str(tmp_path / "out.json"))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], done.stderr
    assert not (tmp_path / "out.json").exists()


def test_workload_requests_are_the_drivers_bytes_in_weighted_turn() -> None:
    a, b = Request("GET", "/a", weight=3), Request("POST", "/b", body=b"{}")
    turn = cost.workload_requests(Workload("mix", (a, b)), "h:1")
    assert [request for _, request in turn] == [a, a, b, a]
    assert turn[2][0].startswith(b"POST /b HTTP/1.1\r\nHost: h:1\r\n")
    assert turn[2][0].endswith(b"Content-Length: 2\r\nConnection: keep-alive\r\n\r\n{}")
    assert cost.status_problem(a, 204) is None
    assert cost.status_problem(Request("GET", "/", expect_status=201), 200) == \
        "wrong answer to GET /: status 200, expected 201"
