"""The marker that spots another ``bench run`` running now (asgibench.harness.runmarker)."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from asgibench.harness.runmarker import RunMarker


@pytest.mark.skipif(
    sys.platform == "win32",
    reason="the run marker is off on Windows: os.kill(pid, 0) would end the process there, "
    "not probe it",
)
def test_run_marker_finds_other_runs(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import tempfile

    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp_path))
    folder = tmp_path / "asgibench-runs"
    folder.mkdir()
    (folder / str(os.getppid())).write_text("bench run")  # alive
    (folder / "999999999").write_text("bench run")  # no such process
    marker = RunMarker()
    with marker as others:
        assert others == [os.getppid()]
        assert (folder / str(os.getpid())).exists()
    assert not (folder / str(os.getpid())).exists()
    assert not (folder / "999999999").exists()  # stale marker cleaned up
