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

The same pooling serves ``bench report`` given several files: :func:`pools` sorts runs
into groups that may be pooled (:func:`differences` is empty between every two members:
same environment as :mod:`asgibench.harness.environment` records it, same measurement
settings), and :func:`combine` pools each group as :func:`merge` does, without its checks.
"""

from __future__ import annotations

import copy
import json
import statistics
from collections.abc import Sequence
from typing import Any

from asgibench.errors import BenchError
from asgibench.harness import schema
from asgibench.harness.results import Ceiling, Entry, Measurement, Run

_SAME_SETTINGS = ("tests", "levels", "pipeline")
_SAME_MACHINE = (
    ("os", "system"),
    ("cpu", "model"),
    ("cpu", "cores"),
    ("python", "implementation"),
    ("python", "version"),
)


def _machine(run: Run, group: str, name: str) -> Any:
    """``environment[group][name]`` (the environment is free-form), None when missing."""
    section = run.server_environment.get(group)
    return section.get(name) if isinstance(section, dict) else None


def _check(runs: Sequence[Run]) -> None:
    if len(runs) < 1:
        raise BenchError("nothing to merge")
    first = runs[0]
    for run in runs[1:]:
        for key in _SAME_SETTINGS:
            ours, theirs = getattr(run.settings, key), getattr(first.settings, key)
            if ours != theirs:
                raise BenchError(
                    f"cannot merge {run.path!r} with {first.path!r}: their "
                    f"{key} differ ({ours!r} vs {theirs!r})"
                )
        for group, name in _SAME_MACHINE:
            a, b = _machine(first, group, name), _machine(run, group, name)
            if a != b:
                raise BenchError(
                    f"cannot merge {run.path!r} with {first.path!r}: they ran "
                    f"on different machines ({group} {name}: {a!r} vs {b!r})"
                )


def _merge_entry(merged: Entry, entry: Entry) -> None:
    """Fold ``entry`` (a later run's, rounds already renumbered) into ``merged``."""
    if entry.status == "failed" and merged.status != "failed":
        merged.status, merged.phase = entry.status, entry.phase
        merged.reason, merged.output = entry.reason, entry.output
    elif merged.status == "unsupported" and entry.status != "unsupported":
        merged.status, merged.reason = entry.status, entry.reason
    # A failed verification in any run keeps the entry out of the ranking, as a failure
    # does: its body was wrong at least once, whatever the other runs saw.
    if merged.verification is None or (
        entry.verification is not None and not entry.verification.passed
    ):
        merged.verification = entry.verification
    by_key = {level.key: level for level in merged.levels}
    for level in entry.levels:
        target = by_key.get(level.key)
        if target is None:
            merged.levels.append(level)
            by_key[level.key] = level
        else:
            target.repeats.extend(level.repeats)
            target.failures.extend(level.failures)


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


def _union(lists: Sequence[Sequence[str]]) -> list[str]:
    return list(dict.fromkeys(name for names in lists for name in names))


def combine(runs: Sequence[Run], label: str = "merged") -> Run:
    """``runs`` pooled into one run, unchecked: entries keyed by (server, loop, parser,
    test) with every level's repeats concatenated (rounds renumbered run after run), a
    failure in any run failing the entry, each run's ceiling kept with its rounds.
    Settings are the first run's, with ``repeat`` the total and the selection (test types,
    levels, servers, loops, parsers) the union, since runs need not select alike."""
    if not runs:
        raise BenchError("nothing to merge")
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
            target = ceilings.setdefault(
                key, Ceiling(record.test, record.concurrency, record.pipeline, status="failed")
            )
            _merge_ceiling(target, record, rounds)
        offset += count
    for target in ceilings.values():
        if target.repeats:
            target.result = _median_result(target.repeats)
    settings = copy.deepcopy(first.settings)
    settings.repeat = offset
    settings.tests = _union([run.settings.tests for run in runs])
    for run in runs[1:]:
        for test, levels in run.settings.levels.items():
            settings.levels.setdefault(test, list(levels))
        for test, depth in run.settings.pipeline.items():
            settings.pipeline.setdefault(test, depth)
    settings.servers = _union([run.settings.servers for run in runs])
    settings.loops = _union([run.settings.loops for run in runs])
    settings.parsers = _union([run.settings.parsers for run in runs])
    settings.notes = _union([run.settings.notes for run in runs])
    workers = sorted({count for run in runs for count in run.settings.extra.get("workers", [1])})
    if workers != [1]:  # --workers counts, as the runs' entries have them
        settings.extra["workers"] = workers
    return Run(
        first.created,
        first.asgibench_version,
        list(first.command),
        copy.deepcopy(first.environment),
        settings,
        list(ceilings.values()),
        list(entries.values()),
        any(run.interrupted for run in runs),
        copy.deepcopy(first.extra),
        label=label,
        # The driver's accuracy records of every run, as measured (each at its target);
        # a file merged with itself keeps one of each.
        accuracy=list({json.dumps(a.to_dict(), sort_keys=True): copy.deepcopy(a)
                       for run in runs for a in run.accuracy}.values()),
    )


def merge(runs: Sequence[Run]) -> Run:
    """One run from ``runs`` (BenchError when they cannot be merged); its ``to_dict()`` is
    the merged results document."""
    _check(runs)
    out = combine(runs)
    first_notes = list(runs[0].settings.notes)
    # The first run's notes, then the merge, then the notes the later runs add: the
    # order merged files have always had.
    out.settings.notes = [
        *first_notes,
        f"merged from {len(runs)} runs ({', '.join(r.label for r in runs)}); the driver "
        "ceiling was measured before each run's rounds",
        *(note for note in out.settings.notes if note not in first_notes),
    ]
    try:
        schema.validate(out.to_dict())
    except ValueError as exc:  # pragma: no cover - a bug here, not the user's mistake
        raise BenchError(f"the merged document is invalid: {exc}") from None
    return out


# -- which runs may be pooled (bench report) ------------------------------------------------


def _environment(run: Run) -> dict[str, Any]:
    """The environment facts that must be equal for two runs to be pooled: what
    :func:`asgibench.harness.environment.environment` records, less what does not change
    a measurement (the platform string repeats OS and libc; the interpreter's path)."""
    git = run.server_environment.get("git")
    return {
        "OS": (_machine(run, "os", "system"), _machine(run, "os", "release")),
        "CPU": (
            _machine(run, "cpu", "model"),
            _machine(run, "cpu", "cores"),
            _machine(run, "cpu", "machine"),
        ),
        "usable CPUs": _machine(run, "cpu", "usable_cpus"),
        "Python": (_machine(run, "python", "implementation"), _machine(run, "python", "version")),
        # asgibench is one of the servers measured: another commit is another server.
        "asgibench version": run.asgibench_version,
        "commit": git.get("commit") if isinstance(git, dict) else None,
        # ... and so are uncommitted changes: a dirty run pools only with runs of the same
        # diff (environment.git.diff_sha256 in the results file); a dirty run recorded
        # without it pools with nothing.
        "uncommitted changes": _uncommitted(run, git),
    }


def _uncommitted(run: Run, git: Any) -> str | None:
    if not isinstance(git, dict) or not git.get("dirty"):
        return None
    return git.get("diff_sha256") or f"unknown diff (run {run.created} {run.path})"


def _settings(run: Run) -> dict[str, Any]:
    """The measurement settings that must be equal for two runs to be pooled. Not the
    selection (servers, loops, parsers, test types: a configuration only some runs have
    is pooled over those), nor the repeat count (pooling adds repeats), nor the profile's
    name (its numbers are here)."""
    s = run.settings
    driver = s.driver
    pins = s.pinning
    return {
        "driver": (driver.get("name"), driver.get("version"), driver.get("threads")),
        "duration": s.duration_s,
        "warm-up": s.warmup_s,
        "primer": s.primer_s,
        "pause": s.pause_s,
        "timeout": s.timeout_s,
        "pinning": (pins.get("server_cpus"), pins.get("driver_cpus")),
        "app delay": s.app_delay_ms,
        "client-bound threshold": s.extra.get("client_bound_fraction"),
    }


def differences(a: Run, b: Run) -> list[str]:
    """What keeps ``a`` and ``b`` from being pooled (empty: they may be): environment
    facts, package versions, measurement settings, and the levels or pipelining of a test
    type both ran."""
    out = [name for name, value in _environment(a).items() if _environment(b)[name] != value]
    packages_a = a.server_environment.get("packages") or {}
    packages_b = b.server_environment.get("packages") or {}
    # A package only one file records was added to the record by a later asgibench:
    # unknown, not different.
    out += [
        f"{name} version"
        for name in packages_a
        if name in packages_b and name != "asgibench" and packages_a[name] != packages_b[name]
    ]
    out += [name for name, value in _settings(a).items() if _settings(b)[name] != value]
    for test in a.settings.tests:
        if test not in b.settings.tests:
            continue
        if a.settings.levels.get(test) != b.settings.levels.get(test):
            out.append(f"{test} levels")
        if int(a.settings.pipeline.get(test, 1) or 1) != int(b.settings.pipeline.get(test, 1) or 1):
            out.append(f"{test} pipelining")
    return out


def pools(runs: Sequence[Run]) -> list[list[Run]]:
    """``runs`` in groups that may be pooled, in order of first appearance: each run joins
    the first group it has no :func:`differences` with, member by member (so a group never
    holds two runs that could not be pooled with each other)."""
    groups: list[list[Run]] = []
    for run in runs:
        for group in groups:
            if not any(differences(member, run) for member in group):
                group.append(run)
                break
        else:
            groups.append([run])
    return groups
