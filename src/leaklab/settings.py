"""The one place that reads leaklab's environment variables.

Every `LEAKLAB_*` variable (and the tool-owned names leaklab relies on, such as
`WEB_CONCURRENCY` and `PROMETHEUS_MULTIPROC_DIR`) is read here, once, into frozen
dataclasses. Bad values fail at start-up with the variable named.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path

from leaklab import durations

VARIANTS = ("leaky", "fixed")
DEFAULT_PORTS = {"leaky": 8001, "fixed": 8002}


class SettingsError(ValueError):
    """A variable has a value leaklab cannot use."""


def _int(env: Mapping[str, str], name: str, default: int, minimum: int | None = 0) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def _port(env: Mapping[str, str], name: str, default: int, free: bool = False) -> int:
    """A TCP port, 1-65535; free=True also takes 0, meaning "pick a free one"."""
    low = 0 if free else 1
    value = _int(env, name, default, minimum=None)
    if not low <= value <= 65535:
        raise SettingsError(f"{name} must be a TCP port ({low}-65535), got {value}")
    return value


def _duration(env: Mapping[str, str], name: str, default: str) -> str:
    """A duration above 0 (leaklab.durations), spelled as Prometheus reads it: 90 -> 1m30s."""
    raw = env.get(name, "").strip() or default
    try:
        seconds = durations.parse(raw)
    except ValueError:
        seconds = 0.0
    if seconds <= 0:
        raise SettingsError(
            f"{name} must be a duration above 0 such as 1s or 500ms ({durations.EXAMPLES}), "
            f"got {raw!r}"
        )
    return durations.text(seconds)


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    raw = env.get(name, "").strip() or default
    if raw not in choices:
        allowed = " or ".join(repr(c) for c in choices)
        raise SettingsError(f"{name} must be {allowed}, got {raw!r}")
    return raw


def _url(env: Mapping[str, str], name: str, schemes: tuple[str, ...]) -> str | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    if not raw.startswith(tuple(f"{s}://" for s in schemes)):
        allowed = ", ".join(f"{s}://" for s in schemes)
        raise SettingsError(f"{name} must be a URL starting with {allowed}, got {raw!r}")
    return raw


# The variable each AppSettings field is read from (from_env) and written to (to_env); the
# port is the variant's own, LEAKLAB_<VARIANT>_PORT (AppSettings.variable).
_APP_VARIABLES = {
    "variant": "LEAKLAB_VARIANT",
    "database_url": "LEAKLAB_DATABASE_URL",
    "redis_url": "LEAKLAB_REDIS_URL",
    "app_name": "LEAKLAB_APP_NAME",
    "host": "LEAKLAB_HOST",
    "workers": "WEB_CONCURRENCY",
    "db_pool_max": "LEAKLAB_DB_POOL_MAX",
    "redis_pool_max": "LEAKLAB_REDIS_POOL_MAX",
    "cache_ttl_seconds": "LEAKLAB_CACHE_TTL",
    "fd_headroom": "LEAKLAB_FD_HEADROOM",
    "worker_nofile": "LEAKLAB_WORKER_NOFILE",
    "admin_token": "LEAKLAB_ADMIN_TOKEN",
    "metrics": "LEAKLAB_METRICS",
    "multiproc_dir": "PROMETHEUS_MULTIPROC_DIR",
    "tenant_pool_max": "LEAKLAB_TENANT_POOL_MAX",
    "thread_limit": "LEAKLAB_THREAD_LIMIT",
    "upstream_url": "LEAKLAB_UPSTREAM_URL",
    "data_dir": "LEAKLAB_DATA_DIR",
}


@dataclass(frozen=True)
class AppSettings:
    """What one web app (leaky or fixed) needs; read in Gunicorn and `create_app`."""

    variant: str
    database_url: str
    redis_url: str
    app_name: str
    host: str = "127.0.0.1"
    port: int = 8001
    workers: int = 2
    db_pool_max: int = 10
    redis_pool_max: int = 10
    cache_ttl_seconds: int = 30
    fd_headroom: int = 64
    worker_nofile: int = 0
    admin_token: str = ""
    metrics: bool = True
    multiproc_dir: str | None = None
    tenant_pool_max: int = 2  # the fixed app's one SQLAlchemy engine, per worker
    thread_limit: int = 256  # threads per worker past which a request is refused (JSON 503)
    upstream_url: str = ""  # the HTTP service the http_sessions scenario calls
    data_dir: str = ""  # where the app writes its files (order log, exports); "": a temp dir

    @property
    def bind(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def files_dir(self) -> str:
        """Where the app writes its files: data_dir, or a directory of its own under /tmp."""
        return self.data_dir or str(Path(tempfile.gettempdir()) / f"leaklab-{self.variant}")

    @staticmethod
    def variable(field: str, variant: str = "") -> str:
        """The environment variable a field is read from (`port`: the variant's own)."""
        if field == "port":
            return f"LEAKLAB_{variant.upper()}_PORT"
        return _APP_VARIABLES[field]

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AppSettings:
        var = cls.variable
        variant = _choice(env, var("variant"), VARIANTS, "")
        database_url = _url(env, var("database_url"), ("postgresql", "postgres"))
        redis_url = _url(env, var("redis_url"), ("redis",))
        if database_url is None:
            raise SettingsError(
                f"{var('database_url')} is not set (postgresql://user:pw@host:port/db)"
            )
        if redis_url is None:
            raise SettingsError(f"{var('redis_url')} is not set (redis://[:password@]host:port/0)")
        return cls(
            variant=variant,
            database_url=database_url,
            redis_url=redis_url,
            app_name=env.get(var("app_name"), "").strip() or f"leaklab-{variant}",
            host=env.get(var("host"), "").strip() or "127.0.0.1",
            port=_port(env, var("port", variant), DEFAULT_PORTS[variant]),
            workers=_int(env, var("workers"), 2, minimum=1),
            db_pool_max=_int(env, var("db_pool_max"), 10, minimum=1),
            redis_pool_max=_int(env, var("redis_pool_max"), 10, minimum=1),
            cache_ttl_seconds=_int(env, var("cache_ttl_seconds"), 30, minimum=1),
            fd_headroom=_int(env, var("fd_headroom"), 64, minimum=8),
            worker_nofile=_int(env, var("worker_nofile"), 0),
            admin_token=env.get(var("admin_token"), "").strip(),
            metrics=_choice(env, var("metrics"), ("on", "off"), "on") == "on",
            multiproc_dir=env.get(var("multiproc_dir"), "").strip() or None,
            tenant_pool_max=_int(env, var("tenant_pool_max"), 2, minimum=1),
            thread_limit=_int(env, var("thread_limit"), 256, minimum=32),
            upstream_url=_url(env, var("upstream_url"), ("http",)) or "",
            data_dir=env.get(var("data_dir"), "").strip(),
        )

    def to_env(self, only: Iterable[str] | None = None) -> dict[str, str]:
        """The environment from_env reads back as these settings: what the launcher gives
        an app. only: just those fields (the others stay as the environment has them)."""
        names = [f.name for f in fields(self)] if only is None else list(only)
        env = {}
        for name in names:
            value = getattr(self, name)
            if value is None:  # multiproc_dir: unset
                continue
            if isinstance(value, bool):  # metrics
                value = "on" if value else "off"
            env[self.variable(name, self.variant)] = str(value)
        return env


@dataclass(frozen=True)
class StackSettings:
    """What the native launcher needs: where state lives, ports, limits, external servers."""

    run_dir: Path
    host: str = "127.0.0.1"
    leaky_port: int = 8001
    fixed_port: int = 8002
    prometheus_port: int = 9090
    locust_web_port: int = 8089
    locust_metrics_port: int = 9646
    locust_master_port: int = 5557
    postgres_port: int = 0
    redis_port: int = 0
    postgres_exporter_port: int = 0
    redis_exporter_port: int = 0
    upstream_port: int = 0
    workers: int = 2
    db_pool_max: int = 10
    redis_pool_max: int = 10
    tenant_pool_max: int = 2
    thread_limit: int = 256
    pg_max_connections: int = 100
    redis_maxclients: int = 10000
    worker_nofile: int = 0
    scrape_interval: str = "1s"
    postgres_os_user: str = ""
    database_url: str | None = None
    redis_url: str | None = None
    prometheus_url: str | None = None
    admin_token: str = ""

    @property
    def step_seconds(self) -> float:
        """Seconds between two points of a series: the scrape interval, at least 0.25 s."""
        return max(0.25, durations.parse(self.scrape_interval))

    def app_port(self, variant: str) -> int:
        return self.leaky_port if variant == "leaky" else self.fixed_port

    @classmethod
    def from_env(cls, env: Mapping[str, str], run_dir: Path | None = None) -> StackSettings:
        raw_dir = env.get("LEAKLAB_RUN_DIR", "").strip()
        return cls(
            run_dir=(run_dir or Path(raw_dir or ".run")).absolute(),
            host=env.get("LEAKLAB_HOST", "").strip() or "127.0.0.1",
            leaky_port=_port(env, "LEAKLAB_LEAKY_PORT", 8001),
            fixed_port=_port(env, "LEAKLAB_FIXED_PORT", 8002),
            prometheus_port=_port(env, "LEAKLAB_PROMETHEUS_PORT", 9090, free=True),
            locust_web_port=_port(env, "LOCUST_WEB_PORT", 8089),
            locust_metrics_port=_port(env, "LEAKLAB_LOCUST_METRICS_PORT", 9646),
            locust_master_port=_port(env, "LOCUST_MASTER_BIND_PORT", 5557),
            postgres_port=_port(env, "LEAKLAB_POSTGRES_PORT", 0, free=True),
            redis_port=_port(env, "LEAKLAB_REDIS_PORT", 0, free=True),
            postgres_exporter_port=_port(env, "LEAKLAB_POSTGRES_EXPORTER_PORT", 0, free=True),
            redis_exporter_port=_port(env, "LEAKLAB_REDIS_EXPORTER_PORT", 0, free=True),
            upstream_port=_port(env, "LEAKLAB_UPSTREAM_PORT", 0, free=True),
            workers=_int(env, "WEB_CONCURRENCY", 2, minimum=1),
            db_pool_max=_int(env, "LEAKLAB_DB_POOL_MAX", 10, minimum=1),
            redis_pool_max=_int(env, "LEAKLAB_REDIS_POOL_MAX", 10, minimum=1),
            tenant_pool_max=_int(env, "LEAKLAB_TENANT_POOL_MAX", 2, minimum=1),
            thread_limit=_int(env, "LEAKLAB_THREAD_LIMIT", 256, minimum=32),
            pg_max_connections=_int(env, "LEAKLAB_PG_MAX_CONNECTIONS", 100, minimum=10),
            redis_maxclients=_int(env, "LEAKLAB_REDIS_MAXCLIENTS", 10000, minimum=10),
            worker_nofile=_int(env, "LEAKLAB_WORKER_NOFILE", 0),
            scrape_interval=_duration(env, "LEAKLAB_SCRAPE_INTERVAL", "1s"),
            postgres_os_user=env.get("LEAKLAB_POSTGRES_OS_USER", "").strip(),
            database_url=_url(env, "LEAKLAB_DATABASE_URL", ("postgresql", "postgres")),
            redis_url=_url(env, "LEAKLAB_REDIS_URL", ("redis",)),
            prometheus_url=_url(env, "LEAKLAB_PROMETHEUS_URL", ("http", "https")),
            admin_token=env.get("LEAKLAB_ADMIN_TOKEN", "").strip(),
        )


def _seconds(env: Mapping[str, str], name: str, default: str) -> float:
    """A duration that may be 0 (off), in seconds."""
    raw = env.get(name, "").strip() or default
    try:
        return durations.parse(raw)
    except ValueError:
        raise SettingsError(
            f"{name} must be a duration such as {durations.EXAMPLES}, or 0 for off; got {raw!r}"
        ) from None


@dataclass(frozen=True)
class ProbeSettings:
    """leaklab.probe in an app's process: origins of live objects, and memory windows.

    Read where the probe is enabled (our apps' create_app, a user's middleware line).
    Memory windows run tracemalloc for `memory_window` seconds every `memory_every`
    seconds: at about 0.36x throughput during a window, 0.5 s every 20 s costs ~2 %. Off
    unless asked: a worker's first window under load leaves a step of ~1.5 MiB in its RSS
    (the allocator keeps tracemalloc's freed tables), which a fixed app's verdict read as
    growth (1.2 KiB per request over a 35 s check).
    """

    enabled: bool = True
    root: str = ""  # paths in origins are relative to it; "": the working directory
    memory_window: float = 0.0  # seconds; 0: no memory windows (the default)
    memory_every: float = 20.0
    memory_frames: int = 8  # frames tracemalloc keeps: enough to get past helpers
    token: str = ""  # what POST /leaklab/memory-window must carry ("": that endpoint is off)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ProbeSettings:
        window = _seconds(env, "LEAKLAB_PROBE_MEMORY_WINDOW", "0")
        every = _seconds(env, "LEAKLAB_PROBE_MEMORY_EVERY", "20s")
        if window and every < 2 * window:
            raise SettingsError(
                f"LEAKLAB_PROBE_MEMORY_EVERY must be at least twice LEAKLAB_PROBE_MEMORY_WINDOW "
                f"({durations.text(2 * window)}), got {durations.text(every)}"
            )
        return cls(
            enabled=_choice(env, "LEAKLAB_PROBE", ("on", "off"), "on") == "on",
            root=env.get("LEAKLAB_PROBE_ROOT", "").strip(),
            memory_window=window,
            memory_every=every,
            memory_frames=_int(env, "LEAKLAB_PROBE_MEMORY_FRAMES", 8, minimum=1),
            token=env.get("LEAKLAB_PROBE_TOKEN", "").strip(),
        )


# `leaklab seed --roles` (docker compose): the passwords of the roles it creates.
ROLE_PASSWORD_VARS = {
    "leaky": "LEAKLAB_LEAKY_DB_PASSWORD",
    "fixed": "LEAKLAB_FIXED_DB_PASSWORD",
    "monitor": "LEAKLAB_MONITOR_DB_PASSWORD",
}


def role_passwords(env: Mapping[str, str]) -> dict[str, str]:
    """The roles' passwords, by variant and "monitor"; each must be set (no default)."""
    missing = [var for var in ROLE_PASSWORD_VARS.values() if not env.get(var, "").strip()]
    if missing:
        raise SettingsError(f"{', '.join(missing)} must be set: the roles' passwords")
    return {role: env[var].strip() for role, var in ROLE_PASSWORD_VARS.items()}
