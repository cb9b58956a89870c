"""``bench compare BASELINE CANDIDATE`` of two ``bench cost --out`` files: a CI gate that
the machine's noise cannot fool.

Requests per second on a shared machine move by 25% between identical runs; the CPU
instructions a server executes per request (callgrind, :mod:`asgibench.harness.cost`)
move by well under 1%. So each row -- (server, loop, parser, test type or workload,
pipelining, app) -- is matched across the two files and judged on its instructions per
request alone:

* ratio = candidate / baseline;
* **more work** when the ratio is above 1 + threshold (default 2%), **less work** when
  below 1 - threshold, otherwise **no significant change**; a row counted in the baseline
  but not in the candidate (the server failed to start, a wrong answer), or missing from
  it altogether, is **failed**.

A count is one measurement with no repeats, so there is no interval: the threshold is the
margin, chosen well above the count's own spread (identical builds differ by < 0.3%).

Exit status: 1 if any row did more work or failed, 0 otherwise; 2 for bad input (a file
that is not a cost file, no row in common), as for results files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from asgibench.errors import BenchError
from asgibench.harness import resources
from asgibench.harness.cost import Cost
from asgibench.harness.resources import COST_KIND, MEMORY_KIND
from asgibench.reports import fmt

DEFAULT_THRESHOLD = 0.02
MORE = "more work"
LESS = "less work"
SAME = "no significant change"
FAILED = "failed"
SCHEMA_ID = "asgibench.compare-cost/1"

Key = tuple[str, str, str, str, int, str]  # server, loop, parser, test, pipeline, app


def kind_of(path: str) -> str | None:
    """``"cost"`` or ``"memory"`` for a ``bench cost``/``bench memory`` file, else None
    (a results file, or something the results reader will name as wrong)."""
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(document, dict):
        return None
    return {COST_KIND: "cost", MEMORY_KIND: "memory"}.get(str(document.get("kind")))


def key_of(row: Cost) -> Key:
    return (row.server, row.loop, row.parser, row.test, row.pipeline, row.app or "")


@dataclass
class CostFile:
    """A cost file's rows by key (:func:`asgibench.harness.resources.read_cost` read it)."""

    path: str
    document: dict[str, Any]  # the environment it was counted in (no rows)
    rows: dict[Key, Cost]

    @property
    def created(self) -> str:
        return str(self.document.get("created") or "")

    @property
    def requests(self) -> set[int]:
        return {row.requests for row in self.rows.values()}


def read(path: str) -> CostFile:
    """A ``bench cost --out`` file, its rows by key; BenchError (one line) otherwise."""
    typed = resources.read_cost(path)
    rows: dict[Key, Cost] = {}
    for row in typed.rows:
        key = key_of(row)
        if key in rows:
            raise BenchError(f"cost file {path!r}: {_label(key)} appears twice")
        rows[key] = row
    return CostFile(path, typed.meta, rows)


def _label(key: Key) -> str:
    server, loop, parser, test, pipeline, app = key
    combo = loop if parser == "-" else f"{loop}/{parser}"  # the canned floor has no parser
    depth = f" x{pipeline}" if pipeline > 1 else ""
    return f"{server} {combo} {test}{depth}" + (f" ({app})" if app else "")


@dataclass
class CostMatch:
    key: Key
    baseline: float
    candidate: float | None
    verdict: str = SAME
    reason: str = ""  # the candidate's, when it was not counted

    @property
    def label(self) -> str:
        return _label(self.key)

    @property
    def ratio(self) -> float | None:
        return None if self.candidate is None else self.candidate / self.baseline

    def to_dict(self) -> dict[str, Any]:
        server, loop, parser, test, pipeline, app = self.key
        return {"server": server, "loop": loop, "parser": parser, "test": test,
                "pipeline": pipeline, **({"app": app} if app else {}),
                "baseline": {"per_request": round(self.baseline, 3)},
                "candidate": {"per_request": None if self.candidate is None
                              else round(self.candidate, 3), "reason": self.reason or None},
                "ratio": None if self.ratio is None else round(self.ratio, 6),
                "verdict": self.verdict}


@dataclass
class CostComparison:
    baseline: CostFile
    candidate: CostFile
    threshold: float
    matches: list[CostMatch]
    only_baseline: list[str] = field(default_factory=list)
    only_candidate: list[str] = field(default_factory=list)
    not_compared: list[str] = field(default_factory=list)  # not counted in the baseline
    warnings: list[str] = field(default_factory=list)

    def count(self, verdict: str) -> int:
        return sum(1 for m in self.matches if m.verdict == verdict)

    @property
    def exit_status(self) -> int:
        return 1 if self.count(MORE) or self.count(FAILED) else 0


def _warnings(base: CostFile, cand: CostFile) -> list[str]:
    """What makes the counts of two files not comparable as they stand."""
    out = []
    for name, what in (("python", "Python"), ("asgibench_version", "asgibench"),
                       ("core_build", "the server core's build")):
        a, b = base.document.get(name), cand.document.get(name)
        if a != b:
            out.append(f"{what} differs ({a} vs {b}): instruction counts depend on it")
    a_sys = (base.document.get("machine") or {}).get("system")
    b_sys = (cand.document.get("machine") or {}).get("system")
    if a_sys != b_sys:
        out.append(f"the OS differs ({a_sys} vs {b_sys})")
    if base.requests != cand.requests:
        out.append(f"measured requests differ ({', '.join(map(str, sorted(base.requests)))} "
                   f"vs {', '.join(map(str, sorted(cand.requests)))}): fixed costs are "
                   "spread over another number of requests")
    for group in ("servers", "loops"):
        a, b = base.document.get(group) or {}, cand.document.get(group) or {}
        changed = [f"{name} {a[name]} -> {b[name]}" for name in sorted(set(a) & set(b))
                   if a[name] != b[name]]
        if changed:
            out.append(f"versions differ: {', '.join(changed)}")
    return out


def compare(base: CostFile, cand: CostFile, threshold: float = DEFAULT_THRESHOLD
            ) -> CostComparison:
    """Every row counted in the baseline, judged against the candidate's. A counted row
    the candidate lacks is failed: a candidate that silently drops an entry must not
    pass the gate."""
    if not set(base.rows) & set(cand.rows):
        raise BenchError(f"{base.path!r} and {cand.path!r} have no counted row in common "
                         "(server, loop, parser, test, pipelining, app)")
    matches: list[CostMatch] = []
    not_compared: list[str] = []
    for key, row in base.rows.items():
        before = row.per_request
        if before is None or before <= 0:
            if key in cand.rows:
                not_compared.append(f"{_label(key)} (not counted in the baseline: "
                                    f"{row.reason or 'no count'})")
            continue
        other = cand.rows.get(key)
        after = None if other is None else other.per_request
        match = CostMatch(key, before, after)
        if other is None:
            match.verdict, match.reason = FAILED, "not in the candidate"
        elif after is None:
            match.verdict, match.reason = FAILED, other.reason or "not counted"
        elif after > before * (1 + threshold):
            match.verdict = MORE
        elif after < before * (1 - threshold):
            match.verdict = LESS
        matches.append(match)
    if not matches:
        raise BenchError(f"{base.path!r} and {cand.path!r} have no counted row in common "
                         "(server, loop, parser, test, pipelining, app)")
    return CostComparison(
        base, cand, threshold, matches,
        only_baseline=[f"{_label(k)} (not counted there)" for k, row in base.rows.items()
                       if k not in cand.rows and row.per_request is None],
        only_candidate=[_label(k) for k in cand.rows if k not in base.rows],
        not_compared=not_compared, warnings=_warnings(base, cand))


# -- rendering ------------------------------------------------------------------------------


def _pct(fraction: float) -> str:
    return f"{fraction * 100:g}%"


def _count(value: float | None) -> str:
    return "not counted" if value is None else f"{value:,.0f}"


def _summary(cmp: CostComparison) -> str:
    parts = [f"{cmp.count(MORE)} more work", f"{cmp.count(LESS)} less work",
             f"{cmp.count(SAME)} no significant change"]
    if cmp.count(FAILED):
        parts.insert(0, f"{cmp.count(FAILED)} failed")
    return ", ".join(parts)


def _method(cmp: CostComparison) -> str:
    return (f"metric: CPU instructions per request (callgrind); ratio = candidate / baseline; "
            f"threshold {_pct(cmp.threshold)}: more/less work only past it")


def _rows(cmp: CostComparison) -> list[list[str]]:
    out = []
    for m in cmp.matches:
        ratio = "-" if m.ratio is None else f"{m.ratio:.4f}"
        change = "-" if m.ratio is None else fmt.signed_pct((m.ratio - 1) * 100, 2)
        verdict = m.verdict.upper() if m.verdict in (MORE, FAILED) else m.verdict
        if m.reason:
            verdict += f" ({m.reason})"
        out.append([m.label, _count(m.baseline), _count(m.candidate), ratio, change, verdict])
    return out


def _tail(cmp: CostComparison) -> list[str]:
    out = []
    if cmp.only_baseline:
        out.append("only in the baseline (not compared): " + "; ".join(cmp.only_baseline))
    if cmp.only_candidate:
        out.append("only in the candidate (not compared): " + "; ".join(cmp.only_candidate))
    if cmp.not_compared:
        out.append("not compared: " + "; ".join(cmp.not_compared))
    return out


def render_text(cmp: CostComparison) -> str:
    header = ["entry", "baseline", "candidate", "ratio", "change", "verdict"]
    rows = _rows(cmp)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    out = ["asgibench compare (instruction counts)",
           f"baseline : {cmp.baseline.path} ({cmp.baseline.created})",
           f"candidate: {cmp.candidate.path} ({cmp.candidate.created})", _method(cmp), ""]
    for row in [header, *rows]:
        out.append("  ".join(v.ljust(widths[i]) if i in (0, 5) else v.rjust(widths[i])
                             for i, v in enumerate(row)).rstrip())
    out.append("")
    out += _tail(cmp)
    out += [f"warning: {w}" for w in cmp.warnings]
    out.append(f"summary: {_summary(cmp)} -> exit status {cmp.exit_status}")
    return "\n".join(out) + "\n"


def render_markdown(cmp: CostComparison) -> str:
    from asgibench.reports.markdown import table

    mark = "❌ regression" if cmp.exit_status else "✅ no regression"
    out = ["## asgibench compare: instructions per request", "",
           f"**{mark}: {_summary(cmp)}** (threshold {_pct(cmp.threshold)})", "",
           f"- baseline: {cmp.baseline.path} ({cmp.baseline.created})",
           f"- candidate: {cmp.candidate.path} ({cmp.candidate.created})",
           f"- {_method(cmp)}", ""]
    rows = [[*row[:5], f"**{row[5]}**" if m.verdict != SAME else row[5]]
            for row, m in zip(_rows(cmp), cmp.matches, strict=True)]
    out += table(["entry", "baseline", "candidate", "ratio", "change", "verdict"], rows,
                 ["l", "r", "r", "r", "r", "l"])
    out.append("")
    out += [f"{line[0].upper()}{line[1:]}" for line in _tail(cmp)]
    if cmp.warnings:
        out += ["", "**Warnings**", ""] + [f"- ⚠ {w}" for w in cmp.warnings]
    return "\n".join(out).rstrip() + "\n"


def to_dict(cmp: CostComparison) -> dict[str, Any]:
    def side(f: CostFile) -> dict[str, Any]:
        return {"path": f.path, "created": f.created, "python": f.document.get("python")}

    return {
        "schema": SCHEMA_ID,
        "baseline": side(cmp.baseline),
        "candidate": side(cmp.candidate),
        "metric": "instructions_per_request",
        "threshold": cmp.threshold,
        "entries": [m.to_dict() for m in cmp.matches],
        "only_in_baseline": list(cmp.only_baseline),
        "only_in_candidate": list(cmp.only_candidate),
        "not_compared": list(cmp.not_compared),
        "warnings": list(cmp.warnings),
        "summary": {"more_work": cmp.count(MORE), "less_work": cmp.count(LESS),
                    "no_significant_change": cmp.count(SAME), "failed": cmp.count(FAILED)},
        "exit_status": cmp.exit_status,
    }


def render_json(cmp: CostComparison) -> str:
    return json.dumps(to_dict(cmp), indent=2, ensure_ascii=False) + "\n"


RENDERERS = {"text": render_text, "md": render_markdown, "json": render_json}
