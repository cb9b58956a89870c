"""The :class:`Backend` record shared by every loop backend module.

Nothing here imports a third-party event loop: each backend carries a ``probe`` that
does the (lazy) import only when someone asks whether the backend is usable.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.metadata
import platform as _platform
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from asgibench.errors import BenchError

#: The operating systems we know about, as ``sys.platform`` spells them (after
#: :func:`norm_platform`). On any other OS (FreeBSD, ...) the platform list is not
#: used as a gate: whether the package imports decides.
KNOWN_PLATFORMS: tuple[str, ...] = ("linux", "darwin", "win32")
ALL_PLATFORMS: tuple[str, ...] = KNOWN_PLATFORMS

_PRETTY = {"linux": "Linux", "darwin": "macOS", "win32": "Windows"}


def norm_platform(platform: str | None = None) -> str:
    """``sys.platform``-style name, with ``linux2``-style suffixes folded to ``linux``."""
    p = (platform or sys.platform).lower()
    if p.startswith("linux"):
        return "linux"
    return p


def import_probe(module: str) -> Callable[[], object]:
    """A probe that imports ``module`` (only when called)."""

    def probe() -> object:
        return importlib.import_module(module)

    return probe


class Unsupported(ImportError):
    """Raised by a probe when this interpreter cannot have the backend at all."""


@dataclass(frozen=True)
class Backend:
    """One event-loop implementation asgibench can run on.

    ``new_event_loop()`` returns a brand-new loop each call and never touches the global
    event-loop policy. ``probe`` (internal) raises if the backend cannot be used by this
    interpreter; ``module`` names the import it performs, so "not installed" can be told
    apart from "installed but broken".
    """

    name: str
    platforms: tuple[str, ...]
    install_hint: str
    summary: str
    factory: Callable[[], asyncio.AbstractEventLoop] = field(repr=False, compare=False)
    probe: Callable[[], object] | None = field(default=None, repr=False, compare=False)
    module: str | None = None
    dist: str | None = None  # distribution name for importlib.metadata; None = stdlib

    @property
    def stdlib(self) -> bool:
        """True for loops that ship with CPython (asyncio, selector, proactor)."""
        return self.dist is None

    def supports(self, platform: str | None = None) -> bool:
        """Whether this backend can exist on ``platform`` (default: this machine)."""
        p = norm_platform(platform)
        return p not in KNOWN_PLATFORMS or p in self.platforms

    def platform_note(self) -> str:
        """Human form of :attr:`platforms`, e.g. ``"Windows only"``."""
        if set(self.platforms) >= set(KNOWN_PLATFORMS):
            return "all platforms"
        return " and ".join(_PRETTY.get(p, p) for p in self.platforms) + " only"

    def available(self, platform: str | None = None) -> tuple[bool, str]:
        """``(True, "")`` if usable, else ``(False, reason)``.

        ``platform`` lets callers ask about another OS (tests simulate Windows this
        way); the OS gate then uses that platform, while the import check still reflects
        what is installed in *this* interpreter.
        """
        if not self.supports(platform):
            return False, self.platform_note()
        if self.probe is None:
            return True, ""
        try:
            self.probe()
        except Unsupported as exc:
            return False, str(exc) or self.platform_note()
        except ModuleNotFoundError as exc:
            if self.module and exc.name and self.module.split(".")[0] == exc.name.split(".")[0]:
                return False, f"not installed: {self.install_hint}"
            return False, f"import failed: {_one_line(exc)}"
        except Exception as exc:  # a broken wheel can raise OSError, AttributeError...
            return False, f"import failed: {_one_line(exc)}"
        return True, ""

    def version(self) -> str | None:
        """The package version (``importlib.metadata``), or Python's for stdlib loops."""
        if self.dist is None:
            return _platform.python_version()
        try:
            return importlib.metadata.version(self.dist)
        except importlib.metadata.PackageNotFoundError:
            return None

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        """Create a NEW event loop of this kind (the caller owns and must close it)."""
        try:
            return self.factory()
        except ImportError as exc:
            _, reason = self.available()
            raise BenchError(
                f"loop {self.name!r} is not available here: {reason or _one_line(exc)}"
            ) from exc


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
