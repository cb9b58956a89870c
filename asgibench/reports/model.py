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
from dataclasses import dataclass, field
from typing import Any

from asgibench.harness import ranking
from asgibench.reports import load as loadmod
from asgibench.reports.load import Level, Run

#: The loop every matrix measures gains against (the stdlib's default loop).
REFERENCE_LOOP = "asyncio"


@dataclass
class RankRow:
    rank: int
    run: str
    server: str
    loop: str
    parser: str
    test: str
    requests_per_s: float
    min_rps: float
    max_rps: float
    repeats: int
    spread_pct: float
    pct_of_best: float
    p50_ms: float | None
    p99_ms: float | None
    errors: int
    concurrency: int
    pipeline: int
    client_bound: bool
    tied_with_next: bool = False
    levels: list[Level] = field(default_factory=list, repr=False)
    chosen: Level | None = field(default=None, repr=False)

    @property
    def config(self) -> str:
        return loadmod.config_label(self.server, self.loop, self.parser)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank, "run": self.run, "server": self.server, "loop": self.loop,
            "parser": self.parser, "test": self.test,
            "requests_per_s": round(self.requests_per_s, 3),
            "min_rps": round(self.min_rps, 3), "max_rps": round(self.max_rps, 3),
            "repeats": self.repeats, "spread_pct": round(self.spread_pct, 2),
            "pct_of_best": round(self.pct_of_best, 2),
            "p50_ms": None if self.p50_ms is None else round(self.p50_ms, 4),
            "p99_ms": None if self.p99_ms is None else round(self.p99_ms, 4),
            "errors": self.errors, "concurrency": self.concurrency,
            "pipeline": self.pipeline, "client_bound": self.client_bound,
            "tied_with_next": self.tied_with_next,
        }


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
class CompositeRow:
    rank: int
    run: str
    server: str
    loop: str
    parser: str
    score: float
    parts: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {"rank": self.rank, "run": self.run, "server": self.server, "loop": self.loop,
                "parser": self.parser, "score": round(self.score, 4),
                "parts": {k: round(v, 4) for k, v in self.parts.items()}}


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


def _fmt_rps(value: float) -> str:
    return f"{value:,.0f}"


def _cpus(cpus: Any) -> str:
    if not cpus:
        return "-"
    return ",".join(str(c) for c in cpus)


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
    driver = s.get("driver") or {}
    repeat = s.get("repeat", 1)
    dur = s.get("duration_s")
    text = (f"asgibench {run.document.get('asgibench_version', '?')} · driver "
            f"{driver.get('name', '?')} {driver.get('version') or ''}".rstrip())
    text += f" · {s.get('profile', '?')} profile"
    if dur is not None:
        text += f", {dur:g} s per level x {repeat} repeat{'s' if repeat != 1 else ''}"
    pins = s.get("pinning") or {}
    if pins.get("server_cpus"):
        text += f" · server CPU {_cpus(pins['server_cpus'])}, driver CPU " \
                f"{_cpus(pins.get('driver_cpus'))}"
    else:
        text += " · not pinned"
    created = run.document.get("created")
    if created:
        text += f" · {created[:10]}"
    return text


def _levels_text(settings: dict[str, Any], tests: list[str]) -> str:
    levels = settings.get("levels") or {}
    pipes = settings.get("pipeline") or {}
    parts = []
    for test in tests:
        text = f"{test} " + ", ".join(str(c) for c in levels.get(test, []))
        if int(pipes.get(test, 1) or 1) > 1:
            text += f" (pipelined x{pipes[test]})"
        parts.append(text)
    return "; ".join(parts)


def run_info(run: Run) -> RunInfo:
    doc = run.document
    s = run.settings
    env = run.environment
    git = env.get("git") or {}
    driver = s.get("driver") or {}
    pins = s.get("pinning") or {}
    cpu = env.get("cpu") or {}
    facts: list[tuple[str, str]] = [("file", run.path), ("created", doc.get("created", "?"))]
    commit = git.get("commit")
    version = f"{doc.get('asgibench_version', '?')}"
    if commit:
        version += f" (commit {commit[:10]}{', dirty' if git.get('dirty') else ''})"
    facts.append(("asgibench", version))
    facts.append(("machine", machine_line(run)))
    os_ = env.get("os") or {}
    if os_.get("platform"):
        facts.append(("platform", os_["platform"]))
    if cpu.get("usable_cpus") is not None:
        facts.append(("usable CPUs", _cpus(cpu.get("usable_cpus"))))
    drv = f"{driver.get('name', '?')} {driver.get('version') or ''}".strip()
    if driver.get("threads"):
        drv += f" ({driver['threads']} thread{'s' if driver['threads'] != 1 else ''})"
    facts.append(("driver", drv))
    repeat = s.get("repeat", 1)
    facts.append(("profile", (
        f"{s.get('profile', '?')}: {s.get('duration_s', 0):g} s per level x {repeat} "
        f"repeat{'s' if repeat != 1 else ''}; warm-up {s.get('warmup_s', 0):g} s, primer "
        f"{s.get('primer_s', 0):g} s, pause {s.get('pause_s', 0):g} s, timeout "
        f"{s.get('timeout_s', 0):g} s")))
    facts.append(("levels", _levels_text(s, run.tests)))
    if pins.get("server_cpus"):
        facts.append(("pinning", f"server on CPU {_cpus(pins['server_cpus'])}, driver on "
                                 f"CPU {_cpus(pins.get('driver_cpus'))} "
                                 f"({pins.get('method', '?')})"))
    else:
        facts.append(("pinning", f"not pinned ({pins.get('note') or 'n/a'})"))
    facts.append(("selection", f"servers {', '.join(s.get('servers') or []) or '-'}; loops "
                               f"{', '.join(s.get('loops') or []) or '-'}; parsers "
                               f"{', '.join(s.get('parsers') or []) or '-'}"))
    packages = env.get("packages") or {}
    shown = [f"{k} {v}" for k, v in packages.items() if v and k != "asgibench"]
    if shown:
        facts.append(("packages", ", ".join(shown)))
    ceiling = []
    parts = []
    for record in doc.get("ceiling") or []:
        label = f"{record.get('test')} c={record.get('concurrency')}"
        if record.get("status") == "ok" and record.get("result"):
            rps = float(record["result"].get("requests_per_s") or 0)
            parts.append(f"{label}: {_fmt_rps(rps)} req/s")
            ceiling.append({"test": record.get("test"), "concurrency":
                            record.get("concurrency"), "requests_per_s": rps})
        else:
            parts.append(f"{label}: failed ({record.get('reason', '?')})")
    facts.append(("driver ceiling", "; ".join(parts) if parts else
                  "not measured (client-bound results cannot be flagged)"))

    flags: list[str] = []
    if doc.get("interrupted"):
        flags.append("the run was interrupted: partial results")
    delay = s.get("app_delay_ms") or 0
    if delay:
        flags.append(f"the app was deliberately slowed by {delay:g} ms per request "
                     "(ASGIBENCH_APP_DELAY_MS): not a real measurement")
    if git.get("dirty"):
        flags.append("asgibench ran from a checkout with uncommitted changes")
    if (s.get("repeat", 1) or 1) < 2:
        flags.append("one repeat per level: no spread, so close calls cannot be told from "
                     "noise (use --repeat 3)")
    if s.get("profile") == "quick":
        flags.append("quick profile: short measurements, fine for a look (TechEmpower "
                     "measures 15 s per level: --full)")
    for note in s.get("notes") or []:
        flags.append(f"note: {note}")
    return RunInfo(run.label, run.path, doc.get("created", "?"), facts, flags, ceiling,
                   machine_line(run), settings_line(run))


def _rank_entry(entry: dict[str, Any], test: str) -> tuple[Any, list[Level], Level] | None:
    """(harness Row, levels, chosen level) for one ok entry with data, else None."""
    rows = ranking.rank([entry], test)
    if not rows:
        return None
    row = rows[0]
    lvls = loadmod.levels(entry)
    chosen = next((lv for lv in lvls if lv.concurrency == row.concurrency), None)
    if chosen is None:
        return None
    return row, lvls, chosen


def rankings(runs: Sequence[Run], tests: Sequence[str], multi: bool
             ) -> tuple[dict[str, list[RankRow]], dict[str, list[Excluded]]]:
    ranked: dict[str, list[RankRow]] = {}
    excluded: dict[str, list[Excluded]] = {}
    for test in tests:
        rows: list[RankRow] = []
        out: list[Excluded] = []
        for run in runs:
            label = run.label if multi else ""
            for entry in run.entries:
                if entry.get("test") != test:
                    continue
                status = entry.get("status")
                if status == "unsupported":
                    continue
                base = (label, entry.get("server", "?"), entry.get("loop", "?"),
                        entry.get("parser", "?"), test)
                verification = entry.get("verification") or {}
                if status == "failed":
                    phase = entry.get("phase")
                    kind = "unverified" if phase == "verify" else "failed"
                    out.append(Excluded(*base, kind, phase, entry.get("reason") or
                                        "failed (no reason recorded)", entry.get("output")))
                    continue
                if verification and verification.get("passed") is False:
                    failed = [c.get("name", "?") for c in verification.get("checks") or []
                              if not c.get("ok")]
                    out.append(Excluded(*base, "unverified", "verify",
                                        "verification failed: " + ", ".join(failed)))
                    continue
                ranked_entry = _rank_entry(entry, test)
                if ranked_entry is None:
                    why = ("the run was interrupted before it was measured"
                           if run.document.get("interrupted") else "no measurement recorded")
                    out.append(Excluded(*base, "not measured", None, why))
                    continue
                hrow, lvls, chosen = ranked_entry
                rows.append(RankRow(
                    0, label, *base[1:], requests_per_s=float(hrow.requests_per_s),
                    min_rps=float(hrow.min_rps), max_rps=float(hrow.max_rps),
                    repeats=int(hrow.repeats), spread_pct=float(hrow.spread_pct),
                    pct_of_best=0.0, p50_ms=chosen.median_latency("p50"),
                    p99_ms=chosen.median_latency("p99"), errors=int(hrow.errors),
                    concurrency=chosen.concurrency, pipeline=chosen.pipeline,
                    client_bound=bool(hrow.client_bound), levels=lvls, chosen=chosen))
        rows.sort(key=lambda r: (-r.requests_per_s, r.server, r.loop, r.parser, r.run))
        ranking.assign_ranks(rows)
        ranked[test] = rows
        excluded[test] = out
    return ranked, excluded


def unsupported(runs: Sequence[Run], multi: bool) -> list[Unsupported]:
    groups: dict[tuple[str, str, str], Unsupported] = {}
    for run in runs:
        label = run.label if multi else ""
        for entry in run.entries:
            if entry.get("status") != "unsupported":
                continue
            key = (label, entry.get("server", "?"), entry.get("reason") or "unsupported")
            item = groups.setdefault(key, Unsupported(*key, [], []))
            combo = f"{entry.get('loop', '?')}/{entry.get('parser', '?')}"
            if combo not in item.combos:
                item.combos.append(combo)
            if entry.get("test") not in item.tests:
                item.tests.append(entry.get("test", "?"))
    return list(groups.values())


def composite(ranked: dict[str, list[RankRow]]) -> tuple[list[CompositeRow],
                                                         dict[str, float]]:
    """TechEmpower's composite over the test types that have ranked rows (2 or more)."""
    tests = [test for test, rows in ranked.items() if rows]
    weights = {test: loadmod.weight(test) for test in tests}
    if len(tests) < 2:
        return [], weights
    by_key: dict[tuple[str, str, str, str], dict[str, float]] = {}
    for test in tests:
        best = ranked[test][0].requests_per_s
        for row in ranked[test]:
            parts = by_key.setdefault((row.run, row.server, row.loop, row.parser), {})
            parts[test] = weights[test] * (row.requests_per_s / best if best else 0.0)
    rows = [CompositeRow(0, *key, sum(parts.values()), parts)
            for key, parts in by_key.items() if len(parts) == len(tests)]
    rows.sort(key=lambda r: (-r.score, r.server, r.loop, r.parser, r.run))
    for index, row in enumerate(rows):
        row.rank = index + 1
    return rows, weights


def _ordered(preferred: Sequence[str], found: Sequence[str]) -> list[str]:
    out = [name for name in preferred if name in found]
    out.extend(name for name in found if name not in out)
    return out


def matrices(runs: Sequence[Run], ranked: dict[str, list[RankRow]],
             excluded: dict[str, list[Excluded]], multi: bool) -> list[Matrix]:
    out: list[Matrix] = []
    for run in runs:
        label = run.label if multi else ""
        servers = _ordered(run.settings.get("servers") or [],
                           [e.get("server", "?") for e in run.entries])
        for server in dict.fromkeys(servers):
            for test in loadmod.order_tests(run.tests):
                entries = [e for e in run.entries
                           if e.get("server") == server and e.get("test") == test]
                loops = _ordered(run.settings.get("loops") or [],
                                 list(dict.fromkeys(e.get("loop", "?") for e in entries)))
                loops = [lp for lp in loops if any(e.get("loop") == lp for e in entries)]
                parsers = _ordered(run.settings.get("parsers") or [],
                                   list(dict.fromkeys(e.get("parser", "?") for e in entries)))
                parsers = [p for p in parsers if any(e.get("parser") == p for e in entries)]
                if len(loops) * len(parsers) < 2:
                    continue
                cells: dict[tuple[str, str], Cell] = {}
                rows = {(r.loop, r.parser): r for r in ranked.get(test, [])
                        if r.run == label and r.server == server}
                kinds = {(x.loop, x.parser): x.kind for x in excluded.get(test, [])
                         if x.run == label and x.server == server}
                statuses = {(e.get("loop"), e.get("parser")): e.get("status")
                            for e in entries}
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
    differ = [k for k in keys if not _same([r.settings.get(k) for r in runs])]
    if differ:
        flags.append("the merged runs differ in settings (" + ", ".join(differ) + "): rows "
                     "from different runs are not strictly comparable")
    return flags


def build(runs: Sequence[Run]) -> Report:
    multi = len(runs) > 1
    tests = loadmod.all_tests(runs)
    ranked, excluded = rankings(runs, tests, multi)
    comp, weights = composite(ranked)
    infos = [run_info(run) for run in runs]
    flags = cross_run_flags(runs)
    bound = sum(1 for rows in ranked.values() for row in rows if row.client_bound)
    if bound:
        fraction = runs[0].settings.get("client_bound_fraction", 0.8)
        flags.insert(0, f"{bound} ranked result{'s are' if bound != 1 else ' is'} "
                        f"client-bound (at least {fraction * 100:.0f}% of the driver's "
                        "ceiling): there the load driver, not the server, sets the figure, "
                        "so their order is noise")
    if not any(run.document.get("ceiling") for run in runs):
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
        for test, depth in (run.settings.get("pipeline") or {}).items():
            pipeline.setdefault(test, int(depth or 1))
        for test, lv in (run.settings.get("levels") or {}).items():
            merged = levels.setdefault(test, [])
            merged.extend(int(c) for c in lv if int(c) not in merged)
            merged.sort()
        for test in run.tests:
            for c in (run.settings.get("levels") or {}).get(test, []):
                values = run.ceiling(test, int(c))
                if values:
                    ceiling_rps[(label, test, int(c))] = statistics.median(values)
    return Report(
        runs=infos, tests=tests, rankings=ranked, excluded=excluded,
        unsupported=unsupported(runs, multi), composite=comp, weights=weights,
        matrices=matrices(runs, ranked, excluded, multi), flags=flags, pipeline=pipeline,
        levels=levels, ceiling_rps=ceiling_rps,
    )
