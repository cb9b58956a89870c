"""Micro-benchmarks (pytest-benchmark) are collected only when asked for.

``python -m pytest`` (the README's test command) skips this directory so CI stays fast.
They run when a path inside ``tests/benchmarks`` is on the command line, or with
``ASGIBENCH_MICROBENCH=1``::

    python -m pytest tests/benchmarks                          # measure
    python -m pytest tests/benchmarks --benchmark-autosave     # measure and save
    python -m pytest tests/benchmarks --benchmark-compare      # against the last save
    python -m pytest tests/benchmarks --benchmark-disable      # run each once (CI)
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def _asked_for(config: pytest.Config) -> bool:
    if os.environ.get("ASGIBENCH_MICROBENCH", "").strip() not in ("", "0"):
        return True
    for arg in config.args:
        path = Path(str(arg).split("::", 1)[0])
        if not path.is_absolute():
            path = Path(config.invocation_params.dir) / path
        try:
            path.resolve().relative_to(HERE)
        except ValueError:
            continue
        return True
    return False


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if collection_path.name.startswith("test_") and HERE in collection_path.resolve().parents \
            and not _asked_for(config):
        return True
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """One process for micro-benchmarks: pyproject's ``-n 2`` would make pytest-benchmark
    switch itself off (it times nothing under xdist), and two benchmarks side by side would
    time each other."""
    if _asked_for(config) and getattr(config.option, "numprocesses", None):
        config.option.numprocesses = 0
