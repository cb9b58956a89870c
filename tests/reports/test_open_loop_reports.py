"""Open loop (``bench run --rate``) in every report: the Markdown, terminal, HTML and
JSON reports show each entry's rates with percentiles from the stored HDR histograms, the
flags and failures, and the driver's accuracy; ``bench chart`` draws latency against
load; ``bench merge`` keeps the accuracy records (once each) and the failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from asgibench.harness import results
from asgibench.reports import charts, html, jsonout, load, markdown, merge, model, terminal

from . import reportdocs


@pytest.fixture(scope="module")
def doc() -> dict:
    return reportdocs.open_loop_document()


@pytest.fixture
def path(tmp_path: Path, doc: dict) -> Path:
    return reportdocs.write(doc, tmp_path / "open.json")


@pytest.fixture
def report(path: Path) -> model.Report:
    return model.build(load.load([path]))


FAILED = "failed: round 1: server exited with status 3 during json open loop r=90%"


def test_markdown_has_the_open_loop_rows_flags_failures_and_accuracy(
        report: model.Report) -> None:
    text = markdown.render(report)
    assert "## Open loop" in text
    # p99 from the histogram: 2% of the requests at 4 ms
    assert "| asgibench | uvloop | httptools | r=50% | 7,500 |" in text
    assert "4.00 ms" in text or "4.0 ms" in text
    assert "| asgibench | uvloop | httptools | r=90% ⚠ |" in text
    assert "not sent on schedule" in text and "300 late" in text
    assert "| asgibench | asyncio | h11 | r=90% ⚠ |" in text
    assert FAILED in text
    assert "Driver accuracy" in text and "| json | r=90% | 13,500 |" in text


def test_terminal_shows_the_same(path: Path) -> None:
    console = Console(record=True, width=220, color_system=None)
    terminal.render(results.load(path), console)
    text = console.export_text()
    assert "json · open loop, fixed arrivals" in text
    assert "r=50%" in text and "r=90% !" in text
    assert "not sent on schedule" in text and FAILED in text
    assert "driver accuracy" in text and "json r=50% (7,500 req/s): p50" in text


def test_html_has_the_open_loop_and_accuracy_tables(report: model.Report) -> None:
    page = html.render(report, charts=False)
    assert '<table class="open-loop" data-test="json">' in page
    assert '<tr data-run="" data-rate="50%">' in page
    assert 'data-value="7500.0"' in page  # the target, raw
    assert FAILED in page and "not sent on schedule" in page
    assert '<table class="accuracy" data-test="json">' in page
    assert 'class="open-loop"' not in page.split('data-test="json"')[0]  # json's tab only


def test_html_embeds_the_latency_load_chart(report: model.Report) -> None:
    if not charts.available():
        pytest.skip("matplotlib is not installed")
    svg = html._Charts(report, True).figure("latency-load", report, "json")
    assert svg.startswith("<figure><svg") and "latency against load" in svg


def test_json_report_carries_open_loop_and_accuracy(report: model.Report) -> None:
    data = json.loads(jsonout.render(report))
    rows = {(r["parser"], r["rate"]): r for r in data["open_loop"]}
    assert set(rows) == {("httptools", "50%"), ("httptools", "90%"), ("h11", "50%"),
                         ("h11", "90%")}
    assert rows[("httptools", "90%")]["flags"] and rows[("httptools", "90%")]["late"] == 300
    assert rows[("httptools", "50%")]["latency_ms"]["p99"] == pytest.approx(4.0, rel=0.01)
    assert rows[("httptools", "50%")]["percent_of_rps"] == 15000.0
    assert rows[("h11", "90%")]["failures"] == [FAILED.removeprefix("failed: ")]
    assert [a["rate"] for a in data["driver_accuracy"]] == ["50%", "90%"]


def test_latency_load_chart_draws_the_histograms_percentiles(report: model.Report) -> None:
    if not charts.available():
        pytest.skip("matplotlib is not installed")
    with charts.style():
        fig = charts.latency_load_chart(report, "json")
    lines = [line for line in fig.axes[0].get_lines() if len(line.get_xdata()) > 1]
    drawn = {(tuple(line.get_xdata()), tuple(round(y, 1) for y in line.get_ydata()))
             for line in lines}
    # uvloop/httptools: p50 0.8 and 2 ms, p99 4 and 40 ms at 7,500 and 13,500 req/s
    achieved = (7500.0, 13500.0)
    assert (achieved, (0.8, 2.0)) in drawn and (achieved, (4.0, 40.0)) in drawn
    # the flagged point (late sends) is hollow
    hollow = [line for line in fig.axes[0].get_lines() if line.get_markerfacecolor() == "white"]
    assert hollow and all(line.get_xdata()[0] == 13500.0 for line in hollow)


def test_merge_keeps_accuracy_once_and_the_failures(path: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.json"
    again.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    merged = merge.merge(load.load([path, again]))
    assert [a.rate for a in merged.accuracy] == ["50%", "90%"]  # the same file twice
    entry = next(e for e in merged.entries if e.key == ("asgibench", "asyncio", "h11", "json"))
    failed = next(level for level in entry.levels if level.rate == "90%")
    assert len(failed.failures) == 2
    assert entry.status == "ok" and entry.measured_levels
    assert merged.to_dict()["driver_accuracy"] == results.Run.from_dict(
        merged.to_dict()).to_dict()["driver_accuracy"]
