"""The ranked tables printed at the end of a run (or by ``bench run --show FILE``).

Per test type: rank, server, loop, parser, best requests/s with its ± spread over
repeats, % of the best, p99 latency, errors, and flags (client-bound; ≈ = tied with the
next row within the spread). Then the composite score (2+ test types), the driver's
ceiling, failed combinations with their reason, and unsupported ones grouped by reason.
The tables are recomputed from the entries, so an old file prints with today's rules.
"""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from asgibench.harness import ranking


def _rps(value: float) -> str:
    return f"{value:,.0f}"


def _ms(value: float) -> str:
    if value <= 0:
        return "-"  # no latency sample (e.g. wrk saw no complete pipelined batch)
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    if value >= 10:
        return f"{value:.0f} ms"
    return f"{value:.2f} ms"


def render(document: dict[str, Any], console: Console) -> None:
    settings = document["settings"]
    tests = settings["tests"]
    entries = document["entries"]
    rankings = ranking.rank_all(entries, tests)
    driver = settings["driver"]
    pins = settings["pinning"]
    pinned = (f"server on CPU {_cpus(pins['server_cpus'])}, driver on CPU "
              f"{_cpus(pins['driver_cpus'])}" if pins.get("server_cpus") else
              f"not pinned ({pins.get('note') or 'n/a'})")
    repeat = settings["repeat"]
    console.print()
    console.print(
        f"[bold]asgibench[/] {document['asgibench_version']} · driver {driver['name']} "
        f"{driver.get('version') or ''} · {settings['duration_s']:g} s per level x {repeat} "
        f"repeat{'s' if repeat != 1 else ''} · {pinned}", soft_wrap=True
    )
    if document.get("interrupted"):
        console.print("[yellow]interrupted: partial results[/]")
    for test in tests:
        rows = rankings[test]
        levels = ", ".join(str(c) for c in settings["levels"].get(test, []))
        pipe = settings["pipeline"].get(test, 1)
        title = f"{test} · concurrency {levels}" + (f" · pipelined x{pipe}" if pipe > 1 else "")
        if not rows:
            console.print(f"\n[bold]{title}[/]: no combination was ranked")
            continue
        table = Table(title=title, title_justify="left", title_style="bold",
                      box=box.SIMPLE_HEAD, padding=(0, 1), collapse_padding=True,
                      pad_edge=False)
        for name, justify in (("#", "right"), ("server", "left"), ("loop", "left"),
                              ("parser", "left"), ("req/s", "right"), ("±", "right"),
                              ("%best", "right"), ("p99", "right"), ("errors", "right"),
                              ("conc", "right"), ("flags", "left")):
            table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
        for row in rows:
            flags = []
            if row.client_bound:
                flags.append("[yellow]client-bound[/]")
            if row.tied_with_next:
                flags.append("≈next")
            spread = f"{row.spread_pct:.0f}%" if row.repeats > 1 else "-"
            table.add_row(str(row.rank), row.server, row.loop, row.parser,
                          _rps(row.requests_per_s), spread, f"{row.pct_of_best:.0f}%",
                          _ms(row.p99_ms), str(row.errors) if row.errors else "0",
                          str(row.concurrency), " ".join(flags))
        console.print()
        console.print(table)
    composite = ranking.composite(rankings)
    if composite:
        weights = ", ".join(f"{t} {_weight(t):g}" for t in tests)
        table = Table(box=box.SIMPLE_HEAD, padding=(0, 1), collapse_padding=True,
                      pad_edge=False)
        for name in ("rank", "server", "loop", "parser", "score"):
            table.add_column(name, justify="right" if name in ("rank", "score") else "left")
        for row in composite:
            table.add_row(str(row.rank), row.server, row.loop, row.parser, f"{row.score:.3f}")
        console.print()
        console.print(f"[bold]composite[/] (each type normalised to its best, TFB weights: "
                      f"{weights})", soft_wrap=True)
        console.print(table)
    _ceiling(document, console)
    _failures(entries, console)
    _unsupported(entries, console)
    notes = settings.get("notes") or []
    for note in notes:
        console.print(f"[dim]note: {note}[/]", soft_wrap=True)


def _weight(test: str) -> float:
    from asgibench.harness import testtypes

    try:
        return testtypes.get(test).weight
    except Exception:
        return 1.0


def _cpus(cpus: list[int] | None) -> str:
    return ",".join(str(c) for c in cpus) if cpus else "-"


def _ceiling(document: dict[str, Any], console: Console) -> None:
    parts = []
    for record in document["ceiling"]:
        label = f"{record['test']} c={record['concurrency']}"
        if record["status"] == "ok":
            parts.append(f"{label}: {_rps(record['result']['requests_per_s'])} req/s")
        else:
            parts.append(f"{label}: failed ({record.get('reason', '')})")
    if parts:
        console.print()
        console.print("[bold]driver ceiling[/] (canned-response server; within 20% of it = "
                      "client-bound): " + "; ".join(parts), soft_wrap=True)


def _failures(entries: list[dict[str, Any]], console: Console) -> None:
    failed = [e for e in entries if e["status"] == "failed"]
    if not failed:
        return
    console.print()
    console.print("[bold red]failed[/] (not ranked):")
    seen: set[tuple[str, str, str, str]] = set()
    for entry in failed:
        key = (entry["server"], entry["loop"], entry["parser"], entry["reason"] or "")
        tests = [e["test"] for e in failed if (e["server"], e["loop"], e["parser"],
                                               e["reason"] or "") == key]
        if key in seen:
            continue
        seen.add(key)
        console.print(f"  {entry['server']} {entry['loop']}/{entry['parser']} "
                      f"[{', '.join(tests)}]: {entry['reason']}", markup=False,
                      highlight=False)
        if entry.get("output"):
            for line in entry["output"].splitlines()[-5:]:
                console.print(f"      | {line}", markup=False, highlight=False)


def _unsupported(entries: list[dict[str, Any]], console: Console) -> None:
    groups: dict[tuple[str, str], list[str]] = {}
    for entry in entries:
        if entry["status"] != "unsupported":
            continue
        label = f"{entry['loop']}/{entry['parser']}"
        items = groups.setdefault((entry["server"], entry["reason"] or ""), [])
        if label not in items:
            items.append(label)
    if not groups:
        return
    console.print()
    console.print("[bold]unsupported[/] (listed, not run):")
    for (server, reason), combos in groups.items():
        console.print(f"  {server} {', '.join(combos)}: {reason}", markup=False,
                      highlight=False)
