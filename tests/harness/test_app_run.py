"""``bench run --app`` on a Starlette app nobody here wrote for benchmarking: endpoints
and a scenario, through both drivers, on asgibench and uvicorn; a wrong answer is a
failed entry and the run goes on."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from asgibench.harness import results

pytestmark = pytest.mark.slow

APPS = Path(__file__).resolve().parent / "apps"
DRIVERS = ["python"] + (["wrk"] if shutil.which("wrk") else [])
SHORT = ["--duration", "0.3", "--warmup", "0", "--repeat", "1", "--quiet", "--no-ceiling",
         "--loop", "asyncio", "--proto", "h11", "--server", "asgibench,uvicorn"]


def bench_run(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path / "run.json"
    proc = subprocess.run([sys.executable, "-m", "asgibench", "run", "--app", "items:app",
                           "--app-dir", str(APPS), *args, *SHORT, "--out", str(out)],
                          capture_output=True, text=True, timeout=180, cwd=tmp_path,
                          check=False)
    return proc, out


@pytest.mark.parametrize("driver", DRIVERS)
def test_endpoints_of_your_app_are_ranked(tmp_path: Path, driver: str) -> None:
    proc, out = bench_run(tmp_path, "--driver", driver, "--levels", "8",
                          "--endpoint", "GET /items/3",
                          "--endpoint", f"POST /items @{APPS / 'payload.json'}",
                          "--endpoint", "GET /missing")
    assert proc.returncode == 0, proc.stderr
    run = results.load(out)
    assert run.settings.app == "items:app"
    assert [w["name"] for w in run.settings.extra["workloads"]] == \
        ["get-items-3", "post-items", "get-missing"]
    by = {(e.server, e.test): e for e in run.entries}
    for server in ("asgibench", "uvicorn"):
        for test in ("get-items-3", "post-items"):
            entry = by[(server, test)]
            assert entry.status == "ok", entry.reason
            (level,) = entry.measured_levels
            (repeat,) = level.repeats
            assert repeat.requests > 0 and repeat.non_2xx == 0 and repeat.bad_body == 0
        missing = by[(server, "get-missing")]
        assert missing.status == "failed" and "status 404, expected 2xx" in missing.reason
    assert {row["server"] for row in run.to_dict()["ranking"]["post-items"]} == \
        {"asgibench", "uvicorn"}
    assert "get-items-3 · concurrency 8" in proc.stdout


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_scenario_mix_and_short_lived_connections(tmp_path: Path, driver: str) -> None:
    proc, out = bench_run(tmp_path, "--driver", driver,
                          "--scenario", str(APPS / "items.toml"))
    assert proc.returncode == 0, proc.stderr
    run = results.load(out)
    assert run.settings.levels == {"item-mix": [8], "health-close": [4]}
    for entry in run.entries:
        assert entry.status == "ok", (entry.server, entry.test, entry.reason)
        (level,) = entry.measured_levels
        (repeat,) = level.repeats
        assert repeat.requests > 0 and repeat.non_2xx == 0, (entry.server, entry.test)


@pytest.mark.parametrize(("args", "needle"), [
    (["--endpoint", "FETCH /x"], "method 'FETCH'"),
    (["--endpoint", "GET /health", "--test", "json"], "give one or the other"),
    (["--scenario", "nope.toml"], "nope.toml: no such scenario file"),
    ([], "--app needs the requests to measure it with"),
])
def test_mistakes_are_one_line_before_anything_starts(tmp_path: Path, args: list[str],
                                                      needle: str) -> None:
    proc, out = bench_run(tmp_path, *args)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], proc.stderr
    assert not out.exists()


def test_a_workload_named_like_a_built_in_type_is_refused(tmp_path: Path) -> None:
    """A workload called ``json`` would be ranked and weighted as TechEmpower's json."""
    scenario = tmp_path / "s.toml"
    scenario.write_text('[[workload]]\nname = "json"\n[[workload.request]]\npath = "/"\n')
    proc, out = bench_run(tmp_path, "--scenario", str(scenario))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().endswith(f"run: error: {scenario}:1: workload name 'json' "
                                        "is a built-in test type's; choose another")
    assert not out.exists()
