"""``bench compare``: verdicts with intervals, and the exit status a CI gate relies on."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from asgibench.errors import BenchError
from asgibench.reports import compare, load

from . import reportdocs


def files(tmp_path: Path, base: dict[str, Any], cand: dict[str, Any]) -> tuple[Path, Path]:
    return (reportdocs.write(base, tmp_path / "base.json"),
            reportdocs.write(cand, tmp_path / "cand.json"))


def run_compare(tmp_path: Path, base: dict, cand: dict, threshold: float = 0.05,
                **kwargs: Any) -> compare.Comparison:
    b, c = files(tmp_path, base, cand)
    runs = load.load([b, c])
    return compare.compare(runs[0], runs[1], threshold, **kwargs)


def verdicts(cmp: compare.Comparison) -> set[str]:
    return {m.verdict for m in cmp.matches}


def test_identical_runs_no_significant_change(tmp_path: Path, sample_doc: dict) -> None:
    cmp = run_compare(tmp_path, sample_doc, sample_doc)
    assert verdicts(cmp) == {compare.SAME}
    assert cmp.exit_status == 0
    # 5 json configurations x 2 levels + 6 plaintext
    assert len(cmp.matches) == 16
    for m in cmp.matches:
        assert m.estimate is not None and m.estimate.ratio == pytest.approx(1.0)
        assert m.estimate.low < 1.0 < m.estimate.high


def test_halved_throughput_is_slower_exit_1(tmp_path: Path, sample_doc: dict) -> None:
    cmp = run_compare(tmp_path, sample_doc, reportdocs.document(scale=0.5))
    assert verdicts(cmp) == {compare.SLOWER}
    assert cmp.exit_status == 1
    for m in cmp.matches:
        assert m.estimate is not None
        assert m.estimate.ratio == pytest.approx(0.5, rel=1e-3)
        assert m.estimate.high < 0.95


def test_faster_is_not_a_failure(tmp_path: Path, sample_doc: dict) -> None:
    cmp = run_compare(tmp_path, sample_doc, reportdocs.document(scale=1.5))
    assert verdicts(cmp) == {compare.FASTER}
    assert cmp.exit_status == 0


def test_threshold_decides_small_changes(tmp_path: Path, sample_doc: dict) -> None:
    # 20% slower; with +-3% jitter over 3 repeats the interval is about [0.75, 0.85].
    slower20 = reportdocs.document(scale=0.8)
    assert run_compare(tmp_path, sample_doc, slower20, 0.05).exit_status == 1
    wide = run_compare(tmp_path, sample_doc, slower20, 0.25)
    assert verdicts(wide) == {compare.SAME}
    assert wide.exit_status == 0


def test_interval_straddling_the_threshold_is_inconclusive(tmp_path: Path) -> None:
    base = reportdocs.document()
    cand = reportdocs.document(scale=0.8)
    cmp = run_compare(tmp_path, base, cand, 0.19)
    assert verdicts(cmp) == {compare.SAME}
    assert all(any("inconclusive" in n for n in m.notes) for m in cmp.matches)


def test_one_repeat_is_inconclusive_and_never_fails_the_gate(
        tmp_path: Path, bench: Callable[..., Result]) -> None:
    # Halved on paper; but with one repeat per side nothing says it is not noise (two
    # identical default runs on a busy machine once differed by 5.7x).
    base, cand = files(tmp_path, reportdocs.document(repeats=1),
                       reportdocs.document(repeats=1, scale=0.5))
    cmp = compare.compare(*load.load([base, cand]), 0.05)
    assert verdicts(cmp) == {compare.INCONCLUSIVE}
    assert cmp.exit_status == 0
    result = bench("compare", base, cand, "--threshold", "5%")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    notes = [line for line in lines if "one repeat in the baseline and the candidate" in line]
    assert len(notes) == 1, result.output  # once, not once per entry
    assert f"all {len(cmp.matches)} entries" in notes[0]
    assert f"{len(cmp.matches)} inconclusive: one repeat" in lines[-1]
    # No interval is invented for a side without spread (it used to print [-50%, -50%]).
    rows = [line for line in lines if "inconclusive: one repeat" in line and "c=" in line]
    assert rows and all("[" not in row for row in rows)
    markdown = bench("compare", base, cand, "--format", "md").output
    assert markdown.count("one repeat in the baseline") == 1, markdown
    assert "inconclusive:" in markdown.splitlines()[2] and "✅" not in markdown
    data = json.loads(bench("compare", base, cand, "--format", "json").stdout)
    assert data["summary"]["inconclusive"] == len(cmp.matches)
    assert {entry["interval"] for entry in data["entries"]} == {None}


def test_one_repeat_on_one_side_is_inconclusive_too(tmp_path: Path) -> None:
    cmp = run_compare(tmp_path, reportdocs.document(),
                      reportdocs.document(repeats=1, scale=0.5))
    assert verdicts(cmp) == {compare.INCONCLUSIVE}
    assert all(any("one repeat in the candidate:" in n for n in m.notes)
               for m in cmp.matches)
    assert cmp.exit_status == 0


def test_identical_notes_are_printed_once(tmp_path: Path,
                                          bench: Callable[..., Result]) -> None:
    base, cand = files(tmp_path, reportdocs.document(),
                       reportdocs.document(scale=0.8))
    out = bench("compare", base, cand, "--threshold", "19%").output
    inconclusive = [line for line in out.splitlines() if "interval reaches past" in line]
    assert len(inconclusive) == 1, out


def test_failed_in_candidate_fails_the_gate(tmp_path: Path, sample_doc: dict) -> None:
    cand = reportdocs.document()
    target = next(e for e in cand["entries"] if (e["server"], e["loop"], e["parser"],
                                                  e["test"]) ==
                  ("asgibench", "uvloop", "httptools", "json"))
    target.update(status="failed", phase="crash", reason="server exited with status -11")
    cmp = run_compare(tmp_path, sample_doc, cand)
    failed = [m for m in cmp.matches if m.verdict == compare.FAILED]
    assert len(failed) == 2 and "status -11" in failed[0].notes[0]
    assert cmp.exit_status == 1


def test_normalise_removes_the_machine(tmp_path: Path, sample_doc: dict) -> None:
    faster_box = reportdocs.document(scale=2.0, ceiling_scale=2.0, machine="Apple M2",
                                     cores=8)
    raw = run_compare(tmp_path, sample_doc, faster_box)
    assert compare.FASTER in verdicts(raw)
    assert any("use --normalise" in w for w in raw.warnings)
    norm = run_compare(tmp_path, sample_doc, faster_box, normalise=True)
    assert verdicts(norm) == {compare.SAME}
    assert any("different machine" in w and "--normalise divides" in w for w in norm.warnings)
    # ... and a real regression still shows through the normalisation.
    slow_box = reportdocs.document(scale=0.5 * 2.0, ceiling_scale=2.0)
    assert verdicts(run_compare(tmp_path, sample_doc, slow_box, normalise=True)) == \
        {compare.SLOWER}


def test_normalise_without_a_ceiling_is_bad_input(tmp_path: Path, sample_doc: dict) -> None:
    with pytest.raises(BenchError, match="--normalise needs the driver ceiling"):
        run_compare(tmp_path, sample_doc, reportdocs.document(ceiling=False), normalise=True)


def test_nothing_in_common_is_bad_input(tmp_path: Path, sample_doc: dict) -> None:
    other = reportdocs.document()
    for entry in other["entries"]:
        entry["server"] = "uvicorn"
    with pytest.raises(BenchError, match="no measured entry in common"):
        run_compare(tmp_path, sample_doc, other)


def test_warnings_name_unsound_differences(tmp_path: Path, sample_doc: dict) -> None:
    cand = reportdocs.document(delay_ms=20)
    cand["settings"]["duration_s"] = 15.0
    cand["settings"]["driver"] = {"name": "python", "version": None}
    cand["interrupted"] = True
    cand["environment"]["python"]["version"] = "3.13.0"
    cmp = run_compare(tmp_path, sample_doc, cand)
    text = " ".join(cmp.warnings)
    for needle in ("duration per level 1.5 vs 15.0", "driver 'wrk' vs 'python'",
                   "deliberately slowed by 20 ms", "interrupted", "Python version",
                   "client-bound"):
        assert needle in text, needle


def test_parse_threshold() -> None:
    assert compare.parse_threshold("5%") == pytest.approx(0.05)
    assert compare.parse_threshold("12.5") == pytest.approx(0.125)
    for bad in ("abc", "-1%", "100%"):
        with pytest.raises(BenchError):
            compare.parse_threshold(bad)


# -- the command line -------------------------------------------------------------------


def test_cli_identical_exit_0_text(tmp_path: Path, sample_doc: dict,
                                   bench: Callable[..., Result]) -> None:
    b, c = files(tmp_path, sample_doc, sample_doc)
    result = bench("compare", b, c)
    assert result.exit_code == 0, result.output
    assert "no significant change" in result.stdout
    assert "95% interval" in result.stdout
    assert "exit status 0" in result.stdout


def test_cli_slower_exit_1_markdown(tmp_path: Path, sample_doc: dict,
                                    bench: Callable[..., Result]) -> None:
    b, c = files(tmp_path, sample_doc, reportdocs.document(scale=0.6))
    out = tmp_path / "summary.md"
    result = bench("compare", b, c, "--threshold", "10%", "--format", "md", "-o", out)
    assert result.exit_code == 1
    assert "❌ regression" in result.stdout and "| **slower** |" in result.stdout
    assert out.read_text(encoding="utf-8") == result.stdout


def test_cli_json(tmp_path: Path, sample_doc: dict, bench: Callable[..., Result]) -> None:
    b, c = files(tmp_path, sample_doc, reportdocs.document(scale=0.5))
    result = bench("compare", b, c, "--format", "json", "--normalise")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["schema"] == "asgibench.compare/1" and data["exit_status"] == 1
    assert data["metric"] == "normalised"
    entry = data["entries"][0]
    assert entry["verdict"] == "slower" and len(entry["interval"]) == 2
    assert entry["interval"][0] <= entry["ratio"] <= entry["interval"][1]


@pytest.mark.parametrize("make_bad", ["missing", "not-json", "wrong-schema", "invalid"])
def test_cli_bad_input_exit_2_one_line(tmp_path: Path, sample_path: Path, make_bad: str,
                                       bench: Callable[..., Result]) -> None:
    bad = tmp_path / "bad.json"
    if make_bad == "not-json":
        bad.write_text("[", encoding="utf-8")
    elif make_bad == "wrong-schema":
        bad.write_text('{"schema": "asgibench.results/0"}', encoding="utf-8")
    elif make_bad == "invalid":
        bad.write_text('{"schema": "asgibench.results/1", "entries": 3}', encoding="utf-8")
    result = bench("compare", sample_path, bad)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "error:" in lines[0] and "bad.json" in lines[0]


def test_cli_bad_threshold_is_a_usage_error(sample_path: Path,
                                            bench: Callable[..., Result]) -> None:
    result = bench("compare", sample_path, sample_path, "--threshold", "lots")
    assert result.exit_code == 2
    assert "is not a percentage" in result.stderr


def _per_round_ceiling(doc: dict, factors: tuple[float, ...]) -> dict:
    """Give every ceiling record one measurement per round, scaled by ``factors``."""
    for record in doc["ceiling"]:
        rps = record["result"]["requests_per_s"]
        record["repeats"] = [dict(record["result"], requests_per_s=rps * f, round=i + 1)
                             for i, f in enumerate(factors)]
    return doc


def test_per_round_ceilings_are_paired_with_their_round(tmp_path: Path) -> None:
    # The candidate's machine was busy in round 3: the server and the ceiling both halved.
    base = _per_round_ceiling(reportdocs.document(), (1.0, 1.0, 1.0))
    cand = reportdocs.document()
    for entry in cand["entries"]:
        for level in entry["levels"]:
            for repeat in level["repeats"]:
                if repeat["round"] == 3:
                    repeat["requests_per_s"] /= 2
    _per_round_ceiling(cand, (1.0, 1.0, 0.5))
    cmp = run_compare(tmp_path, base, cand, normalise=True, paired=True)
    assert verdicts(cmp) == {compare.SAME}
    assert any("round by round" in n for n in cmp.notes)
    for m in cmp.matches:
        assert m.baseline_ref is None and m.estimate is not None
        # jitter (0.97, 1.0, 1.03) survives; the busy round does not
        assert m.estimate.low > 0.9 and m.estimate.high < 1.1


def test_best_statistic(tmp_path: Path, sample_doc: dict, bench: Callable[..., Result]) -> None:
    cand = reportdocs.document()
    for entry in cand["entries"]:  # one disturbed repeat per level: the best is unchanged
        for level in entry["levels"]:
            level["repeats"][0]["requests_per_s"] *= 0.3
    cmp = run_compare(tmp_path, sample_doc, cand, statistic="best")
    assert all(m.estimate and m.estimate.ratio == pytest.approx(1.0) for m in cmp.matches)
    b, c = files(tmp_path, sample_doc, cand)
    result = bench("compare", b, c, "--statistic", "best")
    assert result.exit_code == 0 and "best repeats" in result.stdout
