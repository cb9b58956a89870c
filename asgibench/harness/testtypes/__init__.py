"""The test-type registry: what each TechEmpower test type requests, how its responses are
verified, which loads drive it and how it is ranked.

One module per test type in this package, each defining ``TEST_TYPE`` (a
:class:`TestType`); every such module is found and registered automatically, so adding
``db``, ``queries``, ``fortunes``, ``updates`` or ``cached-queries`` later is one new
module (plus, for those, a database the app can reach).

Facts (routes, Content-Type patterns, levels, ranking rule, weights) follow
``../shared/techempower.md``.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from asgibench.errors import BenchError
from asgibench.harness.selection import select

#: TFB's ``Accept`` header values, as its wrk command line sends them.
ACCEPT_PLAINTEXT = (
    "text/plain,text/html;q=0.9,application/xhtml+xml;q=0.9,application/xml;q=0.8,*/*;q=0.7"
)
ACCEPT_JSON = (
    "application/json,text/html;q=0.9,application/xhtml+xml;q=0.9,application/xml;q=0.8,"
    "*/*;q=0.7"
)

#: Ranking rules: "best" = the best level's figure (json, plaintext, db, fortune);
#: "last" = the last level's figure (query, update, cached-query).
RANKING_RULES = ("best", "last")


@dataclass(frozen=True)
class TestType:
    """One TechEmpower test type.

    ``check_body(body)`` returns ``None`` for a correct body, else a one-line reason; it
    runs at verification and, in the Python driver, on every response under load (wrk
    samples with a Lua check). ``fast_bodies`` are byte-exact bodies known to be correct,
    so the hot path can compare bytes before falling back to ``check_body``.
    """

    __test__ = False  # not a pytest class, whatever its name

    name: str
    path: str
    accept: str
    content_type: re.Pattern[str]
    check_body: Callable[[bytes], str | None]
    levels: tuple[int, ...]  # TechEmpower's concurrency levels
    quick_levels: tuple[int, ...]  # the --quick profile's
    pipeline: int = 1  # HTTP pipelining depth under load
    ranking: str = "best"
    weight: float = 1.0  # composite-score weight
    fast_bodies: tuple[bytes, ...] = ()
    description: str = ""
    #: More (URL, body check) pairs verification must pass, e.g. for queries:
    #: ``("/queries?queries=foo", one_row)``. Same headers/status rules as ``path``.
    extra_checks: tuple[tuple[str, Callable[[bytes], str | None]], ...] = field(default=())

    def __post_init__(self) -> None:
        if self.ranking not in RANKING_RULES:
            raise ValueError(f"ranking must be one of {RANKING_RULES}, not {self.ranking!r}")
        if not self.levels or not self.quick_levels:
            raise ValueError("a test type needs at least one level")

    def body_ok(self, body: bytes) -> bool:
        """Fast check used under load."""
        return body in self.fast_bodies or self.check_body(body) is None


_REGISTRY: dict[str, TestType] = {}
_LOADED = False


def register(test_type: TestType) -> TestType:
    """Add a test type (tests and plug-ins may call this; modules here are automatic)."""
    _REGISTRY[test_type.name] = test_type
    return test_type


def _load() -> None:
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        test_type = getattr(module, "TEST_TYPE", None)
        if isinstance(test_type, TestType):
            register(test_type)


#: Display and run order for the built-in types; unknown ones follow alphabetically.
_ORDER = ("plaintext", "json", "db", "queries", "fortunes", "updates", "cached-queries")


def names() -> list[str]:
    """Every registered test type, in TechEmpower's usual order."""
    _load()
    return sorted(_REGISTRY, key=lambda n: (_ORDER.index(n) if n in _ORDER else 99, n))


def get(name: str) -> TestType:
    """The test type called ``name``; BenchError naming the valid ones otherwise."""
    _load()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise BenchError(
            f"unknown test type {name!r}; choose from: {', '.join(names())}"
        ) from None


def resolve(spec: str | Sequence[str]) -> list[TestType]:
    """``"plaintext,json"`` / ``"all"`` / a list of names -> test types, order kept."""
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    return select(
        (item.strip() for item in items if item.strip()),
        lambda: [get(name) for name in names()],
        get,
        f"no test type given; choose from: {', '.join(names())}",
    )
