"""The test-type registry: what each TechEmpower test type requests, how its responses are
verified, which loads drive it and how it is ranked.

One module per test type in this package, each defining ``TEST_TYPE`` (a
:class:`TestType`), and one line in :data:`TEST_TYPES`.

Facts (routes, Content-Type patterns, levels, ranking rule, weights) follow
``docs/techempower.md``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field

from asgibench.harness.workloads import Workload
from asgibench.registry import Registry

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
LEVEL_KINDS = ("concurrency", "queries")


@dataclass(frozen=True)
class WebSocketLoad:
    """What a WebSocket test type sends: ``size``-byte messages, each echoed before the
    next, on connections kept open (``storm`` False) or opened for one echo and closed
    (``storm`` True: the connection storm)."""

    size: int
    storm: bool = False


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
    #: The ASGI handler that serves ``path`` in the benchmark app (asgibench.harness.app).
    handler: Callable[..., Awaitable[None]] | None = None
    #: More (path, handler) routes of the benchmark app, e.g. one per static file.
    routes: tuple[tuple[str, Callable[..., Awaitable[None]]], ...] = ()
    #: (Content-Type, body) the canned-response server answers ``path`` with.
    canned: tuple[bytes, bytes] | None = None
    #: Set for a workload (the user's ``--endpoint``/``--scenario``, or a built-in
    #: HttpArena-style type such as ``upload``): its requests replace ``GET path``, and it
    #: is verified by its requests' own expectations rather than TechEmpower's rules. A
    #: function is called on first use of :attr:`workload`, so a workload with large
    #: bodies costs nothing in the processes that only serve it.
    workload_source: Workload | Callable[[], Workload] | None = field(default=None,
                                                                      repr=False)
    #: What a level is: ``concurrency`` (connections), or ``queries``: the N appended to
    #: ``path`` (``/queries?queries=`` + N), at ``query_concurrency`` connections
    #: (TechEmpower's query, update and cached-query: their levels are 1, 5, 10, ... rows).
    level_kind: str = "concurrency"
    query_concurrency: int = 512
    #: The quick profile's: at 512 connections a 20-row request on SQLite takes longer
    #: than the quick profile's half-second measurement.
    quick_query_concurrency: int = 128
    #: Every correct body is one of ``fast_bodies`` (so wrk's Lua check can judge them);
    #: False where bodies vary per request (a random row), which only the Python driver
    #: checks under load.
    exact_bodies: bool = True
    #: Needs the benchmark database (``asgibench.harness.db``): db, query, fortune, update,
    #: and cached-query (which fills its cache from it).
    database: bool = False
    #: Set for a WebSocket type (``websocket-echo``...): ``path`` is upgraded and echoes
    #: messages; ``handler`` serves its ``websocket`` scope too. Verified by
    #: ``verify.verify_websocket``, driven by the Python driver only (wrk cannot).
    websocket: WebSocketLoad | None = None
    #: A database type's statements per request at ``n`` rows (1 for a type without
    #: query levels): kind (``asgibench.harness.db.COUNT_KEYS``) -> (least, most).
    #: Verification counts them with the database's own statistics, else the app's.
    statements: Callable[[int], dict[str, tuple[int, int]]] | None = None
    #: Verification reads the rows back from the database: what a request wrote must be
    #: there (TechEmpower's update: "rows unchanged fails").
    writes: bool = False
    #: A ``queries`` type's body check at N rows (``check_body`` takes any N).
    check_rows: Callable[[int], Callable[[bytes], str | None]] | None = None
    #: What one "request" of the rate is, as tables head the rate column: ``req/s``, or
    #: ``msg/s`` (a WebSocket echo) and ``conn/s`` (a WebSocket connection storm).
    unit: str = "req/s"

    def __post_init__(self) -> None:
        if self.level_kind not in LEVEL_KINDS:
            raise ValueError(f"level_kind must be one of {LEVEL_KINDS}, not "
                             f"{self.level_kind!r}")
        if self.ranking not in RANKING_RULES:
            raise ValueError(f"ranking must be one of {RANKING_RULES}, not {self.ranking!r}")
        if not self.levels or not self.quick_levels:
            raise ValueError("a test type needs at least one level")

    @functools.cached_property
    def workload(self) -> Workload | None:
        """The workload this type sends, or None for a TechEmpower ``GET path`` type."""
        source = self.workload_source
        return source() if callable(source) else source

    @property
    def has_ceiling(self) -> bool:
        """Whether the driver's ceiling is measured for it: the canned-response server
        answers it (a TechEmpower GET type), at concurrency levels. A workload or a
        WebSocket type has no canned answer; query levels have none either: the canned
        answer is the same at every N, so it would repeat one figure."""
        return self.canned is not None and self.level_kind == "concurrency"

    def level_path(self, level: int) -> str:
        """The request path at ``level``: ``path`` itself, or ``path`` + N for a
        ``queries`` type."""
        return f"{self.path}{level}" if self.level_kind == "queries" else self.path

    def body_ok(self, body: bytes) -> bool:
        """Fast check used under load."""
        return body in self.fast_bodies or self.check_body(body) is None

    # The registry's plug-in protocol: a built-in test type needs nothing installed.
    install_hint = ""

    def available(self) -> tuple[bool, str]:
        return True, ""

    def version(self) -> str | None:
        return None


#: The test types: one module each, one line here.
TEST_TYPES: Registry[TestType] = Registry("test type", {
    "plaintext": "asgibench.harness.testtypes.plaintext:TEST_TYPE",
    "json": "asgibench.harness.testtypes.json_serialization:TEST_TYPE",
    "db": "asgibench.harness.testtypes.db:TEST_TYPE",
    "query": "asgibench.harness.testtypes.query:TEST_TYPE",
    "fortune": "asgibench.harness.testtypes.fortune:TEST_TYPE",
    "update": "asgibench.harness.testtypes.update:TEST_TYPE",
    "cached-query": "asgibench.harness.testtypes.cached_query:TEST_TYPE",
    "short-lived": "asgibench.harness.testtypes.short_lived:TEST_TYPE",
    "upload": "asgibench.harness.testtypes.upload:TEST_TYPE",
    "compression": "asgibench.harness.testtypes.compression:TEST_TYPE",
    "static": "asgibench.harness.testtypes.static:TEST_TYPE",
    "mixed": "asgibench.harness.testtypes.mixed:TEST_TYPE",
    "websocket-echo": "asgibench.harness.testtypes.websocket_echo:TEST_TYPE",
    "websocket-echo-16k": "asgibench.harness.testtypes.websocket_echo:TEST_TYPE_16K",
    "websocket-connect": "asgibench.harness.testtypes.websocket_echo:TEST_TYPE_CONNECT",
})


def register(test_type: TestType) -> TestType:
    """Add a test type object at run time (tests and plug-ins)."""
    TEST_TYPES.register(test_type.name, test_type)
    return test_type


#: Display and run order for the built-in types; unknown ones follow alphabetically. The
#: database types under both names TechEmpower has used (results files may name either).
_ORDER = ("plaintext", "json", "db", "query", "queries", "fortune", "fortunes", "update",
          "updates", "cached-query", "cached-queries", "short-lived", "upload",
          "compression", "static", "mixed", "websocket-echo", "websocket-echo-16k",
          "websocket-connect")
#: TechEmpower's composite weights and ranking rules (docs/techempower.md), for test types
#: a results file names but this asgibench has not registered (a registered type's own
#: ``weight`` and ``ranking`` win). Both spellings TechEmpower has used are listed.
TFB_WEIGHTS: dict[str, float] = {
    "json": 1.0, "plaintext": 0.75, "db": 0.75, "queries": 0.75, "query": 0.75,
    "fortunes": 1.5, "fortune": 1.5, "updates": 1.25, "update": 1.25,
    "cached-queries": 1.0, "cached-query": 1.0,
}
_RANKED_BY_LAST_LEVEL = frozenset(
    ("queries", "query", "updates", "update", "cached-queries", "cached-query")
)


def order(found: Iterable[str]) -> list[str]:
    """Test-type names in TechEmpower's usual order, unknown ones after, alphabetically."""
    unique = list(dict.fromkeys(found))
    return sorted(unique, key=lambda n: (_ORDER.index(n) if n in _ORDER else 99, n))


def names() -> list[str]:
    """Every registered test type, in TechEmpower's usual order."""
    return order(TEST_TYPES.names())


def weight(name: str) -> float:
    """The composite weight of test type ``name``, registered or not."""
    if name in TEST_TYPES:
        return TEST_TYPES.plugin(name).weight
    return TFB_WEIGHTS.get(name, 1.0)


def level_kind(name: str) -> str:
    """What the levels of test type ``name`` count, registered or not: ``concurrency``,
    or ``queries`` (rows per request: TechEmpower's query types). Titles say it."""
    if name in TEST_TYPES:
        return TEST_TYPES.plugin(name).level_kind
    return "queries" if name in _RANKED_BY_LAST_LEVEL else "concurrency"


def ceiling_measured(name: str) -> bool:
    """Whether a run measures the driver's ceiling for test type ``name`` (see
    ``TestType.has_ceiling``): a registered type that has one. An unregistered name (a
    workload, or a type of another version) is taken as having none."""
    return name in TEST_TYPES and TEST_TYPES.plugin(name).has_ceiling


def rate_unit(name: str) -> str:
    """The rate column's heading for test type ``name``: its ``unit``, or ``req/s`` for a
    name this version does not register."""
    return TEST_TYPES.plugin(name).unit if name in TEST_TYPES else "req/s"


def ranking_rule(name: str) -> str:
    """``best`` (the best level's figure) or ``last`` (the last level's), registered or
    not."""
    if name in TEST_TYPES:
        return TEST_TYPES.plugin(name).ranking
    return "last" if name in _RANKED_BY_LAST_LEVEL else "best"


#: A workload's levels when it names none: json's (TechEmpower's levels for a small
#: dynamic response), which a typical API endpoint resembles.
WORKLOAD_LEVELS = (16, 32, 64, 128, 256, 512)
WORKLOAD_QUICK_LEVELS = (128,)


def from_workload(workload: Workload) -> TestType:
    """The test type that measures ``workload`` (not registered: it belongs to one run)."""
    first = workload.requests[0]
    levels = workload.concurrency or WORKLOAD_LEVELS
    return TestType(
        name=workload.name, path=first.path, accept="*/*",
        content_type=re.compile(".*"), check_body=lambda body: None,
        levels=levels, quick_levels=workload.concurrency or WORKLOAD_QUICK_LEVELS,
        pipeline=workload.pipeline, description=", ".join(r.label for r in workload.requests),
        workload_source=workload)


def is_registered(test: TestType) -> bool:
    """True for a registered type (a load driver can look its body check up by name);
    False for a workload of the user's app, which belongs to one run (its name may not
    be a registered type's: ``bench run`` refuses that)."""
    return test.name in TEST_TYPES


def get(name: str) -> TestType:
    """The test type called ``name``; BenchError naming the valid ones otherwise."""
    return TEST_TYPES.get(name)


def resolve(spec: str | Sequence[str]) -> list[TestType]:
    """``"plaintext,json"`` / ``"all"`` / a list of names -> test types, order kept."""
    return TEST_TYPES.select(spec)
