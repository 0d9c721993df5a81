"""Read what each app holds: server-side (PostgreSQL, Redis) and as the app reports it."""

from __future__ import annotations

from dataclasses import dataclass, field

import requests
from prometheus_client.parser import text_string_to_metric_families

from leaklab.stack.postgres_server import connections_by_app
from leaklab.stack.redis_server import clients_by_name
from leaklab.stack.state import RunState


def app_name(variant: str) -> str:
    """The application_name / Redis client name each variant uses by default."""
    return f"leaklab-{variant}"


@dataclass
class Holdings:
    """What one app holds right now."""

    variant: str
    db_server: int
    redis_server: int
    app_metrics: dict[str, float] = field(default_factory=dict)
    worker_rss: dict[str, float] = field(default_factory=dict)


def scrape(url: str) -> tuple[dict[str, float], dict[str, float]]:
    """The app's unlabelled gauges, and RSS per worker pid, from its /metrics."""
    text = requests.get(f"{url}/metrics", timeout=10).text
    gauges: dict[str, float] = {}
    rss: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "leaklab_worker_resident_memory_bytes":
                rss[sample.labels["pid"]] = sample.value
            elif sample.name.startswith("leaklab_") and not sample.labels:
                gauges[sample.name] = sample.value
    return gauges, rss


def holdings(state: RunState, variant: str) -> Holdings:
    pg = connections_by_app(state.database_admin_url)
    rd = clients_by_name(state.admin_redis_url())
    gauges, rss = scrape(state.url(variant))
    name = app_name(variant)
    return Holdings(variant, pg.get(name, 0), rd.get(name, 0), gauges, rss)


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
