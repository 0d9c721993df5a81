"""A throw-away Redis on loopback: no persistence, ACL users, a client limit."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import redis

from leaklab.stack.process import StackError, start, wait_until_ready

APP_USER = "leaklab-app"
# What the apps send, and nothing more: no FLUSHALL, KEYS, CONFIG or CLIENT LIST/KILL.
# (Redis 7.0 has no CLIENT SETINFO; redis-py ignores its refusal.)
APP_COMMANDS = "+hello +auth +ping +select +quit +reset +client|setname +client|getname +get +set"
APP_RULES = f"~* resetchannels -@all {APP_COMMANDS}"  # the same in docker-compose.yml


@dataclass(frozen=True)
class RedisInstance:
    admin_url: str  # the default user: probes, the exporter, server-side truth
    app_url: str  # the apps' ACL user


def acl_file(admin_password: str, app_password: str) -> str:
    """The users, kept in a 0600 file so no password shows on a command line."""
    return (
        f"user default on >{admin_password} ~* &* +@all\n"
        f"user {APP_USER} on >{app_password} {APP_RULES}\n"
    )


def init_and_start(
    run_dir: Path, port: int, maxclients: int
) -> tuple[RedisInstance, subprocess.Popen[bytes]]:
    """Start redis-server on 127.0.0.1:port; return its URLs and process."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise StackError(
            "redis-server not found. Install it: Debian/Ubuntu 'sudo apt-get install "
            "redis-server', macOS 'brew install redis'"
        )
    home = run_dir / "redis"
    home.mkdir(parents=True, exist_ok=True)
    password, app_password = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
    users = home / "users.acl"
    fd = os.open(users, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(acl_file(password, app_password))
    log = run_dir / "logs" / "redis.log"
    proc = start(
        [
            binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(home),
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--protected-mode",
            "yes",
            "--aclfile",
            str(users),
            "--maxclients",
            str(maxclients),
            "--logfile",
            "",
        ],
        log,
        run_dir=run_dir,
    )
    url = f"redis://:{password}@127.0.0.1:{port}/0"
    app_url = f"redis://{APP_USER}:{app_password}@127.0.0.1:{port}/0"
    wait_until_ready("Redis", proc, lambda: bool(_ping(app_url)), log)
    return RedisInstance(url, app_url), proc


def _ping(url: str) -> bool:
    with redis.Redis.from_url(url, socket_connect_timeout=2) as client:
        ok = bool(client.ping())
        client.connection_pool.disconnect()
        return ok


def clients_by_name(url: str) -> dict[str, int]:
    """Server-side truth: connected clients per CLIENT SETNAME name."""
    with redis.Redis.from_url(url, socket_connect_timeout=5) as client:
        counts: dict[str, int] = {}
        for entry in client.client_list():
            name = entry.get("name", "")
            counts[name] = counts.get(name, 0) + 1
        client.connection_pool.disconnect()
        return counts
