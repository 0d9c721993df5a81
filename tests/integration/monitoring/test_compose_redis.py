"""docker-compose.yml's Redis command, run by the real redis-server (no Docker engine here)."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis
import yaml

from leaklab.paths import REPO
from leaklab.stack.process import free_port

PASSWORDS = {"REDIS_PASSWORD": "admin-pw", "REDIS_APP_PASSWORD": "app-pw"}


def _substituted(argument: str) -> str:
    """What compose makes of ${VAR:?message} with the .env it is given."""
    return re.sub(r"\$\{([A-Z_]+)[^}]*\}", lambda m: PASSWORDS[m.group(1)], argument)


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    command = [_substituted(a) for a in compose["services"]["redis"]["command"]]
    assert command[0] == "redis-server"
    binary = shutil.which("redis-server")
    assert binary, "redis-server is installed by `make test-packages`"
    port = free_port()
    proc = subprocess.Popen(  # the container's command, on loopback and a free port
        [binary, *command[1:], "--port", str(port), "--bind", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        admin = redis.Redis(host="127.0.0.1", port=port, password="admin-pw")
        deadline = time.monotonic() + 10
        while True:
            try:
                admin.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline and proc.poll() is None, "redis did not start"
                time.sleep(0.1)
        admin.close()
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_apps_user_does_what_the_apps_do_and_nothing_else(port: int) -> None:
    app = redis.Redis.from_url(f"redis://leaklab-app:app-pw@127.0.0.1:{port}/0")
    try:
        app.client_setname("leaklab-leaky")
        app.set("leaklab:x", "1", ex=30)
        assert app.get("leaklab:x") == b"1"
        for refused in (app.flushall, app.client_list, lambda: app.config_get("*"), app.keys):
            with pytest.raises(redis.exceptions.NoPermissionError):
                refused()
    finally:
        app.close()


def test_the_default_user_keeps_what_the_exporter_needs(port: int) -> None:
    admin = redis.Redis(host="127.0.0.1", port=port, password="admin-pw")
    try:
        assert admin.client_list() and admin.info("clients")
    finally:
        admin.close()
