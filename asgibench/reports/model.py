"""The report, independent of its format: what ``bench report`` renders as Markdown, HTML
or JSON, and what ``bench chart`` draws.

:func:`build` turns one or more loaded runs into a :class:`Report`:

* per test type, a ranking the way TechEmpower's results page shows it -- every
  (run, server, loop, parser) that passed verification and was measured, ranked by its
  figure (TechEmpower's rule, computed by :func:`asgibench.harness.ranking.rank`: the best
  level's, or the last level's for the query-like types; the median over repeats, with
  the min..max range as the spread), with % of the best, p50/p99 latency at that level,
  errors and flags (client-bound; tied with the next row within the spread);
* the entries that are not ranked, with their reason: failed (did not start, crashed,
  driver failure), unverified (failed verification), not measured (interrupted), and
  unsupported combinations;
* a composite score across test types (each type normalised to its best, times its
  weight, summed; only configurations that have every type), the weights stated;
* per server and test type, a loop x parser matrix with each loop's gain over the
  stdlib ``asyncio`` loop for the same parser;
* per run, the environment and settings as (name, value) facts, and flags: client-bound
  results, an injected app delay, interrupted runs, a dirty checkout, runs that come from
  different machines or settings.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from asgibench.harness import ranking, testtypes
from asgibench.harness.ranking import CompositeRow, RankRow
from asgibench.harness.results import Run, Settings
from asgibench.reports import fmt
from asgibench.reports.load import all_tests

#: The loop every matrix measures gains against (the stdlib's default loop).
REFERENCE_LOOP = "asyncio"


@dataclass
class Excluded:
    """An entry that is listed below the ranking, never ranked."""

    run: str
    server: str
    loop: str
    parser: str
    test: str
    kind: str  # "failed", "unverified", "not measured"
    phase: str | None
    reason: str
    output: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"run": self.run, "server": self.server, "loop": self.loop,
                "parser": self.parser, "test": self.test, "kind": self.kind,
                "phase": self.phase, "reason": self.reason, "output": self.output}


@dataclass
class Unsupported:
    run: str
    server: str
    reason: str
    combos: list[str]  # "loop/parser"
    tests: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"run": self.run, "server": self.server, "reason": self.reason,
                "combos": list(self.combos), "tests": list(self.tests)}


@dataclass
class Cell:
    rps: float | None  # None: not ranked
    status: str  # "ok", "failed", "unverified", "not measured", "unsupported", "missing"
    gain_pct: float | None = None  # vs REFERENCE_LOOP with the same parser
    best_in_column: bool = False
    client_bound: bool = False


@dataclass
class Matrix:
    run: str
    server: str
    test: str
    loops: list[str]
    parsers: list[str]
    cells: dict[tuple[str, str], Cell]
    summary: list[str]  # one line per parser: which loop helps most

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": self.run, "server": self.server, "test": self.test,
            "loops": list(self.loops), "parsers": list(self.parsers),
            "cells": [
                {"loop": loop, "parser": parser,
                 "requests_per_s": None if cell.rps is None else round(cell.rps, 3),
                 "status": cell.status,
                 "gain_pct": None if cell.gain_pct is None else round(cell.gain_pct, 2),
                 "best_in_column": cell.best_in_column, "client_bound": cell.client_bound}
                for (loop, parser), cell in self.cells.items()
            ],
            "summary": list(self.summary),
        }


@dataclass
class RunInfo:
    label: str
    path: str
    created: str
    facts: list[tuple[str, str]]
    flags: list[str]
    ceiling: list[dict[str, Any]]
    machine: str  # a one-line machine summary, for chart footnotes
    settings_line: str  # a one-line settings summary, for chart footnotes

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "path": self.path, "created": self.created,
                "facts": dict(self.facts), "flags": list(self.flags),
                "ceiling": list(self.ceiling)}


@dataclass
class Report:
    runs: list[RunInfo]
    tests: list[str]
    rankings: dict[str, list[RankRow]]
    excluded: dict[str, list[Excluded]]
    unsupported: list[Unsupported]
    composite: list[CompositeRow]
    weights: dict[str, float]
    matrices: list[Matrix]
    flags: list[str]
    pipeline: dict[str, int]
    levels: dict[str, list[int]]
    ceiling_rps: dict[tuple[str, str, int], float]  # (run, test, concurrency) -> req/s

    @property
    def multi_run(self) -> bool:
        return len(self.runs) > 1

    @property
    def client_bound_count(self) -> int:
        return sum(1 for rows in self.rankings.values() for row in rows if row.client_bound)

    def footnote(self) -> str:
        """The environment in one or two lines, for charts."""
        if len(self.runs) == 1:
            run = self.runs[0]
            return f"{run.machine}\n{run.settings_line}"
        machines = sorted({run.machine for run in self.runs})
        head = f"{len(self.runs)} runs merged: " + ", ".join(r.label for r in self.runs)
        return head + "\n" + ("; ".join(machines) if len(machines) < 3 else
                              f"{len(machines)} different machines")


# -- building -------------------------------------------------------------------------------


def machine_line(run: Run) -> str:
    env = run.environment
    os_ = env.get("os") or {}
    cpu = env.get("cpu") or {}
    py = env.get("python") or {}
    parts = [f"{os_.get('system', '?')} {os_.get('release', '')}".strip()]
    model = cpu.get("model") or "unknown CPU"
    cores = cpu.get("cores")
    parts.append(f"{model} x{cores}" if cores else model)
    parts.append(f"{py.get('implementation', 'Python')} {py.get('version', '?')}")
    return " · ".join(parts)


def settings_line(run: Run) -> str:
    s = run.settings
    driver = s.driver
    repeat = s.repeat
    text = (f"asgibench {run.asgibench_version} · driver "
            f"{driver.get('name', '?')} {driver.get('version') or ''}".rstrip())
    text += f" · {s.profile} profile"
    text += f", {s.duration_s:g} s per level x {repeat} repeat{'s' if repeat != 1 else ''}"
    pins = s.pinning
    if pins.get("server_cpus"):
        text += f" · server CPU {fmt.cpus(pins['server_cpus'])}, driver CPU " \
                f"{fmt.cpus(pins.get('driver_cpus'))}"
    else:
        text += " · not pinned"
    if run.created:
        text += f" · {run.created[:10]}"
    return text


def _levels_text(settings: Settings, tests: list[str]) -> str:
    parts = []
    for test in tests:
        text = f"{test} " + ", ".join(str(c) for c in settings.levels.get(test, []))
        depth = int(settings.pipeline.get(test, 1) or 1)
        if depth > 1:
            text += f" (pipelined x{depth})"
        parts.append(text)
    return "; ".join(parts)


def run_info(run: Run) -> RunInfo:
    s = run.settings
    env = run.environment
    git = env.get("git") or {}
    driver = s.driver
    pins = s.pinning
    cpu = env.get("cpu") or {}
    facts: list[tuple[str, str]] = [("file", run.path), ("created", run.created)]
    commit = git.get("commit")
    version = run.asgibench_version
    if commit:
        version += f" (commit {commit[:10]}{', dirty' if git.get('dirty') else ''})"
    facts.append(("asgibench", version))
    facts.append(("machine", machine_line(run)))
    os_ = env.get("os") or {}
    if os_.get("platform"):
        facts.append(("platform", os_["platform"]))
    if cpu.get("usable_cpus") is not None:
        facts.append(("usable CPUs", fmt.cpus(cpu.get("usable_cpus"))))
    drv = f"{driver.get('name', '?')} {driver.get('version') or ''}".strip()
    if driver.get("threads"):
        drv += f" ({driver['threads']} thread{'s' if driver['threads'] != 1 else ''})"
    facts.append(("driver", drv))
    repeat = s.repeat
    facts.append(("profile", (
        f"{s.profile}: {s.duration_s:g} s per level x {repeat} "
        f"repeat{'s' if repeat != 1 else ''}; warm-up {s.warmup_s:g} s, primer "
        f"{s.primer_s:g} s, pause {s.pause_s:g} s, timeout {s.timeout_s:g} s")))
    facts.append(("levels", _levels_text(s, run.tests)))
    if pins.get("server_cpus"):
        facts.append(("pinning", f"server on CPU {fmt.cpus(pins['server_cpus'])}, driver on "
                                 f"CPU {fmt.cpus(pins.get('driver_cpus'))} "
                                 f"({pins.get('method', '?')})"))
    else:
        facts.append(("pinning", f"not pinned ({pins.get('note') or 'n/a'})"))
    facts.append(("selection", f"servers {', '.join(s.servers) or '-'}; loops "
                               f"{', '.join(s.loops) or '-'}; parsers "
                               f"{', '.join(s.parsers) or '-'}"))
    packages = env.get("packages") or {}
    shown = [f"{k} {v}" for k, v in packages.items() if v and k != "asgibench"]
    if shown:
        facts.append(("packages", ", ".join(shown)))
    ceiling = []
    parts = []
    for record in run.ceiling:
        label = f"{record.test} c={record.concurrency}"
        if record.status == "ok" and record.result is not None:
            rps = float(record.result.requests_per_s or 0)
            parts.append(f"{label}: {fmt.rps(rps)} req/s")
            ceiling.append({"test": record.test, "concurrency": record.concurrency,
                            "requests_per_s": rps})
        else:
            parts.append(f"{label}: failed ({record.reason or '?'})")
    facts.append(("driver ceiling", "; ".join(parts) if parts else
                  "not measured (client-bound results cannot be flagged)"))

    flags: list[str] = []
    if run.interrupted:
        flags.append("the run was interrupted: partial results")
    delay = s.app_delay_ms or 0
    if delay:
        flags.append(f"the app was deliberately slowed by {delay:g} ms per request "
                     "(ASGIBENCH_APP_DELAY_MS): not a real measurement")
    if git.get("dirty"):
        flags.append("asgibench ran from a checkout with uncommitted changes")
    if (s.repeat or 1) < 2:
        flags.append("one repeat per level: no spread, so close calls cannot be told from "
                     "noise (use --repeat 3)")
    if s.profile == "quick":
        flags.append("quick profile: short measurements, fine for a look (TechEmpower "
                     "measures 15 s per level: --full)")
    for note in s.notes:
        flags.append(f"note: {note}")
    return RunInfo(run.label, run.path, run.created, facts, flags, ceiling,
                   machine_line(run), settings_line(run))


def rankings(runs: Sequence[Run], tests: Sequence[str], multi: bool
             ) -> tuple[dict[str, list[RankRow]], dict[str, list[Excluded]]]:
    """The rankings (:func:`asgibench.harness.ranking.rank_runs`) and, per test type, the
    entries that are listed but not ranked, with why."""
    ranked = ranking.rank_runs(runs, tests, labelled=multi)
    excluded: dict[str, list[Excluded]] = {}
    for test in tests:
        kept = {(row.run, row.server, row.loop, row.parser) for row in ranked[test]}
        out: list[Excluded] = []
        for run in runs:
            label = run.label if multi else ""
            for entry in run.entries:
                if entry.test != test or entry.status == "unsupported":
                    continue
                base = (label, entry.server, entry.loop, entry.parser, test)
                if base[:4] in kept:
                    continue
                if entry.status == "failed":
                    kind = "unverified" if entry.phase == "verify" else "failed"
                    out.append(Excluded(*base, kind, entry.phase, entry.reason or
                                        "failed (no reason recorded)", entry.output))
                elif not ranking.rankable(entry):
                    failed = entry.verification.failed_checks if entry.verification else []
                    out.append(Excluded(*base, "unverified", "verify",
                                        "verification failed: " + ", ".join(failed)))
                else:
                    why = ("the run was interrupted before it was measured"
                           if run.interrupted else "no measurement recorded")
                    out.append(Excluded(*base, "not measured", None, why))
        excluded[test] = out
    return ranked, excluded


def unsupported(runs: Sequence[Run], multi: bool) -> list[Unsupported]:
    groups: dict[tuple[str, str, str], Unsupported] = {}
    for run in runs:
        label = run.label if multi else ""
        for entry in run.entries:
            if entry.status != "unsupported":
                continue
            key = (label, entry.server, entry.reason or "unsupported")
            item = groups.setdefault(key, Unsupported(*key, [], []))
            combo = f"{entry.loop}/{entry.parser}"
            if combo not in item.combos:
                item.combos.append(combo)
            if entry.test not in item.tests:
                item.tests.append(entry.test)
    return list(groups.values())


def _ordered(preferred: Sequence[str], found: Sequence[str]) -> list[str]:
    out = [name for name in preferred if name in found]
    out.extend(name for name in found if name not in out)
    return out


def matrices(runs: Sequence[Run], ranked: dict[str, list[RankRow]],
             excluded: dict[str, list[Excluded]], multi: bool) -> list[Matrix]:
    out: list[Matrix] = []
    for run in runs:
        label = run.label if multi else ""
        servers = _ordered(run.settings.servers, [e.server for e in run.entries])
        for server in dict.fromkeys(servers):
            for test in testtypes.order(run.tests):
                entries = [e for e in run.entries if e.server == server and e.test == test]
                loops = _ordered(run.settings.loops,
                                 list(dict.fromkeys(e.loop for e in entries)))
                loops = [lp for lp in loops if any(e.loop == lp for e in entries)]
                parsers = _ordered(run.settings.parsers,
                                   list(dict.fromkeys(e.parser for e in entries)))
                parsers = [p for p in parsers if any(e.parser == p for e in entries)]
                if len(loops) * len(parsers) < 2:
                    continue
                cells: dict[tuple[str, str], Cell] = {}
                rows = {(r.loop, r.parser): r for r in ranked.get(test, [])
                        if r.run == label and r.server == server}
                kinds = {(x.loop, x.parser): x.kind for x in excluded.get(test, [])
                         if x.run == label and x.server == server}
                statuses = {(e.loop, e.parser): e.status for e in entries}
                for loop in loops:
                    for parser in parsers:
                        key = (loop, parser)
                        if key in rows:
                            cells[key] = Cell(rows[key].requests_per_s, "ok",
                                              client_bound=rows[key].client_bound)
                        elif key in kinds:
                            cells[key] = Cell(None, kinds[key])
                        elif statuses.get(key) == "unsupported":
                            cells[key] = Cell(None, "unsupported")
                        else:
                            cells[key] = Cell(None, "missing")
                measured = [c for c in cells.values() if c.rps is not None]
                if len(measured) < 2:
                    continue
                summary: list[str] = []
                for parser in parsers:
                    column = {loop: cells[(loop, parser)] for loop in loops
                              if cells[(loop, parser)].rps is not None}
                    if not column:
                        continue
                    best_loop = max(column, key=lambda lp: column[lp].rps or 0.0)
                    column[best_loop].best_in_column = True
                    ref = column.get(REFERENCE_LOOP)
                    if ref is not None and ref.rps:
                        for cell in column.values():
                            cell.gain_pct = ((cell.rps or 0.0) / ref.rps - 1) * 100
                    if len(column) < 2:
                        continue
                    best = column[best_loop]
                    if best_loop == REFERENCE_LOOP:
                        summary.append(f"{parser}: no loop beats {REFERENCE_LOOP}")
                    elif best.gain_pct is not None:
                        summary.append(f"{parser}: {best_loop} helps most, "
                                       f"{best.gain_pct:+.0f}% over {REFERENCE_LOOP}")
                    else:
                        summary.append(f"{parser}: {best_loop} is fastest")
                out.append(Matrix(label, server, test, loops, parsers, cells, summary))
    return out


def _same(values: list[Any]) -> bool:
    return all(v == values[0] for v in values)


def cross_run_flags(runs: Sequence[Run]) -> list[str]:
    if len(runs) < 2:
        return []
    flags = []
    machines = [machine_line(r) for r in runs]
    if not _same(machines):
        flags.append("the merged runs come from different machines: their rows compare "
                     "machines as much as servers")
    keys = ("driver", "duration_s", "repeat", "levels", "pipeline", "profile")
    differ = [k for k in keys if not _same([getattr(r.settings, k) for r in runs])]
    if differ:
        flags.append("the merged runs differ in settings (" + ", ".join(differ) + "): rows "
                     "from different runs are not strictly comparable")
    return flags


def build(runs: Sequence[Run]) -> Report:
    multi = len(runs) > 1
    tests = all_tests(runs)
    ranked, excluded = rankings(runs, tests, multi)
    comp = ranking.composite(ranked)
    infos = [run_info(run) for run in runs]
    flags = cross_run_flags(runs)
    bound = sum(1 for rows in ranked.values() for row in rows if row.client_bound)
    if bound:
        fraction = runs[0].settings.extra.get("client_bound_fraction", 0.8)
        flags.insert(0, f"{bound} ranked result{'s are' if bound != 1 else ' is'} "
                        f"client-bound (at least {fraction * 100:.0f}% of the driver's "
                        "ceiling): there the load driver, not the server, sets the figure, "
                        "so their order is noise")
    if not any(run.ceiling for run in runs):
        flags.append("no driver ceiling was measured (--no-ceiling): client-bound results "
                     "cannot be flagged")
    if any(info_flag.startswith("the app was deliberately slowed")
           for info in infos for info_flag in info.flags):
        flags.append("at least one run had an injected app delay (ASGIBENCH_APP_DELAY_MS)")
    pipeline: dict[str, int] = {}
    levels: dict[str, list[int]] = {}
    ceiling_rps: dict[tuple[str, str, int], float] = {}
    for run in runs:
        label = run.label if multi else ""
        for test, depth in run.settings.pipeline.items():
            pipeline.setdefault(test, int(depth or 1))
        for test, lv in run.settings.levels.items():
            merged = levels.setdefault(test, [])
            merged.extend(int(c) for c in lv if int(c) not in merged)
            merged.sort()
        for test in run.tests:
            for c in run.settings.levels.get(test, []):
                values = run.ceiling_values(test, int(c))
                if values:
                    ceiling_rps[(label, test, int(c))] = statistics.median(values)
    return Report(
        runs=infos, tests=tests, rankings=ranked, excluded=excluded,
        unsupported=unsupported(runs, multi), composite=comp,
        weights=ranking.weights(ranked),
        matrices=matrices(runs, ranked, excluded, multi), flags=flags, pipeline=pipeline,
        levels=levels, ceiling_rps=ceiling_rps,
    )
