"""``bench serve MODULE:ATTR`` with an app that cannot be served: one line, exit 2, nothing
bound, alone or with ``--workers``; ``--log-level debug`` adds the app's own traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

HOST = "127.0.0.1"

# module name -> (source, what the one line must say after "could not import 'name': ")
BROKEN = {
    "missing_dep": (
        "import some_missing_package\napp = None\n",
        "No module named 'some_missing_package'",
    ),
    "raises": (
        "def setup():\n    raise RuntimeError('no database')\n\n\nsetup()\n",
        "RuntimeError: no database",
    ),
    "bad_syntax": ("async def app(scope, receive, send:\n    pass\n", "SyntaxError: "),
}
APP = "async def app(scope, receive, send):\n    pass\n\n\nnot_an_app = 3\n"

# `python -m asgibench` names itself so in its messages (`bench` when run as `bench`).
ERROR = "python -m asgibench serve: error: "

WORKERS = [pytest.param("1", id="one-process"), pytest.param("2", id="workers")]


def serve(cwd: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], int]:
    """``bench serve`` on a port held by this process: a server that bound before failing
    would report the busy port, not the app. A bounded wait: a worker replaced forever
    must fail the test, not hang it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASGIBENCH_")}
    with socket.socket() as holder:
        holder.bind((HOST, 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "asgibench",
                "serve",
                *args,
                "--host",
                HOST,
                "--port",
                str(port),
            ],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    return result, port


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result
    lines = result.stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{result.stderr}"
    assert result.stdout == ""
    return lines[0]


@pytest.fixture
def apps_dir(tmp_path: Path) -> Path:
    for name, (source, _) in BROKEN.items():
        (tmp_path / f"{name}.py").write_text(source, encoding="utf-8")
    (tmp_path / "fine.py").write_text(APP, encoding="utf-8")
    return tmp_path


@pytest.mark.slow
@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize("module", sorted(BROKEN))
def test_module_that_fails_to_import_is_one_line(apps_dir: Path, module: str, workers: str) -> None:
    result, _ = serve(apps_dir, f"{module}:app", "--workers", workers)
    line = one_line(result)
    prefix = f"{ERROR}could not import '{module}': {BROKEN[module][1]}"
    assert line.startswith(prefix), line
    assert line.endswith("(--log-level debug shows the traceback)"), line


@pytest.mark.slow
@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize("module", sorted(BROKEN))
def test_debug_log_level_shows_the_apps_traceback(
    apps_dir: Path, module: str, workers: str
) -> None:
    result, _ = serve(apps_dir, f"{module}:app", "--workers", workers, "--log-level", "debug")
    assert result.returncode == 2, result
    last = result.stderr.splitlines()[-1]
    assert last.startswith(f"{ERROR}could not import '{module}': "), last
    assert last.endswith("(traceback above)"), last
    # The user's file and line, and none of the import machinery above it.
    assert f'{os.sep}{module}.py", line ' in result.stderr, result.stderr
    assert "importlib" not in result.stderr and "asgibench" + os.sep not in result.stderr
    if module == "raises":
        assert "setup()" in result.stderr and "raise RuntimeError" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("workers", WORKERS)
@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("fine:missing", ERROR + "module 'fine' has no attribute 'missing'"),
        (
            "fine:not_an_app",
            ERROR + "'fine:not_an_app' is not callable; give MODULE:ATTR of an ASGI app",
        ),
        (
            "no_such_module:app",
            ERROR + "could not import 'no_such_module': No module named 'no_such_module'",
        ),
    ],
)
def test_app_that_imports_but_is_no_app_is_one_line(
    apps_dir: Path, target: str, expected: str, workers: str
) -> None:
    result, _ = serve(apps_dir, target, "--workers", workers)
    assert one_line(result) == expected


@pytest.mark.slow
def test_factory_that_is_no_factory_is_one_line(apps_dir: Path) -> None:
    result, _ = serve(apps_dir, "fine:not_an_app", "--app-factory", "--workers", "2")
    assert one_line(result) == (
        ERROR + "'fine:not_an_app' is not callable; give MODULE:ATTR of an ASGI app factory"
    )


@pytest.mark.slow
def test_an_app_that_leaves_a_thread_running_does_not_hang_the_workers_probe(
    apps_dir: Path,
) -> None:
    """The import probe of ``--workers`` answers, then its process is ended even if the
    app's module left a non-daemon thread running: the server goes on to bind (here: the
    port the test holds, so it stops there with one line) instead of waiting for ever."""
    (apps_dir / "threaded.py").write_text(
        "import threading, time\n"
        "threading.Thread(target=time.sleep, args=(3600,)).start()\n\n\n"
        "async def app(scope, receive, send):\n    pass\n",
        encoding="utf-8",
    )
    result, port = serve(apps_dir, "threaded:app", "--workers", "2")
    assert result.returncode == 2, result
    assert f"{port}" in result.stderr and "could not import" not in result.stderr
