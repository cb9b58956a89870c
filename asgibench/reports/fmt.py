"""Number formatting, and the caveats, shared by the Markdown, HTML and text renderers."""

from __future__ import annotations

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


def cpu_ms(value: float | None) -> str:
    """The server's CPU milliseconds per request: ``0.084``; ``-`` when not sampled."""
    if value is None:
        return "-"
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def mib(value: float | None) -> str:
    """A resident size in MiB: ``42.3``; ``-`` when not sampled."""
    return "-" if value is None else f"{value:,.1f}"


#: Said under a table whose rows carry the resource columns (terminal, Markdown, HTML).
RESOURCES_NOTE = ("cpu ms/req: the server's CPU time (user + system, every process of it) "
                  "per request at that level, median over repeats; peak MiB: its largest "
                  "resident memory (summed over its processes) in any repeat; "
                  "driver-saturated: the load driver used >= {pct:.0f}% of its CPUs, so the "
                  "figure may be the driver's limit")


def resources_note() -> str:
    from asgibench.harness.results import DRIVER_SATURATED

    return RESOURCES_NOTE.format(pct=DRIVER_SATURATED * 100)


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
