"""TechEmpower's query types measure levels of rows per request (``?queries=N``) at one
concurrency: stored as each level's ``queries``, ranked by the last, titled, charted,
compared and merged by it."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from asgibench.harness import ranking, results, schema
from asgibench.reports import charts, compare, load, markdown, model

from . import reportdocs

QUERIES = {1: 9000.0, 5: 4000.0, 20: 1500.0}


def with_query_type(doc: dict[str, Any], scale: float = 1.0) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    for server, loop, parser in (("asgibench", "uvloop", "httptools"),
                                 ("granian", "asyncio", "rust")):
        levels = reportdocs._levels("query", {512: 1.0}, 1, 3, 1.0)
        template = levels[0]
        query_levels = []
        for n, rps in QUERIES.items():
            level = copy.deepcopy(template)
            level["queries"] = n
            for repeat in level["repeats"]:
                repeat["requests_per_s"] = rps * scale * (2 if server == "granian" else 1)
            query_levels.append(level)
        out["entries"].append(reportdocs.entry(server, loop, parser, "query",
                                               levels=query_levels))
    out["settings"]["tests"] = [*out["settings"]["tests"], "query"]
    out["settings"]["levels"]["query"] = list(QUERIES)
    out["settings"]["pipeline"]["query"] = 1
    out = results.Run.from_dict(out).to_dict()
    schema.validate(out)
    return out


def test_queries_are_stored_ranked_by_the_last_and_round_trip() -> None:
    doc = with_query_type(reportdocs.document())
    run = results.Run.from_dict(doc)
    assert run.to_dict() == doc
    rows = ranking.rank_run(run)["query"]
    assert [r.server for r in rows] == ["granian", "asgibench"]
    assert rows[0].queries == 20 and rows[0].concurrency == 512
    assert rows[1].requests_per_s == QUERIES[20]
    assert doc["ranking"]["query"][0]["queries"] == 20


def test_titles_and_the_chart_speak_of_queries(tmp_path: Path) -> None:
    path = reportdocs.write(with_query_type(reportdocs.document()), tmp_path / "r.json")
    report = model.build(load.load([path]))
    text = markdown.render(report)
    assert "## query · queries 1, 5, 20" in text
    assert "## json · concurrency 16, 64" in text
    assert charts.concurrency_skip(report, "query") is None
    with charts.style():
        figure = charts.concurrency_chart(report, "query")
    axes = figure.axes[0]
    assert "rows per request" in axes.get_xlabel() and "512 connections" in axes.get_xlabel()
    xs = sorted({x for line in axes.get_lines() for x in line.get_xdata()})
    assert xs == [1, 5, 20]


def test_compare_matches_query_levels_by_their_queries(tmp_path: Path) -> None:
    base = reportdocs.write(with_query_type(reportdocs.document()), tmp_path / "b.json")
    cand = reportdocs.write(with_query_type(reportdocs.document(), scale=0.5),
                            tmp_path / "c.json")
    runs = load.load([base, cand])
    cmp = compare.compare(runs[0], runs[1], 0.05)
    by_label = {m.label: m for m in cmp.matches}
    for n in QUERIES:
        match = by_label[f"asgibench uvloop/httptools query q={n} c=512"]
        assert match.verdict == compare.SLOWER
        assert match.to_dict()["queries"] == n and match.to_dict()["concurrency"] == 512
