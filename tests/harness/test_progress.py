"""The progress line's time left: a countdown that never climbs."""

from __future__ import annotations

import io
import itertools

from rich.console import Console

from asgibench.harness import progress


class FakeTime:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_time_left_never_goes_up_when_reality_slows_down() -> None:
    now = FakeTime()
    clock = progress._Clock(now)
    clock.total = 60.0
    shown, estimates = [], []
    # Steps of 2 planned seconds taking 2 s, but one takes 10 s (the machine got busy):
    # the corrected estimate jumps up; the countdown must not.
    for step in range(30):
        clock.current = 2.0
        estimates.append(clock.estimate())
        shown.append(clock.left())
        now.t += 10.0 if step == 10 else 2.0
        clock.done += 2.0
    assert max(b - a for a, b in itertools.pairwise(estimates)) > 5  # it did jump
    assert max(b - a for a, b in itertools.pairwise(shown)) <= 0, shown
    assert shown[0] == 60.0 and shown[-1] > 0


def test_the_countdown_holds_while_the_estimate_rises() -> None:
    now = FakeTime()
    clock = progress._Clock(now)
    clock.total = 20.0
    clock.done, now.t = 10.0, 10.0
    assert clock.left() == 10.0
    clock.done, now.t = 12.0, 18.0  # slower: the estimate goes up to 12 s
    assert clock.estimate() > 10.0 and clock.left() == 10.0
    clock.done, now.t = 18.0, 24.0  # the estimate falls below the held figure again
    assert 0 < clock.left() < 10.0


def test_line_progress_prints_a_falling_countdown() -> None:
    out = io.StringIO()
    now = FakeTime()
    line = progress.LineProgress(Console(file=out, width=200))
    line.clock = progress._Clock(now)
    line.start(20.0)
    for step in range(10):
        line.step(f"step {step}", 2.0)
        now.t += 8.0 if step == 3 else 2.0
        line.done_step()
    lefts = [int(text.split("(~")[1].split("s left")[0]) for text in out.getvalue().splitlines()
             if "left)" in text]
    assert len(lefts) == 10
    assert lefts == sorted(lefts, reverse=True), lefts
