"""What a scenario is: its leaks, gauges, charts and request; the registry that holds them.

Also the figures every app has whatever its scenarios (RSS, fds, threads), judged beside the
scenarios' own. Classes and views are "module:attribute" strings, imported only by the app.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

PREFIX = "leaklab_"
KiB = 1024.0
MiB = 1024.0 * KiB


def metric(suffix: str) -> str:
    """The full name of one of leaklab's own metrics: never spelled by hand elsewhere."""
    return f"{PREFIX}{suffix}"


@dataclass(frozen=True)
class Gauge:
    """A figure each worker's strategy reports (its method `read`), summed over live workers."""

    suffix: str
    help: str
    read: str = ""  # the strategy's method that returns it; "" for figures read elsewhere

    @property
    def name(self) -> str:
        return metric(self.suffix)

    def by_app(self) -> str:
        """PromQL: the figure per app."""
        return f"sum by (app) ({self.name})"


@dataclass(frozen=True)
class ServerTruth:
    """What the server itself sees of an app's connections, as a Prometheus recording rule.

    `expr` counts the server's series whose `label` is the app's client name
    "leaklab-<app><client>" (client: the scenario's suffix, "" for the original two, so
    each scenario's connections are told apart); `how` is "sum" (a count per series) or
    "count" (one series per client). Without a name label the series is per app already
    (the OS's view of the app's workers).
    """

    label: str  # "seen by PostgreSQL"
    series: str  # the exporter's series, before label matching
    name_label: str  # the exporter's label holding the client name ("": labelled by app)
    how: str
    source: str  # shown in the dashboard: "pg_stat_activity"
    client: str = ""  # the scenario's suffix of the client name: "-tenants"

    def of(self, client: str) -> ServerTruth:
        """The same server's view of one scenario's clients, named "leaklab-<app><client>"."""
        return replace(self, client=client)

    def record(self, leak: Leak) -> str:
        """The recording rule's name: app:leaklab_<resource>_server:<how>."""
        return f"app:{metric(leak.resource)}_server:{self.how}"

    def expr(self, leak: Leak) -> str:
        if not self.name_label:
            return f"{self.how} by (app) ({self.series})\nor 0 * {leak.open_record}"
        selector = self.series.rstrip("}") + ("," if "{" in self.series else "{")
        name = f"leaklab-([a-z]+){self.client}"
        return (
            f"{self.how} by (app) (\n"
            f'  label_replace({selector}{self.name_label}=~"{name}"}},\n'
            f'                "app", "$1", "{self.name_label}", "{name}")\n'
            f")\nor 0 * {leak.open_record}"
        )


# The kinds of objects whose origins a probed app exports, `leaklab_live_objects{kind}`
# (the interface with leaklab.probe, docs/design.md): a resource names those that make it.
OBJECT_KINDS = (
    "pg_connection",  # psycopg2 / psycopg 3 connect, pool getconn, a SQLAlchemy checkout
    "redis_connection",  # redis-py connect / pool get_connection, pub/sub included
    "redis_pool",
    "thread",
    "socket",  # requests/urllib3 and httpx connections
    "file",  # open()
    "sqlalchemy_engine",
    "http_session",
    "logger",
    "exit_hook",  # atexit.register
)


@dataclass(frozen=True)
class OriginSource:
    """Where a resource's origins are read: the live objects of `kinds` (or, for memory,
    the allocation sites' bytes), made at `endpoint` only (a scenario's own; None: any)."""

    kinds: tuple[str, ...] = ()
    allocations: bool = False
    endpoint: str | None = None
    unit: str = "objects"  # what an origin counts: the resource's unit, or bytes


@dataclass(frozen=True)
class Leak:
    """One resource a scenario leaks, as the verdict judges it."""

    resource: str  # the verdict's name: "db_connections"
    title: str  # "PostgreSQL connections"
    unit: str  # "connections"
    threshold_per_1k: float  # growth per 1,000 requests above which it is a leak
    held: Gauge  # how many the app holds
    bound: Gauge | None = None  # the legal maximum (pool max x workers); 0 means unbounded
    exhausted: tuple[str, ...] = ()  # 503 `resource`s that mean "saturated by this leak"
    server: ServerTruth | None = None
    alert: str = ""  # the alert's summary (one per leak)
    warmup_requests: float = 0.0  # requests a fresh process needs before this one settles
    # one per request in flight at most, unless leaked (a connection, a checkout, a thread):
    # with no declared bound, more than the start plus Locust's users in flight is a leak
    in_flight: bool = False
    # K > 0: the threshold is at least K x the run's own noise over the requests fitted
    # (memory: a quiet long run tells 256 B per request; a short one claims less)
    noise_multiple: float = 0.0
    noise_grain: float = 0.0  # the least growth over the run that can count (memory: an arena)
    short: str = ""  # a narrow column's heading; the title if empty
    # the kinds of objects that make it (OBJECT_KINDS): where they were made is its origin
    objects: tuple[str, ...] = ()
    allocations: bool = False  # its origins are allocation sites (leaklab_allocated_bytes)

    def __post_init__(self) -> None:
        unknown = [kind for kind in self.objects if kind not in OBJECT_KINDS]
        if unknown:
            raise ValueError(f"{self.resource}: unknown object kinds {unknown}")

    def origins(self, endpoint: str | None = None) -> OriginSource | None:
        """Where its origins are read (endpoint: only those made there); None: nowhere."""
        if not self.objects and not self.allocations:
            return None
        if self.allocations:  # memory sites carry no endpoint: tracemalloc cannot know it
            return OriginSource(self.objects, True, None, "bytes")
        return OriginSource(self.objects, False, endpoint, self.unit)

    @property
    def heading(self) -> str:
        return self.short or self.title

    @property
    def open_record(self) -> str:
        return f"app:{self.held.name}:sum"


@dataclass(frozen=True)
class Line:
    """One PromQL expression, grouped `by (app)`, drawn once per app."""

    label: str
    expr: str
    dashed: bool = False


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    unit: str
    lines: tuple[Line, ...]
    from_zero: bool = True  # counts start at 0; memory is read against its own baseline


@dataclass(frozen=True)
class Request:
    """What the Locust task sends: GET endpoint?param=template, with {n} from 1..n_max."""

    param: str
    template: str
    n_max: int
    expects: str  # a key the JSON answer must have


@dataclass(frozen=True)
class Scenario:
    """One leak and its fix: everything the rest of leaklab needs to know about it."""

    name: str  # "database": the strategy's key, the reset's key, the task's name
    title: str  # "A PostgreSQL connection per request"
    endpoint: str  # "/api/database"
    view: str  # "webapp.views:database": the Flask view, registered for GET
    leaky: str  # "webapp.leaky:ConnectionPerRequest"
    fixed: str  # "webapp.fixed:PooledConnections"
    leaks: tuple[Leak, ...]
    request: Request
    # the AppSettings attributes both classes are built with, in order
    settings: tuple[str, ...] = ("app_name",)
    weight: int = 1  # the Locust task's weight in the shared mix
    gauges: tuple[Gauge, ...] = ()  # further figures the strategies report (pool in use...)
    charts: tuple[Chart, ...] = ()  # Leaks view charts beyond one per leak
    pattern: str = ""  # the production pattern it reproduces
    source: str = ""  # a public source where it bit someone
    # the process-wide resources (rss, fds, threads) its leak also grows, judged LEAK too
    judged: tuple[str, ...] = ()
    story: bool = False  # part of the default story of `demo` and `talk`

    def describe(self) -> dict[str, object]:
        """What `leaklab scenarios --json` prints for it."""
        return {
            "name": self.name,
            "title": self.title,
            "pattern": self.pattern,
            "source": self.source,
            "endpoints": [self.endpoint],
            "resources": list(self.resources),
            "leaky": self.leaky,
            "fixed": self.fixed,
        }

    @property
    def resources(self) -> tuple[str, ...]:
        """Every resource `check` must call LEAK on its leaky app: its own, then the shared."""
        return (*(leak.resource for leak in self.leaks), *self.judged)

    @property
    def all_gauges(self) -> tuple[Gauge, ...]:
        """Every gauge the strategies report, each once, in a fixed order."""
        seen: dict[str, Gauge] = {}
        for leak in self.leaks:
            for gauge in (leak.held, leak.bound):
                if gauge is not None:
                    seen.setdefault(gauge.suffix, gauge)
        for gauge in self.gauges:
            seen.setdefault(gauge.suffix, gauge)
        return tuple(seen.values())

    def leak_charts(self) -> tuple[Chart, ...]:
        """One chart per leak: held by the app, and seen by the server where one exists."""
        charts = []
        for leak in self.leaks:
            lines = [Line("held by the app", leak.held.by_app())]
            if leak.server is not None:
                lines.append(Line(leak.server.label, leak.server.record(leak), dashed=True))
            charts.append(Chart(leak.resource, leak.title, leak.unit, tuple(lines)))
        return tuple(charts)


@dataclass
class Registry:
    """The scenarios in the order they are shown; tests may register more for a while."""

    scenarios: list[Scenario] = field(default_factory=list)

    def __iter__(self) -> Iterator[Scenario]:
        return iter(list(self.scenarios))

    def __len__(self) -> int:
        return len(self.scenarios)

    def names(self) -> list[str]:
        return [s.name for s in self.scenarios]

    def story(self) -> list[Scenario]:
        """The default story of `demo` and `talk`: the scenarios marked `story`."""
        return [s for s in self.scenarios if s.story]

    def select(self, names: Iterable[str] = ()) -> list[Scenario]:
        """The scenarios named, in the registry's order (none named: all of them)."""
        wanted = list(names)
        for name in wanted:
            self.get(name)  # a KeyError naming the known ones
        return [s for s in self.scenarios if not wanted or s.name in wanted]

    def get(self, name: str) -> Scenario:
        for scenario in self.scenarios:
            if scenario.name == name:
                return scenario
        raise KeyError(f"no scenario {name!r}: known are {', '.join(self.names())}")

    def leaks(self) -> list[Leak]:
        return [leak for s in self.scenarios for leak in s.leaks]

    def contract(self) -> list[Leak]:
        """Every resource the verdict judges, in the order `check` reports them."""
        return [RSS, *self.leaks(), FDS, THREADS]

    def shown(self) -> list[Leak]:
        """The same, in the order the Leaks view and the talk show them: scenarios first."""
        return [*self.leaks(), RSS, FDS, THREADS]

    def charts(self) -> list[Chart]:
        """The Leaks view's charts: one per leak, then each scenario's extras, then memory."""
        per_leak = [c for s in self.scenarios for c in s.leak_charts()]
        extras = [c for s in self.scenarios for c in s.charts]
        memory = Chart(
            "rss",
            "Memory (RSS, all workers)",
            "MiB",
            (Line("resident memory", f"{WORKER_RSS.by_app()} / {MiB:.0f}"),),
            from_zero=False,
        )
        return [*per_leak, *extras, memory]

    def gauges(self) -> list[Gauge]:
        seen: dict[str, Gauge] = {}
        for scenario in self.scenarios:
            for gauge in scenario.all_gauges:
                seen.setdefault(gauge.suffix, gauge)
        return list(seen.values())

    def exhaustible(self) -> list[str]:
        """Every `resource` a 503 can name (leaklab_exhausted_total's label values)."""
        names = [r for leak in self.contract() for r in leak.exhausted]
        return list(dict.fromkeys(names))

    def origins(self, resource: str, scoped: bool = True) -> OriginSource | None:
        """Where a resource's origins are read, by its verdict name (None: not a resource
        the registry knows, or one no object kind makes). Scoped: a scenario's own leak
        counts only objects made at its endpoint (another scenario may make the same kind);
        a process-wide resource counts them all."""
        for scenario in self.scenarios:
            for leak in scenario.leaks:
                if leak.resource == resource:
                    return leak.origins(scenario.endpoint if scoped else None)
        for leak in (RSS, FDS, THREADS):
            if leak.resource == resource:
                return leak.origins()
        return None

    def register(self, scenario: Scenario) -> None:
        if scenario.name in self.names():
            raise ValueError(f"scenario {scenario.name!r} is registered already")
        self.scenarios.append(scenario)

    @contextmanager
    def registered(self, scenario: Scenario) -> Iterator[Scenario]:
        """A scenario known only inside the block (tests)."""
        self.register(scenario)
        try:
            yield scenario
        finally:
            self.scenarios.remove(scenario)


# Figures of every app, whatever its scenarios: read per live worker at scrape time.
WORKER_RSS = Gauge("worker_resident_memory_bytes", "RSS of each live worker")
WORKER_FDS = Gauge("worker_open_fds", "Open file descriptors of each live worker")
WORKER_THREADS = Gauge("worker_threads", "Threads of each live worker")
WORKER_UPSTREAM_SOCKETS = Gauge(
    "worker_upstream_sockets", "Sockets of each live worker to the upstream, in any state"
)
RESETS = Gauge("worker_resets", "Resets (POST /admin/reset) each live worker has carried out")
EXHAUSTED = metric("exhausted")  # a counter: leaklab_exhausted_total{resource}
# where live objects were made, by kind, origin ("path:line function") and endpoint
LIVE_OBJECTS = metric("live_objects")
# memory's origins: bytes still live per allocation site (a tracemalloc window), and its end
ALLOCATED_BYTES, WINDOW_END = metric("allocated_bytes"), metric("allocation_window_end_seconds")
API_REQUESTS = 'flask_http_request_duration_seconds_count{path=~"/api/.+"}'
LOAD_USERS = "locust_users"

# The process-wide resources every app is judged on, beside its scenarios' leaks.
RSS = Leak(
    "rss",
    "Memory (RSS)",
    "bytes",
    # Calibrated on the fixed app (bench/detection.py, README). A Python worker's heap grows
    # over its first few hundred requests (arenas, caches), on the fixed app too: measured
    # +0.5 MiB over its first 235 requests, flat afterwards, then 4.7 B per request of drift.
    # The threshold is 64 B per request, or NOISE_MULTIPLE times the run's own RSS noise
    # over the requests fitted when that is more: a fixed 512 B never told 256 B per request
    # in 20,000, and a fixed 64 B could never say NO LEAK in a short run.
    64 * KiB,
    WORKER_RSS,
    warmup_requests=300,
    noise_multiple=6.0,
    # a quiet short run's residuals are a few KiB, and its RSS still moves by arenas: a
    # 25 s run of the fixed app grew 85 KiB over 100 requests after its warm-up (850 B per
    # request, "LEAK" at 64 B): less than 256 KiB over the requests fitted is never a leak
    noise_grain=256 * KiB,
    allocations=True,
)
# Limits of the whole process: once one is reached every endpoint answers 503, so each of
# its resources stops growing (saturated) whichever scenario's leak reached the limit.
PROCESS_LIMITS = ("worker_open_files", "worker_threads")
FDS = Leak(
    "fds",
    "Open files",
    "fds",
    4.0,
    WORKER_FDS,
    exhausted=("worker_open_files",),
    objects=("file", "socket", "pg_connection", "redis_connection"),
)
THREADS = Leak(
    "threads",
    "Threads",
    "threads",
    1.0,
    WORKER_THREADS,
    exhausted=("worker_threads",),
    objects=("thread",),
)
