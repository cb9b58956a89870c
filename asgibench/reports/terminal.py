"""The ranked tables printed at the end of a run (or by ``bench run --show FILE``).

Per test type: rank, server, loop, parser, best requests/s with its ± spread over
repeats, % of the best, p99 latency, errors, and flags (client-bound; ≈ = tied with the
next row within the spread). Then the composite score (2+ test types), the driver's
ceiling, the open-loop levels (``--rate``) with the driver's own latency at each
rate, failed combinations with their reason, and unsupported ones grouped by reason.
The tables are recomputed from the entries with the one ranking every report uses
(:mod:`asgibench.harness.ranking`), so an old file prints with today's rules and agrees
with ``bench report``; figures are formatted by :mod:`asgibench.reports.fmt`, as there.
"""

from __future__ import annotations

import statistics

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from asgibench.harness import ranking, testtypes
from asgibench.harness.results import Entry, Run
from asgibench.reports import fmt, openloop


def render(run: Run, console: Console) -> None:
    settings = run.settings
    tests = settings.tests
    rankings = ranking.rank_run(run)
    driver = settings.driver
    pins = settings.pinning
    pinned = (f"server on CPU {fmt.cpus(pins['server_cpus'])}, driver on CPU "
              f"{fmt.cpus(pins['driver_cpus'])}" if pins.get("server_cpus") else
              f"not pinned ({pins.get('note') or 'n/a'})")
    if settings.target:  # bench run --url: the server was not started here
        pinned = (f"driver on CPU {fmt.cpus(pins['driver_cpus'])}" if pins.get("driver_cpus")
                  else "driver not pinned") + f" · server at {settings.target.get('url')}"
    repeat = settings.repeat
    console.print()
    console.print(
        f"[bold]asgibench[/] {run.asgibench_version} · driver {driver['name']} "
        f"{driver.get('version') or ''} · {settings.duration_s:g} s per level x {repeat} "
        f"repeat{'s' if repeat != 1 else ''} · {pinned}", soft_wrap=True
    )
    for host in run.hosts:  # a run across hosts: which machine did what
        name = f" ({escape(host.hostname)})" if host.hostname else ""
        gone = f" [red]went away: {escape(host.gone)}[/]" if host.gone else ""
        console.print(f"{host.role} host {escape(host.url)}{name}{gone}", soft_wrap=True,
                      highlight=False)
    if run.interrupted:
        console.print("[yellow]interrupted: partial results[/]")
    if repeat < 2:
        console.print(f"[yellow]{fmt.ONE_REPEAT}[/]", soft_wrap=True)
    shown: list[ranking.RankRow] = []  # rows of tables with the resource columns
    for test in tests:
        rows = rankings[test]
        title = f"{test} · " + fmt.load_text(testtypes.level_kind(test),
                                             settings.levels.get(test, []),
                                             settings.pipeline.get(test, 1))
        if not rows:
            console.print(f"\n[bold]{title}[/]: no combination was ranked")
            continue
        table = Table(title=title, title_justify="left", title_style="bold",
                      box=box.SIMPLE_HEAD, padding=(0, 1), collapse_padding=True,
                      pad_edge=False)
        sampled = any(row.resources_sampled for row in rows)
        columns = [("#", "right"), ("server", "left"), ("loop", "left"),
                   ("parser", "left"), (testtypes.rate_unit(test), "right"), ("±", "right"),
                   ("%best", "right"), ("p99", "right"),
                   *([("cpu ms/req", "right"), ("peak MiB", "right")] if sampled else []),
                   ("errors", "right"), ("conc", "right"), ("flags", "left")]
        for name, justify in columns:
            table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
        for row in rows:
            flags = []
            if row.client_bound:
                flags.append("[yellow]client-bound[/]")
            if row.driver_saturated:
                flags.append("[yellow]driver-saturated[/]")
            if row.tied_with_next:
                flags.append("≈next")
            spread = f"{row.spread_pct:.0f}%" if row.repeats > 1 else "-"
            table.add_row(str(row.rank), row.server, row.loop, row.parser,
                          fmt.rps(row.requests_per_s), spread, f"{row.pct_of_best:.0f}%",
                          fmt.ms(row.p99_ms),
                          *([fmt.cpu_ms(row.cpu_ms_per_request, row.cpu_ms_resolution),
                             fmt.mib(row.peak_rss_mib)] if sampled else []),
                          str(row.errors) if row.errors else "0",
                          str(row.concurrency), " ".join(flags))
        console.print()
        console.print(table)
        if sampled:
            shown.extend(rows)
            reasons = (row.chosen.resources_unknown for row in rows if row.chosen)
            for reason in dict.fromkeys(r for r in reasons if r):
                console.print(f"server resources unknown: {reason}", soft_wrap=True,
                              markup=False, highlight=False)
    if shown:  # the columns' note once, under the last table that has them
        ticks = [t for t in (row.cpu_resolution_s for row in shown) if t is not None]
        console.print(f"[dim]{fmt.resources_note(max(ticks) if ticks else None)}[/]",
                      soft_wrap=True)
    composite = ranking.composite(rankings)
    if composite:
        weights = ", ".join(f"{t} {w:g}" for t, w in ranking.weights(rankings).items())
        table = Table(box=box.SIMPLE_HEAD, padding=(0, 1), collapse_padding=True,
                      pad_edge=False)
        for name in ("rank", "server", "loop", "parser", "score"):
            table.add_column(name, justify="right" if name in ("rank", "score") else "left")
        for row in composite:
            table.add_row(str(row.rank), row.server, row.loop, row.parser, f"{row.score:.3f}")
        console.print()
        source = ranking.weights_source(ranking.weights(rankings))
        console.print(f"[bold]composite[/] (each type normalised to its best, times its "
                      f"weight: {weights}; {source})", soft_wrap=True)
        console.print(table)
    _ceiling(run, console)
    _open_loop(run, console)
    _failures(run.entries, console)
    _unsupported(run.entries, console)
    for note in settings.notes:
        console.print(f"[dim]note: {note}[/]", soft_wrap=True)


def _ceiling(run: Run, console: Console) -> None:
    parts = []
    for record in run.ceiling:
        label = f"{record.test} c={record.concurrency}"
        values = record.measurements()
        if values:
            parts.append(f"{label}: {fmt.rps(statistics.median(values))} req/s")
        else:
            parts.append(f"{label}: failed ({record.reason or ''})")
    if parts:
        console.print()
        console.print("[bold]driver ceiling[/] (canned-response server; within 20% of it = "
                      "client-bound): " + "; ".join(parts), soft_wrap=True)


def _open_loop(run: Run, console: Console) -> None:
    """Open loop: per entry and rate, target and achieved rates, the latency percentiles
    (from the merged HDR histograms) and late/dropped sends; then the driver's own
    latency at each rate."""
    found = openloop.rows(run)
    if not found:
        return
    arrival = run.settings.extra.get("arrival") or "fixed"
    for test in dict.fromkeys(row.test for row in found):
        table = Table(title=f"{test} · open loop, {arrival} arrivals, latency from the "
                            "scheduled time", title_justify="left", title_style="bold",
                      box=box.SIMPLE_HEAD, padding=(0, 1), collapse_padding=True,
                      pad_edge=False)
        for name in ("server", "loop", "parser", "rate", "target", "req/s",
                     *(key for key, _ in openloop.SHOWN), "late", "dropped", "errors"):
            table.add_column(name, justify="left" if name in ("server", "loop", "parser",
                                                              "rate") else "right",
                             no_wrap=True)
        for row in [r for r in found if r.test == test]:
            table.add_row(row.server, row.loop, row.parser,
                          row.label + (" [yellow]![/]" if row.notes else ""),
                          fmt.rps(row.target_rps), fmt.rps(row.achieved_rps),
                          *(fmt.ms(row.latency_ms.get(key)) for key, _ in openloop.SHOWN),
                          str(row.late), str(row.dropped), str(row.errors))
        console.print()
        console.print(table)
    for row in found:
        for note in row.notes:
            console.print(f"  [yellow]![/] {row.test} {row.config} {row.label}: {note}",
                          soft_wrap=True, highlight=False)
    parts = []
    for acc in openloop.accuracy_rows(run):
        label = f"{acc.test} {acc.label} ({fmt.rps(acc.target_rps)} req/s)"
        if acc.status != "ok":
            parts.append(f"{label}: failed ({acc.reason or ''})")
        else:
            parts.append(f"{label}: p50 {fmt.ms(acc.latency_ms.get('p50'))}, p99 "
                         f"{fmt.ms(acc.latency_ms.get('p99'))}"
                         + (" [yellow](not sent on schedule)[/]" if acc.flags else ""))
    if parts:
        console.print("[bold]driver accuracy[/] (its own latency at each rate, against the "
                      "canned-response server): " + "; ".join(parts), soft_wrap=True)


def _failures(entries: list[Entry], console: Console) -> None:
    failed = [e for e in entries if e.status == "failed"]
    if not failed:
        return
    console.print()
    console.print("[bold red]failed[/] (not ranked):")
    seen: set[tuple[str, str, str, str]] = set()
    for entry in failed:
        key = (*entry.config, entry.reason or "")
        tests = [e.test for e in failed if (*e.config, e.reason or "") == key]
        if key in seen:
            continue
        seen.add(key)
        console.print(f"  {entry.name} {entry.loop}/{entry.parser} "
                      f"[{', '.join(tests)}]: {entry.reason}", markup=False,
                      highlight=False)
        if entry.output:
            for line in entry.output.splitlines()[-5:]:
                console.print(f"      | {line}", markup=False, highlight=False)


def _unsupported(entries: list[Entry], console: Console) -> None:
    groups: dict[tuple[str, str], list[str]] = {}
    for entry in entries:
        if entry.status != "unsupported":
            continue
        label = f"{entry.loop}/{entry.parser}"
        items = groups.setdefault((entry.name, entry.reason or ""), [])
        if label not in items:
            items.append(label)
    if not groups:
        return
    console.print()
    console.print("[bold]unsupported[/] (listed, not run):")
    for (server, reason), combos in groups.items():
        console.print(f"  {server} {', '.join(combos)}: {reason}", markup=False,
                      highlight=False)
