"""Merge several runs of the same configuration into one results file with more repeats.

Why: ``bench run`` measures the driver ceiling once, before its rounds. On a noisy
machine that single measurement is as noisy as any other, and ``bench compare
--normalise`` divides by it. N runs of ``--repeat 1`` merged give every round its own
ceiling measurement, taken just before it; the merged file records them as
``ceiling[].repeats[]`` with the rounds they belong to, and ``bench compare`` then
normalises round by round, so the ceiling's noise is inside the interval instead of
hidden in a constant.

:func:`merge` returns a typed :class:`~asgibench.harness.results.Run` whose ``to_dict()``
is a valid ``asgibench.results/1`` document: entries keyed by (server, loop, parser,
test) with every level's repeats concatenated and renumbered (run k's rounds follow run
k-1's), a failure in any run makes the entry failed, settings from the first run with
``repeat`` = the total, ranking and composite recomputed by the harness's one ranking.
Runs must share the test types, levels, pipelining and machine.
"""

from __future__ import annotations

import copy
import statistics
from collections.abc import Sequence
from typing import Any

from asgibench.errors import BenchError
from asgibench.harness import schema
from asgibench.harness.results import Ceiling, Entry, Measurement, Run

_SAME_SETTINGS = ("tests", "levels", "pipeline")
_SAME_MACHINE = (("os", "system"), ("cpu", "model"), ("cpu", "cores"),
                 ("python", "implementation"), ("python", "version"))


def _machine(run: Run, group: str, name: str) -> Any:
    """``environment[group][name]`` (the environment is free-form), None when missing."""
    section = run.environment.get(group)
    return section.get(name) if isinstance(section, dict) else None


def _check(runs: Sequence[Run]) -> None:
    if len(runs) < 1:
        raise BenchError("nothing to merge")
    first = runs[0]
    for run in runs[1:]:
        for key in _SAME_SETTINGS:
            ours, theirs = getattr(run.settings, key), getattr(first.settings, key)
            if ours != theirs:
                raise BenchError(f"cannot merge {run.path!r} with {first.path!r}: their "
                                 f"{key} differ ({ours!r} vs {theirs!r})")
        for group, name in _SAME_MACHINE:
            a, b = _machine(first, group, name), _machine(run, group, name)
            if a != b:
                raise BenchError(f"cannot merge {run.path!r} with {first.path!r}: they ran "
                                 f"on different machines ({group} {name}: {a!r} vs {b!r})")


def _merge_entry(merged: Entry, entry: Entry) -> None:
    """Fold ``entry`` (a later run's, rounds already renumbered) into ``merged``."""
    if entry.status == "failed" and merged.status != "failed":
        merged.status, merged.phase = entry.status, entry.phase
        merged.reason, merged.output = entry.reason, entry.output
    elif merged.status == "unsupported" and entry.status != "unsupported":
        merged.status, merged.reason = entry.status, entry.reason
    if merged.verification is None:
        merged.verification = entry.verification
    by_conc = {level.concurrency: level for level in merged.levels}
    for level in entry.levels:
        target = by_conc.get(level.concurrency)
        if target is None:
            merged.levels.append(level)
            by_conc[level.concurrency] = level
        else:
            target.repeats.extend(level.repeats)


def _merge_ceiling(target: Ceiling, record: Ceiling, rounds: list[int]) -> None:
    """Add one run's ceiling record, measured before ``rounds``, to ``target``."""
    if record.status == "ok" and record.result is not None:
        measured = copy.deepcopy(record.result)
        measured.extra.update(round=rounds[0], rounds=rounds)
        target.repeats.append(measured)
        target.status = "ok"
        target.reason = None
    elif target.status != "ok":
        target.reason = record.reason or "failed"


def _median_result(repeats: list[Measurement]) -> Measurement:
    """The middle measurement (without its rounds), its requests/s the median of all."""
    values = sorted(repeats, key=lambda r: r.requests_per_s)
    middle = copy.deepcopy(values[(len(values) - 1) // 2])
    middle.extra = {k: v for k, v in middle.extra.items() if k not in ("round", "rounds")}
    middle.requests_per_s = round(statistics.median(r.requests_per_s for r in values), 2)
    return middle


def merge(runs: Sequence[Run]) -> Run:
    """One run from ``runs`` (BenchError when they cannot be merged); its ``to_dict()`` is
    the merged results document."""
    _check(runs)
    first = runs[0]
    entries: dict[tuple[str, str, str, str], Entry] = {}
    ceilings: dict[tuple[str, int, int], Ceiling] = {}
    offset = 0
    for run in runs:
        count = int(run.settings.repeat or 1)
        rounds = list(range(offset + 1, offset + count + 1))
        for original in run.entries:
            entry = copy.deepcopy(original)
            for level in entry.levels:
                for repeat in level.repeats:
                    repeat.round = offset + int(repeat.round or 1)
            merged = entries.get(entry.key)
            if merged is None:
                entries[entry.key] = entry
            else:
                _merge_entry(merged, entry)
        for record in run.ceiling:
            key = (record.test, record.concurrency, record.pipeline)
            target = ceilings.setdefault(key, Ceiling(record.test, record.concurrency,
                                                      record.pipeline, status="failed"))
            _merge_ceiling(target, record, rounds)
        offset += count
    for target in ceilings.values():
        if target.repeats:
            target.result = _median_result(target.repeats)
    settings = copy.deepcopy(first.settings)
    settings.repeat = offset
    notes = settings.notes
    notes.append(f"merged from {len(runs)} runs ({', '.join(r.label for r in runs)}); the "
                 "driver ceiling was measured before each run's rounds")
    for run in runs[1:]:
        for note in run.settings.notes:
            if note not in notes:
                notes.append(note)
    out = Run(first.created, first.asgibench_version, list(first.command),
              copy.deepcopy(first.environment), settings, list(ceilings.values()),
              list(entries.values()), any(run.interrupted for run in runs),
              copy.deepcopy(first.extra), label="merged")
    try:
        schema.validate(out.to_dict())
    except ValueError as exc:  # pragma: no cover - a bug here, not the user's mistake
        raise BenchError(f"the merged document is invalid: {exc}") from None
    return out
