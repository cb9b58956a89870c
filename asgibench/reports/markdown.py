"""``bench report --format md``: GitHub-flavoured Markdown for READMEs and PR comments.

Plain tables, Unicode bars for "% of best", no images and no HTML: it reads the same in
a terminal, on GitHub and in a CI job summary.

The same structure as the HTML report: a short header (what was ranked, the environment
in a line or how many environments, one line naming the warnings), then the rankings
(one table per test type, per group of pooled runs), the composite, the loop x parser
matrices, the warnings (each once, with the runs that raised it), the environment of each
group once, and the unsupported combinations.
"""

from __future__ import annotations

from collections.abc import Sequence

from asgibench.harness import testtypes
from asgibench.reports import fmt, openloop
from asgibench.reports.model import MEMBER_COLUMNS, Group, Matrix, RankRow, Report

BAR_WIDTH = 16


def cell(text: object) -> str:
    """One Markdown table cell: pipes escaped, newlines flattened."""
    return " ".join(str(text).split()).replace("|", "\\|")


def table(
    header: Sequence[str], rows: Sequence[Sequence[object]], align: Sequence[str] | None = None
) -> list[str]:
    """A Markdown table; ``align`` holds ``l``/``r``/``c`` per column."""
    align = align or ["l"] * len(header)
    marks = {"l": "---", "r": "---:", "c": ":---:"}
    out = [
        "| " + " | ".join(cell(h) for h in header) + " |",
        "|" + "|".join(marks[a] for a in align) + "|",
    ]
    out.extend("| " + " | ".join(cell(v) for v in row) + " |" for row in rows)
    return out


def title(report: Report, test: str) -> str:
    load = report.load_text(test)
    return f"{test} · {load}" if load else test


def flags_of(row: RankRow) -> str:
    flags = []
    if row.client_bound:
        flags.append("client-bound")
    if row.driver_saturated:
        flags.append("driver-saturated")
    if row.tied_with_next:
        flags.append("≈ next")
    return ", ".join(flags)


def ranking_rows(
    report: Report, test: str, group: Group | None = None
) -> tuple[list[str], list[list[object]], list[str]]:
    """Header, rows and alignment of ``test``'s ranking in ``group`` (the only group when
    None); a *repeats* column when runs were pooled."""
    group = group or report.groups[0]
    pooled = report.pooled
    sampled = report.resources_shown(test)
    header = [
        "rank",
        "server",
        "loop",
        "parser",
        testtypes.rate_unit(test),
        "±",
        *(["repeats"] if pooled else []),
        "% of best",
        "",
        "p50",
        "p99",
        *(["cpu ms/req", "peak MiB"] if sampled else []),
        "errors",
        "c",
        "flags",
    ]
    align = [
        "r",
        "l",
        "l",
        "l",
        "r",
        "r",
        *(["r"] if pooled else []),
        "r",
        "l",
        "r",
        "r",
        *(["r", "r"] if sampled else []),
        "r",
        "r",
        "l",
    ]
    rows: list[list[object]] = []
    for row in report.rankings.get(test, []):
        if row.run != group.label:
            continue
        rows.append(
            [
                row.rank,
                row.server,
                row.loop,
                row.parser,
                fmt.rps(row.requests_per_s),
                fmt.spread(row.spread_pct, row.repeats),
                *([report.repeats_text(row)] if pooled else []),
                fmt.pct(row.pct_of_best),
                fmt.bar(row.pct_of_best / 100, BAR_WIDTH),
                fmt.ms(row.p50_ms),
                fmt.ms(row.p99_ms),
                *([fmt.cpu_ms(row.cpu_ms_per_request, row.cpu_ms_resolution),
                   fmt.mib(row.peak_rss_mib)] if sampled else []),
                row.errors,
                row.concurrency,
                flags_of(row),
            ]
        )
    return header, rows, align


def matrix_lines(report: Report, matrix: Matrix) -> list[str]:
    head = f"**{matrix.server} · {matrix.test}**"
    if report.multi_run:
        head += f" [{matrix.run}]"
    head += " — requests/s; bold: best loop for the parser; (±%: vs asyncio)"
    rows: list[list[object]] = []
    for loop in matrix.loops:
        line: list[object] = [loop]
        for parser in matrix.parsers:
            c = matrix.cells[(loop, parser)]
            if c.rps is None:
                line.append(c.status)
                continue
            text = fmt.rps(c.rps)
            if c.best_in_column:
                text = f"**{text}**"
            if c.gain_pct is not None and loop != "asyncio":
                text += f" ({fmt.signed_pct(c.gain_pct, 0)})"
            if c.client_bound:
                text += " ⚠"
            line.append(text)
        rows.append(line)
    out = [head, ""]
    out += table(["loop \\ parser", *matrix.parsers], rows, ["l"] + ["r"] * len(matrix.parsers))
    if matrix.summary:
        out.append("")
        out += [f"- {line}" for line in matrix.summary]
    return out


def group_head(report: Report, group: Group) -> list[str]:
    """Above a group's table: which runs (and, with several groups, which environment)."""
    if report.multi_run:
        return [f"### {group.title()}", "", f"{group.machine} · {group.settings_line}", ""]
    if group.pooled:
        return [
            f"_{group.pooled_text()}: each figure is the median over the repeats of every "
            "run; repeats says how many runs measured it._",
            "",
        ]
    return []


def header(report: Report) -> list[str]:
    """At most four lines, whatever the number of files: the rankings start right below."""
    out = ["# asgibench results", "", f"{report.summary_line()}  "]
    if report.multi_run:
        out.append(
            f"{report.environments_line()}: see "
            "[Environment and settings](#environment-and-settings)."
        )
    else:
        group = report.groups[0]
        out += [f"{group.machine}  ", group.settings_line]
    out.append("")
    if report.notices:
        n = len(report.notices)
        out += [
            f"> ⚠ **{n} warning{'s' if n != 1 else ''}**: {', '.join(report.notice_kinds())} — see "
            "[Warnings](#warnings) below the rankings.",
            "",
        ]
    return out


def environment(report: Report) -> list[str]:
    out = ["## Environment and settings", ""]
    if report.multi_run:
        out += [
            f"{len(report.groups)} environments, each ranked on its own: they differ in "
            f"{', '.join(report.differences)}.",
            "",
        ]
    for group in report.groups:
        if report.multi_run or group.pooled:
            out += [f"### {group.title()}", ""]
        out += table(["", "value"], [list(fact) for fact in group.facts])
        out.append("")
        if group.pooled:
            out += table(list(MEMBER_COLUMNS), group.members)
            out.append("")
    twice = [run for run in report.runs if run.duplicate_of]
    if twice:
        out += [
            "Given twice, counted once: "
            + ", ".join(f"{r.label} (= {r.duplicate_of})" for r in twice),
            "",
        ]
    return out


def open_loop_lines(report: Report) -> list[str]:
    """Open loop (``bench run --rate``): per test, each entry's rates with target and
    achieved rates, percentiles from the merged HDR histograms, late and dropped sends;
    then the driver's own latency at each rate."""
    if not report.open_loop and not report.accuracy:
        return []
    out = ["## Open loop", "",
           "Requests sent on a schedule that does not wait for responses; each latency "
           "from the request's scheduled time (no coordinated omission). ⚠: the driver "
           "did not keep its schedule (more than 1% late or dropped), or a round failed; "
           "the reasons are under the table.", ""]
    for test in dict.fromkeys(row.test for row in report.open_loop):
        rows = [
            [
                row.server + (f" [{row.run}]" if report.multi_run and row.run else ""),
                row.loop,
                row.parser,
                row.label + (" ⚠" if row.notes else ""),
                fmt.rps(row.target_rps),
                fmt.rps(row.achieved_rps),
                *(fmt.ms(row.latency_ms.get(key)) for key, _ in openloop.SHOWN),
                row.late,
                row.dropped,
            ]
            for row in report.open_loop if row.test == test
        ]
        out += [f"### {test}", ""]
        out += table(["server", "loop", "parser", "rate", "target req/s", "req/s",
                      *(key for key, _ in openloop.SHOWN), "late", "dropped"], rows,
                     ["l", "l", "l", "l", "r", "r", "r", "r", "r", "r", "r", "r"])
        out.append("")
        notes = [f"- ⚠ {row.config} {row.label}: {note}" for row in report.open_loop
                 if row.test == test for note in row.notes]
        out += [*notes, ""] if notes else []
    if report.accuracy:
        out += ["Driver accuracy: its own latency at each rate, against the canned-response "
                "server.", ""]
        rows = [[acc.test, acc.label + (" ⚠" if acc.flags else ""), fmt.rps(acc.target_rps),
                 *(fmt.ms(acc.latency_ms.get(key)) if acc.status == "ok" else "failed"
                   for key, _ in openloop.SHOWN)] for acc in report.accuracy]
        out += table(["test", "rate", "req/s", *(key for key, _ in openloop.SHOWN)], rows,
                     ["l", "l", "r", "r", "r", "r", "r"])
        out.append("")
    return out


def render(report: Report) -> str:
    out = header(report)
    note = report.resources_note()

    for test in report.tests:
        out += [f"## {title(report, test)}", ""]
        out.append(
            "Ranked by TechEmpower's rule: requests/s at the best level (median "
            "over repeats, ± half the min..max range); errors count socket "
            "errors, non-2xx and wrong bodies; ≈ next: its range overlaps the "
            "next row's; client-bound: within reach of the driver's ceiling."
        )
        out.append("")
        for group in report.groups:
            if test not in group.levels:
                continue
            out += group_head(report, group)
            header_, rows, align = ranking_rows(report, test, group)
            if rows:
                out += table(header_, rows, align)
                if report.resources_shown(test):
                    if note:  # once, under the first table with the resource columns
                        out += ["", f"_{note}._"]
                        note = None
                    out += [line for reason in report.resources_unknown(test)
                            for line in ("", f"_Server resources unknown: {cell(reason)}._")]
            else:
                out.append("_No configuration was ranked._")
            excluded = [x for x in report.excluded.get(test, []) if x.run == group.label]
            if excluded:
                out += ["", "**Not ranked:**", ""]
                for item in excluded:
                    out.append(
                        f"- {item.server} {item.loop}/{item.parser} — {item.kind}: "
                        f"{cell(item.reason)}"
                    )
            out.append("")
        absent = [g.label for g in report.groups if test not in g.levels]
        if absent:
            out += [f"_Not measured in {', '.join(absent)}._", ""]

    if report.composite:
        weights = ", ".join(
            f"{t} {report.weights[t]:g}" for t in report.tests if t in report.weights
        )
        out += [
            "## Composite",
            "",
            f"Each test type's figure divided by that type's best, times its weight "
            f"({weights}; {report.weights_source}), summed; only "
            f"configurations with "
            f"every type.",
            "",
        ]
        tests = [t for t in report.tests if report.rankings.get(t)]
        for group in report.groups:
            rows_ = [r for r in report.composite if r.run == group.label]
            if not rows_:
                continue
            if report.multi_run:
                out += group_head(report, group)
            best = rows_[0].score or 1.0
            rows = [
                [
                    r.rank,
                    r.server,
                    r.loop,
                    r.parser,
                    f"{r.score:.3f}",
                    *(f"{r.parts.get(t, 0):.3f}" for t in tests),
                    fmt.bar(r.score / best, BAR_WIDTH),
                ]
                for r in rows_
            ]
            out += table(
                ["rank", "server", "loop", "parser", "score", *tests, ""],
                rows,
                ["r", "l", "l", "l", "r", *(["r"] * len(tests)), "l"],
            )
            out.append("")

    out += open_loop_lines(report)

    if report.matrices:
        out += ["## Loop x parser", ""]
        for matrix in report.matrices:
            out += matrix_lines(report, matrix)
            out.append("")

    if report.notices:
        out += ["## Warnings", ""]
        out += [f"- ⚠ {line}" for line in report.flags]
        out.append("")

    out += environment(report)

    if report.unsupported:
        out += ["## Unsupported (listed, not run)", ""]
        for item in report.unsupported:
            out.append(f"- {item.server} {', '.join(item.combos)}: {cell(item.reason)}")
        out.append("")
    return "\n".join(out).rstrip() + "\n"
