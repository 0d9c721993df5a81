"""Both variants of the web app under Gunicorn."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import replace
from functools import partial
from pathlib import Path

import requests

from leaklab.paths import GUNICORN_CONF
from leaklab.settings import AppSettings, StackSettings
from leaklab.stack.executor import Executor, Launched, Up
from leaklab.stack.process import RUN_DIR_VAR, free_port, start, wait_until_ready
from leaklab.stack.state import RunState

# What the launcher decides for each app. The app's name, cache TTL, fd headroom and metrics
# switch stay as the environment the launcher inherited has them (unset: the defaults).
LAUNCHER_DECIDES = (
    "variant",
    "host",
    "database_url",
    "redis_url",
    "admin_token",
    "db_pool_max",
    "redis_pool_max",
    "worker_nofile",
    "workers",
    "multiproc_dir",
    "port",
    "tenant_pool_max",
    "thread_limit",
    "upstream_url",
    "data_dir",
)


def app_env(
    variant: str,
    settings: StackSettings,
    database_url: str,
    redis_url: str,
    multiproc_dir: Path,
    admin_token: str,
    extra: Mapping[str, str] | None = None,
    upstream_url: str = "",
) -> dict[str, str]:
    """The environment one variant's Gunicorn runs with (extra: further LEAKLAB_* settings)."""
    app = AppSettings(
        variant=variant,
        database_url=database_url,
        redis_url=redis_url,
        app_name="",  # not decided here (LAUNCHER_DECIDES)
        host=settings.host,
        port=settings.app_port(variant),
        workers=settings.workers,
        db_pool_max=settings.db_pool_max,
        redis_pool_max=settings.redis_pool_max,
        worker_nofile=settings.worker_nofile,
        admin_token=admin_token,
        multiproc_dir=str(multiproc_dir),
        tenant_pool_max=settings.tenant_pool_max,
        thread_limit=settings.thread_limit,
        upstream_url=upstream_url,
        data_dir=str(settings.run_dir.absolute() / "data" / variant),
    )
    env = {k: v for k, v in os.environ.items() if k != "PORT"}
    env.update(app.to_env(LAUNCHER_DECIDES))
    # glibc gives each thread its own malloc arena (up to 8 per core): a fresh gthread
    # worker's memory then rises for thousands of requests as its threads are first used
    # (measured: the fixed app's RSS at 1.86 MiB per 1,000 requests, a false LEAK; 0.15
    # with 2 arenas). The usual production setting for threaded Python servers.
    env.setdefault("MALLOC_ARENA_MAX", "2")
    env.update(extra or {})
    return env


def fresh_multiproc_dir(run_dir: Path, name: str) -> Path:
    """Wipe and create the app's multiprocess directory before Gunicorn starts."""
    path = run_dir / "metrics" / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


# A Unix socket's path must fit sockaddr_un's sun_path (108 bytes with its NUL on Linux).
_SUN_PATH_MAX = 107


def control_socket_args(run_dir: Path, name: str) -> list[str]:
    """Gunicorn's control socket for this app, in the run directory (off if the path is too long).

    Gunicorn 27's default, ~/.gunicorn/gunicorn.ctl, is one path for every master of the
    user: each master rebinds it (at start and after every fork) and unlinks it when it
    stops, so one stack's `down` took it from every other. Nothing in leaklab needs it;
    `gunicornc -s <run dir>/<name>.ctl` is for people.
    """
    path = run_dir.absolute() / f"{name}.ctl"
    if len(os.fsencode(path)) > _SUN_PATH_MAX:
        return ["--no-control-socket"]
    return ["--control-socket", str(path)]


def start_app(run_dir: Path, env: dict[str, str], name: str) -> subprocess.Popen[bytes]:
    """Start one app under Gunicorn; its log is logs/<name>.log."""
    return start(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            str(GUNICORN_CONF),
            *control_socket_args(run_dir, name),
        ],
        run_dir / "logs" / f"{name}.log",
        env=env,
        cwd=GUNICORN_CONF.parent,
    )


def is_ready(url: str) -> bool:
    return requests.get(f"{url}/ready", timeout=3).status_code == 200


def start_fixed_copy(
    run_dir: Path, settings: StackSettings, state: RunState, name: str, extra: dict[str, str]
) -> tuple[str, int]:
    """One more fixed app on the running stack's servers (benchmarks), on a free port, once
    ready: its URL and its Gunicorn master's pid (the caller stops it)."""
    settings = replace(settings, fixed_port=free_port())
    env = app_env(
        "fixed",
        settings,
        state.url("postgres"),
        state.url("redis"),
        fresh_multiproc_dir(run_dir, name),
        state.admin_token,
        extra,
        upstream_url=state.services["upstream"].url if "upstream" in state.services else "",
    )
    proc = start_app(run_dir, env, name)
    url = f"http://127.0.0.1:{settings.fixed_port}"
    wait_until_ready(name, proc, partial(is_ready, url), run_dir / "logs" / f"{name}.log")
    return url, proc.pid


class AppServer(Executor):
    """One variant under Gunicorn, on its own database role and the apps' Redis user."""

    def __init__(self, variant: str) -> None:
        self.name, self.title = variant, f"the {variant} app"

    def launch(self, up: Up) -> Launched:
        s, state, variant = up.settings, up.state, self.name
        env = app_env(
            variant,
            s,
            state.app_url(variant, "postgres"),
            state.app_url(variant, "redis"),
            fresh_multiproc_dir(up.run_dir, variant),
            state.admin_token,
            {RUN_DIR_VAR: str(up.run_dir.absolute())},
            upstream_url=state.services["upstream"].url if "upstream" in state.services else "",
        )
        proc = start_app(up.run_dir, env, variant)
        return Launched(f"http://{s.host}:{s.app_port(variant)}", proc)

    def ready(self, launched: Launched) -> bool:
        return is_ready(launched.url)

    def check(self, url: str) -> str:
        requests.get(f"{url}/health", timeout=3).raise_for_status()
        response = requests.get(f"{url}/ready", timeout=3)
        if response.status_code != 200:
            # alive and answering; a saturated leaky app is the demo, not a fault
            checks = response.json().get("checks", {})
            bad = ", ".join(f"{k}: {v[:60]}" for k, v in checks.items() if v != "ok")
            return f"alive, not ready ({bad})"
        return "ok"

    def clean(self, run_dir: Path, state: RunState | None, wipe: bool) -> str:
        # every app's multiprocess files, those of apps started beside the stack's too, and
        # the files the apps wrote (the order log, the exports): scratch, like the metrics
        shutil.rmtree(run_dir / "metrics", ignore_errors=True)
        shutil.rmtree(run_dir / "data", ignore_errors=True)
        return ""
