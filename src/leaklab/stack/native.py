"""Bring the native stack up and down: PostgreSQL, Redis, both apps, Prometheus."""

from __future__ import annotations

import os
import secrets
import signal
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psutil
import requests

from leaklab.settings import VARIANTS, AppSettings, StackSettings
from leaklab.stack import prometheus_server
from leaklab.stack.apps import AppServer
from leaklab.stack.executor import Executor, Up
from leaklab.stack.exporters import PostgresExporter, RedisExporter
from leaklab.stack.ownership import postmaster, run_lock, tagged
from leaklab.stack.postgres_server import ExternalPostgres, PostgresServer
from leaklab.stack.process import StackError, free_port, is_running, port_in_use, stop
from leaklab.stack.prometheus_server import COMPOSE_TARGETS as COMPOSE_TARGETS
from leaklab.stack.prometheus_server import ExternalPrometheus, PrometheusServer
from leaklab.stack.redis_server import ExternalRedis, RedisServer
from leaklab.stack.state import CorruptState, RunState, Service
from leaklab.stack.upstream import UpstreamServer

# Scraped only while `leaklab load` runs: down between runs is not a fault.
LOAD_JOBS = ("locust",)


def stages(settings: StackSettings) -> list[list[Executor]]:
    """Every server, in the order `up` starts them: the executors of one stage are started
    together, then waited for in turn; a server the user gives by URL has its External twin."""
    return [
        [
            ExternalPostgres() if settings.database_url else PostgresServer(),
            ExternalRedis() if settings.redis_url else RedisServer(),
            UpstreamServer(),
        ],
        [AppServer(variant) for variant in VARIANTS],
        [PostgresExporter(), RedisExporter()],
        [ExternalPrometheus() if settings.prometheus_url else PrometheusServer()],
    ]


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

    Servers given by environment (database, Redis, Prometheus URLs) are still honoured.
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
        self._stages = stages(settings)
        self.executors = [executor for stage in self._stages for executor in stage]

    def executor(self, name: str) -> Executor:
        """The executor of a service (a name it does not know is probed as an app is)."""
        found = [executor for executor in self.executors if executor.name == name]
        return found[0] if found else AppServer(name)

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
        up = Up(self.settings, state, self._say, self._configured_ports())
        try:
            for stage in self._stages:
                launched = [(executor, executor.launch(up)) for executor in stage]
                for executor, server in launched:
                    executor.settle(up, server)
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
            executor = self.executor(name)
            replacement = executor.replacement(service, state)
            if replacement is None or not executor.probe(state)[0]:
                gone.append(name)
                continue
            service.pid, service.started = replacement.pid, replacement.create_time()
            changed = True
            self._say(f"{name:<11} adopted pid {replacement.pid} (restarted outside leaklab)")
        if changed:
            state.save(self.run_dir)
        return gone

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
        wanted = {AppSettings.variable("port", v): s.app_port(v) for v in VARIANTS}
        if s.prometheus_url is None:
            wanted["LEAKLAB_PROMETHEUS_PORT"] = s.prometheus_port
        for var, port in wanted.items():
            if port and port_in_use(s.host, port):
                raise StackError(
                    f"port {port} on {s.host} is in use (is another stack up? 'leaklab status'); "
                    f"set {var} to another port"
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
            for executor in reversed(self.executors):  # the order of `up`, reversed
                service = state.services.get(executor.name)
                if service is None or service.external:
                    continue
                results.append((executor.name, self._stop_service(executor, service, state)))
            if state.postgres_home:  # a postmaster started by hand on our data directory
                holder = postmaster(Path(state.postgres_home) / "data")
                if holder is not None:
                    results.append(("postgres", self._stop_process("postgres", holder, 2)))
        for proc in tagged(self.run_dir):  # strays: what no (readable) state names
            name = _name_of(proc)
            sig = PostgresServer.stop_signal if "postgres" in name else signal.SIGTERM
            results.append((name, self._stop_process(name, proc, sig)))
        if all(ok for _, ok in results):
            self._remove_leftovers(state, wipe)
        return results

    def _stop_service(self, executor: Executor, service: Service, state: RunState) -> bool:
        name = executor.name
        if is_running(service.pid, service.started):
            ok = stop(service.pid, service.started, service.stop_signal)
            self._say(f"{name:<11} {'stopped' if ok else f'COULD NOT STOP pid {service.pid}'}")
            return ok
        replacement = executor.ours(service, state)
        if replacement is None:
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
        for executor in reversed(self.executors):
            kept = executor.clean(self.run_dir, state, wipe)
            if kept:
                self._say(kept)
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
            probe = self.executor(name).probe
            healthy, detail = probe(state) if running else (False, "not running")
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


def _name_of(proc: psutil.Process) -> str:
    try:
        return proc.name()
    except psutil.Error:
        return f"pid {proc.pid}"


def _public(url: str) -> str:
    """A URL without its password, for printing."""
    if "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{rest.split('@', 1)[1]}"
