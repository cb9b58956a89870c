"""``bench chart`` on a ``bench cost --out`` file: one bar chart of instructions/request."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def _row(server: str, parser: str, per_request: float | None) -> dict:
    return {"server": server, "loop": "uvloop", "parser": parser, "test": "plaintext",
            "pipeline": 1, "requests": 1000, "per_request": per_request,
            "instructions": None if per_request is None else int(per_request * 1000),
            "reason": "" if per_request else "granian serves from worker processes"}


def test_cost_file_becomes_one_bar_chart(tmp_path: Path) -> None:
    cost = tmp_path / "cost-run.json"
    cost.write_text(json.dumps({
        "kind": "asgibench-cost", "created": "2026-11-23T12:00:00Z", "python": "3.11.7",
        "servers": {"asgibench": "0.1.0", "uvicorn": "0.54.0"},
        "rows": [_row("asgibench", "httptools", 82_300.0), _row("uvicorn", "httptools",
                                                                115_700.0),
                 _row("granian", "rust", None), _row("canned", "-", 13_500.0)],
    }))
    done = subprocess.run([sys.executable, "-m", "asgibench", "chart", str(cost), "-o",
                           str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    chart = tmp_path / "out" / "cost-run.png"
    assert done.stdout.strip() == str(chart)
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert chart.stat().st_size > 10_000
