"""``bench memory``'s table: what each peer is compared with, reasons in their own column,
and the loop shown for granian being the loop granian ran."""

from __future__ import annotations

import contextlib
import http.client
import io
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from asgibench import loops, protocols
from asgibench.harness import memory
from asgibench.harness.memory import Footprint
from asgibench.harness.ports import pick_port
from asgibench.harness.servers import SERVERS, Launch
from asgibench.reports.resources import render_memory

HOST = "127.0.0.1"
COLUMNS = [
    "server",
    "loop",
    "parser",
    "started",
    "connections held",
    "KiB per connection",
    "server / asgibench",
    "reason",
]
NEEDS_PROC = pytest.mark.skipif(
    not os.path.exists("/proc/self/status"), reason="bench memory reads /proc, which only Linux has"
)
RATIO = r"\d+\.\d\dx"
AUTO = protocols.auto_name()


def table_rows(text: str) -> list[dict[str, str]]:
    """The rows of a rich table printed wide enough not to wrap, as column -> cell."""
    header = next(line for line in text.splitlines() if "┃" in line)
    assert [cell.strip() for cell in header.split("┃")[1:-1]] == COLUMNS, header
    rows = []
    for line in text.splitlines():
        if line.startswith("│"):
            rows.append(
                dict(zip(COLUMNS, (cell.strip() for cell in line.split("│")[1:-1]), strict=True))
            )
    return rows


def rendered(rows: list[Footprint]) -> list[dict[str, str]]:
    out = io.StringIO()
    render_memory(rows, Console(file=out, width=400, highlight=False))
    return table_rows(out.getvalue())


def measured(server: str, loop: str, parser: str, held_mib: float) -> Footprint:
    return Footprint(server, loop, parser, 100, 20 * 1024, int(held_mib * 1024))


def unsupported(server: str, loop: str, parser: str, reason: str) -> Footprint:
    return Footprint(server, loop, parser, 100, None, None, reason)


def test_each_peer_is_compared_with_asgibench_on_its_loop() -> None:
    other = "h11" if AUTO == "httptools" else "httptools"
    rows = [
        measured("asgibench", "uvloop", AUTO, 30.0),
        measured("asgibench", "uvloop", other, 25.0),
        measured("uvicorn", "uvloop", other, 50.0),
        measured("uvicorn", "asyncio", AUTO, 33.0),
        measured("granian", "uvloop", "rust", 60.0),
        measured("granian", "asyncio", "rust", 61.0),
    ]
    table = {(r["server"], r["loop"], r["parser"]): r for r in rendered(rows)}
    assert table[("asgibench", "uvloop", AUTO)]["server / asgibench"] == "baseline"
    # Same loop and parser: a bare ratio of the resident sizes with the connections held.
    assert table[("uvicorn", "uvloop", other)]["server / asgibench"] == "2.00x"
    # granian's own parser: asgibench's default parser on the same loop, named.
    assert table[("granian", "uvloop", "rust")]["server / asgibench"] == f"2.00x vs {AUTO}"
    # Nothing to compare with says so, rather than a blank cell.
    assert (
        table[("uvicorn", "asyncio", AUTO)]["server / asgibench"] == f"no asgibench asyncio/{AUTO}"
    )
    assert table[("granian", "asyncio", "rust")]["server / asgibench"] == "no asgibench asyncio"
    assert all(row["reason"] == "" for row in table.values())


def test_granian_falls_back_to_the_parser_asgibench_measured() -> None:
    other = "h11" if AUTO == "httptools" else "httptools"
    ours = measured("asgibench", "uvloop", other, 20.0)
    granian = measured("granian", "uvloop", "rust", 60.0)
    failed = Footprint("asgibench", "uvloop", AUTO, 100, None, None, "exited with status 1")
    assert memory.baseline(granian, [failed, ours, granian]) is ours
    (row,) = [r for r in rendered([failed, ours, granian]) if r["server"] == "granian"]
    assert row["server / asgibench"] == f"3.00x vs {other}"
    # A peer with a parser asgibench has is never compared across parsers.
    assert memory.baseline(measured("uvicorn", "uvloop", AUTO, 40.0), [ours]) is None


def test_rows_without_figures_put_the_reason_in_the_reason_column() -> None:
    reason = "granian always parses HTTP with its own Rust stack (parser 'rust'), not h11"
    rows = rendered(
        [
            measured("asgibench", "uvloop", "h11", 30.0),
            unsupported("granian", "uvloop", "h11", reason),
            Footprint("uvicorn", "uvloop", "h11", 100, None, None, "exited with status 1"),
        ]
    )
    assert [r["reason"] for r in rows] == ["", reason, "exited with status 1"]
    for row in rows[1:]:
        assert [row[c] for c in COLUMNS[3:7]] == ["", "", "", ""], row


@NEEDS_PROC
@pytest.mark.slow
def test_bench_memory_table_with_granian(tmp_path: Path) -> None:
    """The real command, the issue's case: granian's rust row compared, its httptools row
    unsupported with the reason in its column."""
    loop = "uvloop" if "uvloop" in loops.available() else "asyncio"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASGIBENCH_")}
    env["COLUMNS"] = "300"  # rich: one line per row
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "asgibench",
            "memory",
            "--server",
            "asgibench,uvicorn,granian",
            "--loop",
            loop,
            "--proto",
            "httptools",
            "--connections",
            "50",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    table = {(r["server"], r["parser"]): r for r in table_rows(done.stdout)}
    assert {r["loop"] for r in table.values()} == {loop}
    assert table[("asgibench", "httptools")]["server / asgibench"] == "baseline"
    assert re.fullmatch(RATIO, table[("uvicorn", "httptools")]["server / asgibench"])
    assert re.fullmatch(f"{RATIO} vs httptools", table[("granian", "rust")]["server / asgibench"])
    refused = table[("granian", "httptools")]
    assert [refused[c] for c in COLUMNS[3:7]] == ["", "", "", ""], refused
    assert "own Rust stack" in refused["reason"]
    assert float(table[("granian", "rust")]["started"]) > 0


LOOP_APP = """
import asyncio


async def app(scope, receive, send):
    assert scope["type"] == "http"
    body = repr(type(asyncio.get_running_loop())).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
"""
# What type(asyncio.get_running_loop()) looks like on each loop granian takes.
LOOP_TYPE = {
    "asyncio": "asyncio.",
    "selector": "SelectorEventLoop",
    "uvloop": "uvloop.",
    "rloop": "rloop.",
    "winloop": "winloop.",
}


def _loop_ran(launch: Launch, cwd: Path, port: int) -> str:
    # Its own session: granian's worker is a child process, and killing only the parent
    # would leave the worker running (it did: orphans on every run of this test).
    process = subprocess.Popen(
        launch.argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                connection = http.client.HTTPConnection(HOST, port, timeout=5)
                connection.request("GET", "/")
                return connection.getresponse().read().decode()
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    _kill_group(process)
                    stderr = process.communicate()[1]
                    raise AssertionError(f"granian did not answer: {stderr}") from None
                time.sleep(0.1)
    finally:
        _kill_group(process)
        process.wait()


def _kill_group(process: subprocess.Popen[str]) -> None:
    if not hasattr(os, "killpg"):  # Windows: no process groups to signal
        process.kill()
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


@pytest.mark.slow
@pytest.mark.parametrize("loop", [name for name in LOOP_TYPE if name in loops.available()])
def test_granians_loop_label_is_the_loop_it_ran(tmp_path: Path, loop: str) -> None:
    """The loop column of a granian row names the Python loop its app ran on (granian's
    sockets are its Rust runtime's; the loop runs the app)."""
    (tmp_path / "loopapp.py").write_text(LOOP_APP, encoding="utf-8")
    port = pick_port(HOST)
    (item,) = SERVERS.plugin("granian").plan([loop], ["rust"], HOST, port, app="loopapp:app")
    if not isinstance(item, Launch):
        pytest.skip(f"granian cannot run {loop} here: {item.reason}")
    assert (item.server, item.loop, item.parser) == ("granian", loop, "rust")
    assert LOOP_TYPE[loop] in _loop_ran(item, tmp_path, port)
