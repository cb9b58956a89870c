"""Resources per measured level: the server process tree's CPU and peak memory, the
driver's CPU, recorded by a real ``bench run`` and shown by every report; a saturated
driver flagged. (A ``--url`` server's resources are unknown: tests/harness/test_url_run.py.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from asgibench.harness import results
from asgibench.harness.results import DRIVER_SATURATED, Resources, Run
from asgibench.harness.sampling import Sampler
from asgibench.reports import html, jsonout, markdown, model, terminal
from tests.reports import reportdocs

#: A server of two processes: the parent holds 40 MiB and forks a child; on "go" each
#: burns a fixed amount of CPU time (process time, so a busy machine changes only how
#: long it takes), then both stay alive.
TREE = r"""
import subprocess, sys, time
def burn(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass
if sys.argv[1:] == ["child"]:
    sys.stdin.readline(); burn(0.4); print("done", flush=True); time.sleep(60)
else:
    block = bytearray(40 << 20)
    for i in range(0, len(block), 4096):
        block[i] = 1
    child = subprocess.Popen([sys.executable, "-c", sys.argv[1], "child"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    print("ready", flush=True)
    sys.stdin.readline()
    child.stdin.write("go\n"); child.stdin.flush()
    burn(0.3)
    child.stdout.readline()
    print("done", flush=True)
    time.sleep(60)
"""


@pytest.mark.skipif(os.name != "posix", reason="the driver's CPU comes from os.times() "
                    "children times, which Windows does not keep")
def test_the_sampler_counts_the_whole_server_tree_and_the_driver() -> None:
    server = subprocess.Popen([sys.executable, "-c", TREE, TREE], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert server.stdout is not None and server.stdin is not None
        assert server.stdout.readline().strip() == "ready"
        with Sampler(server.pid, driver_cpus=1) as sampler:
            server.stdin.write("go\n")
            server.stdin.flush()
            assert server.stdout.readline().strip() == "done"
            # The "driver": a child process of this one, waited for within the level.
            subprocess.run([sys.executable, "-c", "import time\nend = time.process_time()"
                            " + 0.2\nwhile time.process_time() < end: pass"], check=True)
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
    got = sampler.resources
    assert got is not None and got.server_unknown is None
    assert got.server_processes == 2  # parent and child: the tree, not the one process
    assert got.server_cpu_s is not None and 0.6 <= got.server_cpu_s <= 1.5
    assert got.server_peak_rss_kib is not None and got.server_peak_rss_kib >= 40 * 1024
    assert got.driver_cpu_s is not None and got.driver_cpu_s >= 0.2
    assert got.wall_s > 0 and got.driver_cpus == 1


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
    if os.name == "posix":
        assert got.driver_cpu_s is not None and got.driver_cpu_s > 0
    cpu = f"{repeat.cpu_ms_per_request:.3f}"
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


def _with_resources(utilisation: dict[str, float]) -> Run:
    """The report tests' sample run, every repeat given resources; the driver used
    ``utilisation[server/loop/parser]`` of its one CPU (0.5 when not named)."""
    doc = reportdocs.document()
    for entry in doc["entries"]:
        share = utilisation.get(f"{entry['server']}/{entry['loop']}/{entry['parser']}", 0.5)
        for level in entry["levels"]:
            for repeat in level["repeats"]:
                repeat["resources"] = Resources(
                    wall_s=1.5, server_cpu_user_s=0.9, server_cpu_system_s=0.1,
                    server_peak_rss_kib=30 * 1024, server_processes=1,
                    driver_cpu_s=1.5 * share, driver_cpus=1).to_dict()
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
    assert "driver-saturated: the load driver used >= 95% of its CPUs" in text
    assert "driver-saturated</span>" in html.render(report, charts=False)
    console = Console(width=250, record=True, color_system=None)
    terminal.render(run, console)
    shown = console.export_text()
    assert [line.split()[1:4] for line in shown.splitlines() if "driver-saturated" in line
            and "│" not in line and line.strip()[:1].isdigit()] == \
        [["asgibench", "uvloop", "httptools"]] * 2  # json and plaintext
    flagged = [(r["test"], r["loop"]) for rows_ in
               json.loads(jsonout.render(report))["rankings"].values()
               for r in rows_ if r["driver_saturated"]]
    assert sorted(flagged) == [("json", "uvloop"), ("plaintext", "uvloop")]


def test_files_without_resources_keep_their_report_columns() -> None:
    report = model.build([Run.from_dict(reportdocs.document(), "old.json", "old")])
    assert "cpu ms/req" not in markdown.render(report)
    assert "cpu ms/req" not in html.render(report, charts=False)
    row = json.loads(jsonout.render(report))["rankings"]["json"][0]
    assert row["cpu_ms_per_request"] is None and row["driver_saturated"] is False
