"""One executor per server: its command and log, start, readiness, probe and stop signal.

The pattern of mirakuru and pytest-postgresql: each server leaklab runs as a local process
has an `Executor` (in the server's own module), and a twin, `External`, for a server that
already runs at a URL the user gives (StackSettings.database_url, ...): the same name in
state.json, the same probe, nothing started and nothing stopped. `NativeStack.up` is a loop
over the executors; `down` is the same loop reversed.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import psycopg2
import redis
import requests

from leaklab.settings import StackSettings
from leaklab.stack.ownership import listening_on
from leaklab.stack.process import create_time, free_port, wait_until_ready
from leaklab.stack.state import RunState, Service

# What a failed probe raises: a server's client errors, HTTP errors, an answer not understood.
PROBE_ERRORS = (psycopg2.Error, redis.RedisError, requests.RequestException, ValueError)


@dataclass
class Up:
    """One `up` under way: the settings, and the run state its executors fill in."""

    settings: StackSettings
    state: RunState
    say: Callable[[str], None]
    avoid: Collection[int] = ()  # ports the settings fix: never picked as a free port
    monitor_url: str = ""  # PostgreSQL's pg_monitor login, for postgres_exporter

    @property
    def run_dir(self) -> Path:
        return self.settings.run_dir

    def port(self, configured: int) -> int:
        """The configured port, or (0) a free one."""
        return configured or free_port(self.settings.host, self.avoid)

    def record(self, executor: Executor, url: str, proc: subprocess.Popen[bytes] | None) -> None:
        """Save the server in state.json (proc None: an external server) and say where it is."""
        name = executor.name
        if proc is None:
            service = Service(name, url, external=True)
        else:
            log = str(executor.log(self.run_dir))
            service = Service(name, url, proc.pid, create_time(proc.pid), log, executor.stop_signal)
        self.state.services[name] = service
        self.state.save(self.run_dir)
        self.say(f"{name:<11} {url.split('@')[-1]}")


@dataclass(frozen=True)
class Launched:
    """A server just started: the URL state.json records, and its process (None: external)."""

    url: str
    proc: subprocess.Popen[bytes] | None = None


class Executor:
    """A server leaklab starts: launch (no waiting), then settle (ready, recorded)."""

    name: str = ""  # in state.json, `status` and `down`
    title: str = ""  # in messages: "PostgreSQL", "the leaky app"
    stop_signal: int = signal.SIGTERM

    def log(self, run_dir: Path) -> Path:
        return run_dir / "logs" / f"{self.name}.log"

    def launch(self, up: Up) -> Launched:
        """Start the server's process, without waiting for it to answer."""
        raise NotImplementedError

    def ready(self, launched: Launched) -> bool:
        """True once the started server answers (an exception: not yet)."""
        raise NotImplementedError

    def settle(self, up: Up, launched: Launched) -> None:
        """Wait until the server is ready, then record it."""
        self.wait(up, launched)
        up.record(self, launched.url, launched.proc)

    def wait(self, up: Up, launched: Launched) -> None:
        if launched.proc is not None:
            log = self.log(up.run_dir)
            wait_until_ready(self.title, launched.proc, lambda: self.ready(launched), log)

    def check(self, url: str) -> str:
        """Probe the server at url: raise when it is unhealthy, else say how it is."""
        raise NotImplementedError

    def probe_url(self, state: RunState) -> str:
        return state.url(self.name)

    def probe(self, state: RunState) -> tuple[bool, str]:
        """Healthy or not, and in a few words why (`status`; adoption of a replacement)."""
        url = self.probe_url(state)
        try:
            return True, self.check(url)
        except PROBE_ERRORS as exc:
            text = str(exc).strip()
            return False, text.splitlines()[0] if text else type(exc).__name__

    def replacement(self, service: Service, state: RunState) -> psutil.Process | None:
        """What now holds the service's recorded port (a server restarted by hand)."""
        try:
            port = urlsplit(service.url).port
        except ValueError:
            return None
        return listening_on(port) if port else None

    def ours(self, service: Service, state: RunState) -> psutil.Process | None:
        """The replacement `down` stops: one that answers as this server does."""
        replacement = self.replacement(service, state)
        if replacement is None or not self.probe(state)[0]:
            return None  # gone, and nothing of ours holds its port
        return replacement

    def clean(self, run_dir: Path, state: RunState | None, wipe: bool) -> str:
        """Remove what the stopped server leaves in run_dir; why something was kept ('')."""
        return ""


class External(Executor):
    """The twin of a server the user runs, at the URL given: used, never started or stopped.

    Put it first among the bases, before the server's executor: it replaces launch and
    settle, and keeps that executor's name, probe, replacement and clean.
    """

    def given(self, settings: StackSettings) -> str:
        """The URL the user gave."""
        raise NotImplementedError

    def use(self, up: Up, url: str) -> None:
        """What the stack needs of the server before the apps start (none by default)."""

    def launch(self, up: Up) -> Launched:
        url = self.given(up.settings)
        self.use(up, url)
        return Launched(url)

    def settle(self, up: Up, launched: Launched) -> None:
        up.record(self, launched.url, None)  # it answers or not: the apps' readiness says
