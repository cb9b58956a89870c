"""The CI pieces: the workflow, the gate script, its baseline, the micro-benchmark opt-in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from asgibench.reports import load

ROOT = Path(__file__).resolve().parents[2]


def test_workflow_runs_three_oses_and_posts_the_comparison() -> None:
    text = (ROOT / ".github" / "workflows" / "bench.yml").read_text(encoding="utf-8")
    for needle in ("ubuntu-latest", "windows-latest", "macos-latest", "bench run",
                   "bench compare", "--normalise", "GITHUB_STEP_SUMMARY", "--quick"):
        assert needle in text, needle
    data = yaml.safe_load(text)
    job = data["jobs"]["bench"]
    assert job["strategy"]["matrix"]["os"] == ["ubuntu-latest", "windows-latest",
                                               "macos-latest"]
    assert any("compare" in (step.get("run") or "") for step in job["steps"])


def test_gate_script_is_valid_bash() -> None:
    script = ROOT / ".ci" / "bench-gate.sh"
    assert os.access(script, os.X_OK)
    subprocess.run(["bash", "-n", str(script)], check=True)


def test_gate_baseline_is_a_results_file_with_a_ceiling() -> None:
    run = load.load([ROOT / ".ci" / "bench-baseline.json"])[0]
    assert run.settings.repeat >= 3
    for test, levels in run.settings.levels.items():
        for conc in levels:
            assert run.ceiling_values(test, conc), f"no ceiling for {test} c={conc}"
    assert all(e.status == "ok" for e in run.entries)


def _collect(env_extra: dict[str, str]) -> str:
    env = dict(os.environ, **env_extra)
    env.pop("PYTEST_ADDOPTS", None)
    ignore = [f"--ignore={p}" for p in sorted((ROOT / "tests").iterdir())
              if p.name not in ("benchmarks",) and not p.name.startswith(("_", "."))]
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q",
                          "-p", "no:cacheprovider", "tests", *ignore],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
                         check=False)
    return out.stdout


@pytest.mark.parametrize("asked", [False, True])
def test_micro_benchmarks_only_when_asked(asked: bool) -> None:
    text = _collect({"ASGIBENCH_MICROBENCH": "1" if asked else "0"})
    collected = "tests/benchmarks/test_bench_parsers.py::" in text
    assert collected is asked, text[-500:]


def test_cost_baselines_cover_the_gated_combinations() -> None:
    """.ci/bench-gate.sh gates on these: every combination it counts has its baseline, with
    plaintext and json counted."""
    from asgibench.reports import costcompare

    script = (ROOT / ".ci" / "bench-gate.sh").read_text(encoding="utf-8")
    assert "combos=(uvloop:httptools asyncio:h11)" in script
    for loop, parser in (("uvloop", "httptools"), ("asyncio", "h11")):
        baseline = costcompare.read(str(ROOT / ".ci" / "cost-baseline" / f"{loop}-{parser}.json"))
        counted = {key[:4] for key, row in baseline.rows.items() if row["instructions"]}
        assert counted == {("asgibench", loop, parser, test) for test in ("plaintext", "json")}
