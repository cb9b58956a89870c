"""Merging runs of one configuration: more repeats, one ceiling measurement per run."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from asgibench.errors import BenchError
from asgibench.harness import results, schema
from asgibench.reports import compare, load, merge

from . import reportdocs


def single_runs(tmp_path: Path, scales: tuple[float, ...], name: str = "r") -> list[Path]:
    paths = []
    for i, scale in enumerate(scales):
        doc = reportdocs.document(repeats=1, scale=scale, ceiling_scale=scale)
        paths.append(reportdocs.write(doc, tmp_path / f"{name}{i}.json"))
    return paths


def test_merge_concatenates_repeats_and_keeps_each_ceiling(tmp_path: Path) -> None:
    runs = load.load(single_runs(tmp_path, (1.0, 0.5, 1.5)))
    merged = merge.merge(runs)
    doc = merged.to_dict()
    schema.validate(doc)
    assert merged.settings.repeat == 3 and doc["settings"]["repeat"] == 3
    entry = next(e for e in merged.entries
                 if e.key == ("asgibench", "uvloop", "httptools", "json"))
    level = entry.levels[1]
    assert level.rounds == [1, 2, 3]
    assert level.rps == [15000.0, 7500.0, 22500.0]
    assert merged.ceiling_rounds("json", 64) == {1: 32000.0, 2: 16000.0, 3: 48000.0}
    assert merged.ceiling_values("json", 64) == [32000.0, 16000.0, 48000.0]
    # a run-wide slowdown hits the server and its ceiling alike: paired, it cancels out
    assert doc["ranking"]["json"][0]["requests_per_s"] == pytest.approx(26000.0)
    assert any("merged from 3 runs" in n for n in merged.settings.notes)
    # the document reads back as the same run
    again = results.Run.from_dict(doc)
    assert again.to_dict() == doc
    assert again.ceiling_rounds("json", 64) == merged.ceiling_rounds("json", 64)


def test_compare_pairs_rounds_of_merged_runs(tmp_path: Path) -> None:
    base = merge.merge(load.load(single_runs(tmp_path, (1.0, 0.6, 1.3), "b")))
    cand = merge.merge(load.load(single_runs(tmp_path, (0.7, 1.2, 1.0), "c")))
    cmp = compare.compare(base, cand, 0.05, normalise=True, paired=True)
    assert {m.verdict for m in cmp.matches} == {compare.SAME}
    for m in cmp.matches:
        assert m.estimate is not None
        assert m.estimate.low == pytest.approx(1.0, rel=1e-3)
        assert m.estimate.high == pytest.approx(1.0, rel=1e-3)
    assert any("round by round" in n for n in cmp.notes)


def test_a_failure_in_any_run_fails_the_entry(tmp_path: Path) -> None:
    paths = single_runs(tmp_path, (1.0, 1.0))
    doc = json.loads(paths[1].read_text(encoding="utf-8"))
    doc["entries"][0].update(status="failed", phase="crash", reason="exited with -9")
    paths[1].write_text(json.dumps(doc), encoding="utf-8")
    merged = merge.merge(load.load(paths))
    assert merged.entries[0].status == "failed"
    assert merged.entries[0].reason == "exited with -9"
    assert merged.to_dict()["entries"][0]["phase"] == "crash"


def test_incompatible_runs_are_refused(tmp_path: Path) -> None:
    a = reportdocs.document(repeats=1)
    b = reportdocs.document(repeats=1)
    b["settings"]["levels"]["json"] = [16]
    paths = [reportdocs.write(a, tmp_path / "a.json"), reportdocs.write(b, tmp_path / "b.json")]
    with pytest.raises(BenchError, match="levels differ"):
        merge.merge(load.load(paths))
    c = reportdocs.document(repeats=1, machine="Apple M2")
    paths[1] = reportdocs.write(c, tmp_path / "c.json")
    with pytest.raises(BenchError, match="different machines"):
        merge.merge(load.load(paths))


def test_cli_merge(tmp_path: Path, bench: Callable[..., Result]) -> None:
    paths = single_runs(tmp_path, (1.0, 1.1))
    out = tmp_path / "merged.json"
    result = bench("merge", *paths, "-o", out)
    assert result.exit_code == 0, result.output
    written = load.load([out])[0]
    assert written.settings.repeat == 2
    assert written.to_dict() == merge.merge(load.load(paths)).to_dict()
