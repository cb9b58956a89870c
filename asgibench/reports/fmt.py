"""Number formatting, and the caveats, shared by the Markdown, HTML and text renderers."""

from __future__ import annotations

import math

_BLOCKS = " ▏▎▍▌▋▊▉█"


#: Said wherever a one-repeat run's figures are shown (terminal, HTML, Markdown): they
#: look as firm as any others.
ONE_REPEAT = ("one repeat per level: no spread (± is -), so close calls cannot be told from "
              "noise; identical runs on a busy machine have differed by 5x (use --repeat 3)")


def rps(value: float | None) -> str:
    """Requests per second with thousands separators: ``12,345``."""
    if value is None:
        return "-"
    return f"{value:,.0f}"


def ms(value: float | None) -> str:
    """A latency in milliseconds, to a sensible precision; seconds above 1000 ms. ``-``
    when there is no sample (None, or 0: e.g. wrk saw no complete pipelined batch)."""
    if value is None or value <= 0:
        return "-"
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    if value >= 100:
        return f"{value:.0f} ms"
    if value >= 10:
        return f"{value:.1f} ms"
    return f"{value:.2f} ms"


def cpu_ms(value: float | None, resolution: float | None = None) -> str:
    """The server's CPU milliseconds per request: ``0.084``; ``-`` when not sampled. With
    ``resolution`` (how far the figure may be off, ms/request: CPU times read in clock
    ticks), only the digits it supports."""
    if value is None:
        return "-"
    if value >= 10:
        return f"{value:.1f}"
    digits = 3
    if resolution is not None and resolution > 0:
        digits = max(0, min(3, math.floor(-math.log10(resolution))))
    return f"{value:.{digits}f}"


def mib(value: float | None) -> str:
    """A resident size in MiB: ``42.3``; ``-`` when not sampled."""
    return "-" if value is None else f"{value:,.1f}"


#: Said once in a report whose tables carry the resource columns (terminal, Markdown,
#: HTML).
RESOURCES_NOTE = ("cpu ms/req: the server's CPU time (user + system, every process of it) "
                  "over the driver's measured window, per request, median over repeats; "
                  "peak MiB: its largest resident memory (summed over its processes) in "
                  "any repeat; neither counts a database server it talks to; "
                  "driver-saturated: the load driver was never idle (on a CPU or waiting "
                  "for one) >= {pct:.0f}% of its window, so the figure may be the driver's "
                  "limit")
#: Added when some figure's CPU was read in clock ticks (no CPU clock: not Linux).
COARSE_NOTE = "; CPU read in {tick:g} ms clock ticks here: fewer digits shown"


def resources_note(tick_s: float | None = None) -> str:
    """The note; ``tick_s``: the coarsest CPU resolution of the figures shown, when it is
    clock ticks."""
    from asgibench.harness.results import DRIVER_SATURATED

    note = RESOURCES_NOTE.format(pct=DRIVER_SATURATED * 100)
    if tick_s is not None and tick_s >= 1e-3:
        note += COARSE_NOTE.format(tick=tick_s * 1000)
    return note


def cpus(numbers: list[int] | None) -> str:
    """A CPU set as ``0,1``; ``-`` when there is none."""
    return ",".join(str(n) for n in numbers) if numbers else "-"


def pct(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}%"


def signed_pct(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    return f"{value:+.{digits}f}%"


def bar(fraction: float, width: int = 20) -> str:
    """A Unicode block bar, ``fraction`` in 0..1 of ``width`` characters (1/8 steps)."""
    fraction = min(max(fraction, 0.0), 1.0)
    eighths = round(fraction * width * 8)
    full, rest = divmod(eighths, 8)
    text = "█" * full + (_BLOCKS[rest] if rest else "")
    return text or "▏"


def spread(spread_pct: float, repeats: int) -> str:
    """The ``±`` column: half the min..max range, or ``-`` with one repeat."""
    return f"±{spread_pct:.1f}%" if repeats > 1 else "-"


def load_text(kind: str, levels: list[int], depth: int = 1, pipelining: str = " · pipelined x"
              ) -> str:
    """A test's load as titles say it: ``concurrency 16, 64`` or ``queries 1, 5, 10``
    (``kind``: the test type's level kind), then its pipelining depth when above 1."""
    text = f"{kind} {', '.join(map(str, levels))}" if levels else ""
    return text + (f"{pipelining}{depth}" if depth > 1 else "")
