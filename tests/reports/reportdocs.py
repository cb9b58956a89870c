"""Hand-made results documents (schema ``asgibench.results/1``) for the report tests.

:func:`document` builds a small but complete run -- ranked entries with several levels and
repeats, a client-bound one, a failed start, a failed verification, unsupported
combinations, the driver ceiling -- and fills ``ranking``/``composite`` with the harness's
own functions, exactly as ``bench run`` does. Every document is validated against the
schema before it is returned.
"""

from __future__ import annotations

import copy
import json
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from asgibench.harness import results, schema

FIXTURES = Path(__file__).parent / "fixtures"

#: (server, loop, parser) -> json rps at concurrency 16 and 64 (median targets).
BASE_RPS: dict[tuple[str, str, str], tuple[float, float]] = {
    ("asgibench", "asyncio", "httptools"): (9000.0, 11000.0),
    ("asgibench", "uvloop", "httptools"): (12000.0, 15000.0),
    ("asgibench", "asyncio", "h11"): (3000.0, 3500.0),
    ("asgibench", "uvloop", "h11"): (4200.0, 5000.0),
    ("granian", "asyncio", "rust"): (20000.0, 26000.0),
}
#: Relative spread of the three repeats around the median.
JITTER = (0.97, 1.0, 1.03)
CEILING = {("json", 16): 30000.0, ("json", 64): 32000.0, ("plaintext", 256): 190000.0}


def _measurement(rps: float, p50: float, errors: int = 0, duration: float = 1.5,
                 round_no: int = 1, client_bound: bool = False) -> dict[str, Any]:
    requests = round(rps * duration)
    return {
        "requests": requests,
        "duration_s": duration,
        "requests_per_s": round(requests / duration, 2),
        "latency_ms": {"mean": p50 * 1.1, "stdev": p50 * 0.3, "max": p50 * 6,
                       "p50": p50, "p75": p50 * 1.3, "p90": p50 * 1.7, "p99": p50 * 3.2},
        "errors": {"connect": 0, "read": errors, "write": 0, "timeout": 0},
        "non_2xx": 0,
        "bad_body": 0,
        "checked": requests,
        "round": round_no,
        "client_bound": client_bound,
    }


def _levels(test: str, rps_by_level: dict[int, float], pipeline: int, repeats: int,
            scale: float, bound_at: float | None = None) -> list[dict[str, Any]]:
    out = []
    jitter = JITTER if repeats == 3 else tuple(1.0 for _ in range(repeats))
    for conc, rps in rps_by_level.items():
        reps = []
        for index, factor in enumerate(jitter):
            value = rps * scale * factor
            bound = bound_at is not None and value >= bound_at
            reps.append(_measurement(value, 1000.0 * conc / max(value, 1.0),
                                     round_no=index + 1, client_bound=bound))
        out.append({"concurrency": conc, "pipeline": pipeline, "repeats": reps})
    return out


def _verification(passed: bool = True) -> dict[str, Any]:
    checks = [{"name": "status", "ok": True, "detail": ""},
              {"name": "body", "ok": passed, "detail": "" if passed else "body is b'nope'"}]
    return {"passed": passed, "checks": checks}


def entry(server: str, loop: str, parser: str, test: str, *, status: str = "ok",
          levels: list[dict[str, Any]] | None = None, phase: str | None = None,
          reason: str | None = None, output: str | None = None,
          verification: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"server": server, "loop": loop, "parser": parser, "test": test, "status": status,
            "phase": phase, "reason": reason, "output": output, "server_version": "1.0",
            "verification": verification, "levels": levels or []}


def document(*, scale: float = 1.0, repeats: int = 3, ceiling: bool = True,
             machine: str = "AMD EPYC", cores: int = 2, extras: bool = True,
             created: str = "2026-11-23T10:00:00Z", delay_ms: float = 0.0,
             ceiling_scale: float = 1.0) -> dict[str, Any]:
    """A valid results document. ``scale`` multiplies every server's requests/s (the
    ceiling is multiplied by ``ceiling_scale``); ``extras`` adds failed and unsupported
    entries."""
    tests = ["plaintext", "json"]
    entries: list[dict[str, Any]] = []
    for (server, loop, parser), (r16, r64) in BASE_RPS.items():
        entries.append(entry(server, loop, parser, "json", verification=_verification(),
                             levels=_levels("json", {16: r16, 64: r64}, 1, repeats, scale)))
        bound = CEILING[("plaintext", 256)] * ceiling_scale * 0.8 if ceiling else None
        plain = (r64 * 3.5) if server != "granian" else 160000.0
        entries.append(entry(server, loop, parser, "plaintext", verification=_verification(),
                             levels=_levels("plaintext", {256: plain}, 16, repeats, scale,
                                            bound_at=bound)))
    if extras:
        entries.append(entry("asgibench", "rloop", "httptools", "json", status="failed",
                             phase="start", reason="server failed to start: exited with "
                             "status 1 during start-up", output="Traceback...\nImportError: "
                             "rloop"))
        entries.append(entry("asgibench", "rloop", "httptools", "plaintext", status="failed",
                             phase="start", reason="server failed to start: exited with "
                             "status 1 during start-up"))
        entries.append(entry("asgibench", "rloop", "h11", "json", status="failed",
                             phase="verify", reason="verification failed: body: body is "
                             "b'nope'", verification=_verification(False)))
        entries.append(entry("asgibench", "rloop", "h11", "plaintext", verification=
                             _verification(), levels=_levels("plaintext", {256: 9000.0}, 16,
                                                             repeats, scale)))
        for test in tests:
            for loop, parser in (("uvloop", "h11"), ("uvloop", "httptools")):
                entries.append(entry("granian", loop, parser, test, status="unsupported",
                                     reason=f"granian's parser is its own; it cannot use "
                                     f"{parser}"))
    ceil_records = []
    if ceiling:
        for (test, conc), rps in CEILING.items():
            record: dict[str, Any] = {"test": test, "concurrency": conc,
                                      "pipeline": 16 if test == "plaintext" else 1,
                                      "status": "ok"}
            record["result"] = {k: v for k, v in _measurement(rps * ceiling_scale, 1.0).items()
                                if k not in ("round", "client_bound")}
            ceil_records.append(record)
    doc: dict[str, Any] = {
        "schema": schema.SCHEMA_ID,
        "created": created,
        "asgibench_version": "0.1.0",
        "command": ["bench", "run"],
        "interrupted": False,
        "environment": {
            "os": {"system": "Linux", "release": "6.1", "platform": "Linux-6.1-x86_64"},
            "cpu": {"model": machine, "cores": cores, "usable_cpus": list(range(cores))},
            "python": {"implementation": "CPython", "version": "3.11.7",
                       "executable": "/usr/bin/python3"},
            "packages": {"asgibench": "0.1.0", "uvloop": "0.23.0", "httptools": "0.9.0",
                         "h11": "0.16.0", "granian": "2.8.7"},
            "git": {"commit": "0123456789abcdef0123456789abcdef01234567", "dirty": False},
        },
        "settings": {
            "profile": "custom",
            "driver": {"name": "wrk", "version": "4.1.0"},
            "tests": tests,
            "levels": {"plaintext": [256], "json": [16, 64]},
            "pipeline": {"plaintext": 16, "json": 1},
            "duration_s": 1.5, "warmup_s": 0.5, "primer_s": 0.0, "pause_s": 0.0,
            "repeat": repeats, "timeout_s": 8.0, "host": "127.0.0.1", "port": 8080,
            "servers": ["asgibench", "granian"],
            "loops": ["asyncio", "uvloop", "rloop"],
            "parsers": ["httptools", "h11", "rust"],
            "app": "asgibench.harness.app:app",
            "app_delay_ms": delay_ms,
            "pinning": {"method": "sched_setaffinity", "server_cpus": [0],
                        "driver_cpus": [1], "note": ""},
            "client_bound_fraction": 0.8,
            "notes": [],
        },
        "ceiling": ceil_records,
        "entries": entries,
    }
    doc = results.Run.from_dict(doc).to_dict()  # ranking and composite, as the harness does
    schema.validate(doc)
    return doc


#: Open loop: (server, loop, parser) of the json entries measured at each rate, and the
#: fixture's figures per rate: (target req/s, p50 ms, p99 ms, late).
OPEN_CONFIGS = (("asgibench", "uvloop", "httptools"), ("asgibench", "asyncio", "h11"))
OPEN_RATES = {"50%": (7500.0, 0.8, 4.0, 0), "90%": (13500.0, 2.0, 40.0, 300)}


def _open_repeat(target: float, p50: float, p99: float, late: int,
                 round_no: int) -> dict[str, Any]:
    """An open-loop repeat with its HDR histogram: 98% of the requests at ``p50``, 2% at
    ``p99`` (so p99 reads ``p99``)."""
    from asgibench.harness import latency

    requests = round(target * 1.5)
    tail = requests // 50
    hist = latency.from_counts({int(p50 * 1000): requests - tail, int(p99 * 1000): tail})
    counts = {"target_rps": target, "arrival": "fixed", "sent_per_s": target,
              "scheduled": requests, "sent": requests, "late": late, "dropped": 0,
              "connections": 64, "late_after_ms": 10.0, "percent_of_rps": target * 2,
              "flags": []}
    counts["flags"] = results.OpenLoop.from_dict(counts).judge()
    out = _measurement(target, p50, round_no=round_no)
    out.update(latency_ms=latency.stats_ms(hist), histogram=latency.encode(hist),
               open_loop=counts)
    return out


def open_loop_document() -> dict[str, Any]:
    """:func:`document` (one repeat) with ``--rate 50%,90%`` measured on OPEN_CONFIGS' json
    entries (at 90% one is flagged: late sends), one rate failed on a crash in the second
    of them, and the driver's accuracy at each rate."""
    doc = document(repeats=1, extras=False)
    doc["settings"]["rates"] = list(OPEN_RATES)
    doc["settings"]["arrival"] = "fixed"
    for item in doc["entries"]:
        config = (item["server"], item["loop"], item["parser"])
        if item["test"] != "json" or config not in OPEN_CONFIGS:
            continue
        slower = OPEN_CONFIGS.index(config)
        for rate, (target, p50, p99, late) in OPEN_RATES.items():
            level: dict[str, Any] = {"concurrency": 64, "rate": rate, "pipeline": 1,
                                     "repeats": []}
            if slower and rate == "90%":
                level["failures"] = ["round 1: server exited with status 3 during json "
                                     "open loop r=90%"]
            else:
                level["repeats"] = [_open_repeat(target / (1 + slower), p50 * (1 + slower),
                                                 p99 * (1 + slower), late, 1)]
            item["levels"].append(level)
    accuracy = []
    for rate, (target, _, _, _) in OPEN_RATES.items():
        result = _open_repeat(target, 0.2, 0.9, 0, 1)
        for key in ("round", "client_bound"):
            result.pop(key)
        accuracy.append({"test": "json", "rate": rate, "target_rps": target,
                         "connections": 64, "status": "ok", "result": result})
    doc["driver_accuracy"] = accuracy
    doc.pop("ranking", None)
    doc.pop("composite", None)
    doc = results.Run.from_dict(doc).to_dict()
    schema.validate(doc)
    return doc


def write(doc: dict[str, Any], path: Path) -> Path:
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return path


def modified(doc: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    out.update(changes)
    return out


def chromium() -> str | None:
    """Debian's chromium (or another Chrome) on PATH, else None."""
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class _Tables(HTMLParser):
    """Collect every <table>'s rows as lists of (text, attrs) cells, plus external refs."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[tuple[dict[str, str], list[tuple[dict[str, str], list]]]] = []
        self.cell: list[str] | None = None
        self.external: list[str] = []
        self.row_attrs: dict[str, str] = {}
        self.cell_attrs: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = {k: v or "" for k, v in attrs}
        for key in ("src", "href"):
            if a.get(key, "").startswith(("http:", "https:", "//")):
                self.external.append(a[key])
        if tag == "table":
            self.tables.append((a, []))
        elif tag == "tr" and self.tables:
            self.tables[-1][1].append((a, []))
        elif tag in ("td", "th") and self.tables:
            self.cell, self.cell_attrs = [], a

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.cell is not None and self.tables:
            self.tables[-1][1][-1][1].append(("".join(self.cell).strip(), self.cell_attrs))
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def parse_tables(text: str) -> _Tables:
    parser = _Tables()
    parser.feed(text)
    return parser


def check_rankings_in_dom(dom: str, doc: dict) -> None:
    """Every ranked row of the results JSON is in the HTML ranking table, same numbers."""
    parsed = parse_tables(dom)
    assert not parsed.external, parsed.external
    rankings = {t.get("data-test"): rows for t, rows in parsed.tables
                if "ranking" in t.get("class", "")}
    assert set(rankings) == set(doc["ranking"])
    for test, expected in doc["ranking"].items():
        rows = [(attrs, cells) for attrs, cells in rankings[test] if "data-server" in attrs]
        assert len(rows) == len(expected)
        for (attrs, cells), want in zip(rows, expected, strict=True):
            assert (attrs["data-server"], attrs["data-loop"], attrs["data-parser"]) == \
                (want["server"], want["loop"], want["parser"])
            by_class = {c[1].get("class", "").split()[-1]: c for c in cells}
            assert by_class["rank"][0] == str(want["rank"])
            assert by_class["rps"][0] == f"{want['requests_per_s']:,.0f}"
            assert float(by_class["rps"][1]["data-value"]) == \
                pytest.approx(want["requests_per_s"], abs=1e-3)
            assert float(by_class["pct"][1]["data-value"]) == \
                pytest.approx(want["pct_of_best"], abs=0.01)
            assert by_class["errors"][0] == str(want["errors"])



if __name__ == "__main__":  # regenerate the committed fixture
    write(document(), FIXTURES / "sample.json")
