"""wrk (Debian's ``wrk`` 4.x), TechEmpower's load driver, driven the way TFB drives it:
``wrk -H 'Accept: ...' -H 'Connection: keep-alive' --latency --timeout 8 -t T -c C -d D``
plus a Lua script that pipelines ``depth`` copies of ``wrk.format()`` per ``request()``.

Latency: wrk 4 applies a coordinated-omission correction after the run, adding samples;
under pipelining many land below the recorded minimum, where its percentile code cannot
see them yet still counts them (hence ``0.00us`` percentiles). asgibench's ``done()``
finds the visible fraction by bisection and reports percentiles, mean and stdev over the
visible samples (the same numbers wrk prints when nothing is hidden). Under pipelining
wrk records one sample per batch (write to last response): treat those as approximate.
Throughput figures are unaffected.

asgibench's script also checks every response body against the test type (wrk counts
non-2xx/3xx itself; bodies that are not byte-identical to a known-good one are reported
back, and Python decides whether they are wrong), and computes the latency percentiles
from wrk's samples in ``done()``, because wrk's own ``Latency Distribution`` can print
``0.00us`` for high percentiles under pipelining. The ``--latency`` text is parsed for
everything else (and for percentiles when the script's line is missing).

wrk takes whole seconds: a fractional duration is rounded up.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from typing import Any

from asgibench.harness import pinning, procstat
from asgibench.harness.drivers import (
    ERROR_KINDS,
    Driver,
    DriverError,
    DriverUsage,
    LoadResult,
    LoadSpec,
    Window,
)

_TIME_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}  # -> milliseconds
_METRIC = {"": 1, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9}
_BINARY = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}

_NUM = r"(\d+(?:\.\d+)?)"
_LATENCY_RE = re.compile(
    rf"^\s*Latency\s+{_NUM}(us|ms|s|m|h)\s+{_NUM}(us|ms|s|m|h)\s+{_NUM}(us|ms|s|m|h)", re.M
)
_DIST_RE = re.compile(rf"^\s*(50|75|90|99)(?:\.0+)?%\s+{_NUM}(us|ms|s|m|h)\s*$", re.M)
_TOTAL_RE = re.compile(
    rf"^\s*(\d+) requests in {_NUM}(us|ms|s|m|h),\s+{_NUM}(B|KB|MB|GB|TB) read", re.M
)
_SOCKET_RE = re.compile(
    r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)"
)
_NON2XX_RE = re.compile(r"Non-2xx or 3xx responses: (\d+)")
_RPS_RE = re.compile(rf"^Requests/sec:\s+{_NUM}([kMG]?)\s*$", re.M)
_SCRIPT_RE = re.compile(r"^ASGIBENCH (\{.*\})\s*$", re.M)


def to_ms(value: str, unit: str) -> float:
    """A wrk time (``"512.00us"`` split as value, unit) in milliseconds."""
    return float(value) * _TIME_UNITS[unit]


def metric(value: str, suffix: str = "") -> float:
    """wrk's ``12.34k`` style numbers (base 1000)."""
    return float(value) * _METRIC[suffix]


def parse_output(text: str) -> dict[str, Any]:
    """Parse ``wrk --latency`` output (and asgibench's script line) into a dict.

    Keys: requests, duration_s, requests_per_s (wrk's own line), bytes_read,
    latency_ms {mean, stdev, max, p50, p75, p90, p99}, errors {connect, read, write,
    timeout}, non_2xx, script (the ``ASGIBENCH {...}`` payload, or None). Raises
    ValueError when the output has no results at all.
    """
    total = _TOTAL_RE.search(text)
    if total is None:
        raise ValueError("no 'N requests in T' line in wrk's output")
    out: dict[str, Any] = {
        "requests": int(total.group(1)),
        "duration_s": to_ms(total.group(2), total.group(3)) / 1000,
        "bytes_read": int(float(total.group(4)) * _BINARY[total.group(5)]),
    }
    latency: dict[str, float] = {}
    lat = _LATENCY_RE.search(text)
    if lat is not None:
        latency["mean"] = to_ms(lat.group(1), lat.group(2))
        latency["stdev"] = to_ms(lat.group(3), lat.group(4))
        latency["max"] = to_ms(lat.group(5), lat.group(6))
    for match in _DIST_RE.finditer(text):
        latency[f"p{match.group(1)}"] = to_ms(match.group(2), match.group(3))
    out["latency_ms"] = latency
    sock = _SOCKET_RE.search(text)
    out["errors"] = dict(zip(ERROR_KINDS, (int(g) for g in sock.groups()), strict=True)) \
        if sock else dict.fromkeys(ERROR_KINDS, 0)
    non = _NON2XX_RE.search(text)
    out["non_2xx"] = int(non.group(1)) if non else 0
    rps = _RPS_RE.search(text)
    out["requests_per_s"] = metric(rps.group(1), rps.group(2)) if rps else None
    script = _SCRIPT_RE.search(text)
    out["script"] = json.loads(script.group(1)) if script else None
    return out


#: The bytes a Lua string literal cannot hold as themselves: all but printable ASCII, and
#: ``"`` and ``\\``. Everything else stays as it is, so a 20 MiB text upload stays 20 MiB
#: of script.
_LUA_UNSAFE = re.compile(rb'[^\x20\x21\x23-\x5b\x5d-\x7e]')


def lua_string(data: bytes) -> str:
    """A Lua string literal holding ``data`` exactly (a three-digit decimal escape for each
    unsafe byte: never extended by a digit after it)."""
    escaped = _LUA_UNSAFE.sub(lambda match: b"\\%03d" % match[0][0], data)
    return '"' + escaped.decode("ascii") + '"'


_SCRIPT = """-- generated by asgibench: TFB's pipelining + response checks + exact percentiles
local threads = {}
function setup(thread) table.insert(threads, thread) end

function init(args)
  local depth = tonumber(args[1]) or 1
  local r = {}
  for i = 1, depth do r[i] = wrk.format() end
  req = table.concat(r)
  -- A workload: its requests in turn, depth consecutive ones per batch.
  local wires = {WIRES}
  batches = {}
  for i = 0, #wires - 1 do
    local b = {}
    for k = 0, depth - 1 do b[k + 1] = wires[(i * depth + k) % #wires + 1] end
    batches[i + 1] = table.concat(b)
  end
  turn = 0
  good = {GOOD}
  checked = 0
  odd = {}
  odd_n = 0
  odd_other = 0
end

function request()
  if #batches == 0 then return req end
  turn = turn % #batches + 1
  return batches[turn]
end

{RESPONSE}
local function hex(s)
  return (s:gsub(".", function(c) return string.format("%02x", string.byte(c)) end))
end

function done(summary, latency, requests)
  local checked_all, other, bodies = 0, 0, {}
  for _, t in ipairs(threads) do
    checked_all = checked_all + (t:get("checked") or 0)
    other = other + (t:get("odd_other") or 0)
    local o = t:get("odd")
    if o then for body, n in pairs(o) do bodies[hex(body)] = (bodies[hex(body)] or 0) + n end end
  end
  -- wrk's percentile() ranks against a count that includes correction samples it
  -- cannot see; find the visible fraction f by bisection, then ask for p * f.
  local f = 0
  if latency:percentile(100) > 0 then
    f = 1
  elseif latency:percentile(0) > 0 then
    local lo, hi = 0, 100
    for _ = 1, 40 do
      local mid = (lo + hi) / 2
      if latency:percentile(mid) > 0 then lo = mid else hi = mid end
    end
    f = lo / 100
  end
  local pct = {0, 0, 0, 0}
  local mean, stdev = 0, 0
  if f > 0 then
    for k, p in ipairs({50, 75, 90, 99}) do pct[k] = latency:percentile(p * f) end
    mean = latency.mean / f
    local var = latency.stdev ^ 2 / f - (mean - latency.mean) ^ 2
    stdev = var > 0 and math.sqrt(var) or 0
  end
  local parts = {}
  for body, count in pairs(bodies) do
    table.insert(parts, string.format('"%s":%d', body, count))
  end
  io.write(string.format(
    'ASGIBENCH {"checked":%d,"odd_other":%d,"odd":{%s},"visible":%.6f,' ..
    '"p50_us":%d,"p75_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"mean_us":%.1f,"stdev_us":%.1f,"duration_us":%d,"requests":%d}\\n',
    checked_all, other, table.concat(parts, ","), f,
    pct[1], pct[2], pct[3], pct[4], f > 0 and latency.max or 0, mean, stdev,
    summary.duration, summary.requests))
end
"""


#: The body check, in the script only for a TechEmpower ``GET path`` type: with it
#: defined, wrk hands every response body to Lua, a cost a workload's megabyte bodies
#: (static files, compressed documents) must not add to the driver. A workload's bodies
#: were checked at verification; wrk still counts its non-2xx statuses itself.
_RESPONSE = """
function response(status, headers, body)
  if status < 200 or status > 299 then return end
  checked = checked + 1
  if good[body] then return end
  if odd[body] then odd[body] = odd[body] + 1
  elseif odd_n < 16 then odd[body] = 1; odd_n = odd_n + 1
  else odd_other = odd_other + 1 end
end
"""


def build_script(good_bodies: tuple[bytes, ...], wires: tuple[str, ...] = (),
                 check_bodies: bool = True) -> str:
    """The Lua script for one test type (``good_bodies``: byte-exact correct bodies) or a
    workload (``wires``: its requests, sent in turn; no body check). ``check_bodies``
    False: no body check (a type whose bodies vary, or none named)."""
    table = ", ".join(f"[{lua_string(body)}] = true" for body in good_bodies)
    requests = ", ".join(lua_string(w.encode("latin-1")) for w in wires)
    return (_SCRIPT.replace("{GOOD}", "{" + table + "}")
            .replace("{WIRES}", "{" + requests + "}")
            .replace("{RESPONSE}", _RESPONSE if check_bodies and not wires else ""))


class WrkDriver(Driver):
    name = "wrk"
    install_hint = "Debian/Ubuntu: sudo apt install wrk; macOS: brew install wrk"

    def __init__(self, executable: str | None = None) -> None:
        self._executable = executable

    @property
    def executable(self) -> str | None:
        """The given wrk, else the one on PATH now (looked up each time: PATH may change)."""
        return self._executable or shutil.which("wrk")

    def available(self) -> tuple[bool, str]:
        if not self.executable:
            return False, "wrk is not on PATH (Debian/Ubuntu: sudo apt install wrk)"
        return True, ""

    def version(self) -> str | None:
        if not self.executable:
            return None
        try:
            proc = subprocess.run([self.executable, "-v"], capture_output=True, text=True,
                                  timeout=5, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return None
        first = (proc.stdout or proc.stderr).strip().splitlines()
        if not first:
            return None
        match = re.match(r"wrk\s+(\S+)", first[0])
        return match.group(1) if match else first[0]

    def describe(self, slots: int) -> dict[str, Any]:
        return {"name": self.name, "version": self.version(), "executable": self.executable,
                "threads": slots}

    def command(self, spec: LoadSpec, script_path: str) -> list[str]:
        threads = max(1, min(spec.connections, spec.slots))
        return [
            str(self.executable),
            "-H", f"Accept: {spec.accept}",
            "-H", "Connection: keep-alive",
            "--latency",
            "--timeout", f"{max(1, math.ceil(spec.timeout))}",
            "-t", str(threads),
            "-c", str(spec.connections),
            "-d", f"{max(1, math.ceil(spec.duration))}s",
            "-s", script_path,
            spec.url,
            "--",
            str(max(1, spec.pipeline)),
        ]

    def run(self, spec: LoadSpec, window: Window | None = None) -> LoadResult:
        if spec.websocket:  # bench run never asks (plan.websocket_driver): a plug-in might
            raise DriverError("wrk speaks no WebSocket; use the python driver")
        ok, reason = self.available()
        if not ok:
            raise DriverError(reason)
        good: tuple[bytes, ...] = ()
        check = None
        if spec.test:
            from asgibench.harness import testtypes

            test_type = testtypes.get(spec.test)
            if test_type.exact_bodies:
                good, check = test_type.fast_bodies, test_type.check_body
        fd, script_path = tempfile.mkstemp(prefix="asgibench-wrk-", suffix=".lua")
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(build_script(good, spec.wires, check_bodies=check is not None))
            argv = self.command(spec, script_path)
            stdout, stderr, returncode, usage = _run_wrk(argv, spec, window)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(script_path)
        try:
            parsed = parse_output(stdout)
        except ValueError as exc:
            tail = " | ".join((stdout + stderr).strip().splitlines()[-3:])
            raise DriverError(f"wrk failed (exit {returncode}): {tail or exc}") from exc
        result = result_from_parsed(parsed, check)
        result.usage = usage
        return result


#: wrk's own reading ends this long before its window does, so wrk is still there to read.
_READ_MARGIN_S = 0.02


class _Monitor(threading.Thread):
    """Watches one wrk process: its measured duration starts once wrk has started all its
    threads (wrk takes its start time right after creating them); then wrk's own CPU and
    run-queue delay are read, again just before the duration ends, and ``window`` is told
    of both ends. A fractional duration is cut short with SIGINT (wrk then reports)."""

    def __init__(self, proc: subprocess.Popen[str], spec: LoadSpec, threads: int,
                 window: Window | None) -> None:
        super().__init__(name="asgibench-wrk-monitor", daemon=True)
        self.proc, self.spec, self.threads, self.window = proc, spec, threads, window
        self.done = threading.Event()
        self.usage: DriverUsage | None = None

    def run(self) -> None:
        pid = self.proc.pid
        deadline = time.monotonic() + 10
        while (procstat.threads(pid) or 0) < self.threads + 1:
            if self.proc.poll() is not None:
                return
            if time.monotonic() > deadline:  # cannot tell: the window starts now
                break
            time.sleep(0.002)
        first = procstat.reading(pid)
        if self.window is not None:
            self.window.started()
        start = time.monotonic()
        whole = math.ceil(self.spec.duration)
        fraction = self.spec.duration != whole and hasattr(signal, "SIGINT")
        end = start + (self.spec.duration if fraction else whole)
        if self.done.wait(max(end - _READ_MARGIN_S - time.monotonic(), 0)):
            return  # wrk ended early (an error): no window to speak of
        last = procstat.reading(pid)
        if first is not None and last is not None and self.proc.poll() is None:
            used = last.since(first)
            self.usage = DriverUsage(float(used["cpu_s"] or 0), float(used["window_s"] or 0),
                                     self.threads, used["wait_s"])
        self.done.wait(max(end - time.monotonic(), 0))
        if self.window is not None:
            self.window.ended()
        if fraction and self.proc.poll() is None:
            with contextlib.suppress(OSError):
                self.proc.send_signal(signal.SIGINT)


def _run_wrk(argv: list[str], spec: LoadSpec, window: Window | None = None
             ) -> tuple[str, str, int, DriverUsage | None]:
    """Run wrk; return its output, exit status and its own CPU over its window."""
    limit = math.ceil(spec.duration) + spec.timeout + 30
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, preexec_fn=pinning.preexec(spec.cpus))
    except OSError as exc:
        raise DriverError(f"cannot run wrk: {exc}") from exc
    monitor = _Monitor(proc, spec, max(1, min(spec.connections, spec.slots)), window)
    monitor.start()
    try:
        stdout, stderr = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired as exc:
        proc.kill()
        proc.communicate()
        raise DriverError(f"wrk did not finish within {limit:.0f} s") from exc
    finally:
        monitor.done.set()
        monitor.join()
    return stdout, stderr, proc.returncode, monitor.usage


def result_from_parsed(parsed: dict[str, Any], check: Any = None) -> LoadResult:
    """Turn :func:`parse_output`'s dict into a LoadResult (bodies judged by ``check``)."""
    latency = dict(parsed["latency_ms"])
    script = parsed.get("script")
    bad_body = 0
    checked = 0
    duration = parsed["duration_s"]
    if parsed.get("requests_per_s"):
        duration = parsed["requests"] / parsed["requests_per_s"] if parsed["requests"] else \
            duration
    if script:
        checked = int(script.get("checked", 0))
        if script.get("visible"):
            for p in (50, 75, 90, 99):
                latency[f"p{p}"] = script[f"p{p}_us"] / 1000
            latency["max"] = script["max_us"] / 1000
            latency["mean"] = float(script.get("mean_us", latency.get("mean", 0) * 1000)) / 1000
            latency["stdev"] = float(script.get("stdev_us", latency.get("stdev", 0) * 1000)
                                     ) / 1000
        if script.get("duration_us"):
            duration = script["duration_us"] / 1e6
        for body_hex, count in script.get("odd", {}).items():
            body = bytes.fromhex(body_hex)
            if check is None or check(body) is not None:
                bad_body += int(count)
        bad_body += int(script.get("odd_other", 0))
    for key in ("p50", "p75", "p90", "p99", "max", "mean", "stdev"):
        latency.setdefault(key, 0.0)
    return LoadResult(
        requests=parsed["requests"],
        duration_s=duration,
        latency_ms=latency,
        errors=dict(parsed["errors"]),
        non_2xx=parsed["non_2xx"],
        bad_body=bad_body,
        checked=checked,
    )


DRIVER = WrkDriver()
