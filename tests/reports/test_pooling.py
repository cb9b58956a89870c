"""``bench report`` given several results files: runs of one environment and settings are
pooled (one row per configuration, the median over every run's repeats), runs that differ
are grouped and ranked apart, a file given twice counts once, and each warning is stated
once with the runs that raised it."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import pytest

from asgibench.harness import ranking
from asgibench.reports import load, merge, model

from . import reportdocs

#: Configurations the sample document ranks per test type (json: 5; plaintext: 5 + rloop/h11).
JSON_CONFIGS = 5
PLAINTEXT_CONFIGS = 6


def runs_doc(scale: float, **kwargs: Any) -> dict[str, Any]:
    """One run of the sample configurations with one repeat per level."""
    return reportdocs.document(repeats=1, scale=scale, **kwargs)


def at(minute: int) -> str:
    """A distinct ``created``: runs of identical contents would count once."""
    return f"2026-11-23T10:{minute:02d}:00Z"


def write_all(tmp_path: Path, docs: list[dict[str, Any]], name: str = "r") -> list[Path]:
    return [reportdocs.write(doc, tmp_path / f"{name}{i}.json") for i, doc in enumerate(docs)]


def build(tmp_path: Path, docs: list[dict[str, Any]]) -> model.Report:
    return model.build(load.load(write_all(tmp_path, docs)))


def test_three_runs_pool_into_one_row_per_configuration(tmp_path: Path) -> None:
    scales = (1.0, 0.5, 1.5)
    report = build(tmp_path, [runs_doc(s) for s in scales])
    assert len(report.groups) == 1 and report.groups[0].runs == ["r0", "r1", "r2"]
    assert not report.multi_run and report.pooled
    assert len(report.rankings["json"]) == JSON_CONFIGS
    assert len(report.rankings["plaintext"]) == PLAINTEXT_CONFIGS
    top = report.rankings["json"][0]
    assert (top.run, top.server, top.concurrency) == ("", "granian", 64)
    # The figure is the median over all three runs' repeats, the spread their min..max.
    values = [26000.0 * s for s in scales]
    assert top.repeats == 3 and report.runs_of(top) == 3
    assert top.requests_per_s == pytest.approx(statistics.median(values), abs=0.01)
    assert (top.min_rps, top.max_rps) == (
        pytest.approx(13000.0, abs=0.01),
        pytest.approx(39000.0, abs=0.01),
    )
    assert [r.rank for r in report.rankings["json"]] == [1, 2, 3, 4, 5]
    # The ceiling is the median of the three measurements.
    assert report.ceiling_rps[("", "json", 64)] == pytest.approx(32000.0, abs=0.01)


def test_pooled_report_ranks_as_bench_merge_does(tmp_path: Path) -> None:
    """``bench report a b c`` ranks exactly as ``bench report $(bench merge a b c)``: the
    pooling is merge's, and the ranking the harness's one ranking."""
    runs = load.load(write_all(tmp_path, [runs_doc(s) for s in (1.0, 0.7, 1.2)]))
    report = model.build(runs)
    merged = ranking.rank_run(merge.merge(runs))
    for test in ("json", "plaintext"):
        assert [r.to_dict() for r in report.rankings[test]] == [r.to_dict() for r in merged[test]]
    assert [r.to_dict() for r in report.composite] == [
        r.to_dict() for r in ranking.composite(merged)
    ]


def test_one_file_is_ranked_exactly_as_its_stored_ranking(sample_doc: dict, tmp_path: Path) -> None:
    report = build(tmp_path, [sample_doc])
    assert not report.pooled and report.groups[0].runs == ["r0"]
    for test, rows in sample_doc["ranking"].items():
        assert [r.stored() for r in report.rankings[test]] == rows


def test_runs_with_different_settings_are_grouped_not_pooled(tmp_path: Path) -> None:
    slow = runs_doc(1.0)
    slow["settings"]["duration_s"] = 15.0
    report = build(tmp_path, [runs_doc(1.0), slow, runs_doc(1.1)])
    assert [(g.label, g.runs) for g in report.groups] == [("A", ["r0", "r2"]), ("B", ["r1"])]
    assert report.differences == ["duration"]
    json_rows = report.rankings["json"]
    assert [(r.run, r.rank) for r in json_rows if r.server == "granian"] == [("A", 1), ("B", 1)]
    assert {report.runs_of(r) for r in json_rows if r.run == "A"} == {2}
    assert [run.group for run in report.runs] == ["A", "B", "A"]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda d: d["environment"]["git"].update(commit="f" * 40), "commit"),
        (lambda d: d["environment"]["packages"].update(uvloop="0.22.0"), "uvloop version"),
        (lambda d: d["environment"]["python"].update(version="3.12.1"), "Python"),
        (lambda d: d["environment"]["cpu"].update(usable_cpus=[0]), "usable CPUs"),
        (lambda d: d["settings"]["levels"].update(json=[16]), "json levels"),
        (lambda d: d["settings"]["pinning"].update(server_cpus=[1], driver_cpus=[0]), "pinning"),
    ],
)
def test_what_keeps_runs_apart(tmp_path: Path, change: Any, named: str) -> None:
    a, b = runs_doc(1.0), runs_doc(1.0, created=at(1))
    change(b)
    runs = load.load(write_all(tmp_path, [a, b]))
    assert merge.differences(runs[0], runs[1]) == [named]
    assert len(model.build(runs).groups) == 2


def test_what_does_not_keep_runs_apart(tmp_path: Path) -> None:
    """The selection, the repeat count, the date and a package only one file records do
    not change what a configuration measures."""
    a, b = runs_doc(1.0), reportdocs.document(repeats=3, created="2026-11-24T08:00:00Z")
    b["environment"]["packages"]["zttp"] = "0.0.35"
    b["entries"] = [e for e in b["entries"] if e["server"] != "granian"]
    b["settings"]["servers"] = ["asgibench"]
    runs = load.load(write_all(tmp_path, [a, b]))
    assert merge.differences(runs[0], runs[1]) == []
    report = model.build(runs)
    assert len(report.groups) == 1
    rows = {
        r.server: r
        for r in report.rankings["json"]
        if r.loop in ("asyncio", "uvloop")
        and r.parser in ("rust", "httptools")
        and (r.server, r.loop) != ("asgibench", "asyncio")
    }
    # granian only ran in the first run: one repeat, and the row says 1 of 2 runs.
    assert (rows["granian"].repeats, report.runs_of(rows["granian"])) == (1, 1)
    assert (rows["asgibench"].repeats, report.runs_of(rows["asgibench"])) == (4, 2)
    facts = dict(report.groups[0].facts)
    assert facts["created"] == "2026-11-23T10:00:00Z … 2026-11-24T08:00:00Z"


def test_a_failure_in_one_run_is_listed_with_the_run(tmp_path: Path) -> None:
    docs = [runs_doc(1.0, created=at(i)) for i in range(3)]
    victim = next(
        e
        for e in docs[1]["entries"]
        if (e["server"], e["loop"], e["parser"], e["test"])
        == ("asgibench", "uvloop", "h11", "json")
    )
    victim.update(status="failed", phase="crash", reason="exited with -9", levels=[])
    report = build(tmp_path, docs)
    assert all((r.loop, r.parser) != ("uvloop", "h11") for r in report.rankings["json"])
    item = next(x for x in report.excluded["json"] if (x.loop, x.parser) == ("uvloop", "h11"))
    assert item.kind == "failed"
    assert item.reason == "exited with -9 (in 1 of 3 runs: r1)"
    # The start failure every run had says so too.
    start = next(x for x in report.excluded["json"] if (x.loop, x.parser) == ("rloop", "httptools"))
    assert start.reason.endswith("(in 3 of 3 runs: r0, r1, r2)")


def test_a_file_given_twice_counts_once(sample_path: Path) -> None:
    report = model.build(load.load([sample_path, sample_path]))
    assert len(report.groups) == 1 and report.groups[0].runs == ["sample"]
    assert [(r.label, r.duplicate_of, r.group) for r in report.runs] == [
        ("sample", "", ""),
        ("sample#2", "sample", ""),
    ]
    top = report.rankings["json"][0]
    assert top.repeats == 3  # not 6: the same repeats twice are not new measurements
    twice = [n for n in report.notices if n.short == "file given twice"]
    assert len(twice) == 1 and twice[0].runs == ["sample#2"]


def test_each_warning_is_stated_once_with_its_runs(tmp_path: Path) -> None:
    docs = [runs_doc(1.0, created=at(i)) for i in range(5)]
    for doc in docs:
        doc["environment"]["git"].update(dirty=True, diff_sha256="same")
    for doc in docs[3:]:
        doc["settings"]["notes"] = ["another bench run was running at the start"]
    docs[4]["interrupted"] = True
    report = build(tmp_path, docs)
    lines = report.flags
    assert len(lines) == len(set(lines))
    dirty = [line for line in lines if "uncommitted changes" in line]
    assert dirty == ["asgibench ran from a checkout with uncommitted changes (all 5 runs)"]
    assert "note: another bench run was running at the start (2 of 5 runs: r3, r4)" in lines
    assert "the run was interrupted: partial results (1 of 5 runs: r4)" in lines
    # Five runs of one repeat pooled are five repeats: no "one repeat" warning ...
    assert not any(line.startswith("one repeat per level") for line in lines)
    # ... which a run of one repeat on its own does get.
    (tmp_path / "single").mkdir()
    single = build(tmp_path / "single", [runs_doc(1.0)])
    assert any(line.startswith("one repeat per level") for line in single.flags)
    # What changes how the rankings read comes first.
    assert [n.short for n in report.notices][:2] == ["client-bound", "interrupted run"]


def test_json_report_says_which_group_each_run_is_in(tmp_path: Path) -> None:
    from asgibench.reports import jsonout

    other = runs_doc(1.0, machine="Apple M2")
    data = json.loads(jsonout.render(build(tmp_path, [runs_doc(1.0), runs_doc(0.9), other])))
    assert [(r["label"], r["group"]) for r in data["runs"]] == [
        ("r0", "A"),
        ("r1", "A"),
        ("r2", "B"),
    ]
    assert {row["run"] for row in data["rankings"]["json"]} == {"A", "B"}


def test_uncommitted_changes_keep_runs_apart_unless_they_are_the_same(tmp_path: Path) -> None:
    """README's flow: a clean baseline and a candidate with uncommitted changes (every
    figure halved) must not be pooled into one row that hides the regression."""
    clean, dirty = runs_doc(1.0), runs_doc(0.5, created=at(1))
    dirty["environment"]["git"].update(dirty=True, diff_sha256="aaaa")
    runs = load.load(write_all(tmp_path, [clean, dirty]))
    assert merge.differences(runs[0], runs[1]) == ["uncommitted changes"]
    assert len(model.build(runs).groups) == 2
    # Two runs of the very same uncommitted change are one asgibench: pooled.
    again = runs_doc(0.5, created=at(2))
    again["environment"]["git"].update(dirty=True, diff_sha256="aaaa")
    runs = load.load(write_all(tmp_path, [dirty, again]))
    assert merge.differences(runs[0], runs[1]) == []
    # A dirty run that did not record its diff pools with nothing.
    unknown = runs_doc(0.5, created=at(3))
    unknown["environment"]["git"].update(dirty=True)
    runs = load.load(write_all(tmp_path, [dirty, unknown]))
    assert merge.differences(runs[0], runs[1]) == ["uncommitted changes"]


def test_a_row_measured_once_keeps_the_one_repeat_warning(tmp_path: Path) -> None:
    """Two one-repeat runs pooled: configurations both ran have two repeats, but one that
    only the first ran still has one, and the report must still say so."""
    a, b = runs_doc(1.0), runs_doc(1.0, created=at(1))
    b["entries"] = [e for e in b["entries"] if e["server"] != "granian"]
    report = build(tmp_path, [a, b])
    assert any(line.startswith("one repeat per level") for line in report.flags)
    (tmp_path / "both").mkdir()
    both = build(tmp_path / "both", [runs_doc(1.0), runs_doc(1.0, created=at(1))])
    assert not any(line.startswith("one repeat per level") for line in both.flags)
