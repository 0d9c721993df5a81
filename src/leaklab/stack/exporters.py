"""The real Prometheus exporters for PostgreSQL and Redis, as local processes."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import requests

from leaklab.paths import POSTGRES_EXPORTER_QUERIES
from leaklab.stack.process import StackError, start, wait_until_ready

# Debian's package names first, then upstream's (Homebrew, release tarballs).
BINARIES = {
    "postgres-exporter": ("prometheus-postgres-exporter", "postgres_exporter"),
    "redis-exporter": ("prometheus-redis-exporter", "redis_exporter"),
}
INSTALL = {
    "postgres-exporter": "Debian/Ubuntu 'sudo apt-get install prometheus-postgres-exporter', "
    "macOS 'brew install postgres_exporter'",
    "redis-exporter": "Debian/Ubuntu 'sudo apt-get install prometheus-redis-exporter', "
    "macOS 'brew install redis_exporter'",
}


def _binary(name: str) -> str:
    for candidate in BINARIES[name]:
        found = shutil.which(candidate)
        if found:
            return found
    raise StackError(f"{name} not found. Install it: {INSTALL[name]}")


def _serves(url: str, marker: str) -> bool:
    response = requests.get(f"{url}/metrics", timeout=3)
    return response.status_code == 200 and marker in response.text


def start_postgres_exporter(
    run_dir: Path, host: str, port: int, database_url: str
) -> tuple[str, subprocess.Popen[bytes]]:
    """postgres_exporter reads its DSN only from DATA_SOURCE_NAME (a pg_monitor role's)."""
    dsn = database_url + ("&" if "?" in database_url else "?") + "sslmode=disable"
    log = run_dir / "logs" / "postgres-exporter.log"
    proc = start(
        [
            _binary("postgres-exporter"),
            f"--web.listen-address={host}:{port}",
            f"--extend.query-path={POSTGRES_EXPORTER_QUERIES}",
        ],
        log,
        env={"DATA_SOURCE_NAME": dsn, "PATH": "/usr/bin:/bin"},
        run_dir=run_dir,
    )
    url = f"http://{host}:{port}"
    wait_until_ready("postgres_exporter", proc, lambda: _serves(url, "pg_up 1"), log)
    return url, proc


def start_redis_exporter(
    run_dir: Path, host: str, port: int, redis_url: str
) -> tuple[str, subprocess.Popen[bytes]]:
    """redis_exporter with the client list, so clients can be counted per name."""
    parts = urlsplit(redis_url)
    argv = [
        _binary("redis-exporter"),
        "-redis.addr",
        f"redis://{parts.hostname}:{parts.port}",
        "-web.listen-address",
        f"{host}:{port}",
        # one series per client (the port keeps them apart): count by (name)
        "-export-client-list",
        "-export-client-port",
    ]
    # the password goes by environment, never on the command line (ps would show it)
    env = {"PATH": "/usr/bin:/bin", "REDIS_PASSWORD": parts.password or ""}
    log = run_dir / "logs" / "redis-exporter.log"
    proc = start(argv, log, env=env, run_dir=run_dir)
    url = f"http://{host}:{port}"
    wait_until_ready("redis_exporter", proc, lambda: _serves(url, "redis_up 1"), log)
    return url, proc
