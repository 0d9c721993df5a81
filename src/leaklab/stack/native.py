"""Bring the native stack up and down: PostgreSQL, Redis, both apps, Prometheus."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil
import psycopg2
import redis
import requests

from leaklab.paths import PROMETHEUS_CONFIG
from leaklab.settings import VARIANTS, StackSettings
from leaklab.stack import apps, exporters, postgres_server, prometheus_server, redis_server
from leaklab.stack.ownership import listening_on, postmaster, run_lock, tagged
from leaklab.stack.process import (
    RUN_DIR_VAR,
    StackError,
    create_time,
    free_port,
    is_running,
    port_in_use,
    stop,
    wait_until_ready,
)
from leaklab.stack.state import CorruptState, RunState, Service

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
        """Start the stack, or adopt the one recorded; stop what started if any part fails.

        A server restarted by hand is adopted when it is healthy on its recorded port (and,
        for PostgreSQL, data directory). A stack with some parts alive and others gone is
        not torn down behind the user's back: they are told what to do.
        """
        with run_lock(self.run_dir, self._say):
            previous = RunState.load(self.run_dir)
            if previous is not None and previous.services:
                gone = self._reconcile(previous)
                if not gone:
                    self._say(f"already running (run directory {self.run_dir})")
                    return previous
                alive = [
                    n for n, sv in previous.services.items() if n not in gone and not sv.external
                ]
                if alive:
                    raise StackError(
                        f"part of the stack in {self.run_dir} is gone ({', '.join(gone)}) while "
                        f"{', '.join(alive)} still run{'s' if len(alive) == 1 else ''}: "
                        "run 'leaklab down', then 'leaklab up'"
                    )
                self._say("the stack recorded here is not running any more: starting afresh")
            if previous is not None:
                self._down()  # nothing of it runs: clear its leftovers (and any tagged stray)
            return self._up()

    def _up(self) -> RunState:
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
            self._down()
            raise
        return state

    def _reconcile(self, state: RunState) -> list[str]:
        """Adopt healthy replacements of servers whose recorded pid is gone; name the rest."""
        gone = []
        changed = False
        for name, service in state.services.items():
            if service.external or is_running(service.pid, service.started):
                continue
            replacement = self._replacement(name, service, state)
            if replacement is None or not _probe(name, _probe_url(name, state))[0]:
                gone.append(name)
                continue
            service.pid, service.started = replacement.pid, replacement.create_time()
            changed = True
            self._say(f"{name:<11} adopted pid {replacement.pid} (restarted outside leaklab)")
        if changed:
            state.save(self.run_dir)
        return gone

    def _replacement(self, name: str, service: Service, state: RunState) -> psutil.Process | None:
        """What now holds a service's data directory (PostgreSQL) or recorded port."""
        try:
            if name == "postgres" and state.postgres_home:
                return postmaster(Path(state.postgres_home) / "data")
            port = urlsplit(service.url).port
        except ValueError:
            return None
        return listening_on(port) if port else None

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
        budgets = postgres_server.connection_budgets(s.pg_max_connections, s.workers, s.db_pool_max)
        instance, proc = postgres_server.init_and_start(
            self.run_dir, port, s.pg_max_connections, budgets, s.postgres_os_user
        )
        state.database_admin_url = instance.admin_url
        state.postgres_home = str(instance.data_dir)
        state.connection_limits = dict(instance.budgets)
        for variant, url in instance.app_urls.items():
            state.app_urls.setdefault(variant, {})["postgres"] = url
        self._monitor_url = instance.monitor_url
        self._record(
            state,
            "postgres",
            instance.app_urls["fixed"],
            proc,
            str(self.run_dir / "logs" / "postgres.log"),
            postgres_server.STOP_SIGNAL,
        )

    def _start_redis(self, state: RunState) -> None:
        s = self.settings
        if s.redis_url:
            self._record(state, "redis", s.redis_url, None)
            return
        instance, proc = redis_server.init_and_start(
            self.run_dir,
            s.redis_port or free_port(s.host, self._configured_ports()),
            s.redis_maxclients,
        )
        state.redis_admin_url = instance.admin_url
        self._record(
            state, "redis", instance.app_url, proc, str(self.run_dir / "logs" / "redis.log")
        )

    def _start_apps(self, state: RunState) -> None:
        s = self.settings
        started = []
        for variant in VARIANTS:
            env = apps.app_env(
                variant,
                s,
                state.app_url(variant, "postgres"),
                state.app_url(variant, "redis"),
                apps.fresh_multiproc_dir(self.run_dir, variant),
                state.admin_token,
                {RUN_DIR_VAR: str(self.run_dir.absolute())},
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
            getattr(self, "_monitor_url", "") or state.database_admin_url,
        )
        self._record(state, "postgres-exporter", url, proc, str(log_dir / "postgres-exporter.log"))
        url, proc = exporters.start_redis_exporter(
            self.run_dir,
            s.host,
            s.redis_exporter_port or free_port(s.host, self._configured_ports()),
            state.admin_redis_url(),
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
    def down(self, wipe: bool = False) -> list[tuple[str, bool]]:
        """Stop every server of this run directory; remove what it no longer needs.

        Stops what the state records, what replaced it (a server restarted by hand), and
        any stray process tagged with this run directory, so a lost or corrupt state.json
        still leaves nothing running. Logs, load reports and Prometheus's history stay
        (wipe=True removes the history); no directory a live process holds is deleted.
        """
        with run_lock(self.run_dir, self._say):
            return self._down(wipe)

    def _down(self, wipe: bool = False) -> list[tuple[str, bool]]:
        try:
            state = RunState.load(self.run_dir)
        except CorruptState:
            state = None  # the CLI says so; stop what the tag finds
        results = []
        if state is not None:
            for name in STOP_ORDER:
                service = state.services.get(name)
                if service is None or service.external:
                    continue
                results.append((name, self._stop_service(name, service, state)))
            if state.postgres_home:  # a postmaster started by hand on our data directory
                holder = postmaster(Path(state.postgres_home) / "data")
                if holder is not None:
                    results.append(("postgres", self._stop_process("postgres", holder, 2)))
        for proc in tagged(self.run_dir):  # strays: what no (readable) state names
            name = _name_of(proc)
            sig = postgres_server.STOP_SIGNAL if "postgres" in name else signal.SIGTERM
            results.append((name, self._stop_process(name, proc, sig)))
        if all(ok for _, ok in results):
            self._remove_leftovers(state, wipe)
        return results

    def _stop_service(self, name: str, service: Service, state: RunState) -> bool:
        if is_running(service.pid, service.started):
            ok = stop(service.pid, service.started, service.stop_signal)
            self._say(f"{name:<11} {'stopped' if ok else f'COULD NOT STOP pid {service.pid}'}")
            return ok
        replacement = self._replacement(name, service, state)
        if replacement is None or (
            name != "postgres" and not _probe(name, _probe_url(name, state))[0]
        ):
            return True  # gone, and nothing of ours holds its port
        return self._stop_process(name, replacement, service.stop_signal)

    def _stop_process(self, name: str, proc: psutil.Process, sig: int) -> bool:
        try:
            started = proc.create_time()
        except psutil.NoSuchProcess:
            return True
        ok = stop(proc.pid, started, sig)
        self._say(f"{name:<11} {'stopped' if ok else 'COULD NOT STOP'} pid {proc.pid}")
        return ok

    def _remove_leftovers(self, state: RunState | None, wipe: bool) -> None:
        if state is not None and state.postgres_home:
            kept = postgres_server.cleanup(Path(state.postgres_home), self.run_dir)
            if kept:
                self._say(kept)
        elif postmaster(self.run_dir / "postgres" / "data") is None:
            shutil.rmtree(self.run_dir / "postgres" / "data", ignore_errors=True)
        leftovers = ["redis", "metrics"] + (["prometheus"] if wipe else [])
        for leftover in leftovers:
            shutil.rmtree(self.run_dir / leftover, ignore_errors=True)
        path = RunState.path(self.run_dir)
        if not path.is_dir():  # a directory there is the user's: not ours to delete
            path.unlink(missing_ok=True)

    # -- status -------------------------------------------------------------
    def status(self) -> list[ServiceStatus]:
        state = self.state
        self._reconcile(state)  # a server restarted by hand shows as the one now running
        rows = []
        for name, service in state.services.items():
            running = service.external or is_running(service.pid, service.started)
            url = _probe_url(name, state)
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


def _probe_url(name: str, state: RunState) -> str:
    """PostgreSQL through the superuser's reserved slots (the leak may hold the rest), Redis
    as its admin user; every other server at its own URL."""
    if name == "postgres":
        return state.database_admin_url or state.url(name)
    if name == "redis":
        return state.admin_redis_url()
    return state.url(name)


def _name_of(proc: psutil.Process) -> str:
    try:
        return proc.name()
    except psutil.Error:
        return f"pid {proc.pid}"


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
