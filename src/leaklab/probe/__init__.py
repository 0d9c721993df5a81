"""leaklab.probe: where the live objects of a Python web app were made, as metrics.

One line in the app::

    app.wsgi_app = leaklab.probe.middleware(app.wsgi_app)

records, for each kind of object a leak is made of (PostgreSQL and Redis connections,
Redis pools, threads, sockets, files, SQLAlchemy engines, HTTP sessions, loggers, exit
hooks), where each live one was made or checked out: the innermost frame in application
code and the endpoint of the request in flight. The app's own /metrics (prometheus-client's
default registry, or its multiprocess files under Gunicorn) then carries
`leaklab_live_objects{kind, origin, endpoint}`, and after a short tracemalloc window
`leaklab_allocated_bytes{origin, endpoint}` and `leaklab_allocation_window_seconds`.
Windows are off unless asked for: periodically (LEAKLAB_PROBE_MEMORY_WINDOW), or once with
a token (`POST /leaklab/memory-window`, see `demand`), as `check` does after a memory LEAK.
A library is patched when the app imports it (at once if it already has): enabling the probe
imports nothing. LEAKLAB_PROBE=off turns all of it off.
"""

from __future__ import annotations

import math
import os
import random
import threading
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from prometheus_client import REGISTRY

from leaklab.probe import demand, hooks_db, hooks_http, hooks_redis, hooks_std, kinds
from leaklab.probe.export import ProbeCollector, Publisher, multiprocess
from leaklab.probe.memory import MemoryWindows
from leaklab.probe.patching import hooks, unpatch_all
from leaklab.probe.registry import Registry
from leaklab.probe.request import endpoint, served, within_requests
from leaklab.probe.sites import Classifier, Sites
from leaklab.settings import ProbeSettings

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["Probe", "current", "disable", "enable", "middleware", "publish"]
TICK_SECONDS = 1.0  # how often a worker writes its counts in multiprocess mode
# A worker's first memory window leaves a one-time step in its RSS (the allocator keeps
# tracemalloc's freed tables, ~1.5 MiB, when traced under load; then flat): the first window
# opens once the worker has served this many requests, within a measured run's warm-up
# (600 requests an endpoint), so the step is not read as growth by the run's verdict.
FIRST_WINDOW_AFTER = 200


class Probe:
    """The process's probe: its registry of live objects, memory windows and exporter."""

    def __init__(
        self,
        settings: ProbeSettings,
        root: str,
        skip: Iterable[str],
        packages: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.sites = Sites(Classifier.of(root or settings.root, skip, packages))
        self.registry = Registry(self.sites, endpoint, kinds.LIVENESS)
        self.windows = MemoryWindows(
            self.sites, settings.memory_window, settings.memory_every, settings.memory_frames
        )
        self.multiprocess = multiprocess()
        directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
        self.requests = demand.WindowRequests(directory) if self.multiprocess else None
        self.publisher = Publisher(self.registry)
        self.collector: ProbeCollector | None = None
        self._thread_pid = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def install(self) -> None:
        hooks.registry = self.registry
        # What the libraries already imported make as they are patched is not the app's;
        # those imported later are patched as they are, recording nothing meanwhile (imports)
        self.registry.enabled = False
        try:
            for library in (hooks_std, hooks_db, hooks_redis, hooks_http):
                library.install()
        finally:
            self.registry.enabled = True
        if not self.multiprocess:
            self.collector = ProbeCollector(self.registry, self.windows)
            REGISTRY.register(self.collector)

    def ensure_thread(self) -> None:
        """The probe's thread in this process (after a fork, a new one in the child)."""
        if self._thread_pid == os.getpid():
            return
        with self._lock:
            if self._thread_pid == os.getpid():
                return
            self._thread_pid = os.getpid()
            if self.requests is not None:
                self.requests.mark_seen()
            self.windows.schedule(math.inf, 0.0)  # the first: after FIRST_WINDOW_AFTER
            thread = threading.Thread(target=self._run, name="leaklab-probe", daemon=True)
            hooks_std.start_untracked(thread)

    def _run(self) -> None:
        first = True
        if self.multiprocess:
            self.publisher.started()
        while not self._stop.wait(TICK_SECONDS):
            if first and self.settings.memory_window and served() >= FIRST_WINDOW_AFTER:
                first = False  # workers that served alike spread over a few seconds
                self.windows.schedule(time.monotonic(), random.uniform(0.0, 3.0))
            if self.requests is not None and (asked := self.requests.asked()):
                self.windows.demand(asked)
            window = self.windows.tick(time.monotonic())
            if self.multiprocess:
                self.publisher.live()
                if window is not None:
                    self.publisher.window(window)

    def request_window(self, seconds: float) -> None:
        """One memory window in every worker (this process's, or all of Gunicorn's)."""
        if self.requests is not None:
            self.requests.ask(seconds)
        else:
            self.windows.demand(seconds)

    def publish(self) -> None:
        """Write this worker's counts now (multiprocess mode; just before its scrape)."""
        if self.multiprocess:
            self.publisher.live()

    def close(self) -> None:
        self._stop.set()
        self.registry.enabled = False
        if self.collector is not None:
            REGISTRY.unregister(self.collector)
            self.collector = None


_probe: Probe | None = None
_enabling = threading.Lock()


def enable(
    root: str = "",
    skip: Iterable[str] = (),
    settings: ProbeSettings | None = None,
    packages: Mapping[str, str] | None = None,
) -> Probe | None:
    """Install the probe in this process, once (None when LEAKLAB_PROBE=off).

    root: origins' paths are relative to it (default LEAKLAB_PROBE_ROOT, else the working
    directory). skip: helper modules (paths, absolute or relative to root) whose frames are
    passed over, so the origin is their caller's line. packages: directories of application
    code wherever installed (site-packages too), each with the prefix its paths show.
    """
    global _probe
    settings = settings or ProbeSettings.from_env(os.environ)
    if not settings.enabled:
        return None
    with _enabling:
        if _probe is None:
            _probe = Probe(settings, root, skip, packages)
            _probe.install()
    _probe.ensure_thread()
    return _probe


def current() -> Probe | None:
    return _probe


def publish() -> None:
    """Before this worker renders /metrics in multiprocess mode: its own counts, fresh."""
    if _probe is not None:
        _probe.publish()


def disable() -> None:
    """Take the probe out (tests): the originals back, nothing recorded."""
    global _probe
    with _enabling:
        if _probe is not None:
            _probe.close()
            _probe = None
        hooks.registry = None
        unpatch_all()


def middleware(
    wsgi_app: WSGIApplication,
    root: str = "",
    skip: Iterable[str] = (),
    settings: ProbeSettings | None = None,
    metrics_path: str | None = None,
    packages: Mapping[str, str] | None = None,
    token: str | None = None,
) -> WSGIApplication:
    """wsgi_app with the probe enabled and each request's endpoint known to it.

    metrics_path: also answer that path with the default registry's metrics (for an app
    without a /metrics of its own; multiprocess mode reads PROMETHEUS_MULTIPROC_DIR).
    token: what `POST /leaklab/memory-window` must carry (default LEAKLAB_PROBE_TOKEN;
    none: that endpoint answers 403).
    """
    probe = enable(root, skip, settings, packages)
    if probe is None:
        return wsgi_app
    probed = within_requests(wsgi_app)
    secret = probe.settings.token if token is None else token

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        probe.ensure_thread()  # a fork since enable(): Gunicorn's preload_app
        path = environ.get("PATH_INFO")
        if metrics_path is not None and path == metrics_path:
            return _metrics(probe, start_response)
        if path == demand.WINDOW_PATH:
            return demand.answer(environ, start_response, secret, probe.request_window)
        return probed(environ, start_response)

    return app


def _metrics(probe: Probe, start_response: StartResponse) -> list[bytes]:
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    if probe.multiprocess:
        probe.publish()
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
    return [body]
