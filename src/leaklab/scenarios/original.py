"""The original two scenarios: the default story of the demo and the talk."""

from __future__ import annotations

from leaklab.scenarios.model import Chart, Gauge, Leak, Line, Request, Scenario
from leaklab.scenarios.servers import POSTGRESQL, REDIS

DB_POOL_MAX = Gauge(
    "db_pool_max",
    "Capacity of the app's PostgreSQL pools, summed over workers (0: no pool)",
    read="pool_max",
)
DB_POOL_IN_USE = Gauge(
    "db_pool_in_use", "PostgreSQL connections checked out by requests", read="in_use"
)

ORIGINAL = (
    Scenario(
        name="database",
        title="A PostgreSQL connection per request",
        endpoint="/api/database",
        view="webapp.views:database",
        leaky="webapp.leaky:ConnectionPerRequest",
        fixed="webapp.fixed:PooledConnections",
        pattern="psycopg2.connect() in the handler, kept on a module list, never closed",
        source="https://github.com/psycopg/psycopg2/issues/663",
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
                in_flight=True,
                server=POSTGRESQL,
                alert="The app keeps PostgreSQL connections it never gives back.",
                short="PostgreSQL conns",
                objects=("pg_connection",),
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
        story=True,
    ),
    Scenario(
        name="redis",
        title="A Redis client per request",
        endpoint="/api/redis",
        view="webapp.views:cache",
        leaky="webapp.leaky:ClientPerRequest",
        fixed="webapp.fixed:SharedClient",
        pattern="redis.Redis.from_url() per request, each with its own pool, kept",
        source="https://github.com/didip/beaker_extensions/issues/6",
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
                in_flight=True,
                server=REDIS,
                alert="The app keeps Redis connections it never closes.",
                short="Redis conns",
                objects=("redis_connection",),
            ),
        ),
        gauges=(Gauge("redis_pools", "Live redis-py connection pools", read="pools"),),
        request=Request("key", "product:{n}", 200, expects="value"),
        settings=("redis_url", "app_name", "redis_pool_max"),
        weight=2,
        story=True,
    ),
)
