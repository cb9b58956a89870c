"""asgibench.loops: every backend really runs, auto resolution, errors, the 3.10 runner."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.metadata
import platform as _platform
import subprocess
import sys

import pytest

import asgibench.loops as loops
from asgibench.errors import BenchError
from asgibench.loops import _runner

THIRD_PARTY = ("uvloop", "winloop", "rloop")
ALL_NAMES = [b.name for b in loops.backends()]

# rloop 0.5 drops its self-pipe socketpair at the end of every run_forever() without
# closing it; refcounting closes the fds, with a ResourceWarning attributed to rloop.
pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning:rloop.loop")


# winloop publishes wheels for Windows only, so `.[all]` installs it there only; on
# Linux and macOS it runs but is an opt-in source build (pip install 'asgibench[winloop]').
OPT_IN_HERE = {"winloop"} if sys.platform != "win32" else set()


def _require(name: str) -> loops.Backend:
    """The backend, skipped only if this OS cannot have it or it is an opt-in here; a
    missing install of anything `.[all]` installs fails."""
    backend = loops.get_backend(name) if name == "auto" else _by_name(name)
    if not backend.supports():
        pytest.skip(f"{name}: {backend.platform_note()}")
    ok, reason = backend.available()
    if not ok and name in OPT_IN_HERE:
        pytest.skip(
            f"{name} has no wheels for {sys.platform}, so .[all] leaves it out; "
            "opt in with: pip install 'asgibench[winloop]'"
        )
    assert ok, f"{name} should be usable on this machine: {reason}"
    return backend


def _by_name(name: str) -> loops.Backend:
    return next(b for b in loops.backends() if b.name == name)


def _loop_type(backend: loops.Backend) -> type:
    fresh = backend.new_event_loop()
    fresh.close()
    return type(fresh)


def _hide(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    """Make ``import <module>`` fail with ModuleNotFoundError, as if not installed."""
    for module in modules:
        monkeypatch.setitem(sys.modules, module, None)


async def _echo_roundtrip(payload: bytes = b"hello loop\n") -> bytes:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.readline())
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(payload)
        await writer.drain()
        data = await reader.readline()
        writer.close()
        await writer.wait_closed()
        return data
    finally:
        server.close()
        await server.wait_closed()


async def _work() -> tuple[bytes, asyncio.AbstractEventLoop, int]:
    """A coroutine that does real I/O, a sleep and an executor hop; returns what it saw."""
    await asyncio.sleep(0.001)
    data = await asyncio.wait_for(_echo_roundtrip(), 5)
    answer = await asyncio.get_running_loop().run_in_executor(None, lambda: 42)
    return data, asyncio.get_running_loop(), answer


def _assert_no_running_loop() -> None:
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()


# --- the registry -------------------------------------------------------------------


def test_names_and_display_order() -> None:
    assert loops.LOOPS.names() == [
        "asyncio",
        "selector",
        "proactor",
        "uvloop",
        "winloop",
        "rloop",
    ]
    assert ALL_NAMES == loops.LOOPS.names()
    assert loops.backends() == loops.backends()  # stable
    names = loops.available()
    assert "auto" not in names
    assert names == [n for n in ALL_NAMES if n in names]  # display order
    assert {"asyncio", "selector"} <= set(names)


def test_backend_fields() -> None:
    for b in loops.backends():
        assert isinstance(b.name, str) and b.name
        assert b.platforms and set(b.platforms) <= {"linux", "darwin", "win32"}
        assert isinstance(b.install_hint, str)
        with pytest.raises(dataclasses.FrozenInstanceError):
            b.name = "x"  # type: ignore[misc]
    assert _by_name("uvloop").install_hint == "pip install uvloop"
    assert _by_name("rloop").install_hint == "pip install 'asgibench[rloop]'"
    assert _by_name("proactor").platforms == ("win32",)


def test_import_does_not_import_third_party_loops() -> None:
    code = (
        "import sys, asgibench.loops as l; l.LOOPS.names(); l.backends();"
        f"print(sorted(set(sys.modules) & {set(THIRD_PARTY)!r}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    assert out.stdout.strip() == "[]"


def test_versions() -> None:
    assert _by_name("asyncio").version() == _platform.python_version()
    assert _by_name("selector").version() == _platform.python_version()
    for name in THIRD_PARTY:
        b = _by_name(name)
        if b.available()[0]:
            assert b.version() == importlib.metadata.version(name)
    ghost = dataclasses.replace(_by_name("uvloop"), dist="asgibench-no-such-dist")
    assert ghost.version() is None


# --- every backend really runs ------------------------------------------------------


@pytest.mark.parametrize("name", [*ALL_NAMES, "auto"])
def test_new_event_loop_runs_coroutine_and_tcp_echo(name: str) -> None:
    backend = _require(name)
    loop = loops.new_event_loop(name)
    other = loops.new_event_loop(name)
    try:
        assert loop is not other
        assert isinstance(loop, asyncio.AbstractEventLoop)
        assert type(loop) is _loop_type(backend)
        data, seen, answer = loop.run_until_complete(_work())
        assert data == b"hello loop\n"
        assert seen is loop
        assert answer == 42
        loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        loop.close()
        other.close()
    _assert_no_running_loop()


@pytest.mark.parametrize("name", [*ALL_NAMES, "auto"])
def test_run_returns_value_and_cleans_up(name: str) -> None:
    backend = _require(name)
    policy = asyncio.get_event_loop_policy()
    data, loop, answer = loops.run(_work(), loop=name)
    assert (data, answer) == (b"hello loop\n", 42)
    assert type(loop) is _loop_type(backend)
    assert loop.is_closed()
    _assert_no_running_loop()
    assert asyncio.get_event_loop_policy() is policy


@pytest.mark.parametrize("name", ALL_NAMES)
def test_backport_runner_with_each_backend(name: str) -> None:
    backend = _require(name)
    data, loop, answer = _runner.run_with_factory(_work(), loop_factory=backend.new_event_loop)
    assert (data, answer) == (b"hello loop\n", 42)
    assert loop.is_closed()
    _assert_no_running_loop()


_DEBUG_CASES = [
    pytest.param(n, d, marks=pytest.mark.xfail(reason="rloop 0.5: set_debug() is a no-op"))
    if (n, d) == ("rloop", True)
    else (n, d)
    for n in ALL_NAMES
    for d in (True, False)
]


@pytest.mark.parametrize(("name", "debug"), _DEBUG_CASES)
def test_run_debug_flag(name: str, debug: bool) -> None:
    backend = _require(name)

    async def main() -> bool:
        return asyncio.get_running_loop().get_debug()

    assert loops.run(main(), loop=name, debug=debug) is debug
    got = _runner.run_with_factory(main(), loop_factory=backend.new_event_loop, debug=debug)
    assert got is debug


# --- the 3.10 backport, on whatever Python runs the tests ----------------------------


def test_backport_cancels_leftovers_and_finalizes_asyncgens() -> None:
    events: list[str] = []

    async def forever() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            events.append("task cancelled")
            raise

    async def agen():  # type: ignore[no-untyped-def]
        try:
            yield 1
            yield 2
        finally:
            events.append("agen finalized")

    async def main() -> str:
        asyncio.get_running_loop().create_task(forever())
        gen = agen()
        await gen.__anext__()  # left suspended: shutdown_asyncgens must close it
        await asyncio.sleep(0)
        assert asyncio.get_event_loop() is asyncio.get_running_loop()
        return "done"

    assert _runner.run_with_factory(main(), loop_factory=asyncio.SelectorEventLoop) == "done"
    assert sorted(events) == ["agen finalized", "task cancelled"]
    _assert_no_running_loop()


def test_backport_propagates_exceptions_and_closes_loop() -> None:
    seen: list[asyncio.AbstractEventLoop] = []

    async def boom() -> None:
        seen.append(asyncio.get_running_loop())
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        _runner.run_with_factory(boom(), loop_factory=asyncio.SelectorEventLoop)
    assert seen[0].is_closed()
    _assert_no_running_loop()


def test_backport_rejects_non_coroutines_and_nested_use() -> None:
    with pytest.raises(ValueError, match="coroutine was expected"):
        _runner.run_with_factory(42, loop_factory=asyncio.SelectorEventLoop)  # type: ignore[arg-type]

    async def nested() -> None:
        inner = asyncio.sleep(0)
        with pytest.raises(RuntimeError, match="running event loop"):
            _runner.run_with_factory(inner, loop_factory=asyncio.SelectorEventLoop)
        assert inner.cr_frame is None  # closed, so no "never awaited" warning
        with pytest.raises(RuntimeError, match="running event loop"):
            loops.run(asyncio.sleep(0), loop="selector")

    asyncio.run(nested())


def test_run_uses_backport_when_runner_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Force the <3.11 branch of _runner.run so it is exercised on any Python."""
    monkeypatch.setattr(_runner.sys, "version_info", (3, 10, 13, "final", 0))
    monkeypatch.delattr(asyncio, "Runner", raising=False)
    data, loop, answer = loops.run(_work(), loop="selector")
    assert (data, answer) == (b"hello loop\n", 42)
    assert loop.is_closed()


# --- auto ----------------------------------------------------------------------------


def test_auto_on_this_machine() -> None:
    expected = "winloop" if sys.platform == "win32" else "uvloop"
    assert loops.auto_name() == expected
    assert loops.get_backend("auto").name == expected
    assert loops.auto_name(workers=8) == expected


def test_auto_on_simulated_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    # uvloop is importable here, but never chosen for Windows.
    assert not _by_name("uvloop").available("win32")[0]
    assert loops.auto_name(platform="win32") == "winloop"
    assert loops.auto_name(workers=4, platform="win32") == "winloop"
    _hide(monkeypatch, "winloop")
    assert loops.auto_name(platform="win32") == "proactor"
    assert loops.auto_name(workers=1, platform="win32") == "proactor"
    assert loops.auto_name(workers=2, platform="win32") == "selector"
    assert loops.get_backend("auto", workers=3, platform="win32").name == "selector"


def test_auto_without_third_party_loops(monkeypatch: pytest.MonkeyPatch) -> None:
    _hide(monkeypatch, *THIRD_PARTY)
    for plat in ("linux", "darwin"):
        assert loops.auto_name(platform=plat) == "asyncio"
        assert loops.auto_name(workers=4, platform=plat) == "asyncio"
    assert loops.available(platform="linux") == ["asyncio", "selector"]
    assert loops.run(asyncio.sleep(0, "ok")) == "ok"  # auto falls back to stdlib for real


def test_auto_on_simulated_macos() -> None:
    assert loops.auto_name(platform="darwin") == "uvloop"
    assert _by_name("proactor").available("darwin") == (False, "Windows only")


def test_windows_workers_rule_for_explicit_names(monkeypatch: pytest.MonkeyPatch) -> None:
    assert loops.get_backend("asyncio", workers=1, platform="win32").name == "asyncio"
    assert loops.get_backend("asyncio", workers=2, platform="win32").name == "selector"
    assert loops.get_backend("selector", workers=2, platform="win32").name == "selector"
    assert loops.get_backend("asyncio", workers=2, platform="linux").name == "asyncio"
    # Pretend this interpreter has the Windows-only class, to reach the workers check.
    monkeypatch.setattr(asyncio, "ProactorEventLoop", object, raising=False)
    assert loops.get_backend("proactor", platform="win32").name == "proactor"
    with pytest.raises(BenchError) as info:
        loops.get_backend("proactor", workers=2, platform="win32")
    msg = str(info.value)
    assert "\n" not in msg and "selector" in msg and "529" in msg


def test_describe_rows() -> None:
    rows = loops.describe()
    assert [r.name for r in rows] == ALL_NAMES
    assert all(isinstance(r, loops.BackendStatus) for r in rows)
    assert [r.name for r in rows if r.is_auto] == [loops.auto_name()]
    assert [r.name for r in rows if r.available] == loops.available()
    for r in rows:
        assert r.available == (r.reason == "")
        if r.name in ("asyncio", "selector"):
            assert r.version == _platform.python_version()
    if sys.platform != "win32":
        proactor = next(r for r in rows if r.name == "proactor")
        assert (proactor.available, proactor.reason) == (False, "Windows only")
    win = loops.describe(workers=2, platform="win32")
    assert [r.name for r in win if r.is_auto] == ["winloop"]


# --- errors --------------------------------------------------------------------------


def test_unknown_name_error_is_one_line_with_choices() -> None:
    with pytest.raises(BenchError) as info:
        loops.get_backend("foo")
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith("unknown loop 'foo'")
    for name in ["auto", *loops.available()]:
        assert name in msg
    if sys.platform != "win32":
        assert "proactor: Windows only" in msg


def test_unavailable_name_error_names_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    _hide(monkeypatch, "rloop")
    assert _by_name("rloop").available() == (
        False,
        "not installed: pip install 'asgibench[rloop]'",
    )
    with pytest.raises(BenchError) as info:
        loops.get_backend("rloop")
    msg = str(info.value)
    assert "\n" not in msg
    assert "loop 'rloop' is not available here: not installed" in msg
    assert "pip install 'asgibench[rloop]'" in msg
    assert "Available: auto, " in msg
    for name in loops.available():
        assert name in msg
    with pytest.raises(BenchError) as info:
        loops.get_backend("nope")
    assert "rloop: not installed, pip install 'asgibench[rloop]'" in str(info.value)


def test_unavailable_platform_error() -> None:
    with pytest.raises(BenchError, match=r"loop 'uvloop' is not available here: Linux and macOS"):
        loops.get_backend("uvloop", platform="win32")


def test_broken_install_is_reported_as_import_failure() -> None:
    def broken() -> None:
        raise OSError("wrong ELF class")

    def missing_dependency() -> None:
        raise ModuleNotFoundError("No module named 'libfoo'", name="libfoo")

    for probe in (broken, missing_dependency):
        b = dataclasses.replace(_by_name("uvloop"), probe=probe)
        ok, reason = b.available()
        assert not ok and reason.startswith("import failed: ")
        assert "\n" not in reason


def test_names_are_case_and_space_insensitive() -> None:
    assert loops.get_backend(" Selector ").name == "selector"


def test_entry_points_reject_bad_names_without_leaking_coroutines() -> None:
    with pytest.raises(BenchError, match="unknown loop"):
        loops.new_event_loop("nope")
    coro = asyncio.sleep(0)
    with pytest.raises(BenchError, match="unknown loop"):
        loops.run(coro, loop="nope")
    assert coro.cr_frame is None  # closed: no "coroutine was never awaited"


def test_backend_new_event_loop_without_package_raises_bench_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _hide(monkeypatch, "winloop")
    with pytest.raises(BenchError, match=r"pip install winloop"):
        _by_name("winloop").new_event_loop()
