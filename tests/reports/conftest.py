from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from asgibench.cli import main
from asgibench.reports import html, load, model

from . import reportdocs


@pytest.fixture
def sample_doc() -> dict[str, Any]:
    return reportdocs.document()


@pytest.fixture
def sample_path(tmp_path: Path, sample_doc: dict[str, Any]) -> Path:
    return reportdocs.write(sample_doc, tmp_path / "sample.json")


@pytest.fixture
def real_path() -> Path:
    """A results file written by a real ``bench run --quick`` on the dev machine."""
    return reportdocs.FIXTURES / "real-quick.json"


@pytest.fixture
def bench() -> Callable[..., Result]:
    """Run ``bench <args>`` (report/chart/compare/merge) in-process, with bench's error
    handling."""

    def run(*args: str) -> Result:
        return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)

    return run


@pytest.fixture(scope="session")
def charted_html(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    """(HTML report with embedded charts, its results document), rendered once."""
    doc = reportdocs.document()
    path = reportdocs.write(doc, tmp_path_factory.mktemp("charted") / "sample.json")
    return html.render(model.build(load.load([path])), charts=True), doc
