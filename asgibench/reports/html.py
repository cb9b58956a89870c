"""``bench report --format html``: one self-contained HTML file.

Inline CSS, no script needed (the tabs are CSS radio buttons), charts embedded as inline
SVG: it opens from disk in any browser with no network.

The first screen is the ranking: a header of at most four lines (what was ranked, the
environment in one line or how many environments, and one line naming the warnings),
then the tabs: one per test type (per group of pooled runs: the ranking table with bars
of % of best and the entries not ranked and why; then charts and loop x parser
matrices), the composite, the warnings (each once, with the runs that raised it) and the
environment (each group's described once, with its runs). However many files are given,
the header does not grow: what grows is in the tabs, below or beside the rankings.

Every number cell carries its raw value in ``data-value`` so tools (and the tests) can
check the rendered tables against the results JSON.
"""

from __future__ import annotations

import re
from html import escape
from typing import Any

from asgibench.harness import testtypes
from asgibench.reports import fmt, openloop
from asgibench.reports.model import (
    MEMBER_COLUMNS,
    REFERENCE_LOOP,
    Group,
    Matrix,
    RankRow,
    Report,
)

_CSS = """
:root { --fg:#1d2330; --muted:#5b6475; --line:#d9dde5; --bg:#ffffff; --panel:#f6f7f9;
        --accent:#3b6fb6; --warn:#9a5b00; --warnbg:#fff6e0; --bad:#a12828; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: var(--fg); background: var(--bg); margin: 0 auto; padding: 20px 28px;
       max-width: 1280px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 22px 0 8px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.sub, .note { color: var(--muted); }
.warnings { background: var(--warnbg); border: 1px solid #f0d9a8; border-radius: 6px;
            padding: 8px 14px; margin: 12px 0; color: var(--warn); }
.warnings ul { margin: 0; padding-left: 18px; }
.warnline { color: var(--warn); margin: 4px 0; }
.warnline label { font-weight: 600; text-decoration: underline; cursor: pointer; }
h3.group { border-left: 4px solid var(--accent); padding-left: 8px; }
table { border-collapse: collapse; margin: 6px 0 10px; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 9px; text-align: left;
         vertical-align: middle; }
th { background: var(--panel); font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; white-space: nowrap; }
tr.client-bound td { background: #fffaf0; }
.barbg { width: 160px; height: 12px; background: #e9ecf2; border-radius: 3px; }
.barfill { height: 12px; background: var(--accent); border-radius: 3px; }
tr.client-bound .barfill { background: repeating-linear-gradient(45deg, #c28a2b, #c28a2b
                           4px, #e8c27a 4px, #e8c27a 8px); }
.flag { display: inline-block; font-size: 12px; padding: 0 6px; border-radius: 9px;
        background: #eef1f6; margin-right: 4px; white-space: nowrap; }
.flag.cb { background: var(--warnbg); color: var(--warn); }
.tabs > input { position: absolute; opacity: 0; pointer-events: none; }
.tabs > label { display: inline-block; padding: 7px 14px; margin: 0 2px -1px 0;
                border: 1px solid var(--line); border-radius: 6px 6px 0 0;
                background: var(--panel); cursor: pointer; color: var(--muted); }
.tabs > section { display: none; border-top: 1px solid var(--line); padding-top: 6px; }
.excluded li { margin: 2px 0; }
.excluded .kind { font-weight: 600; color: var(--bad); }
.excluded pre { background: var(--panel); padding: 6px; font-size: 12px; overflow-x: auto;
                margin: 4px 0; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr));
          gap: 12px; }
figure { margin: 0; border: 1px solid var(--line); border-radius: 6px; padding: 6px;
         background: #fff; }
figure svg { width: 100%; height: auto; }
td.best { font-weight: 700; }
td.na { color: var(--muted); font-style: italic; }
.gain { color: var(--muted); font-size: 12px; margin-left: 4px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; }
dl.facts dt { font-weight: 600; color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
"""


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _num_td(text: str, value: float | int | None, cls: str = "num") -> str:
    raw = "" if value is None else f' data-value="{value}"'
    return f'<td class="{cls}"{raw}>{_e(text)}</td>'


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "x"


def _prefix_ids(svg: str, prefix: str) -> str:
    """Make an inline SVG's ids unique within the page (several charts share names)."""
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}{m.group(1)}"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}{m.group(1)})", svg)
    return re.sub(
        r'(xlink:href|href)="#([^"]+)"', lambda m: f'{m.group(1)}="#{prefix}{m.group(2)}"', svg
    )


class _Charts:
    """Inline SVG charts, or a note when matplotlib is missing or charts are off."""

    def __init__(self, report: Report, enabled: bool) -> None:
        from asgibench.reports import charts

        self.report = report
        self.enabled = enabled and charts.available()
        self.reason = (
            ""
            if self.enabled
            else (
                "charts omitted (--no-charts)"
                if not enabled
                else "charts omitted: matplotlib is not installed (pip install 'asgibench[charts]')"
            )
        )
        self.count = 0

    def figure(self, kind: str, report: Report, *args: Any) -> str:
        """One chart of ``report`` (the whole report, or one group's section of it)."""
        if not self.enabled:
            return ""
        from asgibench.reports import charts

        with charts.style(inline=True):
            make = {
                "ranking": charts.ranking_chart,
                "concurrency": charts.concurrency_chart,
                "latency": charts.latency_chart,
                "latency-load": charts.latency_load_chart,
                "matrix": charts.matrix_chart,
            }[kind]
            fig = make(report, *args)
            svg = charts.inline_svg(fig)
        self.count += 1
        return f"<figure>{_prefix_ids(svg, f'c{self.count}-')}</figure>"


def _row_flags(row: RankRow) -> str:
    out = []
    if row.client_bound:
        out.append(
            '<span class="flag cb" title="within reach of the driver\'s ceiling: '
            'the driver, not the server, sets this figure">client-bound</span>'
        )
    if row.driver_saturated:
        out.append(
            '<span class="flag cb" title="the load driver used nearly all of its CPUs: '
            'the figure may be the driver\'s limit">driver-saturated</span>'
        )
    if row.tied_with_next:
        out.append(
            '<span class="flag" title="its min..max range overlaps the next row\'s">≈ next</span>'
        )
    return "".join(out)


def ranking_table(report: Report, test: str, group: Group | None = None) -> str:
    """The ranking of ``test`` in ``group`` (the only group when None)."""
    group = group or report.groups[0]
    rows = [row for row in report.rankings.get(test, []) if row.run == group.label]
    pooled = report.pooled
    sampled = report.resources_shown(test)
    heads = [
        ("rank", "num"),
        ("server", ""),
        ("loop", ""),
        ("parser", ""),
        (testtypes.rate_unit(test), "num"),
        ("±", "num"),
        *([("repeats", "num")] if pooled else []),
        ("% of best", "num"),
        ("", ""),
        ("p50", "num"),
        ("p99", "num"),
        *([("cpu ms/req", "num"), ("peak MiB", "num")] if sampled else []),
        ("errors", "num"),
        ("c", "num"),
        ("flags", ""),
    ]
    out = [
        f'<table class="ranking" data-test="{_e(test)}" data-group="{_e(group.label)}"><thead><tr>'
    ]
    out += [f'<th class="{cls}">{_e(name)}</th>' for name, cls in heads]
    out.append("</tr></thead><tbody>")
    for row in rows:
        cls = ' class="client-bound"' if row.client_bound else ""
        out.append(
            f'<tr{cls} data-run="{_e(row.run)}" data-server="{_e(row.server)}" '
            f'data-loop="{_e(row.loop)}" data-parser="{_e(row.parser)}">'
        )
        out.append(_num_td(str(row.rank), row.rank, "num rank"))
        out += [
            f'<td class="server">{_e(row.server)}</td>',
            f'<td class="loop">{_e(row.loop)}</td>',
            f'<td class="parser">{_e(row.parser)}</td>',
        ]
        out.append(_num_td(fmt.rps(row.requests_per_s), round(row.requests_per_s, 3), "num rps"))
        out.append(
            _num_td(
                fmt.spread(row.spread_pct, row.repeats),
                round(row.spread_pct, 2) if row.repeats > 1 else None,
                "num spread",
            )
        )
        if pooled:
            out.append(
                f'<td class="num repeats" data-value="{row.repeats}" '
                f'data-runs="{report.runs_of(row)}">{_e(report.repeats_text(row))}'
                "</td>"
            )
        out.append(_num_td(fmt.pct(row.pct_of_best), round(row.pct_of_best, 2), "num pct"))
        width = max(min(row.pct_of_best, 100.0), 0.0)
        out.append(
            f'<td class="bar"><div class="barbg"><div class="barfill" '
            f'style="width:{width:.1f}%"></div></div></td>'
        )
        out.append(_num_td(fmt.ms(row.p50_ms), row.p50_ms, "num p50"))
        out.append(_num_td(fmt.ms(row.p99_ms), row.p99_ms, "num p99"))
        if sampled:
            out.append(_num_td(fmt.cpu_ms(row.cpu_ms_per_request, row.cpu_ms_resolution),
                               row.cpu_ms_per_request, "num cpu"))
            out.append(_num_td(fmt.mib(row.peak_rss_mib), row.peak_rss_mib, "num rss"))
        out.append(_num_td(str(row.errors), row.errors, "num errors"))
        out.append(_num_td(str(row.concurrency), row.concurrency, "num conc"))
        out.append(f'<td class="flags">{_row_flags(row)}</td></tr>')
    out.append("</tbody></table>")
    return "".join(out)


def open_loop_table(report: Report, test: str) -> str:
    """Open loop (``bench run --rate``) for ``test``: each entry's rates, target and
    achieved, the percentiles over every round's requests, late and dropped sends; the
    flags and failures under it; then the driver's own latency at each rate."""
    rows = [row for row in report.open_loop if row.test == test]
    accuracy = [acc for acc in report.accuracy if acc.test == test]
    if not rows and not accuracy:
        return ""
    shown = [key for key, _ in openloop.SHOWN]
    out = ["<h3>Open loop</h3>",
           '<p class="sub">requests sent on a schedule that does not wait for responses; '
           "each latency from the request's scheduled time (no coordinated omission); "
           "⚠: not sent on schedule (more than 1% late or dropped) or a round failed</p>"]
    if rows:
        heads = [("server", ""), ("loop", ""), ("parser", ""), ("rate", ""),
                 ("target req/s", "num"), ("req/s", "num"), *((k, "num") for k in shown),
                 ("late", "num"), ("dropped", "num"), ("errors", "num")]
        out.append(f'<table class="open-loop" data-test="{_e(test)}"><thead><tr>')
        out += [f'<th class="{cls}">{_e(name)}</th>' for name, cls in heads]
        out.append("</tr></thead><tbody>")
        for row in rows:
            server = row.server + (f" [{row.run}]" if report.multi_run and row.run else "")
            out.append(f'<tr data-run="{_e(row.run)}" data-rate="{_e(row.rate)}">'
                       f"<td>{_e(server)}</td><td>{_e(row.loop)}</td>"
                       f"<td>{_e(row.parser)}</td>"
                       f"<td>{_e(row.label + (' ⚠' if row.notes else ''))}</td>")
            out.append(_num_td(fmt.rps(row.target_rps), round(row.target_rps, 3),
                               "num target"))
            out.append(_num_td(fmt.rps(row.achieved_rps), round(row.achieved_rps, 3),
                               "num rps"))
            out += [_num_td(fmt.ms(row.latency_ms.get(k)), row.latency_ms.get(k),
                            f"num {k.replace('.', '_')}") for k in shown]
            out += [_num_td(str(v), v, f"num {name}") for name, v in
                    (("late", row.late), ("dropped", row.dropped), ("errors", row.errors))]
            out.append("</tr>")
        out.append("</tbody></table>")
        notes = [f"{row.config} {row.label}: {note}" for row in rows for note in row.notes]
        if notes:
            out.append('<ul class="open-loop-notes">'
                       + "".join(f"<li>⚠ {_e(n)}</li>" for n in notes) + "</ul>")
    if accuracy:
        out.append('<p class="sub">driver accuracy: its own latency at each rate, against '
                   "the canned-response server</p>")
        out.append(f'<table class="accuracy" data-test="{_e(test)}"><thead><tr>'
                   "<th>rate</th><th class=\"num\">req/s</th>"
                   + "".join(f'<th class="num">{_e(k)}</th>' for k in shown)
                   + "<th>status</th></tr></thead><tbody>")
        for acc in accuracy:
            status = acc.status if acc.status != "ok" else \
                ("not sent on schedule" if acc.flags else "ok")
            if acc.reason:
                status += f": {acc.reason}"
            out.append(f'<tr data-rate="{_e(acc.rate)}"><td>{_e(acc.label)}</td>'
                       + _num_td(fmt.rps(acc.target_rps), round(acc.target_rps, 3),
                                 "num target")
                       + "".join(_num_td(fmt.ms(acc.latency_ms.get(k)),
                                         acc.latency_ms.get(k),
                                         f"num {k.replace('.', '_')}") for k in shown)
                       + f"<td>{_e(status)}</td></tr>")
        out.append("</tbody></table>")
    return "".join(out)


def _excluded(report: Report, test: str, group: Group) -> str:
    items = [x for x in report.excluded.get(test, []) if x.run == group.label]
    if not items:
        return ""
    out = ['<h4>Not ranked</h4><ul class="excluded">']
    for item in items:
        out.append(
            f'<li data-server="{_e(item.server)}" data-loop="{_e(item.loop)}" '
            f'data-parser="{_e(item.parser)}">{_e(item.server)} '
            f'{_e(item.loop)}/{_e(item.parser)} — <span class="kind">{_e(item.kind)}'
            f"</span>: {_e(item.reason)}"
        )
        if item.output:
            tail = "\n".join(item.output.splitlines()[-8:])
            out.append(f"<pre>{_e(tail)}</pre>")
        out.append("</li>")
    out.append("</ul>")
    return "".join(out)


def matrix_table(report: Report, matrix: Matrix) -> str:
    out = [
        f'<table class="matrix" data-test="{_e(matrix.test)}" '
        f'data-server="{_e(matrix.server)}" data-run="{_e(matrix.run)}"><thead><tr>'
        "<th>loop \\ parser</th>"
    ]
    out += [f'<th class="num">{_e(p)}</th>' for p in matrix.parsers]
    out.append("</tr></thead><tbody>")
    for loop in matrix.loops:
        out.append(f"<tr><th>{_e(loop)}</th>")
        for parser in matrix.parsers:
            c = matrix.cells[(loop, parser)]
            if c.rps is None:
                out.append(f'<td class="num na">{_e(c.status)}</td>')
                continue
            gain = ""
            if c.gain_pct is not None and loop != REFERENCE_LOOP:
                gain = f'<span class="gain">{_e(fmt.signed_pct(c.gain_pct, 0))}</span>'
            cls = "num best" if c.best_in_column else "num"
            bound = " ⚠" if c.client_bound else ""
            out.append(
                f'<td class="{cls}" data-value="{round(c.rps, 3)}">'
                f"{_e(fmt.rps(c.rps))}{gain}{bound}</td>"
            )
        out.append("</tr>")
    out.append("</tbody></table>")
    if matrix.summary:
        out.append("<ul>" + "".join(f"<li>{_e(s)}</li>" for s in matrix.summary) + "</ul>")
    return "".join(out)


def _load_text(report: Report, test: str) -> str:
    return report.load_text(test, " · HTTP pipelining x")


def _group_head(report: Report, group: Group) -> str:
    """Above a group's table: which runs (and, with several groups, which environment)."""
    if report.multi_run:
        return (
            f'<h3 class="group" data-group="{_e(group.label)}">{_e(group.title())}</h3>'
            f'<p class="sub">{_e(group.machine)} · {_e(group.settings_line)}</p>'
        )
    if group.pooled:
        return (
            f'<p class="sub">{_e(group.pooled_text())}: each figure is the median over '
            "the repeats of every run; <em>repeats</em> says how many runs measured it."
            "</p>"
        )
    return ""


def _test_panel(report: Report, test: str, figs: _Charts) -> str:
    out = [
        f"<h2>{_e(test)}</h2>",
        f'<p class="sub">{_e(_load_text(report, test))}. Ranked by '
        "TechEmpower's rule: requests/s at the best level (median over repeats, ± half "
        "the min..max range); errors: socket errors, non-2xx and wrong bodies.</p>",
    ]
    groups = [g for g in report.groups if test in g.levels]
    # Every group's ranking first, charts and matrices after: the rankings are what a
    # reader came for, and with several groups the charts would push them apart.
    for group in groups:
        out.append(_group_head(report, group))
        if any(row.run == group.label for row in report.rankings.get(test, [])):
            out.append(ranking_table(report, test, group))
            if report.resources_shown(test):
                out += [f'<p class="note">Server resources unknown: {_e(reason)}.</p>'
                        for reason in report.resources_unknown(test)]
        else:
            out.append('<p class="note">No configuration was ranked.</p>')
        out.append(_excluded(report, test, group))
    absent = [g.label for g in report.groups if test not in g.levels]
    if absent:
        out.append(f'<p class="note">Not measured in {_e(", ".join(absent))}.</p>')
    out.append(open_loop_table(report, test))
    opened = any(row.test == test for row in report.open_loop)
    if figs.enabled and (report.rankings.get(test) or opened):
        out.append("<h3>Charts</h3>")
        for group in groups:
            section = report.section(group)
            ranked = bool(section.rankings.get(test))
            load = any(row.test == test for row in section.open_loop)
            if not ranked and not load:
                continue
            if report.multi_run:
                out.append(f"<h4>{_e(group.title())}</h4>")
            out.append('<div class="charts">')
            if ranked:
                out.append(figs.figure("ranking", section, test))
                out.append(figs.figure("concurrency", section, test))
                out.append(figs.figure("latency", section, test))
            if load:
                out.append(figs.figure("latency-load", section, test))
            out.append("</div>")
    matrices = [m for m in report.matrices if m.test == test]
    if matrices:
        out.append(
            '<h3>Loop x parser</h3><p class="sub">requests/s; bold: the best loop '
            f"for that parser; grey: gain over {REFERENCE_LOOP} with the same parser"
            "</p>"
        )
        for matrix in matrices:
            group = f"{matrix.run} · " if report.multi_run else ""
            out.append(f"<h4>{_e(group)}{_e(matrix.server)}</h4>")
            out.append(matrix_table(report, matrix))
            if figs.enabled:
                section = report.section(report.group_of(matrix.run))
                out.append(
                    '<div class="charts">' + figs.figure("matrix", section, matrix) + "</div>"
                )
    return "".join(out)


def _composite_table(report: Report, group: Group, tests: list[str]) -> str:
    rows = [row for row in report.composite if row.run == group.label]
    out = [
        '<table class="composite" data-group="' + _e(group.label) + '"><thead><tr>'
        '<th class="num">rank</th><th>server</th><th>loop</th><th>parser</th>'
        '<th class="num">score</th>'
        + "".join(f'<th class="num">{_e(t)}</th>' for t in tests)
        + "<th></th></tr></thead><tbody>"
    ]
    best = rows[0].score or 1.0
    for row in rows:
        out.append(
            f'<tr data-server="{_e(row.server)}" data-loop="{_e(row.loop)}" '
            f'data-parser="{_e(row.parser)}" data-run="{_e(row.run)}">'
        )
        out.append(_num_td(str(row.rank), row.rank))
        out.append(f"<td>{_e(row.server)}</td><td>{_e(row.loop)}</td><td>{_e(row.parser)}</td>")
        out.append(_num_td(f"{row.score:.3f}", round(row.score, 4), "num score"))
        for test in tests:
            part = row.parts.get(test, 0.0)
            out.append(_num_td(f"{part:.3f}", round(part, 4)))
        width = max(min(row.score / best * 100, 100.0), 0.0)
        out.append(
            f'<td><div class="barbg"><div class="barfill" style="width:{width:.1f}%">'
            "</div></div></td></tr>"
        )
    out.append("</tbody></table>")
    return "".join(out)


def _composite_panel(report: Report) -> str:
    tests = [t for t in report.tests if report.rankings.get(t)]
    weights = ", ".join(f"{t} {report.weights[t]:g}" for t in tests if t in report.weights)
    out = ["<h2>Composite</h2>"]
    if not report.composite:
        out.append('<p class="note">A composite needs two or more ranked test types.</p>')
        return "".join(out)
    out.append(
        f"<p class=\"sub\">Each test type's figure divided by that type's best, times "
        f"its weight ({_e(weights)}; {_e(report.weights_source)}), "
        "summed; only "
        "configurations that have every type.</p>"
    )
    for group in report.groups:
        if not any(row.run == group.label for row in report.composite):
            continue
        if report.multi_run:
            out.append(_group_head(report, group))
        out.append(_composite_table(report, group, tests))
    return "".join(out)


def _warnings_panel(report: Report) -> str:
    out = [
        "<h2>Warnings</h2>",
        '<p class="sub">Each once, with the runs that raised it.</p>',
        '<div class="warnings"><ul>',
    ]
    out += [f"<li>⚠ {_e(line)}</li>" for line in report.flags]
    out.append("</ul></div>")
    return "".join(out)


def _runs_panel(report: Report) -> str:
    out = ["<h2>Environment and settings</h2>"]
    if report.multi_run:
        out.append(
            f'<p class="sub">{len(report.groups)} environments, each ranked on its '
            f"own: they differ in {_e(', '.join(report.differences))}.</p>"
        )
    for group in report.groups:
        if report.multi_run or group.pooled:
            out.append(f'<h3 class="group" data-group="{_e(group.label)}">{_e(group.title())}</h3>')
        out.append('<dl class="facts">')
        out += [f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in group.facts]
        out.append("</dl>")
        if group.pooled:
            out.append(
                '<table class="members"><thead><tr>'
                + "".join(f"<th>{_e(c)}</th>" for c in MEMBER_COLUMNS)
                + "</tr></thead><tbody>"
            )
            out += [
                "<tr>" + "".join(f"<td>{_e(v)}</td>" for v in row) + "</tr>"
                for row in group.members
            ]
            out.append("</tbody></table>")
    twice = [run for run in report.runs if run.duplicate_of]
    if twice:
        out.append(
            '<p class="note">Given twice, counted once: '
            + _e(", ".join(f"{r.label} (= {r.duplicate_of})" for r in twice))
            + "</p>"
        )
    if report.unsupported:
        out.append("<h3>Unsupported (listed, not run)</h3><ul>")
        for item in report.unsupported:
            out.append(
                f"<li>{_e(item.server)} {_e(', '.join(item.combos))}: {_e(item.reason)}</li>"
            )
        out.append("</ul>")
    return "".join(out)


def _header(report: Report) -> str:
    """At most four lines, whatever the number of files: the rankings start right below."""
    out = [
        "<header><h1>asgibench results</h1>",
        f'<p class="sub">{_e(report.summary_line())}</p>',
    ]
    if report.multi_run:
        out.append(
            f'<p class="sub">{_e(report.environments_line())}: see '
            '<label for="tab-runs">environment</label>.</p>'
        )
    else:
        group = report.groups[0]
        out.append(f'<p class="sub">{_e(group.machine)}<br>{_e(group.settings_line)}</p>')
    if report.notices:
        n = len(report.notices)
        out.append(
            f'<p class="warnline">⚠ <label for="tab-warnings">{n} warning'
            f"{'s' if n != 1 else ''}</label>: {_e(', '.join(report.notice_kinds()))}</p>"
        )
    out.append("</header>")
    return "".join(out)


def render(report: Report, charts: bool = True) -> str:
    """The whole page. ``charts=False`` (or no matplotlib) leaves the charts out."""
    figs = _Charts(report, charts)
    tabs: list[tuple[str, str, str]] = []  # (id, label, html)
    for test in report.tests:
        tabs.append((f"t-{_slug(test)}", test, _test_panel(report, test, figs)))
    tabs.append(("composite", "composite", _composite_panel(report)))
    if report.notices:
        tabs.append(("warnings", f"warnings ({len(report.notices)})", _warnings_panel(report)))
    tabs.append(("runs", "environment", _runs_panel(report)))
    css = [_CSS]
    for tab_id, _, _ in tabs:
        css.append(
            f"#tab-{tab_id}:checked ~ #panel-{tab_id} {{ display: block; }}\n"
            f"#tab-{tab_id}:checked + label {{ background: var(--bg); color: var(--fg);"
            " border-bottom-color: var(--bg); font-weight: 600; }\n"
        )
    body = [_header(report), '<main class="tabs">']
    for index, (tab_id, label, _) in enumerate(tabs):
        checked = " checked" if index == 0 else ""
        body.append(
            f'<input type="radio" name="tab" id="tab-{tab_id}"{checked}>'
            f'<label for="tab-{tab_id}">{_e(label)}</label>'
        )
    for tab_id, _, content in tabs:
        body.append(f'<section id="panel-{tab_id}" class="panel">{content}</section>')
    body.append("</main>")
    if figs.reason:
        body.append(f'<p class="note">{_e(figs.reason)}</p>')
    note = report.resources_note()
    if note:  # once, below every tab: the resource columns' meaning
        body.append(f'<p class="note">{_e(note)}.</p>')
    body.append(
        '<footer class="note"><p>Generated by <code>bench report</code> '
        "(asgibench). Self-contained: no network needed.</p></footer>"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>asgibench results</title><style>"
        + "".join(css)
        + "</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )
