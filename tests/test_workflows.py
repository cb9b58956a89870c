"""The test workflow (.github/workflows/test.yml): every OS x every supported Python, each
running README's test command exactly as a newcomer reads it."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "test.yml"
OSES = ["ubuntu-latest", "macos-latest", "windows-latest"]


def readme_test_command() -> str:
    """The fenced block right after ``<!-- test-command -->`` in README.md."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- test-command -->\s*```[a-z]*\n(.*?)\n```", text, re.DOTALL)
    assert found, "README.md has no fenced block after <!-- test-command -->"
    return found.group(1).strip()


def nox_pythons() -> list[str]:
    """The Pythons noxfile.py's ``tests`` session runs: the ones the project supports."""
    tree = ast.parse((ROOT / "noxfile.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == "tests":
            for decorator in node.decorator_list:
                if isinstance(decorator, ast.Call):
                    for keyword in decorator.keywords:
                        if keyword.arg == "python":
                            return ast.literal_eval(keyword.value)
    raise AssertionError("noxfile.py has no tests session with python=[...]")


def job() -> dict[str, Any]:
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    (only,) = data["jobs"].values()
    return only


def test_matrix_is_every_os_by_every_supported_python() -> None:
    matrix = job()["strategy"]["matrix"]
    assert sorted(matrix["os"]) == sorted(OSES)
    # Strings: an unquoted 3.10 in YAML is the float 3.1, and setup-python installs 3.1.
    assert matrix["python-version"] == ["3.10", "3.11", "3.12", "3.13"]
    assert matrix["python-version"] == nox_pythons()
    assert job()["strategy"]["fail-fast"] is False
    assert job()["runs-on"] == "${{ matrix.os }}"


def test_each_job_sets_up_the_matrix_python() -> None:
    setup = [s for s in job()["steps"] if str(s.get("uses", "")).startswith("actions/setup-python")]
    assert len(setup) == 1
    assert setup[0]["with"]["python-version"] == "${{ matrix.python-version }}"


def test_runs_readmes_test_command_as_written_in_bash() -> None:
    command = readme_test_command()
    assert "pip install" in command and "pytest" in command, command  # not a mangled block
    runs = [step["run"].strip() for step in job()["steps"] if "run" in step]
    assert runs == [command]
    # bash everywhere: the command's '.[all]' quoting is POSIX shell's, not PowerShell's.
    assert job()["defaults"]["run"]["shell"] == "bash"
    assert not any("shell" in step for step in job()["steps"])


def test_only_ci_run_requires_the_sshd_tests() -> None:
    """The SSH hosts tests fail instead of skipping only where openssh-server is installed
    (.ci/run); test.yml installs none, so there they must skip (on any OS)."""
    text = WORKFLOW.read_text(encoding="utf-8")
    assert "ASGIBENCH_TEST_SSHD" not in text
    ci_run = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "export ASGIBENCH_TEST_SSHD=1" in ci_run
    assert ci_run.index("openssh-server") < ci_run.index("export ASGIBENCH_TEST_SSHD=1")
