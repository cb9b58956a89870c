"""The report, independent of its format: what ``bench report`` renders as Markdown, HTML
or JSON, and what ``bench chart`` draws.

:func:`build` turns one or more loaded runs into a :class:`Report`.

**Several files.** Runs are first sorted into :class:`Group` s with
:func:`asgibench.reports.merge.pools`: runs from the same environment (OS, CPU, usable
CPUs, Python, asgibench version and commit, package versions) with the same measurement
settings (driver, durations, levels and pipelining, pinning, app delay) are *pooled* into
one run by :func:`asgibench.reports.merge.combine`, so each configuration is one row whose
figure is the median over every run's repeats. Runs that differ are never pooled and
never ranked against each other: each group is ranked on its own, its rows carrying the
group's label (``A``, ``B``, ...; ``""`` when there is one group). A file given twice
counts once.

Per group, then:

* per test type, a ranking the way TechEmpower's results page shows it -- every
  (server, loop, parser) that passed verification and was measured, ranked by its figure
  (TechEmpower's rule, computed by :func:`asgibench.harness.ranking.rank`: the best
  level's, or the last level's for the query-like types; the median over repeats, with
  the min..max range as the spread), with % of the best, p50/p99 latency at that level,
  errors and flags (client-bound; tied with the next row within the spread);
* the entries that are not ranked, with their reason: failed (did not start, crashed,
  driver failure; in any of the pooled runs), unverified (failed verification), not
  measured (interrupted), and unsupported combinations;
* a composite score across test types (each type normalised to its best, times its
  weight, summed; only configurations that have every type), the weights stated;
* per server and test type, a loop x parser matrix with each loop's gain over the
  stdlib ``asyncio`` loop for the same parser;
* the environment and settings as (name, value) facts, stated once, and its runs.

And for the whole report, :class:`Notice` s: each warning once, with the runs that raised
it (client-bound results, an injected app delay, interrupted runs, a dirty checkout, one
repeat, no ceiling, the quick profile, the runs' notes).
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from asgibench.harness import ranking, testtypes
from asgibench.harness.ranking import CompositeRow, RankRow
from asgibench.harness.results import Entry, Run, Settings
from asgibench.reports import fmt, merge, openloop
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
        return {
            "run": self.run,
            "server": self.server,
            "loop": self.loop,
            "parser": self.parser,
            "test": self.test,
            "kind": self.kind,
            "phase": self.phase,
            "reason": self.reason,
            "output": self.output,
        }


@dataclass
class Unsupported:
    run: str
    server: str
    reason: str
    combos: list[str]  # "loop/parser"
    tests: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "server": self.server,
            "reason": self.reason,
            "combos": list(self.combos),
            "tests": list(self.tests),
        }


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
            "run": self.run,
            "server": self.server,
            "test": self.test,
            "loops": list(self.loops),
            "parsers": list(self.parsers),
            "cells": [
                {
                    "loop": loop,
                    "parser": parser,
                    "requests_per_s": None if cell.rps is None else round(cell.rps, 3),
                    "status": cell.status,
                    "gain_pct": None if cell.gain_pct is None else round(cell.gain_pct, 2),
                    "best_in_column": cell.best_in_column,
                    "client_bound": cell.client_bound,
                }
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
    group: str = ""  # the label of the group it is pooled in
    duplicate_of: str = ""  # the run with the same contents, when a file was given twice

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "path": self.path,
            "created": self.created,
            "group": self.group,
            "duplicate_of": self.duplicate_of or None,
            "facts": dict(self.facts),
            "flags": list(self.flags),
            "ceiling": list(self.ceiling),
        }


@dataclass
class Notice:
    """A warning, stated once however many runs raised it."""

    text: str
    short: str  # a few words, for the one-line summary above the rankings
    runs: list[str] = field(default_factory=list)  # labels of the runs that raised it

    def line(self, total: int) -> str:
        """The warning with the runs it applies to (``total``: runs in the report)."""
        if total < 2 or not self.runs:
            return self.text
        if len(self.runs) == total:
            return f"{self.text} (all {total} runs)"
        named = ", ".join(self.runs[:4]) + (", …" if len(self.runs) > 4 else "")
        return f"{self.text} ({len(self.runs)} of {total} runs: {named})"

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "short": self.short, "runs": list(self.runs)}


#: The columns of :attr:`Group.members`.
MEMBER_COLUMNS = ("run", "file", "created", "commit", "repeats")


@dataclass
class Group:
    """Runs pooled into one: the same environment and settings, described once."""

    label: str  # "" when the report has one group; else "A", "B", ...
    runs: list[str]  # the pooled runs' labels, in the order given
    facts: list[tuple[str, str]]  # environment and settings (of the pooled run)
    members: list[list[str]]  # per run, MEMBER_COLUMNS
    machine: str
    settings_line: str
    repeats: int  # repeats per level, over all its runs
    levels: dict[str, list[int]]
    pipeline: dict[str, int]

    @property
    def pooled(self) -> bool:
        return len(self.runs) > 1

    def _named(self) -> str:
        return ", ".join(self.runs[:6]) + (", …" if len(self.runs) > 6 else "")

    def title(self) -> str:
        """``A · 3 runs pooled: r1, r2, r3`` (the label only when there are groups)."""
        parts = [self.label] if self.label else []
        if self.pooled:
            parts.append(f"{len(self.runs)} runs pooled: {self._named()}")
        else:
            parts.append(f"run {self.runs[0]}")
        return " · ".join(parts)

    def pooled_text(self) -> str:
        """``Pooled from 3 runs (r1, r2, r3)``, for a sentence."""
        return f"Pooled from {len(self.runs)} runs ({self._named()})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "runs": list(self.runs),
            "facts": dict(self.facts),
            "repeats": self.repeats,
        }


@dataclass
class Report:
    runs: list[RunInfo]  # every file given, in order
    groups: list[Group]
    tests: list[str]
    rankings: dict[str, list[RankRow]]  # each group's rows, group after group
    excluded: dict[str, list[Excluded]]
    unsupported: list[Unsupported]
    composite: list[CompositeRow]
    weights: dict[str, float]
    matrices: list[Matrix]
    notices: list[Notice]
    pipeline: dict[str, int]
    levels: dict[str, list[int]]
    ceiling_rps: dict[tuple[str, str, int], float]  # (group, test, concurrency) -> req/s
    #: (group, server, loop, parser, test) -> how many runs measured that row's level
    row_runs: dict[tuple[str, str, str, str, str], int] = field(default_factory=dict)
    differences: list[str] = field(default_factory=list)  # what sets the groups apart
    #: Open loop (bench run --rate): every entry's rates, group after group (``run``
    #: names the group when there are several), and the driver's own latency at each.
    open_loop: list[openloop.OpenRow] = field(default_factory=list)
    accuracy: list[openloop.AccuracyRow] = field(default_factory=list)

    @property
    def multi_run(self) -> bool:
        """Several groups: each ranked on its own, its rows labelled with the group."""
        return len(self.groups) > 1

    @property
    def pooled(self) -> bool:
        """Some group pools several runs (the tables then say how many each row has)."""
        return any(group.pooled for group in self.groups)

    @property
    def flags(self) -> list[str]:
        """The notices as lines, each once, with the runs it applies to."""
        return [notice.line(len(self.runs)) for notice in self.notices]

    @property
    def client_bound_count(self) -> int:
        return sum(1 for rows in self.rankings.values() for row in rows if row.client_bound)

    def resources_shown(self, test: str) -> bool:
        """The resource columns (CPU per request, peak memory) appear when some row of
        ``test`` was sampled: reports of files written before sampling keep their shape."""
        return any(row.resources_sampled for row in self.rankings.get(test, []))

    def resources_note(self) -> str | None:
        """The resource columns' note, said once per report; None when no table has them."""
        rows = [row for test in self.tests if self.resources_shown(test)
                for row in self.rankings.get(test, [])]
        if not rows:
            return None
        ticks = [t for t in (row.cpu_resolution_s for row in rows) if t is not None]
        return fmt.resources_note(max(ticks) if ticks else None)

    def resources_unknown(self, test: str) -> list[str]:
        """Why rows of ``test`` have no server figures (e.g. ``--url``), each reason once."""
        reasons = (row.chosen.resources_unknown for row in self.rankings.get(test, [])
                   if row.chosen is not None)
        return list(dict.fromkeys(r for r in reasons if r))

    def runs_of(self, row: RankRow) -> int:
        """How many runs measured ``row``'s ranked level."""
        return self.row_runs.get((row.run, row.server, row.loop, row.parser, row.test), 1)

    def load_text(self, test: str, pipelining: str = " · pipelined x") -> str:
        """``concurrency 16, 64 · pipelined x16``, or ``queries 1, 5, 10`` (fmt.load_text)."""
        return fmt.load_text(testtypes.level_kind(test), self.levels.get(test, []),
                             self.pipeline.get(test, 1), pipelining)

    @property
    def weights_source(self) -> str:
        """Where the composite's weights come from (TechEmpower's, or 1 for other types)."""
        return ranking.weights_source(self.weights)

    def summary_line(self) -> str:
        """``4 configurations ranked · test types: plaintext, json · 2026-12-01``."""
        configs = {
            (r.run, r.server, r.loop, r.parser) for rows in self.rankings.values() for r in rows
        }
        days = sorted({run.created[:10] for run in self.runs if run.created})
        when = days[0] if len(days) == 1 else f"{days[0]} … {days[-1]}" if days else ""
        return (f"{len(configs)} configuration{'s' if len(configs) != 1 else ''} ranked · "
                f"test types: {', '.join(self.tests)} · {when}")

    def environments_line(self) -> str:
        """Why several runs are ranked apart (reports of runs from several environments)."""
        return (f"{len(self.runs)} runs in {len(self.groups)} environments, each ranked on "
                f"its own (they differ in {', '.join(self.differences)})")

    def notice_kinds(self) -> list[str]:
        """Each warning's short name, with how many runs raised it when not all did."""
        total = len(self.runs)
        return [notice.short + (f" ({len(notice.runs)} runs)"
                                if 1 < len(notice.runs) < total else "")
                for notice in self.notices]

    def repeats_text(self, row: RankRow) -> str:
        """``3 in 3 runs``; ``2 in 2 of 3 runs`` when some runs did not measure it."""
        runs = self.runs_of(row)
        whole = len(self.group_of(row.run).runs)
        of = f"{runs} of {whole} runs" if runs != whole else \
            f"{runs} run{'s' if runs != 1 else ''}"
        return f"{row.repeats} in {of}"

    def group_of(self, label: str) -> Group:
        return next(group for group in self.groups if group.label == label)

    def section(self, group: Group) -> Report:
        """The part of the report about one group, as a report of its own (for charts,
        whose footnote then describes that group's environment)."""
        if len(self.groups) == 1:
            return self
        label = group.label
        return Report(
            runs=[run for run in self.runs if run.group == label],
            groups=[group],
            tests=self.tests,
            rankings={t: [r for r in rows if r.run == label] for t, rows in self.rankings.items()},
            excluded={
                t: [x for x in items if x.run == label] for t, items in self.excluded.items()
            },
            unsupported=self.unsupported,
            composite=[row for row in self.composite if row.run == label],
            weights=self.weights,
            matrices=[m for m in self.matrices if m.run == label],
            notices=[],
            pipeline=group.pipeline,
            levels=group.levels,
            ceiling_rps={k: v for k, v in self.ceiling_rps.items() if k[0] == label},
            row_runs={k: v for k, v in self.row_runs.items() if k[0] == label},
            open_loop=[row for row in self.open_loop if row.run == label],
            accuracy=[row for row in self.accuracy if row.run == label],
        )

    def footnote(self) -> str:
        """The environment in one or two lines, for charts."""
        if len(self.groups) == 1:
            group = self.groups[0]  # the settings line says how many runs were pooled
            return f"{group.machine}\n{group.settings_line}"
        machines = sorted({group.machine for group in self.groups})
        head = f"{len(self.groups)} environments, each ranked on its own: " + ", ".join(
            f"{g.label} ({len(g.runs)} run{'s' if len(g.runs) != 1 else ''})" for g in self.groups
        )
        return (
            head
            + "\n"
            + ("; ".join(machines) if len(machines) < 3 else f"{len(machines)} different machines")
        )


# -- building -------------------------------------------------------------------------------


def machine_line(run: Run) -> str:
    """The machine the servers ran on (the server host's, across hosts), in one line."""
    env = run.server_environment
    os_ = env.get("os") or {}
    cpu = env.get("cpu") or {}
    py = env.get("python") or {}
    parts = [f"{os_.get('system', '?')} {os_.get('release', '')}".strip()]
    model = cpu.get("model") or "unknown CPU"
    cores = cpu.get("cores")
    parts.append(f"{model} x{cores}" if cores else model)
    parts.append(f"{py.get('implementation', 'Python')} {py.get('version', '?')}")
    return " · ".join(parts)


def hosts_line(run: Run) -> str:
    """A run across hosts: each host's role, URL and name (empty for one machine)."""
    return ", ".join(f"{h.role} {h.url}" + (f" ({h.hostname})" if h.hostname else "")
                     + (f" [went away: {h.gone}]" if h.gone else "") for h in run.hosts)


def settings_line(run: Run, runs: int = 1) -> str:
    """asgibench version and commit, driver, profile, pinning, date on one line; ``runs``:
    how many runs were pooled into ``run``."""
    s = run.settings
    driver = s.driver
    repeat = s.repeat
    commit = (run.server_environment.get("git") or {}).get("commit")
    text = f"asgibench {run.asgibench_version}"
    if commit:
        text += f" ({commit[:7]})"
    if build := run.server_environment.get("core_build"):
        text += f", {build} core"
    text += f" · driver {driver.get('name', '?')} {driver.get('version') or ''}".rstrip()
    text += f" · {s.profile} profile"
    text += f", {s.duration_s:g} s per level x {repeat} repeat{'s' if repeat != 1 else ''}"
    if runs > 1:
        text += f" ({runs} runs pooled)"
    pins = s.pinning
    if pins.get("server_cpus"):
        text += (
            f" · server CPU {fmt.cpus(pins['server_cpus'])}, driver CPU "
            f"{fmt.cpus(pins.get('driver_cpus'))}"
        )
    else:
        text += " · not pinned"
    if run.created:
        text += f" · {run.created[:10]}"
    return text


def _levels_text(settings: Settings, tests: list[str]) -> str:
    parts = []
    for test in tests:
        kind = "queries " if testtypes.level_kind(test) == "queries" else ""
        text = f"{test} {kind}" + ", ".join(str(c) for c in settings.levels.get(test, []))
        depth = int(settings.pipeline.get(test, 1) or 1)
        if depth > 1:
            text += f" (pipelined x{depth})"
        parts.append(text)
    return "; ".join(parts)


#: A notice's short name for each run flag (the flag's start), for the summary line.
_SHORT = (
    ("the run was interrupted", "interrupted run"),
    ("the app was deliberately slowed", "app delay"),
    ("asgibench ran from a checkout", "uncommitted changes"),
    ("one repeat per level", "one repeat"),
    ("quick profile", "quick profile"),
    ("no driver ceiling", "no ceiling"),
    ("note:", "note"),
)

_NO_CEILING = (
    "no driver ceiling was measured (--no-ceiling): client-bound results cannot be flagged"
)


def _short(flag: str) -> str:
    return next((short for start, short in _SHORT if flag.startswith(start)), "warning")


def run_info(run: Run) -> RunInfo:
    s = run.settings
    env = run.server_environment
    git = env.get("git") or {}
    driver = s.driver
    pins = s.pinning
    cpu = env.get("cpu") or {}
    facts: list[tuple[str, str]] = [("file", run.path), ("created", run.created)]
    if run.hosts:
        facts.append(("hosts", hosts_line(run)))
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
    facts.append(
        (
            "profile",
            (
                f"{s.profile}: {s.duration_s:g} s per level x {repeat} "
                f"repeat{'s' if repeat != 1 else ''}; warm-up {s.warmup_s:g} s, primer "
                f"{s.primer_s:g} s, pause {s.pause_s:g} s, timeout {s.timeout_s:g} s"
            ),
        )
    )
    facts.append(("levels", _levels_text(s, run.tests)))
    if pins.get("server_cpus"):
        facts.append(
            (
                "pinning",
                f"server on CPU {fmt.cpus(pins['server_cpus'])}, driver on "
                f"CPU {fmt.cpus(pins.get('driver_cpus'))} "
                f"({pins.get('method', '?')})",
            )
        )
    elif s.target and pins.get("driver_cpus"):  # bench run --url: no server started here
        facts.append(
            (
                "pinning",
                f"driver on CPU {fmt.cpus(pins.get('driver_cpus'))} "
                f"({pins.get('method', '?')}); the server's: unknown",
            )
        )
    else:
        facts.append(("pinning", f"not pinned ({pins.get('note') or 'n/a'})"))
    if s.target:
        facts.append(
            (
                "server",
                f"{s.target.get('server')} at {s.target.get('url')}, started outside "
                "asgibench (--url)",
            )
        )
    facts.append(
        (
            "selection",
            f"servers {', '.join(s.servers) or '-'}; loops "
            f"{', '.join(s.loops) or '-'}; parsers "
            f"{', '.join(s.parsers) or '-'}",
        )
    )
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
            text = f"{label}: {fmt.rps(rps)} req/s"
            if len(record.repeats) > 1:  # merged or pooled runs: one per run
                text += f" (median of {len(record.repeats)})"
            parts.append(text)
            ceiling.append(
                {"test": record.test, "concurrency": record.concurrency, "requests_per_s": rps}
            )
        else:
            parts.append(f"{label}: failed ({record.reason or '?'})")
    facts.append(
        (
            "driver ceiling",
            "; ".join(parts) if parts else "not measured (client-bound results cannot be flagged)",
        )
    )

    flags: list[str] = []
    if run.interrupted:
        flags.append("the run was interrupted: partial results")
    delay = s.app_delay_ms or 0
    if delay:
        flags.append(
            f"the app was deliberately slowed by {delay:g} ms per request "
            "(ASGIBENCH_APP_DELAY_MS): not a real measurement"
        )
    if git.get("dirty"):
        flags.append("asgibench ran from a checkout with uncommitted changes")
    if (s.repeat or 1) < 2:
        flags.append(fmt.ONE_REPEAT)
    if s.profile == "quick":
        flags.append(
            "quick profile: short measurements, fine for a look (TechEmpower "
            "measures 15 s per level: --full)"
        )
    # Only where a ceiling would have been measured: workloads, WebSocket and query types
    # never have one, and the plan's own note says so.
    if not run.ceiling and any(testtypes.ceiling_measured(t) for t in s.tests):
        flags.append(_NO_CEILING)
    for note in s.notes:
        flags.append(f"note: {note}")
    return RunInfo(
        run.label,
        run.path,
        run.created,
        facts,
        flags,
        ceiling,
        machine_line(run),
        settings_line(run),
    )


def _unranked(entry: Entry) -> bool:
    """Failed, or measured but failed verification: listed below the ranking."""
    return entry.status == "failed" or (entry.status == "ok" and not ranking.rankable(entry))


def rankings(
    label: str, run: Run, members: Sequence[Run], tests: Sequence[str]
) -> tuple[dict[str, list[RankRow]], dict[str, list[Excluded]]]:
    """One group's rankings (:func:`asgibench.harness.ranking.rank` over the pooled
    ``run``, rows labelled ``label``) and, per test type, the entries that are listed but
    not ranked, with why (and, pooled, in which of the ``members`` they failed)."""
    ranked = {test: ranking.rank([(label, entry) for entry in run.entries], test) for test in tests}
    excluded: dict[str, list[Excluded]] = {}
    for test in tests:
        kept = {(row.server, row.loop, row.parser) for row in ranked[test]}
        out: list[Excluded] = []
        for entry in run.entries:
            if entry.test != test or entry.status == "unsupported":
                continue
            if entry.config in kept:
                continue
            base = (label, entry.name, entry.loop, entry.parser, test)
            where = ""
            if len(members) > 1 and _unranked(entry):
                # One failure fails the pooled entry (as bench merge does): name the runs
                # so a reader can tell a flaky start in one run from a broken server.
                failed = [
                    m.label
                    for m in members
                    for e in m.entries
                    if e.key == entry.key and _unranked(e)
                ]
                where = f" (in {len(failed)} of {len(members)} runs: {', '.join(failed)})"
            if entry.status == "failed":
                kind = "unverified" if entry.phase == "verify" else "failed"
                out.append(
                    Excluded(
                        *base,
                        kind,
                        entry.phase,
                        (entry.reason or "failed (no reason recorded)") + where,
                        entry.output,
                    )
                )
            elif not ranking.rankable(entry):
                failed = entry.verification.failed_checks if entry.verification else []
                out.append(
                    Excluded(
                        *base,
                        "unverified",
                        "verify",
                        "verification failed: " + ", ".join(failed) + where,
                    )
                )
            else:
                why = (
                    "the run was interrupted before it was measured"
                    if run.interrupted
                    else "no measurement recorded"
                )
                out.append(Excluded(*base, "not measured", None, why))
        excluded[test] = out
    return ranked, excluded


def unsupported(runs: Sequence[Run]) -> list[Unsupported]:
    """Unsupported combinations, once over every run (which run listed them does not
    matter: they were not run)."""
    groups: dict[tuple[str, str], Unsupported] = {}
    for run in runs:
        for entry in run.entries:
            if entry.status != "unsupported":
                continue
            key = (entry.name, entry.reason or "unsupported")
            item = groups.setdefault(key, Unsupported("", *key, [], []))
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


def matrices(
    label: str, run: Run, ranked: dict[str, list[RankRow]], excluded: dict[str, list[Excluded]]
) -> list[Matrix]:
    """One group's loop x parser matrices, from its pooled ``run``."""
    out: list[Matrix] = []
    servers = _ordered(run.settings.servers, [e.name for e in run.entries])
    for server in dict.fromkeys(servers):
        for test in testtypes.order(run.tests):
            entries = [e for e in run.entries if e.name == server and e.test == test]
            loops = _ordered(run.settings.loops, list(dict.fromkeys(e.loop for e in entries)))
            loops = [lp for lp in loops if any(e.loop == lp for e in entries)]
            parsers = _ordered(run.settings.parsers, list(dict.fromkeys(e.parser for e in entries)))
            parsers = [p for p in parsers if any(e.parser == p for e in entries)]
            if len(loops) * len(parsers) < 2:
                continue
            cells: dict[tuple[str, str], Cell] = {}
            rows = {(r.loop, r.parser): r for r in ranked.get(test, []) if r.server == server}
            kinds = {
                (x.loop, x.parser): x.kind for x in excluded.get(test, []) if x.server == server
            }
            statuses = {(e.loop, e.parser): e.status for e in entries}
            for loop in loops:
                for parser in parsers:
                    key = (loop, parser)
                    if key in rows:
                        cells[key] = Cell(
                            rows[key].requests_per_s, "ok", client_bound=rows[key].client_bound
                        )
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
                column = {
                    loop: cells[(loop, parser)]
                    for loop in loops
                    if cells[(loop, parser)].rps is not None
                }
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
                    summary.append(
                        f"{parser}: {best_loop} helps most, "
                        f"{best.gain_pct:+.0f}% over {REFERENCE_LOOP}"
                    )
                else:
                    summary.append(f"{parser}: {best_loop} is fastest")
            out.append(Matrix(label, server, test, loops, parsers, cells, summary))
    return out


def _distinct(runs: Sequence[Run]) -> tuple[list[Run], dict[str, str]]:
    """The runs with a file given twice (same contents) kept once, and duplicate label ->
    the label of the run it repeats: pooling a run with itself would claim repeats that
    were never measured."""
    seen: dict[str, Run] = {}
    duplicates: dict[str, str] = {}
    for run in runs:
        key = json.dumps(run.to_dict(), sort_keys=True, default=str)
        if key in seen:
            duplicates[run.label] = seen[key].label
        else:
            seen[key] = run
    return list(seen.values()), duplicates


def _group_label(index: int) -> str:
    """``A`` ... ``Z``, ``AA`` ...: short enough for a table column and a chart legend."""
    label = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        label = chr(ord("A") + rest) + label
    return label


def _group(label: str, run: Run, members: Sequence[Run]) -> Group:
    """The group's environment and settings, once: the pooled ``run``'s facts, with the
    per-run ones (file, date, dirty checkout) summarised over its ``members``."""
    facts = run_info(run).facts
    rows = []
    for member in members:
        git = member.environment.get("git") or {}
        commit = (git.get("commit") or "-")[:10] + (" (dirty)" if git.get("dirty") else "")
        rows.append(
            [member.label, member.path, member.created, commit, str(member.settings.repeat)]
        )
    if len(members) > 1:
        names = [m.label for m in members]
        created = sorted(m.created for m in members)
        dirty = sum(1 for m in members
                    if (m.server_environment.get("git") or {}).get("dirty"))
        replaced = {
            "file": ("runs", f"{len(members)} pooled: {', '.join(names)}"),
            "created": ("created", f"{created[0]} … {created[-1]}"),
            "profile": (
                "profile",
                dict(facts)["profile"] + f" ({len(members)} runs "
                "pooled: each figure is the median over all their repeats)",
            ),
        }
        commit = (run.server_environment.get("git") or {}).get("commit")
        version = run.asgibench_version
        if commit:  # the same in every member; whether it was dirty is not
            version += (
                f" (commit {commit[:10]}"
                + (f"; uncommitted changes in {dirty} of {len(members)} runs" if dirty else "")
                + ")"
            )
        replaced["asgibench"] = ("asgibench", version)
        facts = [replaced.get(name, (name, value)) for name, value in facts]
    return Group(
        label,
        [m.label for m in members],
        facts,
        rows,
        machine_line(run),
        settings_line(run, len(members)),
        int(run.settings.repeat or 1),
        {t: list(v) for t, v in run.settings.levels.items()},
        {t: int(d or 1) for t, d in run.settings.pipeline.items()},
    )


def _runs_per_row(
    label: str, members: Sequence[Run], ranked: dict[str, list[RankRow]]
) -> dict[tuple[str, str, str, str, str], int]:
    """How many of ``members`` measured each row's ranked level: a configuration only
    some runs selected (or an interrupted run missed) has fewer repeats, and says so."""
    out: dict[tuple[str, str, str, str, str], int] = {}
    for test, rows in ranked.items():
        for row in rows:
            count = 0
            for member in members:
                for entry in member.entries:
                    if entry.key == (row.server, row.loop, row.parser, test) and any(
                        (level.concurrency, level.queries) == (row.concurrency, row.queries)
                        and level.repeats
                        for level in entry.levels
                    ):
                        count += 1
            out[(label, row.server, row.loop, row.parser, test)] = count
    return out


#: The order notices are stated in: what changes how the rankings read first.
_NOTICE_ORDER = (
    "client-bound",
    "app delay",
    "interrupted run",
    "no ceiling",
    "one repeat",
    "file given twice",
    "uncommitted changes",
    "quick profile",
    "note",
    "warning",
)


def _notices(
    infos: Sequence[RunInfo], groups: Sequence[tuple[Group, Run]], bound: int, fraction: float
) -> list[Notice]:
    """Every warning once, with the runs that raised it."""
    by_text: dict[str, Notice] = {}

    def add(text: str, short: str, runs: Sequence[str]) -> None:
        notice = by_text.setdefault(text, Notice(text, short))
        notice.runs.extend(r for r in runs if r not in notice.runs)

    if bound:
        add(
            f"{bound} ranked result{'s are' if bound != 1 else ' is'} client-bound (at least "
            f"{fraction * 100:.0f}% of the driver's ceiling): there the load driver, not the "
            "server, sets the figure, so their order is noise",
            "client-bound",
            [],
        )
    for info in infos:
        if info.duplicate_of:
            add(
                f"{info.label} is the same run as {info.duplicate_of} (identical contents): "
                "counted once",
                "file given twice",
                [info.label],
            )
            continue
        for flag in info.flags:
            if flag != fmt.ONE_REPEAT:  # judged on the pooled repeats, below
                add(flag, _short(flag), [info.label])
    for group, run in groups:
        if _fewest_repeats(run) < 2:
            add(fmt.ONE_REPEAT, "one repeat", group.runs)
    return sorted(by_text.values(), key=lambda n: _NOTICE_ORDER.index(n.short))


def _fewest_repeats(run: Run) -> int:
    """The fewest repeats any measured level has: pooled runs add repeats, but only where
    each run measured the configuration (a peer in one run of three still has one)."""
    counts = [len(level.rps) for entry in run.entries if entry.status == "ok"
              for level in entry.measured_levels]
    return min(counts, default=run.settings.repeat or 1)


def build(runs: Sequence[Run]) -> Report:
    tests = all_tests(runs)
    infos = [run_info(run) for run in runs]
    distinct, duplicates = _distinct(runs)
    pools = merge.pools(distinct)
    several = len(pools) > 1
    ranked: dict[str, list[RankRow]] = {test: [] for test in tests}
    excluded: dict[str, list[Excluded]] = {test: [] for test in tests}
    composite: list[CompositeRow] = []
    mats: list[Matrix] = []
    groups: list[tuple[Group, Run]] = []
    row_runs: dict[tuple[str, str, str, str, str], int] = {}
    ceiling_rps: dict[tuple[str, str, int], float] = {}
    group_of: dict[str, str] = {}
    open_rows: list[openloop.OpenRow] = []
    accuracy: list[openloop.AccuracyRow] = []
    for index, members in enumerate(pools):
        label = _group_label(index) if several else ""
        # One run is ranked as it is, so a single file reports exactly what bench run
        # --show printed for it.
        run = members[0] if len(members) == 1 else merge.combine(members, label)
        g_ranked, g_excluded = rankings(label, run, members, tests)
        for test in tests:
            ranked[test] += g_ranked[test]
            excluded[test] += g_excluded[test]
        # Normalised within the group: the composite compares configurations measured
        # alike, never one machine's best with another's.
        composite += ranking.composite(g_ranked)
        mats += matrices(label, run, g_ranked, g_excluded)
        row_runs.update(_runs_per_row(label, members, g_ranked))
        groups.append((_group(label, run, members), run))
        for row in openloop.rows(run):
            row.run = label
            open_rows.append(row)
        for acc in openloop.accuracy_rows(run):
            acc.run = label
            accuracy.append(acc)
        group_of.update((member.label, label) for member in members)
        for test in run.tests:
            for c in run.settings.levels.get(test, []):
                values = run.ceiling_values(test, int(c))
                if values:
                    ceiling_rps[(label, test, int(c))] = statistics.median(values)
    for info in infos:
        info.duplicate_of = duplicates.get(info.label, "")
        info.group = group_of[info.duplicate_of or info.label]
    bound = sum(1 for rows in ranked.values() for row in rows if row.client_bound)
    fraction = runs[0].settings.extra.get("client_bound_fraction", 0.8)
    differences = list(
        dict.fromkeys(
            name
            for i, a in enumerate(pools)
            for b in pools[i + 1 :]
            for name in merge.differences(a[0], b[0])
        )
    )
    pipeline: dict[str, int] = {}
    levels: dict[str, list[int]] = {}
    for run in runs:
        for test, depth in run.settings.pipeline.items():
            pipeline.setdefault(test, int(depth or 1))
        for test, lv in run.settings.levels.items():
            merged = levels.setdefault(test, [])
            merged.extend(int(c) for c in lv if int(c) not in merged)
            merged.sort()
    return Report(
        runs=infos,
        groups=[group for group, _ in groups],
        tests=tests,
        rankings=ranked,
        excluded=excluded,
        unsupported=unsupported(distinct),
        composite=composite,
        weights=ranking.weights(ranked),
        matrices=mats,
        notices=_notices(infos, groups, bound, fraction),
        pipeline=pipeline,
        levels=levels,
        ceiling_rps=ceiling_rps,
        row_runs=row_runs,
        differences=differences,
        open_loop=open_rows,
        accuracy=accuracy,
    )
