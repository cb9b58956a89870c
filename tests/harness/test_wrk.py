"""wrk output parsing, the generated Lua script, and the wrk command line."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time

import pytest

from asgibench.harness.drivers import LoadSpec
from asgibench.harness.drivers.wrk import (
    WrkDriver,
    build_script,
    lua_string,
    metric,
    parse_output,
    result_from_parsed,
    to_ms,
)
from asgibench.harness.testtypes import json_serialization as jsonser

NO_WRK = "wrk is not installed (apt-get or brew install wrk; there is no Windows build)"

PIPELINED = """\
Running 2s test @ http://127.0.0.1:8799/plaintext
  1 threads and 256 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    69.45ms   98.70ms 343.81ms    0.00%
    Req/Sec    15.53k     5.41k   28.02k    75.00%
  Latency Distribution
     50%    0.00us
     75%    0.00us
     90%    0.00us
     99%    0.00us
  30891 requests in 2.03s, 3.95MB read
Requests/sec:  15249.63
Transfer/sec:      1.95MB
ASGIBENCH {"checked":30891,"odd_other":0,"odd":{},"visible":0.250000,"p50_us":251286,\
"p75_us":273223,"p90_us":305694,"p99_us":340254,"max_us":343806,"mean_us":250000.0,\
"stdev_us":20000.0,"duration_us":2025689,"requests":30891}
"""

ERRORS = """\
Running 1m test @ http://127.0.0.1:8080/json
  4 threads and 16384 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   512.30us    1.20s    1.00m    97.00%
    Req/Sec     1.20M   300.00k    2.00M    60.00%
  Latency Distribution
     50%  412.00us
     75%    1.50ms
     90%    2.25s
     99%    1.02m
  72000123 requests in 1.00m, 9.87GB read
  Socket errors: connect 11, read 22, write 33, timeout 44
  Non-2xx or 3xx responses: 55
Requests/sec: 1200002.05
Transfer/sec:    168.40MB
"""


def test_units() -> None:
    assert to_ms("512.30", "us") == pytest.approx(0.5123)
    assert to_ms("1.5", "ms") == 1.5
    assert to_ms("2.25", "s") == 2250
    assert to_ms("1.02", "m") == pytest.approx(61200)
    assert to_ms("1", "h") == 3_600_000
    assert metric("15.53", "k") == pytest.approx(15530)
    assert metric("1.20", "M") == pytest.approx(1_200_000)
    assert metric("42") == 42


def test_parse_errors_and_suffixes() -> None:
    parsed = parse_output(ERRORS)
    assert parsed["requests"] == 72000123
    assert parsed["duration_s"] == pytest.approx(60.0)
    assert parsed["bytes_read"] == int(9.87 * 1024**3)
    assert parsed["errors"] == {"connect": 11, "read": 22, "write": 33, "timeout": 44}
    assert parsed["non_2xx"] == 55
    assert parsed["requests_per_s"] == pytest.approx(1200002.05)
    lat = parsed["latency_ms"]
    assert lat["mean"] == pytest.approx(0.5123)
    assert lat["stdev"] == pytest.approx(1200)
    assert lat["max"] == pytest.approx(60000)
    assert lat["p50"] == pytest.approx(0.412)
    assert lat["p75"] == pytest.approx(1.5)
    assert lat["p90"] == pytest.approx(2250)
    assert lat["p99"] == pytest.approx(61200)
    assert parsed["script"] is None


def test_clean_run_has_no_error_lines() -> None:
    parsed = parse_output(PIPELINED)
    assert parsed["errors"] == {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    assert parsed["non_2xx"] == 0
    assert parsed["latency_ms"]["p99"] == 0.0  # wrk's broken pipelined percentiles...
    result = result_from_parsed(parsed)
    assert result.latency_ms["p99"] == pytest.approx(340.254)  # ...replaced by the script's
    assert result.latency_ms["p50"] == pytest.approx(251.286)
    assert result.latency_ms["mean"] == pytest.approx(250.0)
    assert result.latency_ms["max"] == pytest.approx(343.806)
    assert result.duration_s == pytest.approx(2.025689)
    assert result.requests == 30891
    assert result.checked == 30891
    assert result.requests_per_s == pytest.approx(30891 / 2.025689)


def test_text_percentiles_used_without_script_line() -> None:
    result = result_from_parsed(parse_output(ERRORS))
    assert result.latency_ms["p50"] == pytest.approx(0.412)
    assert result.non_2xx == 55
    # (requests - non-2xx) / duration, duration from wrk's own Requests/sec line
    assert result.requests_per_s == pytest.approx((72000123 - 55) / (72000123 / 1200002.05))


def test_odd_bodies_judged_by_the_test_type() -> None:
    odd = {b'{"message":  "Hello, World!"}'.hex(): 7,  # valid JSON, other spacing
           b'{"message": "hello, world!"}'.hex(): 5}  # wrong case: wrong
    line = ("ASGIBENCH " + json.dumps({"checked": 100, "odd_other": 2, "odd": odd,
                                       "visible": 1, "p50_us": 1, "p75_us": 1, "p90_us": 1,
                                       "p99_us": 1, "max_us": 1, "mean_us": 1, "stdev_us": 0,
                                       "duration_us": 1_000_000, "requests": 100}))
    parsed = parse_output(ERRORS.replace("Transfer/sec:    168.40MB", line))
    result = result_from_parsed(parsed, jsonser.check_body)
    assert result.bad_body == 5 + 2  # the wrong one plus the ones beyond the sample table
    assert result.checked == 100


def test_garbage_output_raises() -> None:
    with pytest.raises(ValueError):
        parse_output("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_lua_string_escapes_only_what_lua_cannot_hold() -> None:
    assert lua_string(b'A]]"\\\n\x001') == '"A]]\\034\\092\\010\\0001"'


@pytest.mark.skipif(shutil.which("wrk") is None, reason=NO_WRK)
def test_every_byte_of_a_wire_reaches_the_server_through_wrk(tmp_path) -> None:
    """A request holding all 256 byte values, sent by wrk from the generated script,
    arrives byte for byte: the Lua literal loses or changes nothing."""
    every = bytes(range(256)) * 2
    wire = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 512\r\n\r\n" + every
    received = bytearray()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.settimeout(10)
        port = listener.getsockname()[1]
        path = tmp_path / "s.lua"
        path.write_text(build_script((), (wire.decode("latin-1"),)))
        proc = subprocess.Popen(["wrk", "-t1", "-c1", "-d1s", "-s", str(path),
                                 f"http://127.0.0.1:{port}/"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            while not received:  # wrk opens (and closes) a probe connection first
                conn, _ = listener.accept()
                with conn:
                    conn.settimeout(10)
                    while len(received) < len(wire):
                        data = conn.recv(65536)
                        if not data:
                            break
                        received += data
        finally:
            proc.kill()
            proc.wait()
    assert bytes(received[:len(wire)]) == wire


def test_script_embeds_good_bodies_and_pipelining() -> None:
    script = build_script((b"Hello, World!",))
    assert lua_string(b"Hello, World!") in script
    assert "wrk.format()" in script and "table.concat(r)" in script
    assert "function done(summary, latency, requests)" in script


def test_command_is_tfb_style(tmp_path) -> None:
    driver = WrkDriver(executable="/usr/bin/wrk")
    spec = LoadSpec("127.0.0.1", 8080, "/plaintext", 256, 1.5, pipeline=16,
                    accept="text/plain", slots=2)
    argv = driver.command(spec, str(tmp_path / "s.lua"))
    assert argv[:3] == ["/usr/bin/wrk", "-H", "Accept: text/plain"]
    assert "Connection: keep-alive" in argv and "--latency" in argv
    assert argv[argv.index("--timeout") + 1] == "8"
    assert argv[argv.index("-t") + 1] == "2"
    assert argv[argv.index("-c") + 1] == "256"
    assert argv[argv.index("-d") + 1] == "2s"  # whole seconds; cut short with SIGINT
    assert argv[-3:] == ["http://127.0.0.1:8080/plaintext", "--", "16"]


@pytest.mark.skipif(shutil.which("wrk") is None, reason=NO_WRK)
def test_generated_script_runs_in_wrk(tmp_path, canned_port) -> None:
    """wrk accepts the script, pipelines, checks bodies and prints the done() line."""
    path = tmp_path / "s.lua"
    path.write_text(build_script(jsonser.TEST_TYPE.fast_bodies))
    proc = subprocess.run(["wrk", "-t1", "-c2", "-d1s", "-s", str(path),
                           f"http://127.0.0.1:{canned_port}/json", "--", "4"],
                          capture_output=True, text=True, timeout=20, check=False)
    assert "error" not in proc.stderr.lower(), proc.stderr
    result = result_from_parsed(parse_output(proc.stdout), jsonser.check_body)
    assert result.requests > 0
    assert result.checked == result.requests
    assert result.bad_body == 0 and result.non_2xx == 0
    assert 0 < result.latency_ms["p50"] <= result.latency_ms["p99"] <= result.latency_ms["max"]


@pytest.mark.skipif(shutil.which("wrk") is None, reason=NO_WRK)
def test_wrk_counts_wrong_bodies(canned_port) -> None:
    """/plaintext's body checked against json's rules: every response is wrong."""
    spec = LoadSpec("127.0.0.1", canned_port, "/plaintext", 2, 0.5, test="json")
    result = WrkDriver().run(spec)
    assert result.requests > 0
    assert result.bad_body == result.requests
    assert result.requests_per_s == 0


def test_missing_wrk_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")  # wrk is looked up on PATH when asked
    ok, reason = WrkDriver().available()
    assert not ok and "apt install wrk" in reason


class _Marks:
    """A drivers.Window that notes when it is told."""

    def __init__(self) -> None:
        self.times: list[tuple[str, float]] = []

    def started(self) -> None:
        self.times.append(("started", time.monotonic()))

    def ended(self) -> None:
        self.times.append(("ended", time.monotonic()))


@pytest.mark.skipif(shutil.which("wrk") is None, reason=NO_WRK)
def test_wrk_reports_its_own_cpu_over_its_window(canned_port) -> None:
    """wrk's CPU and run-queue delay are read from its pid once its threads run (its
    duration's start) and just before the duration ends; the window is told of both
    ends; the units are the threads it runs (two connections: two threads of four)."""
    marks = _Marks()
    spec = LoadSpec("127.0.0.1", canned_port, "/plaintext", 2, 0.5, test="plaintext",
                    slots=4)
    result = WrkDriver().run(spec, marks)
    assert result.requests > 0
    assert [name for name, _ in marks.times] == ["started", "ended"]
    (_, began), (_, ended) = marks.times
    assert ended - began >= 0.5  # the fractional duration, then SIGINT
    usage = result.usage
    assert usage is not None and usage.units == 2
    assert 0 < usage.window_s <= ended - began and usage.cpu_s > 0
    if sys.platform.startswith("linux"):
        assert usage.wait_s is not None
