"""``bench compare`` of two ``bench cost --out`` files: the CI gate on instruction counts.

End to end through the real commands: an A/A pair of counts passes, a build whose app does
3% more work per request fails (tests/harness/apps/extrawork.py, made heavier through an
environment variable). The rest on small hand-made cost files: verdicts, a failed row,
bad input as one line with exit 2, flags that do not apply."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from asgibench.cli import main
from asgibench.errors import BenchError
from asgibench.harness import resources, results
from asgibench.harness.cost import Cost
from asgibench.harness.resources import COST_KIND
from asgibench.reports import costcompare
from tests.reports import reportdocs

APPS = Path(__file__).resolve().parents[1] / "harness" / "apps"
EXTRA = "ASGIBENCH_TEST_EXTRA_WORK_PCT"


def bench(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "asgibench", *args], capture_output=True,
                          text=True, timeout=300, env=env, check=False)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("valgrind") is None or
                    shutil.which("callgrind_control") is None,
                    reason="bench cost needs valgrind (callgrind)")
def test_an_aa_pair_passes_the_gate_and_3_percent_more_work_fails_it(tmp_path: Path) -> None:
    # Instruction counts do not depend on the machine's load, so the three counts run at
    # once: the same build twice (A/A), and the build doing 3% more work per request.
    builds = {"a1": "0", "a2": "0", "b": "3"}
    procs = {name: subprocess.Popen(
        [sys.executable, "-m", "asgibench", "cost", "--server", "asgibench", "--loop",
         "uvloop", "--proto", "httptools", "--app", "extrawork:app", "--app-dir", str(APPS),
         "--endpoint", "GET /", "--requests", "20", "--warmup", "5",
         "--out", str(tmp_path / f"{name}.json")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, EXTRA: extra}) for name, extra in builds.items()}
    for name, proc in procs.items():
        output, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"{name}: {output}"
    a1, a2, b = (str(tmp_path / f"{name}.json") for name in builds)

    same = bench("compare", a1, a2, "--format", "json")
    assert same.returncode == 0, same.stdout + same.stderr
    (row,) = json.loads(same.stdout)["entries"]
    assert row["verdict"] == costcompare.SAME
    assert abs(row["ratio"] - 1) < 0.01  # the same build: counts within ~0.6%, half the 2%

    worse = bench("compare", a1, b)
    assert worse.returncode == 1, worse.stdout + worse.stderr
    assert "MORE WORK" in worse.stdout and "threshold 2%" in worse.stdout
    (row,) = json.loads(bench("compare", a1, b, "--format", "json").stdout)["entries"]
    assert row["verdict"] == costcompare.MORE
    assert 1.02 < row["ratio"] < 1.04  # ~3% more work per request, seen as such


def cost_doc(rows: list[tuple[str, str, str, str, int | None]], requests: int = 100,
             python: str = "3.12.0") -> dict[str, Any]:
    """A ``bench cost --out`` document: rows of (server, loop, parser, test,
    instructions over ``requests``)."""
    return {"kind": COST_KIND, "created": "2026-12-01T00:00:00Z", "command": ["bench"],
            "asgibench_version": "0.1.0", "python": python,
            "machine": {"system": "Linux", "cpus": 2}, "servers": {}, "loops": {},
            "rows": [{"server": s, "loop": lo, "parser": p, "test": t, "pipeline": 1,
                      "requests": requests, "instructions": n,
                      "per_request": None if n is None else n / requests,
                      "reason": "" if n is not None else "server failed to start"}
                     for s, lo, p, t, n in rows]}


def write(path: Path, document: dict[str, Any]) -> str:
    path.write_text(json.dumps(document), encoding="utf-8")
    return str(path)


BASE = [("asgibench", "uvloop", "httptools", "plaintext", 10_000_000),
        ("asgibench", "uvloop", "httptools", "json", 12_000_000),
        ("asgibench", "asyncio", "h11", "json", 40_000_000)]


def test_verdicts_per_entry_against_the_threshold(tmp_path: Path) -> None:
    base = write(tmp_path / "base.json", cost_doc(BASE))
    cand = write(tmp_path / "cand.json", cost_doc([
        ("asgibench", "uvloop", "httptools", "plaintext", 10_150_000),  # +1.5%: within
        ("asgibench", "uvloop", "httptools", "json", 11_500_000),  # -4.2%: less work
        ("asgibench", "asyncio", "h11", "json", 41_000_000),  # +2.5%: more work
        ("uvicorn", "uvloop", "httptools", "json", 9_000_000)]))  # only in the candidate
    runner = CliRunner()
    got = runner.invoke(main, ["compare", base, cand, "--format", "json"])
    assert got.exit_code == 1, got.output
    verdicts = {(e["loop"], e["test"]): e["verdict"] for e in json.loads(got.output)["entries"]}
    assert verdicts == {("uvloop", "plaintext"): costcompare.SAME,
                        ("uvloop", "json"): costcompare.LESS,
                        ("asyncio", "json"): costcompare.MORE}
    assert "uvicorn uvloop/httptools json" in json.loads(got.output)["only_in_candidate"][0]
    # A wider threshold lets the +2.5% through; Markdown says it passed.
    wide = runner.invoke(main, ["compare", base, cand, "--threshold", "3%", "--format", "md"])
    assert wide.exit_code == 0 and "✅ no regression" in wide.output


def test_an_entry_counted_only_in_the_baseline_fails(tmp_path: Path) -> None:
    base = write(tmp_path / "base.json", cost_doc(BASE))
    cand = write(tmp_path / "cand.json", cost_doc([*BASE[:2],
                                                  ("asgibench", "asyncio", "h11", "json",
                                                   None)]))
    got = CliRunner().invoke(main, ["compare", base, cand])
    assert got.exit_code == 1
    assert "FAILED (server failed to start)" in got.output
    # A candidate that silently drops a counted entry fails too.
    dropped = write(tmp_path / "dropped.json", cost_doc(BASE[:2]))
    got = CliRunner().invoke(main, ["compare", base, dropped, "--format", "json"])
    assert got.exit_code == 1, got.output
    (row,) = [e for e in json.loads(got.output)["entries"] if e["loop"] == "asyncio"]
    assert row["verdict"] == costcompare.FAILED
    assert row["candidate"]["reason"] == "not in the candidate"
    # Another Python is warned about: counts depend on the interpreter.
    other = write(tmp_path / "other.json", cost_doc(BASE, python="3.13.1"))
    got = CliRunner().invoke(main, ["compare", base, other])
    assert got.exit_code == 0 and "warning: Python differs (3.12.0 vs 3.13.1)" in got.output


def _one_line(result: Any, needle: str) -> None:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0], result.output


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    runner = CliRunner()
    cost = write(tmp_path / "cost.json", cost_doc(BASE))
    run = str(results.write(results.Run.from_dict(reportdocs.document()),
                            tmp_path / "run.json"))
    # A cost file and a results file, either way round.
    _one_line(runner.invoke(main, ["compare", cost, run]),
              f"{cost!r} is a bench cost file but {run!r} is not")
    _one_line(runner.invoke(main, ["compare", run, cost]),
              f"{cost!r} is a bench cost file but {run!r} is not")
    # The other file missing, or not JSON: said as such.
    missing = str(tmp_path / "nope.json")
    _one_line(runner.invoke(main, ["compare", cost, missing]), f"{missing!r} does not exist")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    _one_line(runner.invoke(main, ["compare", str(bad), cost]), f"cannot read {str(bad)!r}")
    # Flags of the runs' statistics.
    _one_line(runner.invoke(main, ["compare", cost, cost, "--normalise"]),
              "--normalise: not for bench cost files")
    _one_line(runner.invoke(main, ["compare", cost, cost, "--statistic", "best"]),
              "--statistic: not for bench cost files")
    # The same set in the environment is for comparisons of runs: not refused here.
    quiet = runner.invoke(main, ["compare", cost, cost],
                          env={"ASGIBENCH_COMPARE_STATISTIC": "best"})
    assert quiet.exit_code == 0, quiet.output
    # Nothing in common; a row without its count; a memory file.
    other = write(tmp_path / "other.json", cost_doc([("uvicorn", "asyncio", "h11", "json",
                                                      5)]))
    _one_line(runner.invoke(main, ["compare", cost, other]), "no counted row in common")
    broken = cost_doc(BASE)
    del broken["rows"][1]["instructions"]
    _one_line(runner.invoke(main, ["compare", cost, write(tmp_path / "b.json", broken)]),
              "row 1 lacks instructions")
    memory = write(tmp_path / "memory.json", {"kind": "asgibench-memory", "rows": []})
    _one_line(runner.invoke(main, ["compare", memory, cost]), "is a bench memory file")


def test_a_cost_file_reads_back_typed(tmp_path: Path) -> None:
    """harness/resources.read_cost: the rows as Cost, as bench cost wrote them."""
    row = Cost("asgibench", "uvloop", "httptools", "get-items", 4, 100, 123_456, "",
               app="main:app", app_dir="/srv/app")
    failed = Cost("uvicorn", "asyncio", "h11", "json", 1, 100, None, "did not start")
    path = tmp_path / "cost.json"
    resources.write(str(path), COST_KIND, [row.to_json(), failed.to_json()], ["bench"])
    got = resources.read_cost(str(path))
    assert got.rows == [row, failed] and got.created and "rows" not in got.meta
    assert got.rows[0].per_request == 1234.56
    broken = json.loads(path.read_text(encoding="utf-8"))
    broken["rows"][1]["requests"] = 0
    with pytest.raises(BenchError, match="row 1 has requests 0, not a positive count"):
        resources.read_cost(write(tmp_path / "broken.json", broken))
