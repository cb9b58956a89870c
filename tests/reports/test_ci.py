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
        counted = {key[:4] for key, row in baseline.rows.items() if row.instructions}
        assert counted == {("asgibench", loop, parser, test) for test in ("plaintext", "json")}


#: A stand-in for ``python`` on the gate's PATH: the micro-benchmarks pass, ``bench cost``
#: copies the committed baseline of its combination (FAKE_COST=partial: uvloop's json left
#: uncounted, exit 1 with the file written; FAKE_COST=bad: uvloop exits 2, no file), and
#: everything else (``bench compare``) is the real interpreter.
FAKE_PYTHON = """#!{python}
import json, os, sys
args = sys.argv[1:]
if args[:2] == ["-m", "pytest"]:
    sys.exit(0)
if args[:3] == ["-m", "asgibench", "cost"]:
    loop, parser = args[args.index("--loop") + 1], args[args.index("--proto") + 1]
    mode = os.environ["FAKE_COST"] if loop == "uvloop" else "ok"
    if mode == "bad":
        print("bench cost: a bad option", file=sys.stderr)
        sys.exit(2)
    with open(os.path.join(".ci", "cost-baseline", f"{{loop}}-{{parser}}.json")) as handle:
        document = json.load(handle)
    if mode == "partial":
        for row in document["rows"]:
            if row["test"] == "json":
                row.update(instructions=None, per_request=None, reason="wrong answer")
    with open(args[args.index("--out") + 1], "w") as handle:
        json.dump(document, handle)
    sys.exit(1 if mode == "partial" else 0)
os.execv(sys.executable, [sys.executable, *args])
"""


@pytest.mark.skipif(os.name != "posix", reason="the gate is a bash script")
@pytest.mark.parametrize(("mode", "status"), [("partial", 1), ("bad", 2)])
def test_the_gate_compares_what_bench_cost_counted_and_keeps_its_exit_2(
        tmp_path: Path, mode: str, status: int) -> None:
    """bench cost exit 1 with its file written (an entry not counted): the comparison
    runs and fails that entry by name; exit 2 (bad input): the gate exits 2. The other
    combination is compared either way."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "python"
    fake.write_text(FAKE_PYTHON.format(python=sys.executable), encoding="utf-8")
    fake.chmod(0o755)
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}", FAKE_COST=mode,
               ASGIBENCH_GATE_WALLCLOCK="0", ASGIBENCH_GATE_OUT=str(tmp_path / "out"))
    proc = subprocess.run(["bash", str(ROOT / ".ci" / "bench-gate.sh")], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == status, proc.stdout + proc.stderr
    # asyncio/h11 was compared in both cases (its counts are the baseline's own).
    assert (tmp_path / "out" / "cost-compare-asyncio-h11.md").is_file()
    compared = (tmp_path / "out" / "cost-compare-uvloop-httptools.md").is_file()
    assert compared is (mode == "partial")
    if mode == "partial":
        assert "**FAILED (wrong answer)**" in proc.stdout, proc.stdout
