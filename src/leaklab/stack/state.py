"""What `up` started, saved in the run directory so `status` and `down` find it."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from leaklab.stack.process import StackError


class CorruptState(StackError):
    """state.json exists but cannot be read as a run state; the message says what to do."""


@dataclass
class Service:
    name: str
    url: str
    pid: int = 0
    started: float = 0.0
    log: str = ""
    stop_signal: int = 15
    external: bool = False


@dataclass
class RunState:
    services: dict[str, Service] = field(default_factory=dict)
    database_admin_url: str = ""
    admin_token: str = ""
    postgres_home: str = ""
    locust_metrics_port: int = 0  # where Prometheus expects Locust's figures
    redis_admin_url: str = ""  # Redis's default user: probes and server-side truth
    # variant -> server -> URL: each app's own PostgreSQL role and the apps' Redis ACL user
    app_urls: dict[str, dict[str, str]] = field(default_factory=dict)
    connection_limits: dict[str, int] = field(default_factory=dict)  # variant -> role's limit

    def url(self, name: str) -> str:
        return self.services[name].url

    def app_url(self, variant: str, server: str) -> str:
        """The URL one app uses for a server (the service's own URL when shared)."""
        return self.app_urls.get(variant, {}).get(server) or self.url(server)

    def admin_redis_url(self) -> str:
        """Redis with the rights to list clients (an external Redis: the URL given)."""
        return self.redis_admin_url or self.url("redis")

    @staticmethod
    def path(run_dir: Path) -> Path:
        return run_dir / "state.json"

    def save(self, run_dir: Path) -> None:
        """Write atomically, readable only by us: it holds passwords and the admin token."""
        path = self.path(run_dir)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(asdict(self), out, indent=2)
        tmp.replace(path)

    @classmethod
    def load(cls, run_dir: Path) -> RunState | None:
        try:
            raw = json.loads(cls.path(run_dir).read_text())
        except FileNotFoundError:
            return None
        services = {k: Service(**v) for k, v in raw.pop("services").items()}
        return cls(services=services, **raw)
