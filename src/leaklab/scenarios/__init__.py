"""The leak scenarios: one declaration each, read by every other part.

A scenario is its leaky class, its fixed class and one `Scenario` entry: `original.py`
holds the default story's two (PostgreSQL, Redis), `catalog.py` the others. The app (routes,
strategies, gauges), the verdict contract, the Leaks view's charts and cards, the terminal
tables, the talk's slides, the Locust task mix, the Prometheus rules and the Grafana
dashboard are all built from `SCENARIOS`. Plain data only: Gunicorn's app, the `leaklab`
command and the locustfile import it without pulling Flask, psycopg2 or Locust along.
"""

from __future__ import annotations

from leaklab.scenarios.catalog import CATALOG
from leaklab.scenarios.model import (
    ALLOCATED_BYTES,
    API_REQUESTS,
    EXHAUSTED,
    FDS,
    LIVE_OBJECTS,
    LOAD_USERS,
    OBJECT_KINDS,
    PREFIX,
    PROCESS_LIMITS,
    RESETS,
    RSS,
    THREADS,
    WINDOW_END,
    WORKER_FDS,
    WORKER_RSS,
    WORKER_THREADS,
    WORKER_UPSTREAM_SOCKETS,
    Chart,
    Gauge,
    KiB,
    Leak,
    Line,
    MiB,
    OriginSource,
    Registry,
    Request,
    Scenario,
    ServerTruth,
    metric,
)
from leaklab.scenarios.original import ORIGINAL
from leaklab.scenarios.servers import POSTGRESQL, REDIS, REDIS_PUBSUB, UPSTREAM_SOCKETS

SCENARIOS = Registry([*ORIGINAL, *CATALOG])

__all__ = [
    "ALLOCATED_BYTES",
    "WINDOW_END",
    "API_REQUESTS",
    "CATALOG",
    "EXHAUSTED",
    "FDS",
    "LIVE_OBJECTS",
    "LOAD_USERS",
    "OBJECT_KINDS",
    "ORIGINAL",
    "POSTGRESQL",
    "PREFIX",
    "REDIS",
    "REDIS_PUBSUB",
    "RESETS",
    "RSS",
    "SCENARIOS",
    "THREADS",
    "UPSTREAM_SOCKETS",
    "WORKER_FDS",
    "WORKER_RSS",
    "WORKER_THREADS",
    "WORKER_UPSTREAM_SOCKETS",
    "PROCESS_LIMITS",
    "Chart",
    "Gauge",
    "KiB",
    "Leak",
    "Line",
    "MiB",
    "OriginSource",
    "Registry",
    "Request",
    "Scenario",
    "ServerTruth",
    "metric",
]
