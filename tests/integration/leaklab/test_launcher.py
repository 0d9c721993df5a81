"""The launcher on servers that already run, and its clean shutdown."""

from pathlib import Path

import psutil
import requests

from leaklab.stack import NativeStack
from leaklab.stack.native import private_settings
from leaklab.stack.process import is_running
from leaklab.stack.state import RunState


def test_a_stack_on_servers_that_already_run(state: RunState, tmp_path: Path) -> None:
    """With LEAKLAB_DATABASE_URL/REDIS_URL set, only the apps and Prometheus are started."""
    settings = private_settings(
        # the admin URL: each role's CONNECTION LIMIT is the session stack's own app's
        tmp_path,
        database_url=state.database_admin_url,
        redis_url=state.admin_redis_url(),
    )
    second = NativeStack(settings)
    try:
        started = second.up()
        assert started.services["postgres"].external and started.services["redis"].external
        for variant in ("leaky", "fixed"):
            response = requests.get(f"{started.url(variant)}/api/database?id=7", timeout=5)
            assert response.json()["id"] == 7
        assert all(row.healthy for row in second.status())
    finally:
        stopped = dict(second.down())
    # everything it started, never the servers it did not start
    assert set(stopped) == {
        "prometheus",
        "leaky",
        "fixed",
        "postgres-exporter",
        "redis-exporter",
        "upstream",
    }
    for name in ("postgres", "redis"):
        service = state.services[name]
        assert is_running(service.pid, service.started)


def test_down_stops_every_process_of_an_app(stack: NativeStack, tmp_path: Path) -> None:
    settings = private_settings(
        tmp_path,
        database_url=stack.state.url("postgres"),
        redis_url=stack.state.admin_redis_url(),
    )
    other = NativeStack(settings)
    state = other.up()
    family = [psutil.Process(state.services["leaky"].pid)]
    family += family[0].children(recursive=True)
    assert len(family) == 1 + settings.workers
    other.down()
    assert not [p for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    # logs and Prometheus's history stay; --wipe removes the history
    assert sorted(p.name for p in tmp_path.iterdir()) == ["logs", "prometheus"]
    other.down(wipe=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["logs"]
