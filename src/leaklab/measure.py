"""Read what each app holds: server-side (PostgreSQL, Redis) and as the app reports it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import psutil
import requests
from prometheus_client.parser import text_string_to_metric_families

from leaklab.scenarios import (
    POSTGRESQL,
    PREFIX,
    REDIS,
    REDIS_PUBSUB,
    SCENARIOS,
    UPSTREAM_SOCKETS,
    WORKER_RSS,
    ServerTruth,
)
from leaklab.settings import VARIANTS
from leaklab.stack.postgres_server import connections_by_app
from leaklab.stack.redis_server import clients_by_name
from leaklab.stack.state import RunState


def upstream_sockets(state: RunState) -> dict[str, int]:
    """The OS's view: each app's workers' sockets to the upstream, in any state, by app name."""
    port = urlsplit(state.url("upstream")).port if "upstream" in state.services else None
    counts = {}
    for variant in VARIANTS:
        total = 0
        try:
            workers = psutil.Process(state.services[variant].pid).children()
        except (KeyError, psutil.Error):
            workers = []
        for worker in workers:
            try:
                sockets = worker.net_connections(kind="tcp")
            except psutil.Error:
                continue
            total += sum(1 for c in sockets if c.raddr and c.raddr[1] == port)
        counts[app_name(variant)] = total
    return counts


# How to ask each server what it sees, per client name (the registry's ServerTruth, any
# scenario's client suffix: the reader counts every name, the suffix picks one).
SERVER_READERS: dict[ServerTruth, Callable[[RunState], dict[str, int]]] = {
    POSTGRESQL: lambda state: connections_by_app(state.database_admin_url),
    REDIS: lambda state: clients_by_name(state.admin_redis_url()),
    REDIS_PUBSUB: lambda state: clients_by_name(state.admin_redis_url(), flags="P"),
    UPSTREAM_SOCKETS: upstream_sockets,
}


def app_name(variant: str) -> str:
    """The application_name / Redis client name each variant uses by default."""
    return f"leaklab-{variant}"


@dataclass
class Holdings:
    """What one app holds right now: per leak, as its server sees it, and as the app says."""

    variant: str
    server: dict[str, int]  # by leak resource (db_connections...): the server's own count
    app_metrics: dict[str, float] = field(default_factory=dict)  # its unlabelled gauges
    worker_rss: dict[str, float] = field(default_factory=dict)

    def held(self, resource: str) -> float:
        """What the app reports holding of one leak's resource."""
        leak = next(leak for leak in SCENARIOS.leaks() if leak.resource == resource)
        return self.app_metrics.get(leak.held.name, 0.0)

    @property
    def db_server(self) -> int:
        """PostgreSQL's count (the default story's first resource)."""
        return self.server.get("db_connections", 0)

    @property
    def redis_server(self) -> int:
        """Redis's count (the default story's second resource)."""
        return self.server.get("redis_connections", 0)


def scrape(url: str) -> tuple[dict[str, float], dict[str, float]]:
    """The app's unlabelled gauges, and RSS per worker pid, from its /metrics."""
    text = requests.get(f"{url}/metrics", timeout=10).text
    gauges: dict[str, float] = {}
    rss: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == WORKER_RSS.name:
                rss[sample.labels["pid"]] = sample.value
            elif sample.name.startswith(PREFIX) and not sample.labels:
                gauges[sample.name] = sample.value
    return gauges, rss


def holdings(state: RunState, variant: str) -> Holdings:
    """Ask each server once, then read the app's /metrics."""
    seen: dict[ServerTruth, dict[str, int]] = {}
    server = {}
    for leak in SCENARIOS.leaks():
        if leak.server is None:
            continue
        kind = dataclasses.replace(leak.server, client="")
        if kind not in seen:
            seen[kind] = SERVER_READERS[kind](state)
        server[leak.resource] = seen[kind].get(app_name(variant) + leak.server.client, 0)
    gauges, rss = scrape(state.url(variant))
    return Holdings(variant, server, gauges, rss)


def reset(state: RunState, variant: str) -> dict[str, object]:
    """Ask the app to release everything it holds (token from the run state)."""
    response = requests.post(
        f"{state.url(variant)}/admin/reset",
        headers={"Authorization": f"Bearer {state.admin_token}"},
        timeout=15,
    )
    response.raise_for_status()
    result: dict[str, object] = response.json()
    return result
