"""``bench run --url``: a server that is already running (started here by the test, as a
user would start theirs) is verified, measured and ranked, and never started or stopped;
a wrong answer is a failed entry; an unreachable URL and conflicting flags are one line."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from asgibench.cli import main
from asgibench.errors import BenchError
from asgibench.harness import plan, results, servers
from asgibench.harness.runner import REMOTE_UNKNOWN
from asgibench.harness.servers import Remote
from asgibench.reports import markdown, model

from .conftest import free_port, start, stop

pytestmark = pytest.mark.slow

APPS = Path(__file__).resolve().parent / "apps"
SHORT = ["--duration", "0.3", "--warmup", "0", "--repeat", "1", "--levels", "8", "--quiet"]
DRIVERS = ["python", pytest.param("wrk", marks=pytest.mark.skipif(
    shutil.which("wrk") is None, reason="wrk is not installed"))]
OUTSIDE = "started outside asgibench"


def serve(app: str, cwd: Path | None = None) -> tuple[subprocess.Popen[bytes], int]:
    """``bench serve APP`` in its own process, as a user starts the server they measure."""
    port = free_port()
    proc = start([sys.executable, "-m", "asgibench", "serve", app, "--port", str(port),
                  "--loop", "asyncio", "--proto", "h11"], port, cwd)
    return proc, port


@pytest.fixture(scope="module")
def items_server() -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """The Starlette app of tests/harness/apps, served by bench serve."""
    proc, port = serve("items:app", APPS)
    yield proc, port
    stop(proc)


@pytest.fixture(scope="module")
def builtin_server() -> Iterator[int]:
    """asgibench's benchmark app (TechEmpower's routes), served by bench serve."""
    proc, port = serve("asgibench.harness.app:app")
    yield port
    stop(proc)


def bench_run(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path / "run.json"
    proc = subprocess.run([sys.executable, "-m", "asgibench", "run", *args, "--out", str(out)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          check=False)
    return proc, out


@pytest.mark.parametrize("driver", DRIVERS)
def test_endpoints_of_a_running_server_are_verified_measured_and_ranked(
        tmp_path: Path, items_server: tuple[subprocess.Popen[bytes], int], driver: str) -> None:
    server, port = items_server
    url = f"http://127.0.0.1:{port}"
    proc, out = bench_run(tmp_path, "--url", url, "--endpoint", "GET /items/1",
                          "--endpoint", "GET /missing", "--label", "x", "--driver", driver,
                          *SHORT)
    assert proc.returncode == 0, proc.stderr
    assert server.poll() is None  # not stopped: asgibench never started it
    run = results.load(out)
    assert run.settings.target == {"url": url, "server": "x", "unknown": [
        "loop", "parser", "server_version", "server_cpus", "environment"]}
    assert (run.settings.servers, run.settings.loops, run.settings.parsers) == \
        (["x"], ["unknown"], ["unknown"])
    assert run.settings.app == url and run.settings.port == port
    assert run.settings.pinning["server_cpus"] is None
    assert not run.ceiling  # workloads have no canned answer
    # The server packages installed here are not the target's: not recorded.
    assert not {"uvicorn", "granian", "httptools"} & set(run.environment["packages"])
    by = {e.test: e for e in run.entries}
    assert set(by) == {"get-items-1", "get-missing"}
    entry = by["get-items-1"]
    assert (entry.server, entry.loop, entry.parser) == ("x", "unknown", "unknown")
    assert entry.status == "ok", entry.reason
    assert entry.server_version is None and entry.extra["url"] == url
    assert entry.verification is not None and entry.verification.passed
    (level,) = entry.measured_levels
    (repeat,) = level.repeats
    assert repeat.requests > 0 and repeat.non_2xx == 0
    # Its CPU and memory are not this machine's to read: unknown, said, never guessed;
    # the driver's own CPU is known.
    resources = repeat.resources
    assert resources is not None and resources.server_unknown == REMOTE_UNKNOWN
    assert (resources.server_cpu_user_s, resources.server_peak_rss_kib) == (None, None)
    assert repeat.cpu_ms_per_request is None
    assert resources.driver_cpu_s is not None and resources.driver_cpu_s > 0
    assert f"server resources unknown: {REMOTE_UNKNOWN}" in " ".join(proc.stdout.split())
    missing = by["get-missing"]
    assert missing.status == "failed" and missing.phase == "verify"
    assert "status 404, expected 2xx" in (missing.reason or "")
    (row,) = run.to_dict()["ranking"]["get-items-1"]
    assert (row["rank"], row["server"], row["loop"]) == (1, "x", "unknown")
    assert run.to_dict()["ranking"]["get-missing"] == []
    assert OUTSIDE in proc.stdout and f"server at {url}" in proc.stdout


def test_builtin_types_on_a_running_server_keep_every_check_and_the_ceiling(
        tmp_path: Path, builtin_server: int) -> None:
    url = f"http://127.0.0.1:{builtin_server}/"  # a bare trailing slash is no path
    proc, out = bench_run(tmp_path, "--url", url, "--test", "plaintext,json",
                          "--driver", "python", *SHORT)
    assert proc.returncode == 0, proc.stderr
    run = results.load(out)
    label = f"127.0.0.1:{builtin_server}"
    assert run.settings.servers == [label] and run.settings.tests == ["plaintext", "json"]
    assert [(c.test, c.status) for c in run.ceiling] == [("plaintext", "ok"), ("json", "ok")]
    for entry in run.entries:
        assert entry.server == label and entry.status == "ok", entry.reason
        assert entry.verification is not None and entry.verification.passed
        names = {check.name for check in entry.verification.checks}
        assert {"header_server", "header_date", "content_type", "body", "keep_alive",
                "date_refresh"} <= names
        assert ("pipelining" in names) == (entry.test == "plaintext")
    # The reports say the server-side facts are unknown.
    report = model.build([run])
    assert any(OUTSIDE in notice.text for notice in report.notices)
    text = markdown.render(report)
    assert OUTSIDE in text and f"{label} at http://127.0.0.1:{builtin_server}" in text


def test_a_server_without_the_routes_fails_verification_and_the_run_goes_on(
        tmp_path: Path, items_server: tuple[subprocess.Popen[bytes], int]) -> None:
    _, port = items_server
    proc, out = bench_run(tmp_path, "--url", f"http://127.0.0.1:{port}", "--test", "json",
                          "--no-ceiling", "--driver", "python",
                          *SHORT)
    assert proc.returncode == 0, proc.stderr
    (entry,) = results.load(out).entries
    assert entry.status == "failed" and entry.phase == "verify"
    assert "status 404" in (entry.reason or "")
    assert "failed" in proc.stdout


def test_an_unreachable_url_is_one_line_before_measuring(tmp_path: Path) -> None:
    started = time.monotonic()
    proc, out = bench_run(tmp_path, "--url", f"http://127.0.0.1:{free_port()}", *SHORT)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot connect" in lines[0], proc.stderr
    assert not out.exists()
    assert time.monotonic() - started < 30


def test_the_probe_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    # A connect (or name lookup) that hangs: the probe answers when its time is up.
    release = threading.Event()

    def hang(*args: object, **kwargs: object) -> None:
        release.wait(10)
        raise OSError("released")

    monkeypatch.setattr(servers.socket, "create_connection", hang)
    started = time.monotonic()
    try:
        why = Remote("x", "http://h:80", "h", 80).reachable(0.2)
        assert why == "no connection within 0.2 s" and time.monotonic() - started < 2
    finally:
        release.set()


@pytest.mark.parametrize(("args", "needle"), [
    (["--app", "items:app"], "--url cannot be combined with --app"),
    (["--server", "uvicorn"], "--url cannot be combined with --server"),
    (["--loop", "asyncio", "--proto", "h11"], "--url cannot be combined with --loop, --proto"),
    (["--port", "8000"], "--url cannot be combined with --port"),
    (["--host", "0.0.0.0"], "--url cannot be combined with --host"),
])
def test_flags_that_start_a_server_conflict_with_url(tmp_path: Path, args: list[str],
                                                      needle: str) -> None:
    result = CliRunner().invoke(main, ["run", "--url", "http://127.0.0.1:1", *args,
                                       "--out", str(tmp_path / "x.json")])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], result.stderr


@pytest.mark.parametrize(("args", "needle"), [
    (["--url", "https://example.com"], "https is not supported"),
    (["--url", "http://127.0.0.1:8000/api"], "a path is not supported"),
    (["--url", "127.0.0.1:8000"], "is not http://HOST[:PORT]"),
    (["--url", "http://127.0.0.1:8000", "--label", "my server"], "--label 'my server'"),
    (["--label", "x"], "--label names the server at --url"),
])
def test_bad_url_or_label_is_one_line(tmp_path: Path, args: list[str], needle: str) -> None:
    result = CliRunner().invoke(main, ["run", *args, "--out", str(tmp_path / "x.json")])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], result.stderr


def test_parse_url() -> None:
    target = plan.parse_url("http://Example.com")
    assert (target.host, target.port, target.url, target.server) == \
        ("example.com", 80, "http://example.com:80", "example.com:80")
    assert (target.loop, target.parser) == ("unknown", "unknown")
    target = plan.parse_url("http://[::1]:8080/", "v6")
    assert (target.host, target.port, target.url, target.server) == \
        ("::1", 8080, "http://[::1]:8080", "v6")
    assert plan.parse_url("http://[::1]:8080").server == "[::1]:8080"
    for bad in ("http://h:0", "http://h:99999", "http://u:p@h:1", "http://h:1/?q=1",
                "ftp://h:1", "http://:80"):
        with pytest.raises(BenchError):
            plan.parse_url(bad)
