"""Open loop (``bench run --rate``): a server stall shows in the open-loop tail and not in
the closed-loop one at the same throughput; the driver counts what it could not send on
time; HDR histograms merge exactly and round-trip through the results file; mistaken
flags are one line and exit 2 before anything starts."""

from __future__ import annotations

import math
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from asgibench.errors import BenchError
from asgibench.harness import latency, plan, ranking, results, runner
from asgibench.harness.drivers import LoadSpec
from asgibench.harness.drivers.pydriver import DRIVER
from asgibench.harness.results import Measurement, OpenLoop

from .apps import crowd, stall

# Rates and latency tails measured against each other: alone on the machine under xdist
# (tests/conftest.py).
pytestmark = pytest.mark.quiet

APPS = Path(__file__).resolve().parent / "apps"


def _bench(*args: str, cwd: Path | None = None,
           timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "asgibench", "run", *args],
                          capture_output=True, text=True, timeout=timeout, cwd=cwd,
                          check=False)


@pytest.mark.slow
def test_a_stall_shows_in_the_open_loop_tail_not_the_closed_loop_one(tmp_path: Path) -> None:
    # The app blocks its loop 100 ms once a second. Closed loop at 2 connections sets the
    # throughput; open loop at 100% of it sends at that same mean rate.
    out = tmp_path / "stall.json"
    proc = _bench("--app", "stall:app", "--app-dir", str(APPS), "--endpoint", "GET /",
                  "--levels", "2", "--rate", "100%", "--duration", "1.5", "--warmup", "0",
                  "--repeat", "1", "--no-ceiling", "--loop", "asyncio", "--proto", "h11",
                  "--quiet", "--out", str(out), cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    run = results.load(out)
    (entry,) = run.entries
    (closed,) = entry.measured_levels
    (opened,) = entry.open_levels
    (c,), (o,) = closed.repeats, opened.repeats
    assert o.open_loop is not None and o.histogram
    # The same mean throughput: open loop aimed at what closed loop achieved, and sent it.
    assert o.open_loop.target_rps == pytest.approx(c.requests_per_s)
    assert o.open_loop.sent >= 0.9 * o.open_loop.scheduled > 0
    assert 0.8 * c.requests_per_s <= o.requests_per_s <= 1.2 * c.requests_per_s
    # Every request the stall held up counts from its scheduled time...
    assert o.percentile(99) >= 50, o.latency_ms
    # ...while closed loop sent nothing during the stall, so its p99 does not show it:
    # a stall holds one request per connection, at most (duration + 1) stalls in the
    # window, and p99 stays clear of them while they are under 1% of the requests.
    held = 2 * (int(1.5 / stall.EVERY_S) + 1)
    assert c.percentile(99) < 50, (
        f"closed-loop p99 {c.latency_ms}: {c.requests} requests in 1.5 s; the "
        f"{held} a stall can hold are under 1% only above {held * 100} requests (this "
        "machine answered too slowly for the premise)")
    assert "open loop" in proc.stdout and "r=100%" in proc.stdout


@pytest.mark.slow
def test_a_pipelined_types_percentage_is_of_its_unpipelined_figure(tmp_path: Path) -> None:
    # plaintext is measured pipelined x16; open loop sends one request per connection,
    # so 50% is of a closed-loop figure measured unpipelined. With the ceiling on, the
    # driver's accuracy is measured at the same target, on the same Poisson schedule.
    out = tmp_path / "plain.json"
    proc = _bench("--test", "plaintext", "--server", "asgibench", "--loop", "asyncio",
                  "--proto", "h11", "--levels", "8", "--rate", "50%", "--arrival",
                  "poisson", "--duration", "0.5", "--warmup", "0", "--repeat", "1",
                  "--quiet", "--out", str(out), cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    run = results.load(out)
    (entry,) = run.entries
    (closed,) = entry.measured_levels
    (opened,) = entry.open_levels
    assert closed.pipeline == 16 and opened.pipeline == 1
    (o,) = opened.repeats
    assert o.open_loop is not None and o.open_loop.arrival == "poisson"
    reference = o.open_loop.percent_of_rps
    assert reference is not None and reference != closed.repeats[0].requests_per_s
    assert o.open_loop.target_rps == pytest.approx(reference / 2, rel=0.01)
    # An open-loop level records what it cost, as a closed-loop one does.
    assert o.resources is not None and o.resources.server_cpu_s, o.resources
    assert o.resources.driver_cpu_s is not None
    (accuracy,) = run.accuracy
    assert accuracy.status == "ok" and accuracy.rate == "50%"
    assert accuracy.target_rps == pytest.approx(o.open_loop.target_rps, rel=0.01)
    assert accuracy.result is not None and accuracy.result.open_loop is not None
    assert accuracy.result.open_loop.arrival == "poisson"
    assert accuracy.result.open_loop.scheduled > 0 and accuracy.result.histogram


@pytest.mark.slow
def test_an_overloaded_server_gets_a_bounded_number_of_connections(tmp_path: Path) -> None:
    # Each answer takes 0.3 s: 400 req/s would need ~120 connections; the driver may
    # grow to rate x 200 ms (80), so requests queue and count late.
    out = tmp_path / "slow.json"
    proc = _bench("--app", "crowd:slow", "--app-dir", str(APPS), "--endpoint", "GET /",
                  "--levels", "2", "--rate", "400", "--duration", "1", "--warmup", "0",
                  "--repeat", "1", "--timeout", "2", "--no-ceiling", "--loop", "asyncio",
                  "--proto", "h11", "--quiet", "--out", str(out), cwd=tmp_path,
                  timeout=120)
    assert proc.returncode == 0, proc.stderr
    (entry,) = results.load(out).entries
    (opened,) = entry.open_levels
    (o,) = opened.repeats
    assert o.open_loop is not None
    cap = max(math.ceil(400 * runner.OPEN_LATENCY_BUDGET_S), runner.OPEN_MIN_CONNECTIONS)
    assert cap < 400 * crowd.SLOW_S  # the premise: fewer than the load needs
    assert o.open_loop.connections <= cap
    assert o.open_loop.late > 0 and o.open_loop.flags
    assert o.requests > 0  # what was answered counted, from its scheduled time
    assert o.percentile(50) >= crowd.SLOW_S * 1000


@pytest.mark.slow
def test_a_crash_under_open_loop_keeps_the_entry_and_its_closed_loop_figures(
        tmp_path: Path) -> None:
    # The app exits when more than 2 requests are in flight: closed loop at 2
    # connections never does that; open loop at 1000 req/s does, at once.
    out = tmp_path / "crowd.json"
    proc = _bench("--app", "crowd:crowd", "--app-dir", str(APPS), "--endpoint", "GET /",
                  "--levels", "2", "--rate", "1000,2000", "--duration", "0.5", "--warmup",
                  "0", "--repeat", "2", "--no-ceiling", "--loop", "asyncio", "--proto",
                  "h11", "--quiet", "--out", str(out), cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    run = results.load(out)
    (entry,) = run.entries
    assert entry.status == "ok", entry.reason
    (closed,) = entry.measured_levels
    assert closed.rounds == [1, 2]  # round 2 measured closed loop again
    first, second = entry.open_levels
    assert not first.repeats and not second.repeats
    assert first.failures == ["round 1: server exited with status 3 during get open loop "
                              "r=1000/s"]
    # the rest of that entry's rates: not measured, this round or later ones
    assert second.failures == ["round 1: not measured: server exited with status 3 "
                               "during get open loop r=1000/s"]
    assert [row.rank for row in ranking.rank_run(run)["get"]] == [1]
    assert "server exited with status 3" in proc.stdout


def test_poisson_counts_are_judged_against_their_schedule() -> None:
    # 50 req/s for 1 s drew 38 arrivals, all sent on time: nothing to flag.
    on_time = OpenLoop(50.0, "poisson", sent_per_s=38.0, scheduled=38, sent=38,
                       late_after_ms=10.0)
    assert on_time.judge() == []
    behind = OpenLoop(50.0, "poisson", sent_per_s=30.0, scheduled=38, sent=30, late=2,
                      dropped=8, late_after_ms=10.0)
    assert behind.judge() and "10 of 38" not in behind.judge()[0]
    assert "2 late (> 10 ms) and 8 dropped of 38 scheduled" in behind.judge()[0]


class _Silent:
    """A server that accepts and reads but never answers."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.conns:
            conn.close()


def test_requests_the_driver_cannot_send_on_time_are_counted_and_flagged() -> None:
    server = _Silent()
    try:
        result = DRIVER.run(LoadSpec("127.0.0.1", server.port, "/", connections=2,
                                     duration=0.6, timeout=0.5, slots=1, rate=200,
                                     max_connections=2))
    finally:
        server.close()
    counts = OpenLoop.from_dict(result.open_loop or {})
    assert result.requests == 0
    assert 100 <= counts.scheduled <= 130  # 200/s for 0.6 s, on schedule regardless
    assert counts.sent < counts.scheduled // 4  # two connections, never freed
    assert counts.late + counts.dropped >= counts.scheduled - counts.sent
    assert counts.dropped > 0 and result.errors["timeout"] > 0
    flags = counts.judge()
    assert flags and "not sent on schedule" in flags[0]


def test_histograms_merge_exactly_and_round_trip_through_a_results_file() -> None:
    a = latency.from_counts({1000: 980, 250_000: 20})
    b = latency.from_counts({2000: 999, 90_000: 1})
    merged = latency.merge([latency.decode(latency.encode(a)), latency.decode(
        latency.encode(b))])
    assert merged.get_total_count() == 2000
    both = latency.from_counts({1000: 980, 250_000: 20, 2000: 999, 90_000: 1})
    for p in (50, 90, 99, 99.9):
        assert merged.get_value_at_percentile(p) == both.get_value_at_percentile(p)
    raw = {"requests": 2000, "duration_s": 1.0, "requests_per_s": 2000.0,
           "latency_ms": latency.stats_ms(merged), "errors": dict.fromkeys(
               ("connect", "read", "write", "timeout"), 0),
           "non_2xx": 0, "bad_body": 0, "checked": 2000,
           "histogram": latency.encode(merged),
           "open_loop": {"target_rps": 2000, "arrival": "poisson", "sent_per_s": 2000.0,
                         "scheduled": 2000, "sent": 2000, "late": 0, "dropped": 0,
                         "connections": 8, "late_after_ms": 10.0, "flags": []}}
    measured = Measurement.from_dict(raw)
    assert measured.to_dict() == raw
    assert measured.percentile(99.9) == pytest.approx(250, rel=0.001)
    assert measured.percentile(50) == pytest.approx(2, rel=0.001)


@pytest.mark.parametrize(("args", "message"), [
    (("--rate", "50%", "--driver", "wrk"), "--rate needs --driver python: wrk is closed-loop"),
    (("--rate", "fast"), "'fast' is neither requests per second"),
    (("--rate", "150%"), "a percentage goes up to 100%"),
    (("--rate", "0"), "must be above 0"),
    (("--arrival", "poisson"), "--arrival is for open loop; it needs --rate"),
    (("--rate", "50%", "--test", "websocket-echo"), "--rate cannot measure websocket-echo"),
])
def test_mistaken_open_loop_flags_are_one_line_and_exit_2(args: tuple[str, ...],
                                                          message: str) -> None:
    proc = _bench(*args)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr


def test_rates_are_parsed_and_normalised() -> None:
    assert plan.parse_rates(" 25%, 50.0% ,1000,1e3") == ["25%", "50%", "1000"]
    assert plan.parse_rates(None) == []
    with pytest.raises(BenchError, match="names no rate"):
        plan.parse_rates(",")
