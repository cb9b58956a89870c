"""Resources per measured level: the server process tree's CPU and peak memory, the
driver's CPU, recorded by a real ``bench run`` and shown by every report; a saturated
driver flagged. (A ``--url`` server's resources are unknown: tests/harness/test_url_run.py.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from rich.console import Console

from asgibench.harness import results
from asgibench.harness.drivers import LoadSpec
from asgibench.harness.drivers.pydriver import PythonDriver
from asgibench.harness.results import DRIVER_SATURATED, Resources, Run
from asgibench.harness.sampling import LIST_INTERVAL_S, Sampler
from asgibench.reports import fmt, html, jsonout, markdown, model, terminal
from tests.harness.conftest import free_port, start, stop, wait_listening
from tests.reports import reportdocs

# The driver's CPU share and its wait for a CPU: alone on the machine under xdist
# (tests/conftest.py).
pytestmark = pytest.mark.quiet

#: A server of two processes: the parent holds 40 MiB and forks a child; on each "go" each
#: burns a fixed amount of CPU time (process time, so a busy machine changes only how
#: long it takes), then both stay alive.
TREE = r"""
import subprocess, sys, time
def burn(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass
if sys.argv[1:] == ["child"]:
    for line in sys.stdin:
        burn(0.4); print("done", flush=True)
else:
    block = bytearray(40 << 20)
    for i in range(0, len(block), 4096):
        block[i] = 1
    child = subprocess.Popen([sys.executable, "-c", sys.argv[1], "child"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    print("ready", flush=True)
    for line in sys.stdin:
        child.stdin.write("go\n"); child.stdin.flush()
        burn(0.3)
        child.stdout.readline()
        print("done", flush=True)
"""

#: A server that answers each request 20 ms late: a driver against it is mostly idle.
SLOW = r"""
import asyncio, sys
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, World!"
class Slow(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
    def data_received(self, data):
        for _ in range(data.count(b"\r\n\r\n")):
            asyncio.get_running_loop().call_later(0.02, self.transport.write, RESPONSE)
async def main():
    server = await asyncio.get_running_loop().create_server(Slow, "127.0.0.1",
                                                            int(sys.argv[1]))
    await server.serve_forever()
asyncio.run(main())
"""


def _go(server: subprocess.Popen[str]) -> None:
    assert server.stdin is not None and server.stdout is not None
    server.stdin.write("go\n")
    server.stdin.flush()
    assert server.stdout.readline().strip() == "done"


def test_the_sampler_counts_the_whole_server_tree_within_the_window(
        monkeypatch: pytest.MonkeyPatch) -> None:
    listings = []
    children = psutil.Process.children
    monkeypatch.setattr(psutil.Process, "children",
                        lambda self, *a, **k: listings.append(1) or children(self, *a, **k))
    server = subprocess.Popen([sys.executable, "-c", TREE, TREE], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert server.stdout is not None
        assert server.stdout.readline().strip() == "ready"
        entered = time.monotonic()
        with Sampler(server.pid) as sampler:
            _go(server)  # before the window (the driver starting up): not counted
            sampler.started()
            began = time.monotonic()
            _go(server)  # 0.7 s of CPU over the two processes
            sampler.ended()
            _go(server)  # after the window (the server finishing late): not counted
            lasted = time.monotonic() - began
        total = time.monotonic() - entered
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
    got = sampler.resources()
    assert got.server_unknown is None
    assert got.server_processes == 2  # parent and child: the tree, not the one process
    assert got.server_cpu_s is not None and 0.7 <= got.server_cpu_s <= 0.95
    assert got.server_peak_rss_kib is not None and got.server_peak_rss_kib >= 40 * 1024
    assert 0 < got.wall_s <= lasted
    if sys.platform.startswith("linux"):  # each process's CPU clock: nanoseconds
        assert got.server_cpu_resolution_s == 1e-9
    # The tree is listed every 0.5 s (a scan of all /proc), not at every memory sample.
    assert len(listings) <= 2 + total / LIST_INTERVAL_S
    assert got.driver_cpu_s is None and got.driver_unknown  # no driver result given


def _measure(port: int, pid: int, cpus: list[int] | None = None,
             connections: int = 4) -> tuple[Resources, float]:
    spec = LoadSpec("127.0.0.1", port, "/plaintext", connections=connections, duration=0.5,
                    test="plaintext", slots=1, cpus=cpus)
    began = time.monotonic()
    with Sampler(pid) as sampler:
        result = PythonDriver().run(spec, sampler)
    return sampler.resources(result), time.monotonic() - began


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"),
                    reason="sharing one CPU between driver and server needs sched_setaffinity")
def test_the_python_driver_against_the_canned_server_is_saturated_not_against_a_slow_one(
        ) -> None:
    """Driver and canned server share one CPU, with 256 connections: each always has
    work, so the driver is never idle, though it gets about half the CPU (CPU time alone
    said ~50%: never flagged)."""
    cpu = min(os.sched_getaffinity(0))
    port = free_port()
    canned = subprocess.Popen(
        [sys.executable, "-m", "asgibench.harness.canned", "--port", str(port)],
        stdout=subprocess.DEVNULL, preexec_fn=lambda: os.sched_setaffinity(0, {cpu}))
    try:
        wait_listening(port, canned)
        fast, whole = _measure(port, canned.pid, [cpu], connections=256)
    finally:
        stop(canned)
    # Its own CPU over its measured window only: worker start-up and connecting are not
    # in it (they were > half of a 0.5 s level's wall time).
    assert fast.driver_window_s is not None and fast.driver_window_s < whole - 0.05
    assert fast.wall_s < whole - 0.05  # the server's CPU over the same window
    assert fast.driver_cpus == 1 and fast.driver_cpu_s is not None
    assert fast.driver_wait_s is not None
    assert fast.driver_saturated, fast  # never idle: on a CPU or waiting for one
    port = free_port()
    slow = start([sys.executable, "-c", SLOW, str(port)], port)
    try:
        idle, _ = _measure(port, slow.pid)
    finally:
        stop(slow)
    assert idle.driver_utilisation is not None and not idle.driver_saturated, idle


def test_a_real_run_records_server_and_driver_resources_and_reports_show_them(
        tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    proc = subprocess.run(
        [sys.executable, "-m", "asgibench", "run", "--server", "asgibench", "--loop",
         "asyncio", "--proto", "h11", "--test", "json", "--levels", "8", "--duration",
         "0.5", "--warmup", "0", "--repeat", "1", "--no-ceiling", "--driver", "python",
         "--out", str(out)], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    run = results.load(out)
    (entry,) = run.entries
    (level,) = entry.measured_levels
    (repeat,) = level.repeats
    got = repeat.resources
    assert got is not None and got.server_unknown is None, got
    assert repeat.cpu_ms_per_request is not None and repeat.cpu_ms_per_request > 0
    assert got.server_peak_rss_kib is not None and got.server_peak_rss_kib > 8 * 1024
    assert got.server_processes == 1
    assert got.driver_cpus is not None and got.driver_cpus >= 1
    assert got.driver_cpu_s is not None and got.driver_cpu_s > 0
    assert got.driver_window_s is not None and got.driver_window_s > 0
    cpu = fmt.cpu_ms(repeat.cpu_ms_per_request, repeat.cpu_ms_resolution)
    mib = f"{got.server_peak_rss_kib / 1024:,.1f}"
    # The terminal table of the run, and every report.
    assert "cpu ms/req" in proc.stdout and cpu in proc.stdout and mib in proc.stdout
    report = model.build([run])
    text = markdown.render(report)
    assert "| cpu ms/req | peak MiB |" in text and f"| {cpu} | {mib} |" in text
    page = html.render(report, charts=False)
    assert "cpu ms/req" in page and f">{cpu}</td>" in page and f">{mib}</td>" in page
    (row,) = json.loads(jsonout.render(report))["rankings"]["json"]
    assert row["cpu_ms_per_request"] == pytest.approx(repeat.cpu_ms_per_request, abs=1e-5)
    assert row["peak_rss_mib"] == pytest.approx(got.server_peak_rss_kib / 1024, abs=0.01)
    assert row["driver_saturated"] is ((got.driver_utilisation or 0) >= DRIVER_SATURATED)


def _with_resources(utilisation: dict[str, float], resolution: float = 1e-9) -> Run:
    """The report tests' sample run, every repeat given resources; the driver was busy
    ``utilisation[server/loop/parser]`` of its window (0.5 when not named): 60% of it on
    a CPU, 40% waiting for one. ``resolution``: the server CPU's."""
    doc = reportdocs.document()
    for entry in doc["entries"]:
        share = utilisation.get(f"{entry['server']}/{entry['loop']}/{entry['parser']}", 0.5)
        for level in entry["levels"]:
            for repeat in level["repeats"]:
                repeat["resources"] = Resources(
                    wall_s=1.5, server_cpu_s=1.0123, server_cpu_resolution_s=resolution,
                    server_cpu_user_s=0.9, server_cpu_system_s=0.1,
                    server_peak_rss_kib=30 * 1024, server_processes=1,
                    driver_cpu_s=1.5 * share * 0.6, driver_wait_s=1.5 * share * 0.4,
                    driver_window_s=1.5, driver_cpus=1).to_dict()
    return Run.from_dict(doc, "sampled.json", "sampled")


def test_a_saturated_driver_is_flagged_in_every_report() -> None:
    run = _with_resources({"asgibench/uvloop/httptools": 0.97,
                           "asgibench/asyncio/httptools": 0.94})
    report = model.build([run])
    rows = {(r.server, r.loop, r.parser): r for r in report.rankings["json"]}
    assert rows[("asgibench", "uvloop", "httptools")].driver_saturated
    assert not rows[("asgibench", "asyncio", "httptools")].driver_saturated  # 94% < 95%
    text = markdown.render(report)
    saturated = [line for line in text.splitlines() if "driver-saturated" in line
                 and line.startswith("|")]
    assert saturated and all("| uvloop | httptools |" in line for line in saturated)
    note = "driver-saturated: the load driver was never idle (on a CPU or waiting for one)"
    page = html.render(report, charts=False)
    assert "driver-saturated</span>" in page
    console = Console(width=250, record=True, color_system=None)
    terminal.render(run, console)
    shown = console.export_text()
    # The columns' note once per report, not under each of its tables.
    assert [text.count(note), page.count(note), " ".join(shown.split()).count(note)] == \
        [1, 1, 1]
    assert "clock ticks" not in text  # nanosecond CPU clocks: three decimals
    assert [line.split()[1:4] for line in shown.splitlines() if "driver-saturated" in line
            and "│" not in line and line.strip()[:1].isdigit()] == \
        [["asgibench", "uvloop", "httptools"]] * 2  # json and plaintext
    flagged = [(r["test"], r["loop"]) for rows_ in
               json.loads(jsonout.render(report))["rankings"].values()
               for r in rows_ if r["driver_saturated"]]
    assert sorted(flagged) == [("json", "uvloop"), ("plaintext", "uvloop")]


def test_cpu_read_in_clock_ticks_shows_fewer_digits_and_says_so() -> None:
    """Without a CPU clock (not Linux), CPU times come in 10 ms ticks, one per process at
    each end of the window: a figure per request is shown only to the digits they
    support (here 8 processes, ~22,500 requests: +-0.007 ms, two decimals)."""
    for resolution, decimals in ((1e-9, 3), (0.01, 2)):
        run = _with_resources({}, resolution)
        for entry in run.entries:
            for level in entry.levels:
                for repeat in level.repeats:
                    assert repeat.resources is not None
                    repeat.resources.server_processes = 8
        report = model.build([run])
        (row,) = [r for r in report.rankings["json"] if r.loop == "uvloop"
                  and r.parser == "httptools"]
        shown = fmt.cpu_ms(row.cpu_ms_per_request, row.cpu_ms_resolution)
        assert len(shown.split(".")[1]) == decimals, shown
        assert f"| {shown} |" in markdown.render(report)
        text = markdown.render(report)
        assert ("CPU read in 10 ms clock ticks" in text) is (resolution == 0.01)


def test_files_without_resources_keep_their_report_columns() -> None:
    report = model.build([Run.from_dict(reportdocs.document(), "old.json", "old")])
    assert "cpu ms/req" not in markdown.render(report)
    assert "cpu ms/req" not in html.render(report, charts=False)
    row = json.loads(jsonout.render(report))["rankings"]["json"][0]
    assert row["cpu_ms_per_request"] is None and row["driver_saturated"] is False
