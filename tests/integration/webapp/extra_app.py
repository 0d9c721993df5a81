"""An app of its own next to the session stack, for tests that kill workers or break backends.

The `extra_app` fixture (conftest.py) hands out `start`; tests import the types from here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import psutil
import requests

from leaklab.stack import NativeStack, apps
from leaklab.stack.process import free_port, stop, wait_until_ready
from leaklab.stack.state import RunState


@dataclass(frozen=True)
class ExtraApp:
    """A Gunicorn app started for one test: its URL, master pid, log and multiprocess dir."""

    url: str
    master: int
    log: Path
    multiproc_dir: Path

    def workers(self) -> set[int]:
        return {p.pid for p in psutil.Process(self.master).children()}


ExtraAppFactory = Callable[..., AbstractContextManager[ExtraApp]]


def factory(stack: NativeStack, state: RunState) -> ExtraAppFactory:
    """Start `name` (variant, workers, backends and LEAKLAB_* settings as given); stop it after.

    It is ready when /health answers: its backends may be broken on purpose.
    """

    @contextmanager
    def start(
        name: str,
        variant: str = "fixed",
        workers: int = 2,
        database_url: str | None = None,
        redis_url: str | None = None,
        extra: dict[str, str] | None = None,
    ) -> Iterator[ExtraApp]:
        settings = replace(stack.settings, fixed_port=free_port(), leaky_port=free_port())
        settings = replace(settings, workers=workers)
        multiproc_dir = apps.fresh_multiproc_dir(stack.run_dir, name)
        env = apps.app_env(
            variant,
            settings,
            database_url or state.url("postgres"),
            redis_url or state.url("redis"),
            multiproc_dir,
            state.admin_token,
            {"LEAKLAB_APP_NAME": f"leaklab-{name}", **(extra or {})},
        )
        proc = apps.start_app(stack.run_dir, env, name)
        url = f"http://127.0.0.1:{settings.app_port(variant)}"
        log = stack.run_dir / "logs" / f"{name}.log"

        def healthy() -> bool:
            return requests.get(f"{url}/health", timeout=2).status_code == 200

        try:
            wait_until_ready(name, proc, healthy, log)
            app = ExtraApp(url, proc.pid, log, multiproc_dir)
            _wait_for_workers(app, workers)
            yield app
        finally:
            assert stop(proc.pid, psutil.Process(proc.pid).create_time())

    return start


def _wait_for_workers(app: ExtraApp, count: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while len(app.workers()) < count:
        assert time.monotonic() < deadline, f"{app.url}: fewer than {count} workers"
        time.sleep(0.05)
