"""The catalog: the leaks production Python really ships, each with the fix it gets.

Each names the pattern and a public report where it bit someone (README, "The scenarios").
"""

from __future__ import annotations

from leaklab.scenarios.model import Gauge, Leak, Request, Scenario
from leaklab.scenarios.servers import POSTGRESQL, REDIS_PUBSUB, UPSTREAM_SOCKETS

_OPEN_FILES = ("worker_open_files",)


def _bound(suffix: str, what: str) -> Gauge:
    return Gauge(suffix, f"{what}, summed over workers (0: unbounded)", read="pool_max")


CATALOG = (
    Scenario(
        name="tenant_engines",
        title="A SQLAlchemy engine per tenant",
        endpoint="/api/tenants",
        view="webapp.catalog_views:tenants",
        leaky="webapp.leaky:EnginePerTenant",
        fixed="webapp.fixed:SharedEngine",
        pattern="create_engine() per tenant, cached in a dict: a connection pool per tenant",
        source="https://github.com/hackforla/311-data/issues/550",
        leaks=(
            Leak(
                "tenant_connections",
                "SQLAlchemy connections (tenant engines)",
                "connections",
                2.0,
                Gauge(
                    "tenant_connections_open",
                    "PostgreSQL connections the app's SQLAlchemy engines hold open",
                    read="open_connections",
                ),
                bound=_bound("tenant_pool_max", "Capacity of the app's SQLAlchemy pools"),
                exhausted=("postgresql_max_connections", "db_pool"),
                server=POSTGRESQL.of("-tenants"),
                alert="The app opens a SQLAlchemy engine (and a pool) per tenant.",
                short="Tenant conns",
            ),
        ),
        gauges=(Gauge("tenant_engines", "Live SQLAlchemy engines", read="engines"),),
        request=Request("tenant", "{n}", 1_000_000, expects="tenant"),
        settings=("database_url", "app_name", "tenant_pool_max"),
    ),
    Scenario(
        name="http_sessions",
        title="A requests.Session per request",
        endpoint="/api/stock",
        view="webapp.catalog_views:stock",
        leaky="webapp.leaky:SessionPerRequest",
        fixed="webapp.fixed:SharedSession",
        pattern="requests.Session() per call to an upstream, kept: a kept-alive socket each",
        source="https://github.com/treeverse/dvc/pull/2646",
        leaks=(
            Leak(
                "upstream_sockets",
                "Sockets to the upstream",
                "sockets",
                2.0,
                Gauge(
                    "upstream_sockets_open",
                    "Sockets to the upstream the app's HTTP sessions keep open",
                    read="open_sockets",
                ),
                bound=_bound("upstream_pool_max", "Capacity of the app's HTTP pools"),
                exhausted=_OPEN_FILES,
                server=UPSTREAM_SOCKETS,
                alert="The app keeps an HTTP session, and its socket, per request.",
                short="Upstream socks",
            ),
        ),
        request=Request("sku", "{n}", 20, expects="stock"),
        settings=("upstream_url",),
        judged=("fds",),
    ),
    Scenario(
        name="executors",
        title="A thread pool per request",
        endpoint="/api/quotes",
        view="webapp.catalog_views:quotes",
        leaky="webapp.leaky:ExecutorPerRequest",
        fixed="webapp.fixed:SharedExecutor",
        pattern="ThreadPoolExecutor() per request, never shut down: its threads wait forever",
        source="https://github.com/mem0ai/mem0/issues/4586",
        leaks=(
            Leak(
                "executor_threads",
                "Executor threads",
                "threads",
                2.0,
                Gauge(
                    "executor_threads",
                    "Threads the app's thread pools have started",
                    read="threads",
                ),
                bound=_bound("executor_threads_max", "Capacity of the app's thread pools"),
                exhausted=("worker_threads",),
                alert="The app starts a thread pool per request and never shuts it down.",
                short="Pool threads",
            ),
        ),
        request=Request("sku", "{n}", 20, expects="prices"),
        settings=(),
        judged=("threads",),
    ),
    Scenario(
        name="memo",
        title="An unbounded memo keyed by time",
        endpoint="/api/price-sheet",
        view="webapp.catalog_views:price_sheet",
        leaky="webapp.leaky:MemoPerTimestamp",
        fixed="webapp.fixed:BoundedMemo",
        pattern="functools.lru_cache(maxsize=None) with a per-request argument in the key",
        source="https://github.com/getsentry/seer/pull/2512",
        leaks=(
            Leak(
                "memo_entries",
                "Memo entries",
                "entries",
                2.0,
                Gauge("memo_entries", "Entries in the app's memo caches", read="entries"),
                bound=Gauge(
                    "memo_max_entries",
                    "Capacity of the app's memo caches, summed over workers (0: unbounded)",
                    read="max_entries",
                ),
                alert="The app's memo grows with every request (16 KiB each).",
                short="Memo entries",
            ),
        ),
        request=Request("sku", "{n}", 20, expects="bytes"),
        settings=(),
        judged=("rss",),
    ),
    Scenario(
        name="pubsub",
        title="A Redis subscription per request, never closed",
        endpoint="/api/notify",
        view="webapp.catalog_views:notify",
        leaky="webapp.leaky:SubscriptionPerRequest",
        fixed="webapp.fixed:ClosedSubscriptions",
        pattern="pubsub().subscribe() per request with no close(): a connection each, kept",
        source="https://github.com/redis/redis-py/issues/555",
        leaks=(
            Leak(
                "pubsub_connections",
                "Redis connections (pub/sub)",
                "connections",
                2.0,
                Gauge(
                    "pubsub_connections_open",
                    "Redis connections the app's pub/sub client holds open",
                    read="open_connections",
                ),
                bound=_bound("pubsub_pool_max", "Capacity of the app's pub/sub pools"),
                exhausted=("redis_pool", "redis_maxclients", *_OPEN_FILES),
                server=REDIS_PUBSUB.of("-pubsub"),
                alert="The app subscribes per request and never unsubscribes.",
                short="Pub/sub conns",
            ),
        ),
        request=Request("order", "{n}", 1_000_000, expects="delivered"),
        settings=("redis_url", "app_name", "redis_pool_max"),
    ),
    Scenario(
        name="loggers",
        title="A logger (and a log file) per request",
        endpoint="/api/orders",
        view="webapp.catalog_views:order_log",
        leaky="webapp.leaky:LoggerPerRequest",
        fixed="webapp.fixed:OneLogger",
        pattern="logging.getLogger(f'...{id}') plus a FileHandler each: logging keeps them all",
        source="https://github.com/vertica/vertica-python/issues/476",
        leaks=(
            Leak(
                "loggers",
                "Loggers",
                "loggers",
                2.0,
                Gauge("loggers", "Order loggers the logging manager holds", read="loggers"),
                exhausted=_OPEN_FILES,
                alert="The app creates a logger, with an open file, per request.",
            ),
        ),
        request=Request("order", "{n}", 1_000_000, expects="logged"),
        settings=("files_dir",),
        judged=("fds",),
    ),
    Scenario(
        name="exit_hooks",
        title="A cleanup registered at exit, per request",
        endpoint="/api/receipt",
        view="webapp.catalog_views:receipt",
        leaky="webapp.leaky:ExitHookPerRequest",
        fixed="webapp.fixed:ClosedReceipts",
        pattern="atexit.register(obj.close) per object: atexit holds every object until exit",
        source="https://github.com/datalab-to/marker/issues/419",
        leaks=(
            Leak(
                "exit_hooks",
                "Objects held by exit hooks",
                "objects",
                2.0,
                Gauge(
                    "exit_hook_objects",
                    "Rendered receipts kept alive only by their atexit cleanup",
                    read="exit_hooks",
                ),
                alert="The app registers an atexit cleanup per request (8 KiB each).",
                short="Exit hooks",
            ),
        ),
        request=Request("order", "{n}", 1_000_000, expects="bytes"),
        settings=(),
        judged=("rss",),
    ),
    Scenario(
        name="files",
        title="A file opened per request, never closed",
        endpoint="/api/export",
        view="webapp.catalog_views:export",
        leaky="webapp.leaky:FilePerRequest",
        fixed="webapp.fixed:ClosedFiles",
        pattern="open() kept on a long-lived list to append to later: never closed",
        source="https://github.com/geopython/pywps/issues/70",
        leaks=(
            Leak(
                "export_files",
                "Open export files",
                "files",
                2.0,
                Gauge("export_files_open", "Export files the app holds open", read="open_files"),
                exhausted=_OPEN_FILES,
                alert="The app opens a file per request and never closes it.",
                short="Export files",
            ),
        ),
        request=Request("sku", "{n}", 20, expects="bytes"),
        settings=("files_dir",),
        judged=("fds",),
    ),
)
