"""The real Prometheus exporters for PostgreSQL and Redis, as local processes."""

from __future__ import annotations

import shutil
from urllib.parse import urlsplit

import requests

from leaklab.paths import POSTGRES_EXPORTER_QUERIES
from leaklab.stack.executor import Executor, Launched, Up
from leaklab.stack.process import StackError, start

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


class Exporter(Executor):
    """A Prometheus exporter: ready once its own figures say it reaches its server."""

    marker = ""  # the series that says so

    def ready(self, launched: Launched) -> bool:
        return _serves(launched.url, self.marker)

    def check(self, url: str) -> str:
        requests.get(f"{url}/metrics", timeout=5).raise_for_status()
        return "ok"


class PostgresExporter(Exporter):
    """postgres_exporter, as the pg_monitor role; it reads its DSN only from DATA_SOURCE_NAME."""

    name, title, marker = "postgres-exporter", "postgres_exporter", "pg_up 1"

    def launch(self, up: Up) -> Launched:
        host, port = up.settings.host, up.port(up.settings.postgres_exporter_port)
        database_url = up.monitor_url or up.state.database_admin_url
        dsn = database_url + ("&" if "?" in database_url else "?") + "sslmode=disable"
        argv = [
            _binary(self.name),
            f"--web.listen-address={host}:{port}",
            f"--extend.query-path={POSTGRES_EXPORTER_QUERIES}",
        ]
        env = {"DATA_SOURCE_NAME": dsn, "PATH": "/usr/bin:/bin"}
        proc = start(argv, self.log(up.run_dir), env=env, run_dir=up.run_dir)
        return Launched(f"http://{host}:{port}", proc)


class RedisExporter(Exporter):
    """redis_exporter with the client list, so clients can be counted per name."""

    name, title, marker = "redis-exporter", "redis_exporter", "redis_up 1"

    def launch(self, up: Up) -> Launched:
        host, port = up.settings.host, up.port(up.settings.redis_exporter_port)
        parts = urlsplit(up.state.admin_redis_url())
        argv = [
            _binary(self.name),
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
        proc = start(argv, self.log(up.run_dir), env=env, run_dir=up.run_dir)
        return Launched(f"http://{host}:{port}", proc)
