"""``bench report --format md``: GitHub-flavoured Markdown for READMEs and PR comments.

Plain tables, Unicode bars for "% of best", no images and no HTML: it reads the same in
a terminal, on GitHub and in a CI job summary.
"""

from __future__ import annotations

from collections.abc import Sequence

from asgibench.reports import fmt
from asgibench.reports.model import Matrix, RankRow, Report

BAR_WIDTH = 16


def cell(text: object) -> str:
    """One Markdown table cell: pipes escaped, newlines flattened."""
    return " ".join(str(text).split()).replace("|", "\\|")


def table(header: Sequence[str], rows: Sequence[Sequence[object]],
          align: Sequence[str] | None = None) -> list[str]:
    """A Markdown table; ``align`` holds ``l``/``r``/``c`` per column."""
    align = align or ["l"] * len(header)
    marks = {"l": "---", "r": "---:", "c": ":---:"}
    out = ["| " + " | ".join(cell(h) for h in header) + " |",
           "|" + "|".join(marks[a] for a in align) + "|"]
    out.extend("| " + " | ".join(cell(v) for v in row) + " |" for row in rows)
    return out


def title(report: Report, test: str) -> str:
    levels = ", ".join(str(c) for c in report.levels.get(test, []))
    text = f"{test} · concurrency {levels}" if levels else test
    depth = report.pipeline.get(test, 1)
    if depth > 1:
        text += f" · pipelined x{depth}"
    return text


def flags_of(row: RankRow) -> str:
    flags = []
    if row.client_bound:
        flags.append("client-bound")
    if row.tied_with_next:
        flags.append("≈ next")
    return ", ".join(flags)


def ranking_rows(report: Report, test: str) -> tuple[list[str], list[list[object]],
                                                      list[str]]:
    header = ["rank", *(["run"] if report.multi_run else []), "server", "loop", "parser",
              "req/s", "±", "% of best", "", "p50", "p99", "errors", "c", "flags"]
    align = ["r", *(["l"] if report.multi_run else []), "l", "l", "l", "r", "r", "r", "l",
             "r", "r", "r", "r", "l"]
    rows: list[list[object]] = []
    for row in report.rankings.get(test, []):
        rows.append([row.rank, *([row.run] if report.multi_run else []), row.server,
                     row.loop, row.parser, fmt.rps(row.requests_per_s),
                     fmt.spread(row.spread_pct, row.repeats), fmt.pct(row.pct_of_best),
                     fmt.bar(row.pct_of_best / 100, BAR_WIDTH), fmt.ms(row.p50_ms),
                     fmt.ms(row.p99_ms), row.errors, row.concurrency, flags_of(row)])
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


def render(report: Report) -> str:
    out: list[str] = ["# asgibench results", ""]
    if report.flags:
        out += [f"> ⚠ {flag}" + ("  " if i + 1 < len(report.flags) else "")
                for i, flag in enumerate(report.flags)]
        out.append("")

    out += ["## Environment and settings", ""]
    if report.multi_run:
        names = [fact for fact, _ in report.runs[0].facts]
        for run in report.runs[1:]:
            names += [fact for fact, _ in run.facts if fact not in names]
        rows = [[name, *(dict(run.facts).get(name, "-") for run in report.runs)]
                for name in names]
        out += table(["", *(run.label for run in report.runs)], rows)
    else:
        out += table(["", "value"], [list(f) for f in report.runs[0].facts])
    if any(run.flags for run in report.runs):
        out.append("")
    for run in report.runs:
        for flag in run.flags:
            prefix = f"[{run.label}] " if report.multi_run else ""
            out.append(f"- {prefix}{flag}")
    out.append("")

    for test in report.tests:
        out += [f"## {title(report, test)}", ""]
        rows_ = report.rankings.get(test, [])
        if rows_:
            out.append("Ranked by TechEmpower's rule: requests/s at the best level (median "
                       "over repeats, ± half the min..max range); errors count socket "
                       "errors, non-2xx and wrong bodies; ≈ next: its range overlaps the "
                       "next row's; client-bound: within reach of the driver's ceiling.")
            out.append("")
            header, rows, align = ranking_rows(report, test)
            out += table(header, rows, align)
        else:
            out.append("_No configuration was ranked._")
        excluded = report.excluded.get(test, [])
        if excluded:
            out += ["", "**Not ranked:**", ""]
            for item in excluded:
                run = f"[{item.run}] " if report.multi_run else ""
                out.append(f"- {run}{item.server} {item.loop}/{item.parser} — {item.kind}: "
                           f"{cell(item.reason)}")
        out.append("")

    if report.composite:
        weights = ", ".join(f"{t} {report.weights[t]:g}" for t in report.tests
                            if t in report.weights)
        out += ["## Composite", "",
                f"Each test type's figure divided by that type's best, times its weight "
                f"({weights}; TechEmpower's weights), summed; only configurations with "
                f"every type.", ""]
        tests = [t for t in report.tests if report.rankings.get(t)]
        best = report.composite[0].score or 1.0
        rows = [[r.rank, *([r.run] if report.multi_run else []), r.server, r.loop, r.parser,
                 f"{r.score:.3f}", *(f"{r.parts.get(t, 0):.3f}" for t in tests),
                 fmt.bar(r.score / best, BAR_WIDTH)] for r in report.composite]
        out += table(["rank", *(["run"] if report.multi_run else []), "server", "loop",
                      "parser", "score", *tests, ""], rows,
                     ["r", *(["l"] if report.multi_run else []), "l", "l", "l", "r",
                      *(["r"] * len(tests)), "l"])
        out.append("")

    if report.matrices:
        out += ["## Loop x parser", ""]
        for matrix in report.matrices:
            out += matrix_lines(report, matrix)
            out.append("")

    if report.unsupported:
        out += ["## Unsupported (listed, not run)", ""]
        for item in report.unsupported:
            run = f"[{item.run}] " if report.multi_run else ""
            out.append(f"- {run}{item.server} {', '.join(item.combos)}: {cell(item.reason)}")
        out.append("")
    return "\n".join(out).rstrip() + "\n"
