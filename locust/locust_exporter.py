"""Locust's own figures in Prometheus format, served by the master (or the only process).

The master's statistics already aggregate every worker's, so exporting there is
correct in distributed mode. Request names are "<app> <path>": they become the
`app` and `name` labels, matching the apps' own `app` label.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gevent
from gevent.pywsgi import WSGIServer
from locust.env import Environment
from locust.runners import MasterRunner
from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

QUANTILES = (0.5, 0.95, 0.99)


def _app_and_name(request_name: str) -> tuple[str, str]:
    app, _, name = request_name.partition(" ")
    return (app, name) if name else ("", request_name)


class LocustCollector(Collector):
    def __init__(self, environment: Environment) -> None:
        self.environment = environment

    def collect(self) -> Iterator[Metric]:
        runner = self.environment.runner
        if runner is None:
            return
        labels = ["app", "name", "method"]
        requests = CounterMetricFamily("locust_requests", "Requests sent", labels=labels)
        failures = CounterMetricFamily("locust_failures", "Requests failed", labels=labels)
        latency = GaugeMetricFamily(
            "locust_response_time_seconds",
            "Response time percentiles over about the last 10 s",
            labels=[*labels, "quantile"],
        )
        for (name, method), entry in runner.stats.entries.items():
            app, path = _app_and_name(name)
            key = [app, path, method]
            requests.add_metric(key, entry.num_requests)
            failures.add_metric(key, entry.num_failures)
            for q in QUANTILES:
                # the last ~10 s; early in a run that window is empty: use the run so far
                value = entry.get_current_response_time_percentile(q) or (
                    entry.get_response_time_percentile(q) if entry.num_requests else 0
                )
                latency.add_metric([*key, str(q)], value / 1000.0)
        yield from (requests, failures, latency)

        users = GaugeMetricFamily("locust_users", "Users running, per app", labels=["app"])
        for app, count in self._users_per_app(runner).items():
            users.add_metric([app], count)
        yield users
        workers = runner.worker_count if isinstance(runner, MasterRunner) else 0
        yield GaugeMetricFamily(
            "locust_workers", "Locust worker processes connected", value=workers
        )
        running = 1 if runner.state in ("spawning", "running") else 0
        yield GaugeMetricFamily("locust_running", "1 while a load test runs", value=running)

    def _users_per_app(self, runner: Any) -> dict[str, int]:
        apps = {
            cls.__name__: getattr(cls, "app", cls.__name__) for cls in self.environment.user_classes
        }
        counts = dict.fromkeys(apps.values(), 0)
        if isinstance(runner, MasterRunner):
            per_class: dict[str, int] = {}
            for worker in runner.clients.values():
                for cls, n in (worker.user_classes_count or {}).items():
                    per_class[cls] = per_class.get(cls, 0) + n
        else:
            per_class = runner.user_classes_count
        for cls, n in per_class.items():
            counts[apps.get(cls, cls)] = counts.get(apps.get(cls, cls), 0) + n
        return counts


def serve(environment: Environment, host: str, port: int) -> None:
    """Serve /metrics on host:port in a greenlet of the Locust process."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LocustCollector(environment))
    server = WSGIServer((host, port), make_wsgi_app(registry), log=None)
    gevent.spawn(server.serve_forever)
