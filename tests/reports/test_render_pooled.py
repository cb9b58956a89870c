"""The Markdown and HTML reports of several results files: the rankings come first, one row
per configuration; the header does not grow with the number of files; each environment
and each warning is stated once, below the rankings."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from asgibench.reports import html, load, markdown, model

from . import reportdocs
from .reportdocs import parse_tables

CONFIGS = {"json": 5, "plaintext": 6}  # ranked configurations of the sample document


def runs(tmp_path: Path, count: int, **kwargs: Any) -> list[Path]:
    """``count`` runs of the sample configurations on one machine, a minute apart."""
    out = []
    for i in range(count):
        doc = reportdocs.document(
            repeats=1, scale=1.0 + 0.1 * i, created=f"2026-11-23T10:{i:02d}:00Z", **kwargs
        )
        # A warning every run raises (the same uncommitted change: they still pool).
        doc["environment"]["git"].update(dirty=True, diff_sha256="same")
        out.append(reportdocs.write(doc, tmp_path / f"run{i}.json"))
    return out


def report_of(paths: list[Path]) -> model.Report:
    return model.build(load.load(paths))


def md_header(text: str) -> list[str]:
    """The lines above the first section."""
    return text.split("\n## ", 1)[0].splitlines()


def md_rank_tables(text: str) -> dict[str, list[list[str]]]:
    """Per ``## test`` section, the rows of its rank tables (every group's)."""
    out: dict[str, list[list[str]]] = {}
    for section in text.split("\n## ")[1:]:
        heading, _, body = section.partition("\n")
        rows: list[list[str]] = []
        header: list[str] = []
        for line in body.splitlines():
            if not line.startswith("|"):
                header = []
                continue
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            if not header:
                header = cells
            elif header[:1] == ["rank"] and "req/s" in header and not line.startswith("|-"):
                rows.append(cells)
        if rows:
            out[heading.split(" · ")[0]] = rows
    return out


def test_markdown_of_three_runs(tmp_path: Path) -> None:
    text = markdown.render(report_of(runs(tmp_path, 3)))
    tables = md_rank_tables(text)
    assert {test: len(rows) for test, rows in tables.items()} == CONFIGS
    for rows in tables.values():
        assert len({tuple(row[1:4]) for row in rows}) == len(rows)  # each config once
        assert all(row[6] == "3 in 3 runs" for row in rows)
    sections = [line[3:] for line in text.splitlines() if line.startswith("## ")]
    first_ranking = next(i for i, s in enumerate(sections) if s.startswith("plaintext"))
    assert first_ranking == 0
    assert sections.index("Warnings") > sections.index("Composite")
    assert sections.index("Environment and settings") > sections.index("Warnings")
    # the warning every run raised, once, saying so
    above_env = text.split("## Environment and settings")[0]
    assert above_env.count("uncommitted changes") == 2  # the summary line, the Warnings list
    assert "- ⚠ asgibench ran from a checkout with uncommitted changes (all 3 runs)" in text
    # the environment once
    env = text.split("## Environment and settings")[1]
    assert env.count("| machine |") == 1 and env.count("| run0 |") == 1


@pytest.mark.parametrize("count", [1, 3, 8])
def test_the_header_does_not_grow_with_the_number_of_files(tmp_path: Path, count: int) -> None:
    report = report_of(runs(tmp_path, count))
    assert len(md_header(markdown.render(report))) <= 8
    page = html.render(report, charts=False)
    head = page[page.index("<header>") : page.index("</header>")]
    assert head.count("<p") <= 4 and "<li" not in head
    assert "uncommitted changes" in head  # named, not listed run by run


def test_markdown_of_two_machines_has_a_group_per_machine(tmp_path: Path) -> None:
    mac = reportdocs.document(machine="Apple M2", cores=8, created="2026-11-24T09:00:00Z")
    mac["environment"]["git"].update(dirty=True, diff_sha256="same")  # as runs() has it
    paths = [*runs(tmp_path, 2), reportdocs.write(mac, tmp_path / "mac.json")]
    text = markdown.render(report_of(paths))
    json_section = text.split("\n## json")[1].split("\n## ")[0]
    assert "### A · 2 runs pooled: run0, run1" in json_section
    assert "### B · run mac" in json_section
    assert "Apple M2 x8" in json_section.split("### B")[1]
    ranks = [int(row[0]) for row in md_rank_tables(text)["json"]]
    assert ranks == [1, 2, 3, 4, 5, 1, 2, 3, 4, 5]  # each machine ranked on its own
    assert (
        "3 runs in 2 environments, each ranked on its own (they differ in CPU, usable CPUs)" in text
    )
    env = text.split("## Environment and settings")[1]
    assert env.count("| machine |") == 2


def test_html_of_three_runs_ranks_first_and_once(tmp_path: Path) -> None:
    page = html.render(report_of(runs(tmp_path, 3)), charts=False)
    parsed = parse_tables(page)
    rankings = [
        (attrs, rows) for attrs, rows in parsed.tables if "ranking" in attrs.get("class", "")
    ]
    assert [attrs["data-test"] for attrs, _ in rankings] == ["plaintext", "json"]
    for attrs, rows in rankings:
        configs = [
            (a["data-server"], a["data-loop"], a["data-parser"])
            for a, _ in rows
            if "data-server" in a
        ]
        assert len(configs) == len(set(configs)) == CONFIGS[attrs["data-test"]]
        cells = [c for a, row in rows if "data-server" in a for c in row]
        assert {text for text, attrs_ in cells if "repeats" in attrs_.get("class", "")} == {
            "3 in 3 runs"
        }
    # the first ranking comes before the warnings and the environment, and nothing long
    # (no list, no fact table) stands between the title and it
    first = page.index('<table class="ranking"')
    assert first < page.index('id="panel-warnings"') < page.index('id="panel-runs"')
    assert "<li" not in page[:first] and "<dl" not in page[:first]
    warnings = page[page.index('id="panel-warnings"') : page.index('id="panel-runs"')]
    assert re.findall(r"<li>", warnings) and warnings.count("uncommitted changes") == 1
    assert "(all 3 runs)" in warnings
    env = page[page.index('id="panel-runs"') :]
    assert env.count("<dt>machine</dt>") == 1
    assert '<label for="tab-warnings">' in page[:first]  # the header line opens the tab
