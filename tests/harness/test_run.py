"""End to end: real ``bench run`` runs (tiny), failures recorded, bad input = one line."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from asgibench import loops
from asgibench.harness import pinning, results, testtypes
from asgibench.harness.drivers import get_driver
from asgibench.harness.runner import Runner, Settings
from asgibench.harness.servers import Launch, Unsupported

from .conftest import BADSERVER, kill_tree

pytestmark = pytest.mark.slow

DRIVERS = ["python"] + (["wrk"] if shutil.which("wrk") else [])
TINY = ["--duration", "1", "--warmup", "0", "--levels", "8", "--repeat", "1", "--quiet"]


def bench(*args: str, env: dict[str, str] | None = None,
          timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "asgibench", "run", *args],
                          capture_output=True, text=True, timeout=timeout, env=env,
                          check=False)


def entries_by(document: dict[str, Any]) -> dict[tuple[str, str, str, str], dict[str, Any]]:
    return {(e["server"], e["loop"], e["parser"], e["test"]): e for e in document["entries"]}


@pytest.mark.parametrize("driver", DRIVERS)
def test_tiny_run_against_bench_serve(tmp_path: Path, driver: str) -> None:
    loop = loops.auto_name()
    out = tmp_path / "run.json"
    proc = bench("--server", "asgibench", "--loop", loop, "--proto", "httptools",
                 "--driver", driver, "--out", str(out), *TINY)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    document = results.read(out)  # validates against the schema
    settings = document["settings"]
    assert settings["driver"]["name"] == driver
    assert settings["tests"] == ["plaintext", "json"]
    assert settings["levels"] == {"plaintext": [8], "json": [8]}
    assert settings["pipeline"] == {"plaintext": 16, "json": 1}
    assert settings["repeat"] == 1 and settings["duration_s"] == 1.0
    assert settings["pinning"]["method"] in ("sched_setaffinity", "none")
    assert document["environment"]["packages"]["httptools"]
    assert not document["interrupted"]
    assert [c["status"] for c in document["ceiling"]] == ["ok", "ok"]

    by = entries_by(document)
    for test in ("plaintext", "json"):
        entry = by[("asgibench", loop, "httptools", test)]
        assert entry["status"] == "ok", entry["reason"]
        assert entry["verification"]["passed"]
        names = [c["name"] for c in entry["verification"]["checks"]]
        assert {"status", "header_server", "header_date", "content_type", "framing", "body",
                "keep_alive", "date_refresh"} <= set(names)
        assert ("pipelining" in names) == (test == "plaintext")
        (level,) = entry["levels"]
        assert level["concurrency"] == 8
        (rep,) = level["repeats"]
        assert rep["round"] == 1 and rep["requests"] > 0 and rep["requests_per_s"] > 0
        assert rep["bad_body"] == 0 and rep["non_2xx"] == 0 and rep["checked"] > 0
        assert rep["latency_ms"]["p99"] > 0
        (row,) = document["ranking"][test]
        assert row["rank"] == 1 and row["server"] == "asgibench"
    assert len(document["composite"]) == 1
    # --repeat 1: the figures have no spread, and the table says so.
    for needle in ("plaintext · concurrency 8 · pipelined x16", "json · concurrency 8",
                   "driver ceiling", "one repeat per level: no spread"):
        assert needle in proc.stdout

    shown = bench("--show", str(out))
    assert shown.returncode == 0 and "json · concurrency 8" in shown.stdout


def test_ours_against_peers(tmp_path: Path) -> None:
    """`--server asgibench,uvicorn,granian`: one table; granian's h11 listed unsupported."""
    loop = "uvloop" if "uvloop" in loops.available() else "asyncio"
    out = tmp_path / "peers.json"
    proc = bench("--server", "asgibench,uvicorn,granian", "--loop", loop, "--proto", "h11",
                 "--test", "json", "--no-ceiling", "--out", str(out), *TINY)
    assert proc.returncode == 0, proc.stderr
    document = results.read(out)
    by = entries_by(document)
    assert by[("asgibench", loop, "h11", "json")]["status"] == "ok"
    assert by[("uvicorn", loop, "h11", "json")]["status"] == "ok"
    assert by[("granian", loop, "rust", "json")]["status"] == "ok"
    unsupported = by[("granian", loop, "h11", "json")]
    assert unsupported["status"] == "unsupported" and "Rust" in unsupported["reason"]
    assert {row["server"] for row in document["ranking"]["json"]} == \
        {"asgibench", "uvicorn", "granian"}
    assert document["ceiling"] == []
    assert "unsupported" in proc.stdout and "granian" in proc.stdout


def test_failures_are_recorded_and_the_run_goes_on(tmp_path: Path) -> None:
    """A server that does not start, one that crashes under load and one that fails
    verification become failed entries with their output; the good one is ranked."""
    port = _free_port()

    def fake(mode: str) -> Launch:
        return Launch("fake", mode, "raw", [sys.executable, BADSERVER, str(port), mode])

    plan: list[Launch | Unsupported] = [fake("nostart"), fake("crash"), fake("wrongbody"),
                                        Unsupported("fake", "never", "raw", "cannot"),
                                        fake("good")]
    json_type = testtypes.get("json")
    settings = Settings(tests=[json_type], levels={"json": [4]}, duration=1.0, warmup=0.0,
                        primer=0.0, pause=0.0, repeat=1, host="127.0.0.1", port=port,
                        profile="quick", ceiling=False, startup_timeout=15)
    runner = Runner(settings, plan, get_driver("python"), pinning.plan("none"))
    document = runner.run().to_dict()
    results.write(document, tmp_path / "r.json")  # schema-valid
    by = {e["loop"]: e for e in document["entries"]}

    assert by["nostart"]["status"] == "failed" and by["nostart"]["phase"] == "start"
    assert "refusing to start" in by["nostart"]["output"]
    assert "status 4" in by["nostart"]["reason"]

    assert by["crash"]["status"] == "failed" and by["crash"]["phase"] == "crash"
    assert "status 3" in by["crash"]["reason"]
    assert "crashing on purpose" in by["crash"]["output"]

    assert by["wrongbody"]["status"] == "failed" and by["wrongbody"]["phase"] == "verify"
    assert not by["wrongbody"]["verification"]["passed"]
    assert "body" in by["wrongbody"]["reason"]
    assert by["wrongbody"]["levels"][0]["repeats"] == []  # never loaded

    assert by["never"]["status"] == "unsupported" and by["never"]["reason"] == "cannot"
    assert by["good"]["status"] == "ok"
    assert [row["loop"] for row in document["ranking"]["json"]] == ["good"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- bad input: one line, exit status 2, no traceback -----------------------------------


def _one_line_error(proc: subprocess.CompletedProcess[str], needle: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    # "bench run: error: ..." (or "python -m asgibench run: error: ..." when run so)
    assert " run: error: " in lines[0], lines[0]
    assert needle in lines[0], lines[0]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--loop", "turbo"], "unknown loop 'turbo'"),
        (["--proto", "picohttp"], "unknown parser 'picohttp'"),
        (["--server", "nginx"], "unknown server 'nginx'"),
        (["--test", "dbx"], "unknown test type 'dbx'"),
        (["--driver", "ab"], "ab"),
        (["--levels", "many"], "not a whole number"),
        (["--cpus", "0:999"], "cannot use"),
        (["--proto", "rust", "--server", "asgibench"], "no requested combination can run"),
        (["--show", "/nonexistent/run.json"], "does not exist"),
        (["--repeat", "0"], "repeat"),
    ],
)
def test_bad_input(args: list[str], needle: str) -> None:
    _one_line_error(bench(*args), needle)


def test_missing_driver() -> None:
    env = dict(os.environ, PATH=str(Path(sys.executable).parent))
    _one_line_error(bench("--driver", "wrk", env=env), "driver 'wrk' is not available")


def test_busy_port() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        _one_line_error(bench("--port", str(port)), f"port {port} on 127.0.0.1 is busy")


@pytest.mark.parametrize(
    ("content", "needle"),
    [("{oops", "not valid JSON"), ('{"a": 1}', "not an asgibench results file"),
     (json.dumps({"schema": "asgibench.results/0"}), "has schema 'asgibench.results/0'")],
)
def test_unreadable_results_file(tmp_path: Path, content: str, needle: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    _one_line_error(bench("--show", str(path)), needle)


def test_out_is_checked_before_measuring(tmp_path: Path) -> None:
    """A destination that cannot take the file is refused before anything is measured."""
    mistaken = tmp_path / "out.txt"
    _one_line_error(bench("--out", str(mistaken)), "neither a .json file nor a directory")
    assert not mistaken.exists()  # it used to become a directory
    if Path("/proc/self").is_dir():  # Linux: a path nothing can be created in, even as root
        _one_line_error(bench("--out", "/proc/x.json"), "cannot create files in '/proc'")


def test_default_profile_gives_every_figure_a_spread(tmp_path: Path) -> None:
    """Without --repeat, each entry is measured in three interleaved rounds, so the table
    shows a ± and bench compare can judge a change (one repeat could not)."""
    out = tmp_path / "run.json"
    proc = bench("--loop", "asyncio", "--proto", "h11,httptools", "--test", "json",
                 "--levels", "8", "--duration", "0.2", "--no-ceiling", "--quiet",
                 "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    document = results.read(out)
    assert document["settings"]["repeat"] == 3
    for entry in document["entries"]:
        (level,) = entry["levels"]
        assert [r["round"] for r in level["repeats"]] == [1, 2, 3]
    assert "x 3 repeats" in proc.stdout
    assert "one repeat per level" not in proc.stdout


def test_a_killed_run_leaves_its_results_so_far_marked_partial(tmp_path: Path) -> None:
    """The file is written as the run goes; one left by a run killed before its final
    write loads, keeps what was measured and says it is partial (not a finished run)."""
    import signal
    import time

    out = tmp_path / "run.json"
    proc = subprocess.Popen([sys.executable, "-m", "asgibench", "run", "--server",
                             "asgibench", "--loop", "asyncio", "--proto", "h11", "--test",
                             "json", "--driver", "python", "--no-ceiling", "--duration",
                             "0.5", "--warmup", "0", "--levels", "8", "--repeat", "3",
                             "--quiet", "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not out.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)  # the first checkpoint: after round 1 of 3
        assert out.exists(), "nothing was written as the run went"
        # Frozen first, so it starts nothing between the listing and the kill.
        proc.send_signal(signal.SIGSTOP)
        kill_tree(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read() if proc.stderr else ""
    run = results.load(out)  # whole and valid: written atomically
    assert run.interrupted
    [entry] = run.entries
    assert entry.levels[0].repeats and entry.levels[0].repeats[0].requests > 0
    shown = bench("--show", str(out))
    assert shown.returncode == 0, shown.stderr
    assert "interrupted: partial results" in shown.stdout
