"""``bench compare BASELINE CANDIDATE``: a regression verdict a CI job can trust.

Entries are matched on (server, loop, parser, test type, level: its concurrency, or its
queries count for TechEmpower's query types). For each match:

* the figure of a side is the median of its repeats' requests/s -- or, with
  ``--normalise``, that median divided by the run's driver ceiling at the same test and
  concurrency (the canned-response server every run measures first: a fixed reference,
  so runs from different machines compare as ratios to it);
* ratio = candidate / baseline, with a bootstrap confidence interval from the repeats
  (:mod:`asgibench.reports.stats`);
* verdict: **slower** when the whole interval lies below 1 - threshold, **faster** when
  it lies above 1 + threshold, otherwise **no significant change** (noted as
  *inconclusive* when the interval reaches past the threshold: more repeats would settle
  it). A configuration that ran in the baseline but failed in the candidate is
  **failed**;
* a side with one repeat has no spread, so its noise is unknown and a change cannot be
  told from it (two identical one-repeat runs on a busy machine differ by 5x): such an
  entry is **inconclusive: one repeat**, whatever its ratio, and never fails the gate.

Exit status: 1 if any entry is slower or failed, 0 otherwise (inconclusive included); 2
for bad input (missing or invalid file, nothing in common, ``--normalise`` without
ceilings). Warnings (printed, never fatal) name every difference in environment or
settings that makes the comparison unsound: another machine, Python, driver, durations,
levels, pinning, an injected app delay, an interrupted run, client-bound entries.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from asgibench.errors import BenchError
from asgibench.harness.results import Entry, Level, Run
from asgibench.reports import fmt, stats

Key = tuple[str, str, str, str, str]  # server, loop, parser, test, Level.key

SLOWER = "slower"
FASTER = "faster"
SAME = "no significant change"
FAILED = "failed"
INCONCLUSIVE = "inconclusive: one repeat"
SCHEMA_ID = "asgibench.compare/1"


@dataclass
class Match:
    """One matched entry. ``baseline``/``candidate`` are the values the statistics use:
    requests/s per repeat, or with ``--normalise`` and per-round ceilings, each repeat
    divided by its round's ceiling; ``*_ref`` hold the ceiling measurements otherwise."""

    key: Key
    pipeline: int
    baseline: list[float]
    candidate: list[float]
    baseline_ref: list[float] | None = None
    candidate_ref: list[float] | None = None
    estimate: stats.RatioEstimate | None = None
    verdict: str = SAME
    notes: list[str] = field(default_factory=list)
    client_bound: bool = False
    statistic: str = "median"
    raw_baseline: list[float] = field(default_factory=list)
    raw_candidate: list[float] = field(default_factory=list)
    normalised: bool = False

    @property
    def label(self) -> str:
        server, loop, parser, test, level = self.key
        return f"{server} {loop}/{parser} {test} {level}"

    def figure(self, side: str) -> float:
        values = self.baseline if side == "baseline" else self.candidate
        ref = self.baseline_ref if side == "baseline" else self.candidate_ref
        if not values:
            return 0.0
        top = stats.STATISTICS[self.statistic](values)
        if ref:
            return top / stats.STATISTICS[self.statistic](ref)
        return top

    def to_dict(self) -> dict[str, Any]:
        server, loop, parser, test, level = self.key
        est = self.estimate

        def side(name: str, raw: list[float], ref: list[float] | None,
                 values: list[float]) -> dict[str, Any]:
            return {"requests_per_s": raw, "reference": ref,
                    "figure": round(self.figure(name), 6) if values else None}

        return {
            "server": server, "loop": loop, "parser": parser, "test": test,
            **_level_fields(level), "pipeline": self.pipeline,
            "baseline": side("baseline", self.raw_baseline, self.baseline_ref, self.baseline),
            "candidate": side("candidate", self.raw_candidate, self.candidate_ref,
                              self.candidate),
            "ratio": None if est is None else round(est.ratio, 5),
            # No interval for a side without spread (as the text and Markdown print "-").
            "interval": None if est is None or self.verdict == INCONCLUSIVE
            else [round(est.low, 5), round(est.high, 5)],
            "verdict": self.verdict,
            "client_bound": self.client_bound,
            "notes": list(self.notes),
        }


@dataclass
class Comparison:
    baseline: Run
    candidate: Run
    threshold: float
    confidence: float
    normalise: bool
    resamples: int
    matches: list[Match]
    only_baseline: list[str]
    only_candidate: list[str]
    warnings: list[str]
    notes: list[str]
    statistic: str = "median"

    def count(self, verdict: str) -> int:
        return sum(1 for m in self.matches if m.verdict == verdict)

    def grouped_notes(self) -> list[tuple[str, list[str]]]:
        """(note, labels of the entries it is about), each note once, in first-seen order:
        the same caveat on 24 entries is one line, not 24."""
        groups: dict[str, list[str]] = {}
        for match in self.matches:
            for note in match.notes:
                groups.setdefault(note, []).append(match.label)
        return list(groups.items())

    @property
    def exit_status(self) -> int:
        return 1 if self.count(SLOWER) or self.count(FAILED) else 0

    @property
    def metric(self) -> str:
        if self.normalise:
            return "requests/s as a fraction of the run's driver ceiling (--normalise)"
        return "requests/s"


def _pct(fraction: float) -> str:
    return f"{fraction * 100:g}%"


def parse_threshold(text: str | float) -> float:
    """``5%`` or ``5`` -> 0.05. BenchError outside 0..100%."""
    raw = str(text).strip()
    number = raw[:-1].strip() if raw.endswith("%") else raw
    try:
        value = float(number)
    except ValueError:
        raise BenchError(f"--threshold {raw!r} is not a percentage (e.g. 5%)") from None
    if not 0 <= value < 100:
        raise BenchError(f"--threshold {raw!r} must be between 0% and 100%")
    return value / 100


def _index(run: Run) -> tuple[dict[Key, Level], dict[tuple[str, str, str, str], Entry]]:
    """(measured levels by key, entries by (server, loop, parser, test))."""
    measured: dict[Key, Level] = {}
    entries: dict[tuple[str, str, str, str], Entry] = {}
    for entry in run.entries:
        entries[entry.key] = entry
        if entry.status != "ok":
            continue
        for level in entry.measured_levels:
            measured[(*entry.key, level.key)] = level
    return measured, entries


def _level_fields(key: str) -> dict[str, int]:
    """``c=128`` -> ``{"concurrency": 128}``; ``q=20 c=512`` -> ``{"queries": 20,
    "concurrency": 512}`` (Level.key)."""
    names = {"q": "queries", "c": "concurrency"}
    return {names[kind]: int(value) for kind, _, value in
            (part.partition("=") for part in key.split())}


def _normalise(level: Level, run: Run, label: str, test: str,
               paired: bool = False) -> tuple[list[float], list[float] | None]:
    """(values, reference): the raw values and the ceiling measurements to divide their
    figure by; with ``paired``, per-round ratios when the ceiling was measured every
    round."""
    conc = level.concurrency
    by_round = run.ceiling_rounds(test, conc) if paired else {}
    if by_round and level.rounds and all(r in by_round for r in level.rounds):
        return [v / by_round[r] for v, r in zip(level.rps, level.rounds, strict=True)], None
    ref = run.ceiling_values(test, conc)
    if not ref:
        raise BenchError(
            f"--normalise needs the driver ceiling at {test} c={conc}, and the {label} "
            f"{run.path!r} has none (run without --no-ceiling, or compare without "
            "--normalise)")
    return list(level.rps), ref


def _describe_key(key: Key) -> str:
    server, loop, parser, test, level = key
    return f"{server} {loop}/{parser} {test} {level}"


def _dig(value: Any, *path: str) -> Any:
    """``value[path[0]][path[1]]...`` through the free-form mappings of a run (its
    environment, the driver and pinning settings), None where a step is missing."""
    for part in path:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


_Field = tuple[str, Callable[[Run], Any]]
_MACHINE_FIELDS: tuple[_Field, ...] = (
    ("OS", lambda run: _dig(run.server_environment, "os", "system")),
    ("CPU model", lambda run: _dig(run.server_environment, "cpu", "model")),
    ("CPU cores", lambda run: _dig(run.server_environment, "cpu", "cores")),
    ("usable CPUs", lambda run: _dig(run.server_environment, "cpu", "usable_cpus")),
    ("Python implementation",
     lambda run: _dig(run.server_environment, "python", "implementation")),
    ("Python version", lambda run: _dig(run.server_environment, "python", "version")),
)
_SETTING_FIELDS: tuple[_Field, ...] = (
    ("driver", lambda run: _dig(run.settings.driver, "name")),
    ("driver version", lambda run: _dig(run.settings.driver, "version")),
    ("driver threads", lambda run: _dig(run.settings.driver, "threads")),
    ("profile", lambda run: run.settings.profile),
    ("duration per level", lambda run: run.settings.duration_s),
    ("warm-up", lambda run: run.settings.warmup_s),
    ("primer", lambda run: run.settings.primer_s),
    ("timeout", lambda run: run.settings.timeout_s),
    ("app", lambda run: run.settings.app),
    ("pinning method", lambda run: _dig(run.settings.pinning, "method")),
    ("server CPUs", lambda run: _dig(run.settings.pinning, "server_cpus")),
    ("driver CPUs", lambda run: _dig(run.settings.pinning, "driver_cpus")),
    ("client-bound fraction",
     lambda run: _dig(run.settings.extra, "client_bound_fraction")),
)


def _changed(fields: tuple[_Field, ...], base: Run, cand: Run) -> list[str]:
    """``name base vs candidate`` for every field whose values differ."""
    out = []
    for name, value in fields:
        b, c = value(base), value(cand)
        if b != c:
            out.append(f"{name} {b!r} vs {c!r}")
    return out


def _git(run: Run) -> dict[str, Any]:
    git = _dig(run.server_environment, "git")
    return git if isinstance(git, dict) else {}


def _differences(base: Run, cand: Run, normalise: bool) -> tuple[list[str], list[str]]:
    """(warnings, notes) about how the two runs differ."""
    warnings: list[str] = []
    notes: list[str] = []
    machine = _changed(_MACHINE_FIELDS, base, cand)
    if machine:
        if normalise:
            warnings.append("different machine or Python (" + "; ".join(machine) + "): "
                            "--normalise divides by each run's driver ceiling, which removes "
                            "most of a machine's speed but not differences in how servers "
                            "and the driver scale")
        else:
            warnings.append("different machine or Python (" + "; ".join(machine) + "): raw "
                            "requests/s are not comparable; use --normalise")
    settings = _changed(_SETTING_FIELDS, base, cand)
    if settings:
        warnings.append("different settings (" + "; ".join(settings) + "): the figures were "
                        "not measured the same way")
    for label, run in (("baseline", base), ("candidate", cand)):
        delay = run.settings.app_delay_ms or 0
        if delay:
            warnings.append(f"the {label}'s app was deliberately slowed by {delay:g} ms per "
                            "request (ASGIBENCH_APP_DELAY_MS)")
        if run.interrupted:
            warnings.append(f"the {label} run was interrupted: its results are partial")
    bp = _dig(base.server_environment, "packages") or {}
    cp = _dig(cand.server_environment, "packages") or {}
    changed = [f"{name} {bp.get(name)} -> {cp.get(name)}" for name in sorted(set(bp) | set(cp))
               if bp.get(name) != cp.get(name)]
    if changed:
        notes.append("package versions differ: " + ", ".join(changed))
    bg, cg = _git(base), _git(cand)
    if bg.get("commit") and cg.get("commit"):
        notes.append(f"asgibench commits: {str(bg['commit'])[:10]}"
                     f"{' (dirty)' if bg.get('dirty') else ''} -> {str(cg['commit'])[:10]}"
                     f"{' (dirty)' if cg.get('dirty') else ''}")
    return warnings, notes


def compare(base: Run, cand: Run, threshold: float = 0.05, *, normalise: bool = False,
            confidence: float = stats.DEFAULT_CONFIDENCE,
            resamples: int = stats.DEFAULT_RESAMPLES, statistic: str = "median",
            paired: bool = False) -> Comparison:
    """Match, estimate and judge every entry. BenchError (exit 2) for input that cannot be
    compared.

    With ``normalise``, a side's figure is divided by the median of its run's ceiling
    measurements (resampled with the repeats); with ``paired`` too, each repeat is divided
    by the ceiling measured in its own round when every round has one.
    """
    if not 0 < confidence < 1:
        raise BenchError("--confidence must be between 0 and 1 (e.g. 0.95)")
    if resamples < 100:
        raise BenchError("--resamples must be at least 100")
    if statistic not in stats.STATISTICS:
        raise BenchError(f"--statistic must be one of: {', '.join(stats.STATISTICS)}")
    b_measured, b_entries = _index(base)
    c_measured, c_entries = _index(cand)
    warnings, notes = _differences(base, cand, normalise)
    matches: list[Match] = []
    only_baseline: list[str] = []
    only_candidate: list[str] = []
    n_paired = n_pooled = 0
    for key, b_level in b_measured.items():
        c_level = c_measured.get(key)
        if c_level is None:
            c_entry = c_entries.get(key[:4])
            if c_entry is not None and c_entry.status == "failed":
                match = Match(key, b_level.pipeline, b_level.rps, [], verdict=FAILED,
                              raw_baseline=b_level.rps, statistic=statistic)
                reason = c_entry.reason or "failed"
                match.notes.append(f"candidate {c_entry.phase or 'failed'}: {reason}")
                matches.append(match)
            else:
                only_baseline.append(_describe_key(key))
            continue
        match = Match(key, b_level.pipeline, list(b_level.rps), list(c_level.rps),
                      client_bound=b_level.client_bound or c_level.client_bound,
                      statistic=statistic, raw_baseline=list(b_level.rps),
                      raw_candidate=list(c_level.rps), normalised=normalise)
        if b_level.pipeline != c_level.pipeline:
            warnings.append(f"{_describe_key(key)}: pipelining depth {b_level.pipeline} vs "
                            f"{c_level.pipeline}")
        if normalise and b_level.queries is not None:
            warnings.append(f"{_describe_key(key)}: query levels have no driver ceiling, "
                            "so this entry is compared unnormalised")
        elif normalise:
            test = key[3]
            match.baseline, match.baseline_ref = _normalise(b_level, base, "baseline", test,
                                                            paired)
            match.candidate, match.candidate_ref = _normalise(c_level, cand, "candidate",
                                                              test, paired)
            if match.baseline_ref is None and match.candidate_ref is None:
                n_paired += 1
            else:
                n_pooled += 1
        matches.append(match)
    for key in c_measured:
        if key not in b_measured:
            b_entry = b_entries.get(key[:4])
            why = " (failed in the baseline)" if b_entry is not None and \
                b_entry.status == "failed" else ""
            only_candidate.append(_describe_key(key) + why)
    if not matches:
        raise BenchError(
            f"{base.path!r} and {cand.path!r} have no measured entry in common (server, "
            "loop, parser, test type, level); were they run with the same selection?")

    for match in matches:
        if match.verdict == FAILED:
            continue
        match.estimate = stats.ratio_ci(
            match.baseline, match.candidate, baseline_ref=match.baseline_ref,
            candidate_ref=match.candidate_ref, confidence=confidence, resamples=resamples,
            seed="|".join(map(str, match.key)), statistic=statistic)
        _judge(match, threshold)
    if any(m.client_bound for m in matches):
        bound = [m.label for m in matches if m.client_bound]
        warnings.append("client-bound entries (the load driver, not the server, set their "
                        "figure, so a server regression may not show): " + ", ".join(bound))
    if n_pooled:
        single = [side for side, attr in (("baseline", "baseline_ref"),
                                          ("candidate", "candidate_ref"))
                  if any(getattr(m, attr) is not None and len(getattr(m, attr)) < 2
                         for m in matches if m.verdict != FAILED)]
        if single:
            notes.append(f"the {' and the '.join(single)} measured the driver ceiling once "
                         "per run: its run-to-run noise is not in the intervals, the "
                         "threshold has to absorb it (merge --repeat 1 runs, or use a "
                         "harness that measures it every round)")
        else:
            notes.append("normalised by several ceiling measurements per run, resampled "
                         "with the repeats")
    if n_paired:
        notes.append("normalised round by round: each repeat divided by the ceiling measured "
                     "in the same round")
    matches.sort(key=lambda m: (m.key[3], m.key[0], m.key[1], m.key[2], m.key[4]))
    return Comparison(base, cand, threshold, confidence, normalise, resamples, matches,
                      only_baseline, only_candidate, warnings, notes, statistic)


def _judge(match: Match, threshold: float) -> None:
    est = match.estimate
    assert est is not None
    low_line, high_line = 1 - threshold, 1 + threshold
    single = [side for side, n in (("baseline", est.n_baseline), ("candidate", est.n_candidate))
              if n < 2]
    if single:
        match.verdict = INCONCLUSIVE
        match.notes.append(f"one repeat in the {' and the '.join(single)}: its noise is "
                           "unknown, so no change can be told from it (bench run --repeat 3 "
                           "or more)")
    elif est.high < low_line:
        match.verdict = SLOWER
    elif est.low > high_line:
        match.verdict = FASTER
    else:
        match.verdict = SAME
        if est.low < low_line or est.high > high_line:
            match.notes.append(f"inconclusive: the interval reaches past ±{_pct(threshold)}; "
                               "more repeats would narrow it")
    if match.client_bound:
        match.notes.append("client-bound")


# -- rendering ------------------------------------------------------------------------------


def _figure_text(match: Match, side: str, normalise: bool) -> str:
    values = match.baseline if side == "baseline" else match.candidate
    if not values:
        return "failed"
    value = match.figure(side)
    text = f"{value * 100:.1f}% of ceiling" if normalise and match.normalised \
        else fmt.rps(value)
    return f"{text} (n={len(values)})"


def _ratio_text(match: Match) -> tuple[str, str, str]:
    est = match.estimate
    if est is None:
        return "-", "-", "-"
    change = fmt.signed_pct((est.ratio - 1) * 100)
    if match.verdict == INCONCLUSIVE:
        # A one-repeat side has no spread: an interval drawn from the other side alone (or
        # a zero-width one) would look like a measurement it is not.
        return f"{est.ratio:.3f}", change, "-"
    interval = f"[{fmt.signed_pct((est.low - 1) * 100)}, {fmt.signed_pct((est.high - 1) * 100)}]"
    return f"{est.ratio:.3f}", change, interval


def _run_line(label: str, run: Run) -> str:
    git = _git(run)
    commit = f", commit {str(git['commit'])[:10]}" if git.get("commit") else ""
    return f"{label}: {run.path} ({run.created}{commit})"


def _entries_text(labels: list[str], total: int) -> str:
    """Which entries a note is about: all, a count, or up to three by name."""
    if len(labels) == total and total > 1:
        return f"all {total} entries"
    if len(labels) > 3:
        return f"{len(labels)} entries"
    return "; ".join(labels)


def _summary(cmp: Comparison) -> str:
    parts = [f"{cmp.count(SLOWER)} slower", f"{cmp.count(FASTER)} faster",
             f"{cmp.count(SAME)} no significant change"]
    if cmp.count(INCONCLUSIVE):
        parts.append(f"{cmp.count(INCONCLUSIVE)} {INCONCLUSIVE}")
    if cmp.count(FAILED):
        parts.insert(0, f"{cmp.count(FAILED)} failed")
    return ", ".join(parts)


def _method(cmp: Comparison) -> str:
    figure = "medians over repeats" if cmp.statistic == "median" else "best repeats"
    return (f"metric: {cmp.metric}; ratio = candidate / baseline of the {figure}; "
            f"{cmp.confidence:.0%} bootstrap interval ({cmp.resamples} resamples); "
            f"threshold {_pct(cmp.threshold)}: slower/faster only when the whole interval is "
            "past it")


def render_text(cmp: Comparison) -> str:
    header = ["entry", "baseline", "candidate", "ratio", "change",
              f"{cmp.confidence:.0%} interval", "verdict"]
    rows = []
    for m in cmp.matches:
        ratio, change, interval = _ratio_text(m)
        rows.append([m.label, _figure_text(m, "baseline", cmp.normalise),
                     _figure_text(m, "candidate", cmp.normalise), ratio, change, interval,
                     m.verdict.upper() if m.verdict in (SLOWER, FAILED) else m.verdict])
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    out = ["asgibench compare", _run_line("baseline ", cmp.baseline),
           _run_line("candidate", cmp.candidate), _method(cmp), ""]
    for row in [header, *rows]:
        out.append("  ".join(str(v).ljust(widths[i]) if i in (0, 6) else str(v).rjust(widths[i])
                             for i, v in enumerate(row)).rstrip())
    for note, labels in cmp.grouped_notes():
        out.append(f"  note: {note} ({_entries_text(labels, len(cmp.matches))})")
    out.append("")
    if cmp.only_baseline:
        out.append("only in the baseline (not compared): " + "; ".join(cmp.only_baseline))
    if cmp.only_candidate:
        out.append("only in the candidate (not compared): " + "; ".join(cmp.only_candidate))
    for warning in cmp.warnings:
        out.append(f"warning: {warning}")
    for note in cmp.notes:
        out.append(f"note: {note}")
    out.append(f"summary: {_summary(cmp)} -> exit status {cmp.exit_status}")
    return "\n".join(out) + "\n"


def render_markdown(cmp: Comparison) -> str:
    from asgibench.reports.markdown import table

    if cmp.exit_status:
        headline = f"❌ regression: {_summary(cmp)}"
    elif cmp.count(INCONCLUSIVE) == len(cmp.matches):
        # Nothing was judged: a green tick would read as a pass.
        headline = f"⚠️ inconclusive: {_summary(cmp)}"
    else:
        headline = f"✅ no regression: {_summary(cmp)}"
    out = ["## asgibench compare", "", f"**{headline}** (threshold {_pct(cmp.threshold)})", "",
           f"- {_run_line('baseline', cmp.baseline)}",
           f"- {_run_line('candidate', cmp.candidate)}", f"- {_method(cmp)}", ""]
    # Each note is written once under the table; a row points at its notes by number.
    grouped = cmp.grouped_notes()
    number = {note: i for i, (note, _) in enumerate(grouped, 1)}
    rows = []
    for m in cmp.matches:
        ratio, change, interval = _ratio_text(m)
        verdict = f"**{m.verdict}**" if m.verdict in (SLOWER, FAILED, FASTER) else m.verdict
        rows.append([m.label, _figure_text(m, "baseline", cmp.normalise),
                     _figure_text(m, "candidate", cmp.normalise), ratio, change, interval,
                     verdict, " ".join(f"[{number[n]}]" for n in m.notes)])
    out += table(["entry", "baseline", "candidate", "ratio", "change",
                  f"{cmp.confidence:.0%} interval", "verdict", "notes"], rows,
                 ["l", "r", "r", "r", "r", "r", "l", "l"])
    out.append("")
    if grouped:
        out += [f"{number[note]}. {note} ({_entries_text(labels, len(cmp.matches))})"
                for note, labels in grouped] + [""]
    if cmp.only_baseline:
        out += ["Only in the baseline (not compared): " + "; ".join(cmp.only_baseline), ""]
    if cmp.only_candidate:
        out += ["Only in the candidate (not compared): " + "; ".join(cmp.only_candidate), ""]
    if cmp.warnings:
        out += ["**Warnings**", ""] + [f"- ⚠ {w}" for w in cmp.warnings] + [""]
    if cmp.notes:
        out += [f"- {n}" for n in cmp.notes]
    return "\n".join(out).rstrip() + "\n"


def to_dict(cmp: Comparison) -> dict[str, Any]:
    def side(run: Run) -> dict[str, Any]:
        return {"path": run.path, "created": run.created, "commit": _git(run).get("commit")}

    return {
        "schema": SCHEMA_ID,
        "baseline": side(cmp.baseline),
        "candidate": side(cmp.candidate),
        "metric": "normalised" if cmp.normalise else "requests_per_s",
        "threshold": cmp.threshold,
        "confidence": cmp.confidence,
        "resamples": cmp.resamples,
        "statistic": cmp.statistic,
        "entries": [m.to_dict() for m in cmp.matches],
        "only_in_baseline": list(cmp.only_baseline),
        "only_in_candidate": list(cmp.only_candidate),
        "warnings": list(cmp.warnings),
        "notes": list(cmp.notes),
        "summary": {"slower": cmp.count(SLOWER), "faster": cmp.count(FASTER),
                    "no_significant_change": cmp.count(SAME), "failed": cmp.count(FAILED),
                    "inconclusive": cmp.count(INCONCLUSIVE)},
        "exit_status": cmp.exit_status,
    }


def render_json(cmp: Comparison) -> str:
    return json.dumps(to_dict(cmp), indent=2, ensure_ascii=False) + "\n"


RENDERERS = {"text": render_text, "md": render_markdown, "json": render_json}
