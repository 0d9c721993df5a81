"""Both variants of the web app under Gunicorn."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import requests

from leaklab.paths import GUNICORN_CONF
from leaklab.settings import StackSettings
from leaklab.stack.process import start


def app_env(
    variant: str,
    settings: StackSettings,
    database_url: str,
    redis_url: str,
    multiproc_dir: Path,
    admin_token: str,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment one variant's Gunicorn runs with (extra: further LEAKLAB_* settings)."""
    env = {k: v for k, v in os.environ.items() if k != "PORT"}
    env.update(
        LEAKLAB_VARIANT=variant,
        LEAKLAB_HOST=settings.host,
        LEAKLAB_DATABASE_URL=database_url,
        LEAKLAB_REDIS_URL=redis_url,
        LEAKLAB_ADMIN_TOKEN=admin_token,
        LEAKLAB_DB_POOL_MAX=str(settings.db_pool_max),
        LEAKLAB_REDIS_POOL_MAX=str(settings.redis_pool_max),
        LEAKLAB_WORKER_NOFILE=str(settings.worker_nofile),
        WEB_CONCURRENCY=str(settings.workers),
        PROMETHEUS_MULTIPROC_DIR=str(multiproc_dir),
        **{f"LEAKLAB_{variant.upper()}_PORT": str(settings.app_port(variant))},
    )
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
