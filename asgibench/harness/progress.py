"""Progress while a run goes: which combination, which level, time left.

:class:`RichProgress` draws a live bar on a terminal; :class:`LineProgress` prints one
line per step (logs, CI, pipes); :class:`NullProgress` is silent (tests, library use).
All three take the same calls from the runner.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn


class NullProgress:
    def start(self, planned_s: float) -> None: ...

    def step(self, description: str, planned_s: float) -> None: ...

    def done_step(self) -> None: ...

    def note(self, message: str) -> None: ...

    def stop(self) -> None: ...


class _Clock:
    """Planned seconds done vs. left, corrected by how slow reality has been so far.

    The time left it shows never goes up: a countdown that climbs ("~58s left", then
    "~59s left") reads as a broken clock. When the corrected estimate rises, the figure
    shown holds until the estimate falls below it again.
    """

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self.total = 0.0
        self.done = 0.0
        self.current = 0.0
        self.now = now
        self.started = now()
        self.shown = float("inf")

    def estimate(self) -> float:
        """Seconds left: the planned rest, scaled by how slow reality has been."""
        elapsed = self.now() - self.started
        remaining = max(self.total - self.done, 0.0)
        if self.done > 5:
            remaining *= max(elapsed / self.done, 0.5)
        return remaining

    def left(self) -> float:
        self.shown = min(self.shown, self.estimate())
        return self.shown


def _fmt(seconds: float) -> str:
    seconds = round(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


class LineProgress(NullProgress):
    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True, highlight=False)
        self.clock = _Clock()

    def start(self, planned_s: float) -> None:
        self.clock.total = planned_s
        self.console.print(f"bench run: about {_fmt(planned_s)} of measurements planned",
                           soft_wrap=True)

    def step(self, description: str, planned_s: float) -> None:
        self.clock.current = planned_s
        self.console.print(f"  {description}  (~{_fmt(self.clock.left())} left)",
                           soft_wrap=True)

    def done_step(self) -> None:
        self.clock.done += self.clock.current
        self.clock.current = 0.0

    def note(self, message: str) -> None:
        self.console.print(f"  {message}", soft_wrap=True)


class RichProgress(LineProgress):
    def __init__(self, console: Console | None = None) -> None:
        super().__init__(console)
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[left]} left"),
            console=self.console,
            transient=True,
        )
        self.task: Any = None

    def start(self, planned_s: float) -> None:
        self.clock.total = planned_s
        self.progress.start()
        self.task = self.progress.add_task("starting", total=max(planned_s, 1.0),
                                           left=_fmt(planned_s))

    def step(self, description: str, planned_s: float) -> None:
        self.clock.current = planned_s
        self.progress.update(self.task, description=description, completed=self.clock.done,
                             left=_fmt(self.clock.left()))

    def done_step(self) -> None:
        super().done_step()
        self.progress.update(self.task, completed=self.clock.done,
                             left=_fmt(self.clock.left()))

    def note(self, message: str) -> None:
        self.progress.console.print(f"  {message}")

    def stop(self) -> None:
        self.progress.stop()


def for_console(console: Console, quiet: bool = False) -> NullProgress:
    if quiet:
        return NullProgress()
    if console.is_terminal:
        return RichProgress(console)
    return LineProgress(console)
