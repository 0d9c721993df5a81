"""A throw-away Redis on loopback: no persistence, ACL users, a client limit."""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

import redis

from leaklab.settings import StackSettings
from leaklab.stack.executor import Executor, External, Launched, Up
from leaklab.stack.process import StackError, start
from leaklab.stack.state import RunState

APP_USER = "leaklab-app"
# What the apps send, and nothing more: no FLUSHALL, KEYS, CONFIG or CLIENT LIST/KILL.
# (Redis 7.0 has no CLIENT SETINFO; redis-py ignores its refusal.)
APP_COMMANDS = (
    "+hello +auth +ping +select +quit +reset +client|setname +client|getname +get +set"
    " +subscribe +unsubscribe +publish"
)
APP_RULES = f"~* resetchannels &orders:* -@all {APP_COMMANDS}"  # the same in docker-compose.yml


def acl_file(admin_password: str, app_password: str) -> str:
    """The users, kept in a 0600 file so no password shows on a command line."""
    return (
        f"user default on >{admin_password} ~* &* +@all\n"
        f"user {APP_USER} on >{app_password} {APP_RULES}\n"
    )


class RedisServer(Executor):
    """redis-server on loopback: no persistence, the ACL users in a 0600 file, maxclients."""

    name, title = "redis", "Redis"

    def launch(self, up: Up) -> Launched:
        binary = shutil.which("redis-server")
        if binary is None:
            raise StackError(
                "redis-server not found. Install it: Debian/Ubuntu 'sudo apt-get install "
                "redis-server', macOS 'brew install redis'"
            )
        port = up.port(up.settings.redis_port)
        home = up.run_dir / "redis"
        home.mkdir(parents=True, exist_ok=True)
        password, app_password = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
        users = home / "users.acl"
        fd = os.open(users, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(acl_file(password, app_password))
        argv = [binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(home)]
        argv += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
        argv += ["--protected-mode", "yes", "--aclfile", str(users)]
        argv += ["--maxclients", str(up.settings.redis_maxclients), "--logfile", ""]
        proc = start(argv, self.log(up.run_dir), run_dir=up.run_dir)
        up.state.redis_admin_url = f"redis://:{password}@127.0.0.1:{port}/0"
        return Launched(f"redis://{APP_USER}:{app_password}@127.0.0.1:{port}/0", proc)

    def ready(self, launched: Launched) -> bool:
        return _ping(launched.url)  # as the apps' user: its ACL file is loaded

    def check(self, url: str) -> str:
        _ping(url, timeout=3)
        return "ok"

    def probe_url(self, state: RunState) -> str:
        return state.admin_redis_url()

    def clean(self, run_dir: Path, state: RunState | None, wipe: bool) -> str:
        shutil.rmtree(run_dir / "redis", ignore_errors=True)
        return ""


class ExternalRedis(External, RedisServer):
    """A Redis the user gives by URL: the apps and the probes share it."""

    def given(self, settings: StackSettings) -> str:
        return settings.redis_url or ""


def _ping(url: str, timeout: float = 2) -> bool:
    with redis.Redis.from_url(url, socket_connect_timeout=timeout) as client:
        ok = bool(client.ping())
        client.connection_pool.disconnect()
        return ok


def clients_by_name(url: str, flags: str = "") -> dict[str, int]:
    """Server-side truth: connected clients per CLIENT SETNAME name (flags: only clients
    with those CLIENT LIST flags, "P" for pub/sub)."""
    with redis.Redis.from_url(url, socket_connect_timeout=5) as client:
        counts: dict[str, int] = {}
        for entry in client.client_list():
            if flags and not set(flags) <= set(entry.get("flags", "")):
                continue
            name = entry.get("name", "")
            counts[name] = counts.get(name, 0) + 1
        client.connection_pool.disconnect()
        return counts
