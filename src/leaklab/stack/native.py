"""Bring the native stack up and down: PostgreSQL, Redis, both apps, Prometheus."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import psycopg2
import redis
import requests

from leaklab.paths import PROMETHEUS_CONFIG
from leaklab.settings import VARIANTS, StackSettings
from leaklab.stack import apps, exporters, postgres_server, prometheus_server, redis_server
from leaklab.stack.process import (
    StackError,
    create_time,
    free_port,
    is_running,
    port_in_use,
    stop,
    wait_until_ready,
)
from leaklab.stack.state import RunState, Service

# Compose service addresses in monitoring/prometheus/prometheus.yml.
COMPOSE_TARGETS = {
    "prometheus": "localhost:9090",
    "leaky": "leaky:8001",
    "fixed": "fixed:8002",
    "locust": "locust-master:9646",
    "postgres-exporter": "postgres-exporter:9187",
    "redis-exporter": "redis-exporter:9121",
}
# Scraped only while `leaklab load` runs: down between runs is not a fault.
LOAD_JOBS = ("locust",)
STOP_ORDER = (
    "prometheus",
    "leaky",
    "fixed",
    "postgres-exporter",
    "redis-exporter",
    "redis",
    "postgres",
)


@dataclass
class ServiceStatus:
    name: str
    url: str
    pid: int
    running: bool
    healthy: bool
    detail: str


def private_settings(run_dir: Path, **overrides: Any) -> StackSettings:
    """A stack of its own for tests and benchmarks: every port free, state in run_dir.

    Servers given by environment (LEAKLAB_DATABASE_URL, ...) are still honoured.
    """
    ports = {
        name: free_port()
        for name in ("leaky_port", "fixed_port", "prometheus_port", "locust_metrics_port")
    }
    return replace(StackSettings.from_env(os.environ, run_dir), **{**ports, **overrides})


@contextmanager
def private_stack(**overrides: Any) -> Iterator[NativeStack]:
    """A whole stack of its own (private_settings) in a temporary directory, for benchmarks.

    Up on entry, down and removed on exit, whatever happened in between.
    """
    with tempfile.TemporaryDirectory(prefix="leaklab-bench-") as tmp:
        stack = NativeStack(private_settings(Path(tmp), **overrides))
        try:
            stack.up()
            yield stack
        finally:
            stack.down()


class NativeStack:
    """One run directory, one stack; the CLI and the test fixtures both drive this."""

    def __init__(self, settings: StackSettings, say: Callable[[str], None] = lambda _: None):
        self.settings = settings
        self.run_dir = settings.run_dir
        self._say = say

    @property
    def state(self) -> RunState:
        state = RunState.load(self.run_dir)
        if state is None:
            raise StackError(f"no stack in {self.run_dir}: run 'leaklab up' first")
        return state

    def is_up(self) -> bool:
        state = RunState.load(self.run_dir)
        return (
            state is not None
            and all(s.external or is_running(s.pid, s.started) for s in state.services.values())
            and bool(state.services)
        )

    def prometheus_url(self) -> str:
        """The Prometheus that watches the apps: the configured one, the stack's, or the default."""
        if self.settings.prometheus_url:
            return self.settings.prometheus_url
        if self.is_up():
            return self.state.url("prometheus")
        return f"http://{self.settings.host}:{self.settings.prometheus_port}"

    # -- up -----------------------------------------------------------------
    def up(self) -> RunState:
        """Start everything that is not already running; stop what started if any part fails."""
        if self.is_up():
            self._say(f"already running (run directory {self.run_dir})")
            return self.state
        if RunState.load(self.run_dir) is not None:
            self.down()  # a half-dead stack from before: clear it first
        self._check_ports()
        (self.run_dir / "logs").mkdir(parents=True, exist_ok=True)
        state = RunState(admin_token=self.settings.admin_token or secrets.token_urlsafe(24))
        state.save(self.run_dir)
        try:
            self._start_postgres(state)
            self._start_redis(state)
            self._start_apps(state)
            self._start_exporters(state)
            self._start_prometheus(state)
        except BaseException:
            self.down()
            raise
        return state

    def _configured_ports(self) -> set[int]:
        """Ports the settings fix: a free port picked for another server must not be one."""
        s = self.settings
        return {
            p
            for p in (
                s.leaky_port,
                s.fixed_port,
                s.prometheus_port,
                s.locust_metrics_port,
                s.locust_web_port,
                s.locust_master_port,
            )
            if p
        }

    def _check_ports(self) -> None:
        s = self.settings
        wanted = {"LEAKLAB_LEAKY_PORT": s.leaky_port, "LEAKLAB_FIXED_PORT": s.fixed_port}
        if s.prometheus_url is None:
            wanted["LEAKLAB_PROMETHEUS_PORT"] = s.prometheus_port
        for var, port in wanted.items():
            if port and port_in_use(s.host, port):
                raise StackError(
                    f"port {port} on {s.host} is in use (is another stack up? 'leaklab status'); "
                    f"set {var} to another port"
                )

    def _record(
        self,
        state: RunState,
        name: str,
        url: str,
        proc: subprocess.Popen[bytes] | None,
        log: str = "",
        stop_signal: int = 15,
    ) -> None:
        if proc is None:
            state.services[name] = Service(name, url, external=True)
        else:
            state.services[name] = Service(
                name, url, proc.pid, create_time(proc.pid), log, stop_signal
            )
        state.save(self.run_dir)
        self._say(f"{name:<11} {url.split('@')[-1]}")

    def _start_postgres(self, state: RunState) -> None:
        s = self.settings
        if s.database_url:
            postgres_server.prepare(s.database_url)
            state.database_admin_url = s.database_url
            self._record(state, "postgres", s.database_url, None)
            return
        port = s.postgres_port or free_port(s.host, self._configured_ports())
        instance, proc = postgres_server.init_and_start(
            self.run_dir, port, s.pg_max_connections, s.postgres_os_user
        )
        state.database_admin_url = instance.admin_url
        state.postgres_home = str(instance.data_dir)
        self._record(
            state,
            "postgres",
            instance.app_url,
            proc,
            str(self.run_dir / "logs" / "postgres.log"),
            postgres_server.STOP_SIGNAL,
        )

    def _start_redis(self, state: RunState) -> None:
        s = self.settings
        if s.redis_url:
            self._record(state, "redis", s.redis_url, None)
            return
        url, proc = redis_server.init_and_start(
            self.run_dir,
            s.redis_port or free_port(s.host, self._configured_ports()),
            s.redis_maxclients,
        )
        self._record(state, "redis", url, proc, str(self.run_dir / "logs" / "redis.log"))

    def _start_apps(self, state: RunState) -> None:
        s = self.settings
        started = []
        for variant in VARIANTS:
            env = apps.app_env(
                variant,
                s,
                state.url("postgres"),
                state.url("redis"),
                apps.fresh_multiproc_dir(self.run_dir, variant),
                state.admin_token,
            )
            started.append((variant, apps.start_app(self.run_dir, env, variant)))
        for variant, proc in started:
            url = f"http://{s.host}:{s.app_port(variant)}"
            log = self.run_dir / "logs" / f"{variant}.log"
            wait_until_ready(f"the {variant} app", proc, partial(apps.is_ready, url), log)
            self._record(state, variant, url, proc, str(log))

    def _start_exporters(self, state: RunState) -> None:
        s = self.settings
        log_dir = self.run_dir / "logs"
        url, proc = exporters.start_postgres_exporter(
            self.run_dir,
            s.host,
            s.postgres_exporter_port or free_port(s.host, self._configured_ports()),
            state.database_admin_url,
        )
        self._record(state, "postgres-exporter", url, proc, str(log_dir / "postgres-exporter.log"))
        url, proc = exporters.start_redis_exporter(
            self.run_dir,
            s.host,
            s.redis_exporter_port or free_port(s.host, self._configured_ports()),
            state.url("redis"),
        )
        self._record(state, "redis-exporter", url, proc, str(log_dir / "redis-exporter.log"))

    def _start_prometheus(self, state: RunState) -> None:
        s = self.settings
        if s.prometheus_url:
            self._record(state, "prometheus", s.prometheus_url, None)
            return
        port = s.prometheus_port or free_port(s.host, self._configured_ports())
        targets = {
            COMPOSE_TARGETS["prometheus"]: f"{s.host}:{port}",
            COMPOSE_TARGETS["leaky"]: f"{s.host}:{s.leaky_port}",
            COMPOSE_TARGETS["fixed"]: f"{s.host}:{s.fixed_port}",
            COMPOSE_TARGETS["locust"]: f"{s.host}:{s.locust_metrics_port}",
            COMPOSE_TARGETS["postgres-exporter"]: _address(state.url("postgres-exporter")),
            COMPOSE_TARGETS["redis-exporter"]: _address(state.url("redis-exporter")),
        }
        state.locust_metrics_port = s.locust_metrics_port
        config = prometheus_server.render_config(PROMETHEUS_CONFIG, targets, s.scrape_interval)
        url, proc = prometheus_server.init_and_start(self.run_dir, port, config)
        log = self.run_dir / "logs" / "prometheus.log"
        self._record(state, "prometheus", url, proc, str(log))
        expected = sum(
            len(sc["targets"]) for job in config["scrape_configs"] for sc in job["static_configs"]
        )
        wait_until_ready(
            "Prometheus's first scrape of every target",
            proc,
            partial(prometheus_server.all_scraped, url, expected),
            log,
        )

    # -- down ---------------------------------------------------------------
    def down(self) -> list[tuple[str, bool]]:
        """Stop every service we started; remove data, keep logs and load reports."""
        state = RunState.load(self.run_dir)
        if state is None:
            return []
        results = []
        for name in STOP_ORDER:
            service = state.services.get(name)
            if service is None or service.external:
                continue
            ok = stop(service.pid, service.started, service.stop_signal)
            results.append((name, ok))
            outcome = "stopped" if ok else f"COULD NOT STOP pid {service.pid}"
            self._say(f"{name:<11} {outcome}")
        if all(ok for _, ok in results):
            if state.postgres_home:
                postgres_server.cleanup(Path(state.postgres_home), self.run_dir)
            for leftover in ("redis", "prometheus", "metrics"):
                shutil.rmtree(self.run_dir / leftover, ignore_errors=True)
            RunState.path(self.run_dir).unlink(missing_ok=True)
        return results

    # -- status -------------------------------------------------------------
    def status(self) -> list[ServiceStatus]:
        state = self.state
        rows = []
        for name, service in state.services.items():
            running = service.external or is_running(service.pid, service.started)
            # PostgreSQL through the superuser's reserved slots: the leak may hold the rest
            url = state.database_admin_url if name == "postgres" else service.url
            healthy, detail = _probe(name, url) if running else (False, "not running")
            rows.append(
                ServiceStatus(name, _public(service.url), service.pid, running, healthy, detail)
            )
        return rows

    def prometheus_targets(self) -> list[dict[str, str]]:
        """Every scrape target's health as Prometheus sees it ([] when it does not answer)."""
        service = self.state.services.get("prometheus")
        if service is None:
            return []
        try:
            return prometheus_server.target_health(service.url)
        except (requests.RequestException, KeyError, ValueError):
            return []


def _address(url: str) -> str:
    """host:port of an http URL."""
    return url.split("://", 1)[1].rstrip("/")


def _public(url: str) -> str:
    """A URL without its password, for printing."""
    if "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{rest.split('@', 1)[1]}"


def _probe(name: str, url: str) -> tuple[bool, str]:
    try:
        if name == "postgres":
            psycopg2.connect(url, connect_timeout=3, application_name="leaklab-status").close()
        elif name == "redis":
            with redis.Redis.from_url(url, socket_connect_timeout=3) as client:
                client.ping()
                client.connection_pool.disconnect()
        elif name == "prometheus":
            requests.get(f"{url}/-/ready", timeout=3).raise_for_status()
        elif name.endswith("-exporter"):
            requests.get(f"{url}/metrics", timeout=5).raise_for_status()
        else:
            requests.get(f"{url}/health", timeout=3).raise_for_status()
            response = requests.get(f"{url}/ready", timeout=3)
            if response.status_code != 200:
                # alive and answering; a saturated leaky app is the demo, not a fault
                checks = response.json().get("checks", {})
                bad = ", ".join(f"{k}: {v[:60]}" for k, v in checks.items() if v != "ok")
                return True, f"alive, not ready ({bad})"
        return True, "ok"
    except (psycopg2.Error, redis.RedisError, requests.RequestException, ValueError) as exc:
        return False, str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
