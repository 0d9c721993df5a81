"""Prometheus natively: the compose config rendered with local targets, then started."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

import requests
import yaml

from leaklab.paths import PROMETHEUS_CONFIG
from leaklab.settings import StackSettings
from leaklab.stack.executor import Executor, External, Launched, Up
from leaklab.stack.process import StackError, start, wait_until_ready
from leaklab.stack.state import RunState

# Compose service addresses in monitoring/prometheus/prometheus.yml.
COMPOSE_TARGETS = {
    "prometheus": "localhost:9090",
    "leaky": "leaky:8001",
    "fixed": "fixed:8002",
    "locust": "locust-master:9646",
    "postgres-exporter": "postgres-exporter:9187",
    "redis-exporter": "redis-exporter:9121",
}


def render_config(
    template: Path, targets: Mapping[str, str], scrape_interval: str
) -> dict[str, Any]:
    """Rewrite the compose config's targets (service:port) to native ones (127.0.0.1:port).

    Targets with no native counterpart are dropped, and so are scrape jobs left empty:
    the native stack runs fewer services than compose. Rule files are made absolute, as
    the rendered file lives elsewhere.
    """
    config: dict[str, Any] = yaml.safe_load(template.read_text())
    config["rule_files"] = [str(template.parent / p) for p in config.get("rule_files", [])]
    config.setdefault("global", {})
    config["global"]["scrape_interval"] = scrape_interval
    config["global"]["evaluation_interval"] = scrape_interval
    jobs = []
    for job in config.get("scrape_configs", []):
        statics = []
        for static in job.get("static_configs", []):
            native = [targets[t] for t in static.get("targets", []) if t in targets]
            if native:
                statics.append({**static, "targets": native})
        if statics:
            jobs.append({**job, "static_configs": statics})
    config["scrape_configs"] = jobs
    return config


def data_dir(run_dir: Path) -> Path:
    """Prometheus's history: kept across down/up (so `check --since` still works) until wiped."""
    return run_dir / "prometheus" / "data"


def config_path(run_dir: Path) -> Path:
    return run_dir / "prometheus" / "prometheus.yml"


class PrometheusServer(Executor):
    """Prometheus on loopback, scraping the stack: ready once it has scraped every target."""

    name, title = "prometheus", "Prometheus"

    def launch(self, up: Up) -> Launched:
        binary = shutil.which("prometheus")
        if binary is None:
            raise StackError(
                "prometheus not found. Install it: Debian/Ubuntu 'sudo apt-get install "
                "prometheus', macOS 'brew install prometheus'"
            )
        s, run_dir = up.settings, up.run_dir
        port = up.port(s.prometheus_port)
        targets = {
            COMPOSE_TARGETS["prometheus"]: f"{s.host}:{port}",
            COMPOSE_TARGETS["leaky"]: f"{s.host}:{s.leaky_port}",
            COMPOSE_TARGETS["fixed"]: f"{s.host}:{s.fixed_port}",
            COMPOSE_TARGETS["locust"]: f"{s.host}:{s.locust_metrics_port}",
            COMPOSE_TARGETS["postgres-exporter"]: _address(up.state.url("postgres-exporter")),
            COMPOSE_TARGETS["redis-exporter"]: _address(up.state.url("redis-exporter")),
        }
        up.state.locust_metrics_port = s.locust_metrics_port
        config = render_config(PROMETHEUS_CONFIG, targets, s.scrape_interval)
        data = data_dir(run_dir)
        data.mkdir(parents=True, exist_ok=True)
        config_path(run_dir).write_text(yaml.safe_dump(config, sort_keys=False))
        argv = [
            binary,
            f"--config.file={config_path(run_dir)}",
            f"--storage.tsdb.path={data}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=1d",
            "--web.enable-lifecycle",
        ]
        proc = start(argv, self.log(run_dir), run_dir=run_dir)
        return Launched(f"http://127.0.0.1:{port}", proc)

    def ready(self, launched: Launched) -> bool:
        return _ready(launched.url)

    def settle(self, up: Up, launched: Launched) -> None:
        """Ready and recorded, then its first scrape of every target in its config."""
        super().settle(up, launched)
        if launched.proc is None:
            return
        config = yaml.safe_load(config_path(up.run_dir).read_text())
        expected = sum(
            len(sc["targets"]) for job in config["scrape_configs"] for sc in job["static_configs"]
        )
        wait_until_ready(
            "Prometheus's first scrape of every target",
            launched.proc,
            partial(all_scraped, launched.url, expected),
            self.log(up.run_dir),
        )

    def check(self, url: str) -> str:
        requests.get(f"{url}/-/ready", timeout=3).raise_for_status()
        return "ok"

    def clean(self, run_dir: Path, state: RunState | None, wipe: bool) -> str:
        if wipe:  # its history stays across down/up unless wiped
            shutil.rmtree(run_dir / "prometheus", ignore_errors=True)
        return ""


class ExternalPrometheus(External, PrometheusServer):
    """A Prometheus the user gives by URL: it scrapes the apps by its own config."""

    def given(self, settings: StackSettings) -> str:
        return settings.prometheus_url or ""


def _address(url: str) -> str:
    """host:port of an http URL."""
    return url.split("://", 1)[1].rstrip("/")


def _ready(url: str) -> bool:
    return requests.get(f"{url}/-/ready", timeout=2).status_code == 200


def target_health(url: str) -> list[dict[str, str]]:
    """Every active scrape target as Prometheus sees it."""
    response = requests.get(f"{url}/api/v1/targets", params={"state": "active"}, timeout=5)
    response.raise_for_status()
    return [
        {
            "job": t["labels"].get("job", ""),
            "app": t["labels"].get("app", ""),
            "url": t["scrapeUrl"],
            "health": t["health"],
            "error": t.get("lastError", ""),
        }
        for t in response.json()["data"]["activeTargets"]
    ]


def all_scraped(url: str, expected: int) -> bool:
    """True once Prometheus knows `expected` targets and has scraped each at least once."""
    targets = target_health(url)
    return len(targets) == expected and all(t["health"] != "unknown" for t in targets)
