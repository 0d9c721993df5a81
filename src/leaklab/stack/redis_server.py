"""A throw-away Redis on loopback: no persistence, a password, a client limit."""

from __future__ import annotations

import secrets
import shutil
import subprocess
from pathlib import Path

import redis

from leaklab.stack.process import StackError, start, wait_until_ready


def init_and_start(
    run_dir: Path, port: int, maxclients: int
) -> tuple[str, subprocess.Popen[bytes]]:
    """Start redis-server on 127.0.0.1:port; return its URL and process."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise StackError(
            "redis-server not found. Install it: Debian/Ubuntu 'sudo apt-get install "
            "redis-server', macOS 'brew install redis'"
        )
    home = run_dir / "redis"
    home.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(18)
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
            "--requirepass",
            password,
            "--maxclients",
            str(maxclients),
            "--logfile",
            "",
        ],
        log,
    )
    url = f"redis://:{password}@127.0.0.1:{port}/0"
    wait_until_ready("Redis", proc, lambda: bool(_ping(url)), log)
    return url, proc


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
