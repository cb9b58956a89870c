"""The two builds of the server core (asgibench/_build.py, setup.py, docs/server.md): which
one runs, the switch to the pure-Python one, an edited module running from source, and the
conformance suite on the pure-Python build when the rest of this suite ran the compiled one.
"""

from __future__ import annotations

import importlib.machinery
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import asgibench
from asgibench import _build

ROOT = Path(__file__).resolve().parent.parent
# .ci/run sets it: there the compiled build must have been built, so its tests fail
# rather than skip.
COMPILED_ENV = "ASGIBENCH_TEST_COMPILED"
EXTENSIONS = tuple(importlib.machinery.EXTENSION_SUFFIXES)

# Prints the build and where each hot module was imported from.
REPORT = """
import importlib, json
from asgibench import _build
files = {name: importlib.import_module(name).__file__ for name in _build.COMPILED_MODULES}
build = _build.current()
print(json.dumps({"name": build.name, "describe": build.describe(), "files": files}))
"""


def require_compiled() -> None:
    build = _build.current()
    if build.name == "compiled":
        return
    reason = f"no compiled build here: the server core is {build.describe()}"
    if os.environ.get(COMPILED_ENV):
        pytest.fail(f"{reason}; {COMPILED_ENV} promised one")
    pytest.skip(reason)


def report(env: dict[str, str], cwd: Path = ROOT) -> dict:
    done = subprocess.run([sys.executable, "-c", REPORT], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != _build.PURE_PYTHON_ENV}
    env.update(extra)
    return env


def test_the_compiled_build_runs_where_it_was_built() -> None:
    require_compiled()
    seen = report(clean_env())
    assert seen["name"] == "compiled"
    assert all(path.endswith(EXTENSIONS) for path in seen["files"].values()), seen
    assert "compiled (Cython)" in seen["describe"]


def test_the_switch_runs_every_hot_module_from_source() -> None:
    seen = report(clean_env(**{_build.PURE_PYTHON_ENV: "1"}))
    assert seen["name"] == "pure-python"
    assert all(path.endswith(".py") for path in seen["files"].values()), seen
    assert _build.PURE_PYTHON_ENV in seen["describe"]
    shown = subprocess.run([sys.executable, "-m", "asgibench", "protos"], capture_output=True,
                           text=True, timeout=60,
                           env=clean_env(**{_build.PURE_PYTHON_ENV: "1"}))
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip().splitlines()[-1] == (
        f"server core: pure Python ({_build.PURE_PYTHON_ENV} is set)")


def copy_package(tmp_path: Path) -> Path:
    """The installed package, extension modules and their digests included."""
    package = Path(asgibench.__file__).parent
    shutil.copytree(package, tmp_path / "asgibench",
                    ignore=shutil.ignore_patterns("__pycache__", "*.c"))
    return tmp_path / "asgibench"


@pytest.mark.parametrize("edited", ["cycle.py", "cycle.pxd"])
def test_an_edited_module_runs_from_source_until_rebuilt(tmp_path: Path, edited: str) -> None:
    """An edit to a compiled module's sources must not be hidden by the extension module
    built from the old ones (an editable install is not rebuilt by an edit)."""
    require_compiled()
    copy = copy_package(tmp_path)
    with open(copy / "server" / edited, "a", encoding="utf-8") as handle:
        handle.write("\n# an edit\n")
    seen = report(clean_env(PYTHONPATH=str(tmp_path)), cwd=tmp_path)
    assert seen["files"]["asgibench.server.cycle"] == str(copy / "server" / "cycle.py")
    assert seen["files"]["asgibench.server.connection"].endswith(EXTENSIONS)
    assert seen["name"] == "mixed"
    assert "asgibench.server.cycle changed since the compiled build" in seen["describe"]


def test_a_newer_unchanged_source_keeps_the_compiled_module(tmp_path: Path) -> None:
    """Installing a wheel can leave each .py a little newer than its extension module:
    what counts is what the sources say, not their times."""
    require_compiled()
    copy = copy_package(tmp_path)
    later = time.time() + 60
    for name in _build.COMPILED_MODULES:
        os.utime(copy.parent / (name.replace(".", "/") + ".py"), (later, later))
    seen = report(clean_env(PYTHONPATH=str(tmp_path)), cwd=tmp_path)
    assert seen["name"] == "compiled", seen


def test_the_switch_reads_as_a_flag() -> None:
    assert _build.flag("1") and _build.flag("yes") and _build.flag("true")
    assert not any(_build.flag(value) for value in (None, "", "0", "false", "No", "off"))
    seen = report(clean_env(**{_build.PURE_PYTHON_ENV: "0"}))
    assert _build.PURE_PYTHON_ENV not in seen["describe"]


@pytest.mark.timeout(600)
def test_the_pure_python_build_passes_the_conformance_suite() -> None:
    """The rest of this suite runs the installed build; where that is the compiled one,
    the pure-Python build (what a machine without a C compiler runs) gets every test
    function of the conformance, hostile-client, server and parser suites once, on uvloop
    + httptools (ASGIBENCH_TEST_COMBOS: one cell of the matrix), in a pytest of its own."""
    require_compiled()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x",
         "-o", "addopts=", "tests/conformance", "tests/hostile", "tests/server",
         "tests/protocols"],
        cwd=ROOT, env=clean_env(**{_build.PURE_PYTHON_ENV: "1",
                                   "ASGIBENCH_TEST_COMBOS": "uvloop-httptools"}),
        capture_output=True, text=True, timeout=580)
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    passed = re.search(r"(\d+) passed", summary)
    # Every function once: several hundred tests (575 when written), none failed.
    assert passed and int(passed.group(1)) > 400, summary
    assert not re.search(r"\d+ (failed|error)", summary), summary
