"""asgibench.registry: register/unregister, selection (all, auto, unknown names with a
did-you-mean), the status table, and plug-in modules named in ASGIBENCH_PLUGINS."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from asgibench import registry
from asgibench.errors import BenchError
from asgibench.registry import Registry, Status


@dataclass(frozen=True)
class Fake:
    name: str
    reason: str = ""  # why it is unusable here; "" = usable
    install_hint: str = ""

    def available(self) -> tuple[bool, str]:
        return (not self.reason, self.reason)

    def version(self) -> str | None:
        return None if self.reason else "1.0"


LAZY = Fake("lazy")  # registered below by import string: f"{__name__}:LAZY"


@pytest.fixture(autouse=True)
def _plugins_already_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading a registry imports no plug-in module here (the loading tests undo this)."""
    monkeypatch.setattr(registry, "_plugins_loaded", True)


@pytest.fixture
def widgets() -> Registry[Fake]:
    return Registry(
        "widget",
        {"uvloop": Fake("uvloop"), "asyncio": Fake("asyncio"),
         "rloop": Fake("rloop", reason="rloop is not installed")},
        auto=lambda: "uvloop",
    )


def one_line(exc: pytest.ExceptionInfo[BenchError]) -> str:
    message = str(exc.value)
    assert message and "\n" not in message
    return message


def test_register_and_unregister(widgets: Registry[Fake]) -> None:
    widgets.register("winloop", Fake("winloop"))
    assert widgets.names() == ["uvloop", "asyncio", "rloop", "winloop"]
    assert "winloop" in widgets and widgets.plugin("winloop").name == "winloop"
    widgets.unregister("winloop")
    widgets.unregister("never-registered")  # not an error
    assert "winloop" not in widgets
    assert widgets.names() == ["uvloop", "asyncio", "rloop"]


def test_an_import_string_is_imported_on_first_use(widgets: Registry[Fake]) -> None:
    widgets.register("lazy", f"{__name__}:LAZY")
    assert widgets.plugin("lazy") is LAZY
    assert widgets.plugin("lazy") is LAZY
    widgets.register("broken", "asgibench_no_such_module:THING")
    assert "broken" in widgets  # listed without importing it
    with pytest.raises(ImportError):
        widgets.plugin("broken")


def test_available_and_choices(widgets: Registry[Fake]) -> None:
    assert widgets.available() == ["uvloop", "asyncio"]
    assert widgets.choices() == ["auto", "uvloop", "asyncio"]
    assert widgets.help_names() == "auto, uvloop, asyncio, rloop"
    assert Registry("thing", {"a": Fake("a")}).choices() == ["a"]  # no auto, none offered


def test_select_names_keeps_order_and_drops_duplicates(widgets: Registry[Fake]) -> None:
    assert [w.name for w in widgets.select("asyncio, uvloop,asyncio")] == ["asyncio", "uvloop"]
    assert [w.name for w in widgets.select(["uvloop", "asyncio"])] == ["uvloop", "asyncio"]


def test_select_all_is_every_usable_one(widgets: Registry[Fake]) -> None:
    assert [w.name for w in widgets.select("all")] == ["uvloop", "asyncio"]
    assert [w.name for w in widgets.select("asyncio,all")] == ["uvloop", "asyncio"]


def test_select_auto_is_the_registrys_choice(widgets: Registry[Fake]) -> None:
    assert [w.name for w in widgets.select("auto")] == ["uvloop"]
    assert widgets.auto_name() == "uvloop"
    assert Registry("thing", {"a": Fake("a")}).auto_name() is None


def test_an_unknown_name_suggests_the_closest_one(widgets: Registry[Fake]) -> None:
    with pytest.raises(BenchError) as exc:
        widgets.select("asyncio,uvlop")
    assert one_line(exc) == ("unknown widget 'uvlop'; did you mean 'uvloop'? "
                             "choose from: auto, uvloop, asyncio, rloop")
    with pytest.raises(BenchError) as exc:
        widgets.plugin("zzz")
    assert one_line(exc) == "unknown widget 'zzz'; choose from: auto, uvloop, asyncio, rloop"


def test_an_unusable_name_says_why_and_what_is_available(widgets: Registry[Fake]) -> None:
    with pytest.raises(BenchError) as exc:
        widgets.select("rloop")
    assert one_line(exc) == ("widget 'rloop' is not available here: rloop is not installed; "
                             "available: auto, uvloop, asyncio")


def test_an_empty_selection_lists_the_choices(widgets: Registry[Fake]) -> None:
    with pytest.raises(BenchError) as exc:
        widgets.select(" , ", what="event loop")
    assert one_line(exc) == "no event loop given; choose from: auto, uvloop, asyncio (or all)"


def test_describe(widgets: Registry[Fake]) -> None:
    assert widgets.describe() == [
        Status("uvloop", True, "", "1.0", is_auto=True),
        Status("asyncio", True, "", "1.0", is_auto=False),
        Status("rloop", False, "rloop is not installed", None, is_auto=False),
    ]


# -- plug-in modules ---------------------------------------------------------------------


@pytest.fixture
def fresh_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in a new process: the next registry read imports the plug-in modules."""
    monkeypatch.setattr(registry, "_plugins_loaded", False)
    monkeypatch.delenv(registry.PLUGINS_ENV, raising=False)


@pytest.fixture
def module_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., str]]:
    """``write(name, source) -> name``: an importable module in tmp_path, forgotten after."""
    monkeypatch.syspath_prepend(str(tmp_path))
    names: list[str] = []

    def write(name: str, source: str) -> str:
        (tmp_path / f"{name}.py").write_text(source)
        names.append(name)
        return name

    yield write
    for name in names:
        sys.modules.pop(name, None)


@pytest.mark.usefixtures("fresh_plugins")
def test_a_plugin_module_registers_on_the_first_read(
    module_dir: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    target = module_dir("asgibench_test_target", (
        "from asgibench.registry import Registry\n"
        "WIDGETS = Registry('widget', {})\n"
    ))
    plugin = module_dir("asgibench_test_plugin", (
        "import asgibench_test_target\n"
        "asgibench_test_target.WIDGETS.register('plugged', 'asgibench_test_plugged:PLUGGED')\n"
    ))
    module_dir("asgibench_test_plugged", "PLUGGED = object()\n")
    monkeypatch.setenv(registry.PLUGINS_ENV, f" {plugin} ,")
    widgets = __import__(target).WIDGETS
    assert plugin not in sys.modules
    assert widgets.names() == ["plugged"]
    assert plugin in sys.modules and "asgibench_test_plugged" not in sys.modules
    assert widgets.plugin("plugged") is sys.modules["asgibench_test_plugged"].PLUGGED


@pytest.mark.usefixtures("fresh_plugins")
def test_a_missing_plugin_module_is_one_bench_error_line(
    monkeypatch: pytest.MonkeyPatch, widgets: Registry[Fake]
) -> None:
    monkeypatch.setenv(registry.PLUGINS_ENV, "asgibench_no_such_plugin")
    with pytest.raises(BenchError) as exc:
        widgets.names()
    assert one_line(exc) == ("ASGIBENCH_PLUGINS: cannot import plug-in module "
                             "'asgibench_no_such_plugin': No module named "
                             "'asgibench_no_such_plugin'")
