"""README, followed as a newcomer follows it: every fenced command, in order, on a fresh
copy of the project, each exiting 0.

The copy holds exactly the files git tracks (what a fresh clone has, with this checkout's
changes), so nothing left over from development (a ``results/`` full of runs, built
charts) can make a command pass. Measuring commands run as written, with a short profile
from the environment (``ASGIBENCH_<COMMAND>_<FLAG>``: every option can be set so), so the
walk takes minutes, not the hours ``bench run --full`` takes. Two commands are not run as
written, each for a reason stated where it is decided (:func:`_as_run`). Afterwards the
copy's ``git status`` must be clean: new results go to the ignored ``results/``.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"

#: The short profile: every ``bench run`` one level, 0.2 s, once; ``bench cost`` a few
#: counted requests. Flags written in README's commands still win over these.
SHORT_PROFILE = {
    "ASGIBENCH_RUN_DURATION": "0.2",
    "ASGIBENCH_RUN_WARMUP": "0",
    "ASGIBENCH_RUN_PRIMER": "0",
    "ASGIBENCH_RUN_PAUSE": "0",
    "ASGIBENCH_RUN_REPEAT": "1",
    "ASGIBENCH_RUN_LEVELS": "8",
    # Commands that name no --loop/--proto run one loop with every server's parser:
    # each server still runs, in a quarter of the launches (CI time).
    "ASGIBENCH_RUN_LOOP": "uvloop",
    "ASGIBENCH_RUN_PROTO": "httptools,h11,rust",
    "ASGIBENCH_RUN_QUIET": "1",
    "ASGIBENCH_COST_REQUESTS": "20",
    "ASGIBENCH_COST_WARMUP": "5",
}
INSTALL = "pip install -e '.[all]' && "
COMMAND_TIMEOUT = 600  # s; the slowest README command here (bench cost) takes ~2 min


@dataclass
class Block:
    language: str
    text: str
    line: int  # where it starts in README, for messages


def fenced_blocks(markdown: str) -> list[Block]:
    blocks = []
    for match in re.finditer(r"^```(\w+)\n(.*?)^```", markdown, re.M | re.S):
        line = markdown.count("\n", 0, match.start()) + 1
        blocks.append(Block(match.group(1), match.group(2), line))
    return blocks


def shell_commands(block: Block) -> list[str]:
    """The commands of a bash block, one per line, without their trailing comments."""
    commands = []
    for raw in block.text.splitlines():
        command = re.sub(r"\s+#.*$", "", raw).strip()
        if command and not command.startswith("#"):
            commands.append(command)
    return commands


#: What a README command needs that ``pip install`` does not bring, and how to tell.
NEEDS: dict[str, tuple[str, bool]] = {
    "bench cost": ("valgrind", shutil.which("valgrind") is not None),
    "bench memory": ("/proc (Linux)", Path("/proc/self/status").is_file()),
}


def _as_run(command: str) -> str | None:
    """What the walk runs for a README command: the command itself, or None to not run it.

    * The install (``pip install -e '.[all]' && ...``) already happened: this test runs in
      the environment it made, and installing again would point that environment at the
      temporary copy. The command after ``&&`` runs.
    * The test command (``python -m pytest -q``) is the run this test is part of.
    """
    if command.startswith(INSTALL):
        command = command[len(INSTALL):]
    if command.startswith("python -m pytest"):
        return None
    return command


def fresh_copy(destination: Path) -> Path:
    """The files git tracks, in a new repository (so ``git status`` can be asked)."""
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                             check=True).stdout.decode().split("\0")
    for name in filter(None, tracked):
        source = ROOT / name
        if source.is_file():  # a file deleted in the working tree is not there
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    git = ["git", "-c", "user.name=readme", "-c", "user.email=readme@localhost"]
    subprocess.run([*git, "init", "-q"], cwd=destination, check=True)
    subprocess.run([*git, "add", "-A"], cwd=destination, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "fresh"], cwd=destination, check=True)
    return destination


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(command: str, cwd: Path, env: dict[str, str]) -> str:
    """``bench serve`` runs until stopped: start it, ask it for a page, stop it with Ctrl-C
    (SIGINT), and require a clean exit. Its port comes from ASGIBENCH_PORT (a
    ``bench serve`` setting), so a busy 8000 here does not matter."""
    port = _free_port()
    # No shell between: Ctrl-C must reach bench serve, and its exit status be the one seen.
    proc = subprocess.Popen(shlex.split(command), cwd=cwd,
                            env={**env, "ASGIBENCH_PORT": str(port)},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        body = b""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as reply:
                    body = reply.read()
                break
            except OSError:
                time.sleep(0.1)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
        output, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, f"{command!r} exited {proc.returncode}:\n{output}"
    return body.decode()


@pytest.mark.slow
@pytest.mark.timeout(1200)
@pytest.mark.skipif(sys.platform == "win32",
                    reason="README's commands are bash; the Windows CI job runs the test "
                           "command only")
@pytest.mark.skipif(shutil.which("git") is None, reason="needs git to copy what it tracks")
def test_readme_commands_work_in_order_on_a_fresh_copy(tmp_path: Path) -> None:
    copy = fresh_copy(tmp_path / "asgibench")
    env = {**os.environ, **SHORT_PROFILE,
           "PYTHONPATH": str(copy) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    blocks = fenced_blocks(README.read_text(encoding="utf-8"))
    walked: list[str] = []
    not_run: list[str] = []
    for block in blocks:
        if block.language == "python":
            proc = subprocess.run([sys.executable, "-c", block.text], cwd=copy, env=env,
                                  capture_output=True, text=True, timeout=120, check=False)
            assert proc.returncode == 0, f"README line {block.line} (python):\n{proc.stderr}"
            walked.append(f"python block at line {block.line}")
            continue
        if block.language != "bash":
            continue
        for command in shell_commands(block):
            run = _as_run(command)
            if run is None or run in walked:  # a command README repeats runs once
                continue
            lacking = [need for prefix, (need, present) in NEEDS.items()
                       if run.startswith(prefix) and not present]
            if lacking:
                not_run.append(f"{run!r} (needs {lacking[0]})")
                continue
            started = time.monotonic()
            if run.startswith("bench serve "):
                assert "Hello, world!" in _serve(run, copy, env), run
            else:
                proc = subprocess.run(run, shell=True, cwd=copy, env=env, capture_output=True,
                                      text=True, timeout=COMMAND_TIMEOUT, check=False)
                assert proc.returncode == 0, (
                    f"README line {block.line}: {command!r} exited {proc.returncode}\n"
                    f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}")
            walked.append(run)
            print(f"{time.monotonic() - started:6.1f} s  {run}")

    # The walk covered README's own main command and the report commands that failed.
    assert "bench run" in walked, walked
    assert any(c.startswith("bench report results/*.json --format html") for c in walked)
    report = (copy / "results" / "report.html").read_text(encoding="utf-8")
    assert "<table" in report and "asgibench" in report
    assert list((copy / "results" / "charts").glob("*.png"))
    # New results stay out of git's way: nothing untracked, nothing shipped overwritten.
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"],
                            cwd=copy, capture_output=True, text=True, check=True).stdout
    assert status == "", f"the README's commands left these for git to see:\n{status}"
    if not_run:  # everything else passed; say what this machine could not try
        pytest.skip("this machine lacks what these README commands need: " +
                    "; ".join(not_run))


def test_readme_opens_with_the_install_and_test_commands() -> None:
    text = README.read_text(encoding="utf-8")
    main = text.split("<!-- main-command -->", 1)[1]
    test = text.split("<!-- test-command -->", 1)[1]
    assert shell_commands(fenced_blocks(main)[0]) == [INSTALL + "bench run"]
    assert shell_commands(fenced_blocks(test)[0]) == [INSTALL + "python -m pytest -q"]
