"""Runs across hosts (``bench run --server-host/--driver-host``, ``bench hosts check``)
against real OpenSSH servers: one per loopback address (127.0.0.2 the server host,
127.0.0.3 and 127.0.0.4 driver hosts), each with a throwaway host key, logging in with a
throwaway client key, started and stopped here by process id. The remote Python is this
one. Skipped, with the reason, where the platform lacks what they need (Linux's loopback
addresses beyond 127.0.0.1, OpenSSH's sshd, asyncssh) -- except where
``ASGIBENCH_TEST_SSHD`` is set (.ci/run sets it after installing openssh-server): there
they fail instead, so a CI that should run them cannot skip them silently."""

from __future__ import annotations

import getpass
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from asgibench.cli import main
from asgibench.harness import hosts, results
from tests.harness.conftest import kill_tree

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
ADDRESSES = ("127.0.0.2", "127.0.0.3", "127.0.0.4")
RUN = [sys.executable, "-m", "asgibench", "run"]
#: Short and quick: one level, one repeat, 0.5 s (the CI budget).
SHORT = ["--test", "json", "--levels", "8", "--duration", "0.5", "--warmup", "0",
         "--repeat", "1", "--quiet"]


#: Set by .ci/run, which installs openssh-server: the sshd tests must run there.
REQUIRED_ENV = "ASGIBENCH_TEST_SSHD"


def _unavailable(reason: str) -> None:
    if os.environ.get(REQUIRED_ENV):
        pytest.fail(f"{reason} (${REQUIRED_ENV} is set: these tests must run here)")
    pytest.skip(reason)


def _die_with_parent() -> None:
    """sshd's ``preexec_fn``: the kernel kills it when this process dies, even by SIGKILL
    (Linux's PR_SET_PDEATHSIG), so a killed pytest leaves no daemon listening."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)


def _free_port(address: str) -> int:
    with socket.socket() as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


@dataclass
class Hosts:
    """The sshd of each address, and what a ``bench`` process needs to log in."""

    root: Path
    key: Path
    ports: dict[str, int] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def url(self, address: str) -> str:
        return f"ssh://{getpass.getuser()}@{address}:{self.ports[address]}"

    @property
    def env(self) -> dict[str, str]:
        # HOME holds the known_hosts with the throwaway host keys; no agent of the user's.
        env = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"}
        env.update(HOME=str(self.root / "home"), PYTHONUNBUFFERED="1")
        return env

    def flags(self, server: str, *drivers: str) -> list[str]:
        return ["--server-host", self.url(server),
                "--driver-host", ",".join(self.url(d) for d in drivers),
                "--ssh-key", str(self.key), "--remote-python", sys.executable]

    def start(self, address: str) -> None:
        port = self.ports.setdefault(address, _free_port(address))
        config = self.root / f"sshd-{address}.conf"
        config.write_text("\n".join([
            f"ListenAddress {address}", f"Port {port}",
            f"HostKey {self.root / f'host-{address}'}",
            f"AuthorizedKeysFile {self.root / 'authorized_keys'}",
            "PidFile none", "UsePAM no", "StrictModes no", "PasswordAuthentication no",
            "KbdInteractiveAuthentication no", "PermitRootLogin prohibit-password",
            "LogLevel ERROR", "",
        ]))
        proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                start_new_session=True, preexec_fn=_die_with_parent)
        self.procs[address] = proc
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                error = proc.stderr.read().decode(errors="replace").strip() \
                    if proc.stderr else ""
                _unavailable(f"sshd cannot start on {address}: {error}")
            try:
                with socket.create_connection((address, port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        _unavailable(f"sshd did not listen on {address}:{port} within 10 s")

    def kill(self, address: str) -> None:
        """The host goes away: its sshd and every session process under it (those that
        carry a driver or a server), by process id."""
        kill_tree(self.procs.pop(address))

    def stop_all(self) -> None:
        """Every sshd, each one even when stopping another failed."""
        errors: list[BaseException] = []
        for address in list(self.procs):
            try:
                self.kill(address)
            except Exception as exc:  # the others are still stopped; raised below
                errors.append(exc)
        if errors:
            raise errors[0]


@pytest.fixture(scope="module")
def ssh_hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hosts]:
    if not sys.platform.startswith("linux"):
        # macOS answers only 127.0.0.1 without an alias per address; Windows has no sshd
        # to start this way.
        _unavailable(f"the SSH hosts listen on 127.0.0.2-4, which {sys.platform} does not "
                     "answer without configuration (Linux does)")
    for address in ADDRESSES:
        try:
            _free_port(address)
        except OSError as exc:
            _unavailable(f"cannot bind {address} ({exc.strerror or exc}): the SSH hosts "
                         "need loopback addresses beyond 127.0.0.1")
    if not os.path.exists(SSHD) or shutil.which("ssh-keygen") is None:
        _unavailable("OpenSSH's sshd and ssh-keygen are not installed "
                     "(apt-get install openssh-server)")
    try:
        import asyncssh  # noqa: F401
    except ImportError:
        _unavailable("asyncssh is not installed (pip install -e '.[ssh]')")
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation
    root = tmp_path_factory.mktemp("ssh")
    os.chmod(root, 0o700)
    key = root / "client_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
                   check=True)
    (root / "authorized_keys").write_text((root / "client_key.pub").read_text())
    known = []
    found = Hosts(root, key)
    for address in ADDRESSES:
        host_key = root / f"host-{address}"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)],
                       check=True)
        found.ports[address] = _free_port(address)
        public = " ".join((root / f"host-{address}.pub").read_text().split()[:2])
        known.append(f"[{address}]:{found.ports[address]} {public}")
    (root / "home" / ".ssh").mkdir(parents=True)
    (root / "home" / ".ssh" / "known_hosts").write_text("\n".join(known) + "\n")
    try:
        for address in ADDRESSES:
            found.start(address)
        yield found
    finally:
        found.stop_all()


def _bench(ssh_hosts: Hosts, *args: str, timeout: float = 120
           ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*RUN, *args], env=ssh_hosts.env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def test_server_on_one_host_driver_on_another(ssh_hosts: Hosts, tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    done = _bench(ssh_hosts, *ssh_hosts.flags("127.0.0.2", "127.0.0.3"), "--loop", "asyncio",
                  "--proto", "h11", *SHORT, "--out", str(out))
    assert done.returncode == 0, done.stderr
    run = results.load(out)  # validated against the schema
    [entry] = run.entries
    assert entry.status == "ok" and entry.verification and entry.verification.passed
    stored = json.loads(out.read_text())
    assert stored["ranking"]["json"][0]["server"] == "asgibench"
    roles = {(h.role, h.url) for h in run.hosts}
    assert ("server", ssh_hosts.url("127.0.0.2")) in roles
    assert ("driver", ssh_hosts.url("127.0.0.3")) in roles
    server_host = next(h for h in run.environment["hosts"] if h["role"] == "server")
    assert server_host["environment"]["python"]["version"]
    assert server_host["environment"]["cpu"]["usable_cpus"]
    [repeat] = entry.levels[0].repeats
    assert repeat.requests > 0
    assert [d.host for d in repeat.drivers] == [ssh_hosts.url("127.0.0.3")]
    assert run.settings.host == "127.0.0.2"  # the server bound on the server host
    # The server's tree was sampled on its host by the agent; the driver's is not.
    used = repeat.resources
    assert used is not None and used.server_unknown is None, used
    assert used.server_cpu_s and used.server_cpu_s > 0 and used.wall_s > 0
    assert used.server_peak_rss_kib and used.server_peak_rss_kib > 5_000
    assert used.driver_cpu_s is None and "driver hosts" in (used.driver_unknown or "")


def test_second_driver_host_adds_its_load(ssh_hosts: Hosts, tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    done = _bench(ssh_hosts, *ssh_hosts.flags("127.0.0.2", "127.0.0.3", "127.0.0.4"),
                  "--loop", "asyncio", "--proto", "h11", "--driver", "python",
                  "--no-ceiling", *SHORT, "--out", str(out))
    assert done.returncode == 0, done.stderr
    run = results.load(out)
    [entry] = run.entries
    assert entry.status == "ok", entry.reason
    [repeat] = entry.levels[0].repeats
    shares = repeat.drivers
    assert [d.host for d in shares] == [ssh_hosts.url("127.0.0.3"),
                                        ssh_hosts.url("127.0.0.4")]
    assert all(d.requests > 0 for d in shares)
    assert repeat.requests == sum(d.requests for d in shares)
    # The Python driver records histograms: merged exactly.
    assert repeat.latency_merge == "exact"
    assert "drivers" not in repeat.extra  # typed, not free-form
    assert run.settings.driver["hosts"] == [ssh_hosts.url("127.0.0.3"),
                                            ssh_hosts.url("127.0.0.4")]


def test_driver_host_gone_mid_run(ssh_hosts: Hosts, tmp_path: Path) -> None:
    """The driver host goes away after the first server's round: the entry it was to
    carry fails with the reason, the first keeps its measurement, the file is whole."""
    out = tmp_path / "run.json"
    args = [*RUN, *ssh_hosts.flags("127.0.0.2", "127.0.0.4"), "--loop", "asyncio,uvloop",
            "--proto", "h11", "--no-ceiling", *SHORT[:4], "--duration", "1", "--warmup",
            "0", "--repeat", "1", "--quiet", "--out", str(out)]
    proc = subprocess.Popen(args, env=ssh_hosts.env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        measured = False
        while time.monotonic() < deadline and proc.poll() is None and not measured:
            if out.exists():  # written after each server's round
                try:
                    partial = json.loads(out.read_text())
                except ValueError:
                    partial = {}
                measured = any(level["repeats"] for e in partial.get("entries", [])
                               for level in e["levels"])
            time.sleep(0.02)
        assert measured, "the first round was not written as the run went"
        ssh_hosts.kill("127.0.0.4")
        _, stderr = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        ssh_hosts.start("127.0.0.4")  # back for other tests
    assert proc.returncode == 0, stderr
    run = results.load(out)
    by_status = {e.status: e for e in run.entries}
    assert set(by_status) == {"ok", "failed"}, [(e.loop, e.status, e.reason)
                                                 for e in run.entries]
    assert by_status["ok"].levels[0].repeats[0].requests > 0
    failed = by_status["failed"]
    assert failed.phase == "driver"
    assert "127.0.0.4" in (failed.reason or "") and "went away" in (failed.reason or "")
    assert run.environment["hosts"]
    ranked = json.loads(out.read_text())["ranking"]["json"]
    assert [(r["loop"], r["server"]) for r in ranked] == [(by_status["ok"].loop, "asgibench")]


def test_host_lacking_asgibench_is_one_line_before_anything(ssh_hosts: Hosts,
                                                            tmp_path: Path) -> None:
    bare = tmp_path / "python-without-asgibench"
    # -S: no site-packages, so no asgibench: a Python the package was never installed in.
    bare.write_text(f"#!/bin/sh\nexec {sys.executable} -S \"$@\"\n")
    bare.chmod(0o755)
    flags = ssh_hosts.flags("127.0.0.2", "127.0.0.3")
    flags[flags.index("--remote-python") + 1] = str(bare)
    done = _bench(ssh_hosts, *flags, "--loop", "asyncio", "--proto", "h11", *SHORT,
                  "--out", str(tmp_path / "never.json"))
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert "has no asgibench" in line and "pip install" in line
    assert not (tmp_path / "never.json").exists()
    flags[flags.index("--remote-python") + 1] = str(tmp_path / "no-such-python")
    done = _bench(ssh_hosts, *flags, *SHORT)
    assert done.returncode == 1
    assert "has no Python at" in done.stderr and "--remote-python" in done.stderr
    # asgibench there, but it does not import: the reason, not "no asgibench".
    broken = tmp_path / "broken" / "asgibench"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("import a_dependency_that_is_not_there\n")
    shadowed = tmp_path / "python-with-a-broken-asgibench"
    shadowed.write_text(f"#!/bin/sh\nPYTHONPATH={broken.parent} exec {sys.executable} "
                        "\"$@\"\n")
    shadowed.chmod(0o755)
    flags[flags.index("--remote-python") + 1] = str(shadowed)
    done = _bench(ssh_hosts, *flags, *SHORT)
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert "asgibench does not import" in line and "a_dependency_that_is_not_there" in line


def test_untrusted_host_key_says_what_to_do(ssh_hosts: Hosts, tmp_path: Path) -> None:
    env = {**ssh_hosts.env, "HOME": str(tmp_path)}  # no known_hosts: no host key trusted
    done = subprocess.run([sys.executable, "-m", "asgibench", "hosts", "check",
                           *ssh_hosts.flags("127.0.0.2", "127.0.0.3")], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert "cannot reach" in line and "known_hosts" in line


def test_hosts_check(ssh_hosts: Hosts) -> None:
    done = subprocess.run([sys.executable, "-m", "asgibench", "hosts", "check",
                           *ssh_hosts.flags("127.0.0.2", "127.0.0.3", "127.0.0.4")],
                          env=ssh_hosts.env, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    for address in ADDRESSES:
        assert ssh_hosts.url(address) in done.stdout
    assert done.stdout.count("clock offset") == 3
    assert "servers would bind on 127.0.0.2" in done.stdout
    assert "round trip " + ssh_hosts.url("127.0.0.3") + " -> server host" in done.stdout


UNREACHABLE = ["--server-host", "ssh://127.0.0.2:1", "--driver-host", "ssh://127.0.0.3:1"]


@pytest.mark.parametrize("args, message", [
    (["--server-host", "http://127.0.0.2", "--driver-host", "ssh://127.0.0.3"],
     "--server-host 'http://127.0.0.2' is not ssh://"),
    (["--server-host", "ssh://127.0.0.2"], "--driver-host is missing"),
    (["--ssh-key", "/nonexistent"], "--ssh-key is for runs across hosts"),
    (["--server-host", "ssh://127.0.0.2", "--driver-host", "ssh://127.0.0.3",
      "--url", "http://127.0.0.1:9"], "cannot be combined"),
    (["--server-host", "ssh://127.0.0.2:0", "--driver-host", "ssh://127.0.0.3"],
     "the port must be a number from 1 to 65535"),
    # Found before any host is contacted (nothing listens on port 1: contacting it would
    # be "cannot reach", exit 1).
    ([*UNREACHABLE, "--driver", "nosuch"], "unknown driver 'nosuch'"),
    ([*UNREACHABLE, "--cpus", "garbage"], "bad --cpus 'garbage'"),
    ([*UNREACHABLE, "--cpus", "0:x"], "bad CPU list 'x'"),
    ([*UNREACHABLE, "--db", "postgresql://x@/"], "--db is for the database test types"),
])
def test_bad_host_flags_are_usage_errors(args: list[str], message: str,
                                        tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["run", *args, "--out", str(tmp_path / "x.json")])
    assert result.exit_code == 2, result.output
    [line] = result.stderr.strip().splitlines()
    assert message in line
    assert not (tmp_path / "x.json").exists()


def test_ssh_key_asyncssh_cannot_load_is_one_line(tmp_path: Path) -> None:
    asyncssh = pytest.importorskip("asyncssh")
    locked = tmp_path / "locked"
    # PKCS#8: OpenSSH's own encrypted format needs bcrypt to write.
    locked.write_bytes(asyncssh.generate_private_key("ssh-ed25519")
                       .export_private_key("pkcs8-pem", passphrase="secret"))
    not_a_key = tmp_path / "not-a-key"
    not_a_key.write_text("hello\n")
    for command in (["run", "--out", str(tmp_path / "x.json")], ["hosts", "check"]):
        for key, message in ((locked, "load it into ssh-agent"),
                             (not_a_key, "is not a private key")):
            result = CliRunner().invoke(main, [*command, *UNREACHABLE, "--ssh-key",
                                               str(key)])
            assert result.exit_code == 2, result.output
            [line] = result.stderr.strip().splitlines()
            assert message in line
    assert not (tmp_path / "x.json").exists()


def test_without_asyncssh_says_what_to_install(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "asyncssh", None)  # import asyncssh: ImportError
    for command in (["run", "--out", str(tmp_path / "x.json")], ["hosts", "check"]):
        result = CliRunner().invoke(main, [*command, *UNREACHABLE])
        assert result.exit_code == 2, result.output
        [line] = result.stderr.strip().splitlines()
        assert "pip install 'asgibench[ssh]'" in line


def test_merge_without_histograms_is_marked_approximate() -> None:
    """wrk gives percentiles only: latencies are weighted by requests, said approximate."""
    def part(host: str, requests: int, p50: float) -> tuple[hosts.Host, dict]:
        latency = {"p50": p50, "p75": p50, "p90": p50, "p99": p50, "max": p50 * 2,
                   "mean": p50, "stdev": 0.0}
        return hosts.Host(hosts.HostSpec(host), "driver"), {"result": {
            "requests": requests, "duration_s": 1.0, "requests_per_s": float(requests),
            "latency_ms": latency, "errors": dict.fromkeys(("connect", "read", "write",
                                                            "timeout"), 0),
            "non_2xx": 0, "bad_body": 0, "checked": 0}, "histogram": None}

    merged = hosts.merge([part("a", 300, 1.0), part("b", 100, 5.0)])
    assert merged.requests == 400
    assert merged.latency_ms["p50"] == pytest.approx(2.0)
    assert merged.latency_ms["max"] == 10.0
    assert merged.latency_ms["stdev"] == pytest.approx(3 ** 0.5)  # pooled, exact
    assert merged.extra["latency_merge"] == "approximate"


def test_reports_describe_the_server_host_not_the_controller() -> None:
    """Across hosts the top-level environment is the controller's: the machine a report
    names, and what two runs must share to be pooled, are the server host's."""
    import copy
    import io

    from rich.console import Console

    from asgibench.reports import merge, model, terminal

    from .test_results import sample

    def across(cpu_model: str) -> results.Run:
        document = sample()
        server_env = copy.deepcopy(document["environment"])
        server_env["cpu"]["model"] = cpu_model
        document["environment"]["hosts"] = [
            {"role": "server", "url": "ssh://bench@10.0.0.5:22", "hostname": "server1",
             "environment": server_env},
            {"role": "driver", "url": "ssh://bench@10.0.0.6:22", "hostname": "client1",
             "environment": document["environment"], "gone": "connection lost [x]"}]
        return results.Run.from_dict(document)

    a, b = across("Server CPU A"), across("Server CPU B")
    assert a.environment["cpu"]["model"] == b.environment["cpu"]["model"]  # controller
    assert "Server CPU A" in model.machine_line(a)
    assert "CPU" in merge.differences(a, b)
    assert dict(model.run_info(a).facts)["hosts"].startswith(
        "server ssh://bench@10.0.0.5:22 (server1), driver ssh://bench@10.0.0.6:22")
    out = io.StringIO()
    terminal.render(a, Console(file=out, width=200))
    shown = out.getvalue()
    assert "server host ssh://bench@10.0.0.5:22 (server1)" in shown
    assert "driver host ssh://bench@10.0.0.6:22 (client1) went away: connection lost [x]" \
        in shown


def test_servers_bind_on_the_address_the_controller_resolves() -> None:
    """A name is resolved here: bound as a name it would be resolved on the server host,
    where a machine's own name is often a loopback address (Debian's 127.0.1.1)."""
    assert hosts.bind_address(hosts.HostSpec("127.0.0.2")) == ("127.0.0.2", None)
    address, note = hosts.bind_address(hosts.HostSpec("localhost"))
    assert address in ("127.0.0.1", "::1")
    assert note and "loopback" in note and "--host" in note


def test_one_connection_per_host_whatever_its_roles(ssh_hosts: Hosts,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The server host also a driver host: probed twice at once, connected once (the
    second connection used to be opened and never closed)."""
    import psutil

    for name, value in ssh_hosts.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    spec = hosts.parse_host(ssh_hosts.url("127.0.0.3"), "--server-host")
    sshd = psutil.Process(ssh_hosts.procs["127.0.0.3"].pid)
    before = len(sshd.children())
    topology = hosts.Topology.connect(spec, [spec], None, key=str(ssh_hosts.key),
                                      python=sys.executable)
    try:
        assert len(sshd.children()) - before == 1
    finally:
        topology.close()
