"""Adding a loop, a parser, a test type, a load driver or a peer server is one module and
one registry line: fake ones (tests/harness/plugins/fake*.py, loaded as a third-party
plug-in would be, through ASGIBENCH_PLUGINS) appear in the CLI's choices and help, in
``bench loops``/``bench protos``, and run end to end through ``bench run`` to a report."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

PLUGINS = Path(__file__).parent / "plugins"
PLUGIN_MODULES = "fakeloop,fakeparser,faketest,fakedriver,fakeserver"


def _bench(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, ASGIBENCH_PLUGINS=PLUGIN_MODULES, COLUMNS="200",
               PYTHONPATH=os.pathsep.join(filter(None, [str(PLUGINS),
                                                         os.environ.get("PYTHONPATH")])))
    return subprocess.run([sys.executable, "-m", "asgibench", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=180, check=False)


def test_fake_plugins_are_listed_in_help_and_status_tables(tmp_path: Path) -> None:
    help_text = " ".join(_bench("run", "--help", cwd=tmp_path).stdout.split())
    for name in ("fakeloop", "fakeparser", "fake", "fakedriver", "fakeserver"):
        assert re.search(rf"\b{name}\b", help_text), f"{name} not in bench run --help"
    assert "fakeloop" in _bench("serve", "--help", cwd=tmp_path).stdout
    assert "fakeloop" in _bench("loops", cwd=tmp_path).stdout
    assert "fakeparser" in _bench("protos", cwd=tmp_path).stdout


def test_fake_plugins_run_end_to_end_to_a_report(tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    run = _bench("run", "--server", "asgibench,fakeserver", "--loop", "fakeloop",
                 "--proto", "fakeparser", "--test", "fake,json", "--driver", "fakedriver",
                 "--duration", "0.3", "--warmup", "0", "--levels", "4", "--out", str(out),
                 cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    document = json.loads(out.read_text())
    assert document["settings"]["driver"]["name"] == "fakedriver"
    statuses = {(e["server"], e["loop"], e["parser"], e["test"]): e["status"]
                for e in document["entries"]}
    assert statuses == {
        (server, "fakeloop", "fakeparser", test): "ok"
        for server in ("asgibench", "fakeserver") for test in ("fake", "json")
    }, [e.get("reason") for e in document["entries"]]
    assert {row["server"] for row in document["ranking"]["fake"]} == {"asgibench",
                                                                       "fakeserver"}
    assert [c["status"] for c in document["ceiling"]] == ["ok", "ok"]  # canned /fake too
    report = _bench("report", str(out), "--format", "md", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    for name in ("fakeserver", "fakeloop", "fakeparser", "## fake"):
        assert name in report.stdout, f"{name} not in the report"


def test_a_misspelled_name_suggests_the_right_one(tmp_path: Path) -> None:
    result = _bench("run", "--loop", "uvlop", cwd=tmp_path)
    assert result.returncode == 2
    assert "did you mean 'uvloop'?" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
