"""The leak scenarios: one declaration each, read by every other part.

A scenario is its leaky class, its fixed class and one `Scenario` here. The app (routes,
strategies, gauges), the verdict contract, the Leaks view's charts and cards, the terminal
tables, the talk's slides, the Locust task mix, the Prometheus rules and the Grafana
dashboard are all built from `SCENARIOS`. Plain data only: Gunicorn's app, the `leaklab`
command and the locustfile import it without pulling Flask, psycopg2 or Locust along.
Classes and views are named as "module:attribute" strings, imported only by the app.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

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

    `expr` counts the server's series whose `label` is the app's client name "leaklab-<app>";
    `how` is "sum" (a count per series) or "count" (one series per client).
    """

    label: str  # "seen by PostgreSQL"
    series: str  # the exporter's series, before label matching
    name_label: str  # the exporter's label holding the client name
    how: str
    source: str  # shown in the dashboard: "pg_stat_activity"

    def record(self, leak: Leak) -> str:
        """The recording rule's name: app:leaklab_<resource>_server:<how>."""
        return f"app:{metric(leak.resource)}_server:{self.how}"

    def expr(self, leak: Leak) -> str:
        selector = self.series.rstrip("}") + ("," if "{" in self.series else "{")
        return (
            f"{self.how} by (app) (\n"
            f'  label_replace({selector}{self.name_label}=~"leaklab-.+"}},\n'
            f'                "app", "$1", "{self.name_label}", "leaklab-(.+)")\n'
            f")\nor 0 * {leak.open_record}"
        )


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
    short: str = ""  # a narrow column's heading; the title if empty

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

    def describe(self) -> dict[str, object]:
        """What `leaklab scenarios --json` prints for it."""
        return {
            "name": self.name,
            "title": self.title,
            "pattern": self.pattern,
            "source": self.source,
            "endpoints": [self.endpoint],
            "resources": [leak.resource for leak in self.leaks],
            "leaky": self.leaky,
            "fixed": self.fixed,
        }

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
RESETS = Gauge("worker_resets", "Resets (POST /admin/reset) each live worker has carried out")
EXHAUSTED = metric("exhausted")  # a counter: leaklab_exhausted_total{resource}
API_REQUESTS = 'flask_http_request_duration_seconds_count{path=~"/api/.+"}'
LOAD_USERS = "locust_users"

# The process-wide resources every app is judged on, beside its scenarios' leaks.
RSS = Leak(
    "rss",
    "Memory (RSS)",
    "bytes",
    # Thresholds are calibrated on the fixed app (bench/detection.py, README). A Python
    # worker's heap grows over its first few hundred requests (arenas, caches), on the fixed
    # app too: measured +0.5 MiB over its first 235 requests, flat afterwards.
    512 * KiB,
    WORKER_RSS,
    warmup_requests=300,
)
FDS = Leak("fds", "Open files", "fds", 4.0, WORKER_FDS, exhausted=("worker_open_files",))
THREADS = Leak("threads", "Threads", "threads", 1.0, WORKER_THREADS)

# The servers' view, through the exporters the stack runs (and compose).
POSTGRESQL = ServerTruth(
    "seen by PostgreSQL", metric("pg_connections"), "application_name", "sum", "pg_stat_activity"
)
REDIS = ServerTruth(
    "seen by Redis", "redis_connected_clients_details", "name", "count", "CLIENT LIST"
)

DB_POOL_MAX = Gauge(
    "db_pool_max",
    "Capacity of the app's PostgreSQL pools, summed over workers (0: no pool)",
    read="pool_max",
)
DB_POOL_IN_USE = Gauge(
    "db_pool_in_use", "PostgreSQL connections checked out by requests", read="in_use"
)

SCENARIOS = Registry(
    [
        Scenario(
            name="database",
            title="A PostgreSQL connection per request",
            endpoint="/api/database",
            view="webapp.views:database",
            leaky="webapp.leaky:ConnectionPerRequest",
            fixed="webapp.fixed:PooledConnections",
            pattern="psycopg2.connect() in the handler, kept on a module list, never closed",
            leaks=(
                Leak(
                    "db_connections",
                    "PostgreSQL connections",
                    "connections",
                    2.0,
                    Gauge(
                        "db_connections_open",
                        "PostgreSQL connections the app holds open",
                        read="open_connections",
                    ),
                    bound=DB_POOL_MAX,
                    exhausted=("postgresql_max_connections", "db_pool"),
                    server=POSTGRESQL,
                    alert="The app keeps PostgreSQL connections it never gives back.",
                    short="PostgreSQL conns",
                ),
            ),
            gauges=(DB_POOL_IN_USE,),
            charts=(
                Chart(
                    "pool",
                    "PostgreSQL pool: in use vs max",
                    "connections",
                    (
                        Line("in use", DB_POOL_IN_USE.by_app()),
                        # the leaky app has no pool (max 0): no line rather than a misleading 0
                        Line("pool max", f"{DB_POOL_MAX.by_app()} > 0", dashed=True),
                    ),
                ),
            ),
            request=Request("id", "{n}", 1000, expects="id"),
            settings=("database_url", "app_name", "db_pool_max"),
            weight=3,
        ),
        Scenario(
            name="redis",
            title="A Redis client per request",
            endpoint="/api/redis",
            view="webapp.views:cache",
            leaky="webapp.leaky:ClientPerRequest",
            fixed="webapp.fixed:SharedClient",
            pattern="redis.Redis.from_url() per request, each with its own pool, kept",
            leaks=(
                Leak(
                    "redis_connections",
                    "Redis connections",
                    "connections",
                    2.0,
                    Gauge(
                        "redis_connections_open",
                        "Redis connections the app holds open",
                        read="open_connections",
                    ),
                    bound=Gauge(
                        "redis_pool_max",
                        "Capacity of the app's Redis connection pools, summed over workers "
                        "(0: unbounded)",
                        read="pool_max",
                    ),
                    exhausted=("redis_maxclients", "worker_open_files"),
                    server=REDIS,
                    alert="The app keeps Redis connections it never closes.",
                    short="Redis conns",
                ),
            ),
            gauges=(Gauge("redis_pools", "Live redis-py connection pools", read="pools"),),
            request=Request("key", "product:{n}", 200, expects="value"),
            settings=("redis_url", "app_name", "redis_pool_max"),
            weight=2,
        ),
    ]
)
