"""``bench report``: Markdown, JSON and HTML from the same report; ``bench chart``."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from asgibench.reports import charts, html, load, markdown, model

from . import reportdocs
from .reportdocs import check_rankings_in_dom, parse_tables


@pytest.fixture
def report(sample_path: Path) -> model.Report:
    return model.build(load.load([sample_path]))


def test_markdown_has_every_section(report: model.Report, sample_doc: dict) -> None:
    text = markdown.render(report)
    for heading in (
        "# asgibench results",
        "## Environment and settings",
        "## plaintext · concurrency 256 · pipelined x16",
        "## json · concurrency 16, 64",
        "## Composite",
        "## Loop x parser",
        "## Unsupported (listed, not run)",
    ):
        assert heading in text, heading
    for row in sample_doc["ranking"]["json"]:
        assert (
            f"| {row['rank']} | {row['server']} | {row['loop']} | {row['parser']} | "
            f"{row['requests_per_s']:,.0f} |" in text
        )
    assert "rloop/h11 — unverified: verification failed" in text
    assert "rloop/httptools — failed: server failed to start" in text
    assert "plaintext 0.75, json 1" in text
    assert "client-bound" in text.split("## Environment")[0]
    # every table row has as many cells as its header
    for block in re.findall(r"(?:^\|.*\|$\n?)+", text, flags=re.M):
        widths = {line.count(" | ") for line in block.splitlines() if not line.startswith("|-")}
        assert len(widths) == 1, block


def test_markdown_pools_runs_of_one_machine(sample_path: Path, tmp_path: Path) -> None:
    other = reportdocs.write(reportdocs.document(scale=1.2), tmp_path / "other.json")
    text = markdown.render(model.build(load.load([sample_path, other])))
    # One row per configuration, its repeats counted over both runs; no run column.
    assert "| rank | server | loop | parser | req/s | ± | repeats |" in text
    assert "| 1 | granian | asyncio | rust | " in text and "| 6 in 2 runs |" in text
    assert "| run |" not in text.split("## Environment")[0]
    assert "Pooled from 2 runs (sample, other)" in text
    # The environment once, then the runs it pools.
    env = text.split("## Environment and settings")[1]
    assert env.count("| machine |") == 1
    assert "| run | file | created | commit | repeats |" in env


def test_json_report(report: model.Report) -> None:
    from asgibench.reports import jsonout

    data = json.loads(jsonout.render(report))
    assert data["schema"] == "asgibench.report/1"
    assert data["composite"]["weights"] == {"plaintext": 0.75, "json": 1.0}
    assert data["rankings"]["json"][0]["server"] == "granian"
    assert {x["kind"] for x in data["not_ranked"]["json"]} == {"failed", "unverified"}
    assert data["matrices"] and data["runs"][0]["facts"]["driver"].startswith("wrk")


def test_html_is_self_contained_and_holds_the_numbers(
    report: model.Report, sample_doc: dict
) -> None:
    page = html.render(report, charts=False)
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page and "@import" not in page and "url(http" not in page
    for tab in ("tab-t-plaintext", "tab-t-json", "tab-composite", "tab-runs"):
        assert f'id="{tab}"' in page
    check_rankings_in_dom(page, sample_doc)
    assert "charts omitted (--no-charts)" in page
    assert "server failed to start" in page and "verification failed" in page


def test_html_embeds_charts_as_inline_svg(charted_html: tuple[str, dict]) -> None:
    page, _ = charted_html
    svgs = re.findall(r"<svg\b", page)
    # 3 charts per test type + 2 heat maps (asgibench json, plaintext)
    assert len(svgs) == 8
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), "duplicate ids across inline SVGs"
    assert not parse_tables(page).external
    assert not re.search(r'href="(?:https?:)?//', page)  # images are data: URIs only


def test_cli_report_formats(
    sample_path: Path, tmp_path: Path, bench: Callable[..., Result]
) -> None:
    result = bench("report", sample_path)
    assert result.exit_code == 0 and result.stdout.startswith("# asgibench results")
    out = tmp_path / "deep" / "report.html"
    result = bench("report", sample_path, "--format", "html", "--no-charts", "-o", out)
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    result = bench("report", sample_path, sample_path, "--format", "json")
    assert json.loads(result.stdout)["runs"][1]["label"] == "sample#2"


def test_cli_report_bad_input(tmp_path: Path, bench: Callable[..., Result]) -> None:
    result = bench("report", tmp_path / "missing.json")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "does not exist" in result.stderr
    result = bench("report")
    assert result.exit_code == 2


def test_charts_written_png(
    sample_path: Path, tmp_path: Path, bench: Callable[..., Result]
) -> None:
    result = bench("chart", sample_path, "-o", tmp_path / "png")
    assert result.exit_code == 0, result.output
    names = sorted(Path(line).name for line in result.stdout.split())
    # plaintext ran at one concurrency level: no concurrency chart (tests/reports/test_charts.py)
    assert "plaintext-concurrency skipped: one concurrency level" in result.stderr
    assert names == sorted(
        [
            "plaintext-ranking.png",
            "plaintext-latency.png",
            "json-ranking.png",
            "json-concurrency.png",
            "json-latency.png",
            "plaintext-asgibench-matrix.png",
            "json-asgibench-matrix.png",
        ]
    )
    for name in names:
        data = (tmp_path / "png" / name).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 5000


def _svg(fig: object) -> bytes:
    import io

    buffer = io.BytesIO()
    charts.save(fig, buffer, "svg")  # type: ignore[arg-type]
    return buffer.getvalue()


def test_svg_charts_are_reproducible_and_readable(report: model.Report) -> None:
    matrix = next(m for m in report.matrices if m.test == "json")
    with charts.style(inline=True):
        made = {
            "ranking": [_svg(charts.ranking_chart(report, "json")) for _ in range(2)],
            "matrix": [_svg(charts.matrix_chart(report, matrix)) for _ in range(2)],
            "latency": [_svg(charts.latency_chart(report, "json"))],
            "concurrency": [_svg(charts.concurrency_chart(report, "json"))],
        }
    assert made["ranking"][0] == made["ranking"][1], "ranking chart is not reproducible"
    assert made["matrix"][0] == made["matrix"][1], "heat map is not reproducible"
    ranking = made["ranking"][0].decode()
    assert "json: requests/s per configuration" in ranking
    assert "requests per second" in ranking
    assert "AMD EPYC x2" in ranking and "driver wrk 4.1.0" in ranking
    assert "latency (ms, log scale)" in made["latency"][0].decode()
    assert "concurrent connections" in made["concurrency"][0].decode()
    assert "event loop" in made["matrix"][0].decode()


def test_chart_needs_an_output_dir(sample_path: Path, bench: Callable[..., Result]) -> None:
    result = bench("chart", sample_path)
    assert result.exit_code == 2 and "-o" in result.stderr
