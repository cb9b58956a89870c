"""The format-neutral report: rankings, what is left out, composite, matrices, flags."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from asgibench.errors import BenchError
from asgibench.harness import testtypes
from asgibench.reports import load, model

from . import reportdocs


def build(*docs: dict[str, Any], tmp_path: Path) -> model.Report:
    paths = [reportdocs.write(doc, tmp_path / f"run{i}.json") for i, doc in enumerate(docs)]
    return model.build(load.load(paths))


def test_ranking_matches_the_harness_ranking(sample_doc: dict, tmp_path: Path) -> None:
    report = build(sample_doc, tmp_path=tmp_path)
    for test, rows in sample_doc["ranking"].items():
        ours = report.rankings[test]
        assert [(r.server, r.loop, r.parser) for r in ours] == [
            (r["server"], r["loop"], r["parser"]) for r in rows
        ]
        for mine, theirs in zip(ours, rows, strict=True):
            assert mine.rank == theirs["rank"]
            assert mine.requests_per_s == pytest.approx(theirs["requests_per_s"], abs=1e-3)
            assert mine.pct_of_best == pytest.approx(theirs["pct_of_best"], abs=1e-3)
            assert mine.concurrency == theirs["concurrency"]
            assert mine.client_bound == theirs["client_bound"]
            assert mine.spread_pct == pytest.approx(theirs["spread_pct"], abs=0.01)


def test_best_level_is_ranked_and_p50_comes_from_it(sample_doc: dict, tmp_path: Path) -> None:
    report = build(sample_doc, tmp_path=tmp_path)
    top = report.rankings["json"][0]
    assert (top.server, top.concurrency) == ("granian", 64)
    assert top.p50_ms == pytest.approx(1000 * 64 / 26000, rel=1e-3)
    assert [lv.concurrency for lv in top.levels] == [16, 64]


def test_failed_and_unverified_are_listed_not_ranked(sample_doc: dict, tmp_path: Path) -> None:
    report = build(sample_doc, tmp_path=tmp_path)
    ranked = {(r.loop, r.parser) for r in report.rankings["json"]}
    assert ("rloop", "httptools") not in ranked and ("rloop", "h11") not in ranked
    kinds = {(x.loop, x.parser): x.kind for x in report.excluded["json"]}
    assert kinds == {("rloop", "httptools"): "failed", ("rloop", "h11"): "unverified"}
    failed = next(x for x in report.excluded["json"] if x.kind == "failed")
    assert "failed to start" in failed.reason and "ImportError" in (failed.output or "")
    assert report.unsupported and report.unsupported[0].server == "granian"
    combos = {c for item in report.unsupported for c in item.combos}
    assert combos == {"uvloop/h11", "uvloop/httptools"}
    assert all(item.tests == ["plaintext", "json"] for item in report.unsupported)


def test_interrupted_entry_without_data_is_not_measured(sample_doc: dict, tmp_path: Path) -> None:
    doc = reportdocs.modified(sample_doc, interrupted=True)
    for level in doc["entries"][0]["levels"]:
        level["repeats"] = []
    report = build(doc, tmp_path=tmp_path)
    kinds = [x.kind for x in report.excluded["json"]]
    assert "not measured" in kinds
    assert any("interrupted" in flag for flag in report.runs[0].flags)


def test_composite_uses_tfb_weights(sample_doc: dict, tmp_path: Path) -> None:
    report = build(sample_doc, tmp_path=tmp_path)
    assert report.weights == {"plaintext": 0.75, "json": 1.0}
    top = report.composite[0]
    assert (top.server, top.score) == ("granian", pytest.approx(1.75))
    # rloop/h11 has plaintext only (its json failed verification): no composite score.
    assert all(r.loop != "rloop" for r in report.composite)
    assert [r.to_dict()["score"] for r in report.composite] == [
        round(r["score"], 4) for r in sample_doc["composite"]
    ]


def test_weight_table_for_types_the_harness_does_not_know() -> None:
    assert testtypes.weight("fortunes") == 1.5
    assert testtypes.weight("updates") == 1.25
    assert testtypes.weight("something-new") == 1.0
    assert testtypes.ranking_rule("queries") == "last"
    assert testtypes.ranking_rule("something-new") == "best"


def test_loop_parser_matrix(sample_doc: dict, tmp_path: Path) -> None:
    report = build(sample_doc, tmp_path=tmp_path)
    matrix = next(m for m in report.matrices if m.server == "asgibench" and m.test == "json")
    assert matrix.loops == ["asyncio", "uvloop", "rloop"]
    assert matrix.parsers == ["httptools", "h11"]
    cell = matrix.cells[("uvloop", "httptools")]
    assert cell.best_in_column and cell.gain_pct == pytest.approx(15000 / 11000 * 100 - 100)
    assert matrix.cells[("rloop", "httptools")].status == "failed"
    assert matrix.cells[("rloop", "h11")].status == "unverified"
    assert any(line.startswith("h11: uvloop helps most") for line in matrix.summary)
    # granian has one measured cell per test: no matrix.
    assert not any(m.server == "granian" for m in report.matrices)


def test_header_facts_and_client_bound_flag(sample_doc: dict, tmp_path: Path) -> None:
    report = build(sample_doc, tmp_path=tmp_path)
    facts = dict(report.runs[0].facts)
    assert "AMD EPYC x2" in facts["machine"]
    assert facts["driver"].startswith("wrk 4.1.0")
    assert "3 repeats" in facts["profile"]
    assert "server on CPU 0, driver on CPU 1" in facts["pinning"]
    assert "190,000 req/s" in facts["driver ceiling"]
    assert report.client_bound_count == 1
    assert "client-bound" in report.flags[0]


def test_delay_and_no_ceiling_are_flagged(tmp_path: Path) -> None:
    report = build(reportdocs.document(delay_ms=20, ceiling=False), tmp_path=tmp_path)
    assert any("deliberately slowed by 20 ms" in f for f in report.runs[0].flags)
    assert any("no driver ceiling" in f for f in report.flags)


def test_runs_from_different_machines_are_ranked_apart(sample_doc: dict, tmp_path: Path) -> None:
    other = reportdocs.document(scale=2.0, machine="Apple M2", cores=8)
    report = build(sample_doc, other, tmp_path=tmp_path)
    assert report.multi_run
    assert [(g.label, g.runs) for g in report.groups] == [("A", ["run0"]), ("B", ["run1"])]
    assert "CPU" in report.differences
    rows = report.rankings["json"]
    assert {r.run for r in rows} == {"A", "B"}
    assert len(rows) == 10
    # Each machine is ranked on its own: both have a rank 1 at 100%, never one
    # machine's rows below the other's.
    for label in ("A", "B"):
        mine = [r for r in rows if r.run == label]
        assert [r.rank for r in mine] == [1, 2, 3, 4, 5]
        assert mine[0].server == "granian" and mine[0].pct_of_best == pytest.approx(100)
    assert {m.run for m in report.matrices} == {"A", "B"}
    assert {r.run for r in report.composite if r.rank == 1} == {"A", "B"}
    assert [run.group for run in report.runs] == ["A", "B"]


def test_same_file_twice_gets_distinct_labels(sample_path: Path) -> None:
    runs = load.load([sample_path, sample_path])
    assert [r.label for r in runs] == ["sample", "sample#2"]


def test_real_run_file(real_path: Path) -> None:
    report = model.build(load.load([real_path]))
    assert set(report.rankings) == {"json", "plaintext"}
    assert len(report.rankings["json"]) == 4
    assert report.matrices


def test_bad_files_are_one_line_bench_errors(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="does not exist"):
        load.load([tmp_path / "nope.json"])
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(BenchError, match="not valid JSON"):
        load.load([bad])
    with pytest.raises(BenchError, match="no results file"):
        load.load([])
