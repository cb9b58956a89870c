"""Merge several runs of the same configuration into one results file with more repeats.

Why: ``bench run`` measures the driver ceiling once, before its rounds. On a noisy
machine that single measurement is as noisy as any other, and ``bench compare
--normalise`` divides by it. N runs of ``--repeat 1`` merged give every round its own
ceiling measurement, taken just before it; the merged file records them as
``ceiling[].repeats[]`` with the rounds they belong to, and ``bench compare`` then
normalises round by round, so the ceiling's noise is inside the interval instead of
hidden in a constant.

The merged document is a valid ``asgibench.results/1`` file: entries keyed by (server,
loop, parser, test) with every level's repeats concatenated and renumbered (run k's
rounds follow run k-1's), a failure in any run makes the entry failed, settings from the
first run with ``repeat`` = the total, ranking and composite recomputed by the harness.
Runs must share the test types, levels, pipelining and machine.
"""

from __future__ import annotations

import copy
import statistics
from collections.abc import Sequence
from typing import Any

from asgibench.errors import BenchError
from asgibench.reports.load import Run

_SAME_SETTINGS = ("tests", "levels", "pipeline")
_SAME_MACHINE = (("os", "system"), ("cpu", "model"), ("cpu", "cores"),
                 ("python", "implementation"), ("python", "version"))


def _check(runs: Sequence[Run]) -> None:
    if len(runs) < 1:
        raise BenchError("nothing to merge")
    first = runs[0]
    for run in runs[1:]:
        for key in _SAME_SETTINGS:
            if run.settings.get(key) != first.settings.get(key):
                raise BenchError(f"cannot merge {run.path!r} with {first.path!r}: their "
                                 f"{key} differ ({run.settings.get(key)!r} vs "
                                 f"{first.settings.get(key)!r})")
        for group, name in _SAME_MACHINE:
            a = (first.environment.get(group) or {}).get(name)
            b = (run.environment.get(group) or {}).get(name)
            if a != b:
                raise BenchError(f"cannot merge {run.path!r} with {first.path!r}: they ran "
                                 f"on different machines ({group} {name}: {a!r} vs {b!r})")


def merge(runs: Sequence[Run]) -> dict[str, Any]:
    """One results document from ``runs`` (BenchError when they cannot be merged)."""
    from asgibench.harness import ranking, schema

    _check(runs)
    first = runs[0]
    doc = copy.deepcopy(first.document)
    entries: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    ceilings: dict[tuple[str, int, int], dict[str, Any]] = {}
    offset = 0
    for run in runs:
        count = int(run.settings.get("repeat") or 1)
        rounds = list(range(offset + 1, offset + count + 1))
        for raw in run.entries:
            entry = copy.deepcopy(raw)
            key = (entry["server"], entry["loop"], entry["parser"], entry["test"])
            for level in entry.get("levels") or []:
                for repeat in level.get("repeats") or []:
                    repeat["round"] = offset + int(repeat.get("round") or 1)
            merged = entries.get(key)
            if merged is None:
                entries[key] = entry
                continue
            if entry["status"] == "failed" and merged["status"] != "failed":
                for name in ("status", "phase", "reason", "output"):
                    merged[name] = entry.get(name)
            elif merged["status"] == "unsupported" and entry["status"] != "unsupported":
                merged.update(status=entry["status"], reason=entry.get("reason"))
            if merged.get("verification") is None:
                merged["verification"] = entry.get("verification")
            by_conc = {lv["concurrency"]: lv for lv in merged.get("levels") or []}
            for level in entry.get("levels") or []:
                target = by_conc.get(level["concurrency"])
                if target is None:
                    merged.setdefault("levels", []).append(level)
                    by_conc[level["concurrency"]] = level
                else:
                    target["repeats"].extend(level.get("repeats") or [])
        for record in run.document.get("ceiling") or []:
            key_c = (record["test"], int(record["concurrency"]), int(record["pipeline"]))
            target = ceilings.setdefault(key_c, {"test": record["test"],
                                                 "concurrency": record["concurrency"],
                                                 "pipeline": record["pipeline"],
                                                 "status": "failed", "repeats": []})
            if record.get("status") == "ok" and record.get("result"):
                measured = dict(record["result"], round=rounds[0], rounds=rounds)
                target["repeats"].append(measured)
                target["status"] = "ok"
                target.pop("reason", None)
            elif target["status"] != "ok":
                target["reason"] = record.get("reason") or "failed"
        offset += count
    for record in ceilings.values():
        if record["repeats"]:
            values = sorted(record["repeats"], key=lambda r: r["requests_per_s"])
            middle = values[(len(values) - 1) // 2]
            record["result"] = {k: v for k, v in middle.items() if k not in ("round", "rounds")}
            median = statistics.median(r["requests_per_s"] for r in values)
            record["result"]["requests_per_s"] = round(median, 2)
        else:
            record.pop("repeats")
    doc["entries"] = list(entries.values())
    doc["ceiling"] = list(ceilings.values())
    doc["interrupted"] = any(bool(r.document.get("interrupted")) for r in runs)
    settings = doc["settings"]
    settings["repeat"] = offset
    notes = list(settings.get("notes") or [])
    notes.append(f"merged from {len(runs)} runs ({', '.join(r.label for r in runs)}); the "
                 "driver ceiling was measured before each run's rounds")
    settings["notes"] = notes
    for run in runs[1:]:
        for note in run.settings.get("notes") or []:
            if note not in notes:
                notes.append(note)
    tests = list(settings.get("tests") or [])
    rankings = ranking.rank_all(doc["entries"], tests)
    doc["ranking"] = {t: [row.to_dict() for row in rows] for t, rows in rankings.items()}
    doc["composite"] = [row.to_dict() for row in ranking.composite(rankings)]
    try:
        schema.validate(doc)
    except ValueError as exc:  # pragma: no cover - a bug here, not the user's mistake
        raise BenchError(f"the merged document is invalid: {exc}") from None
    return doc
