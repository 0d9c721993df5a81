"""Each app's own share of the servers, and no more rights than it needs (issue #12)."""

from __future__ import annotations

import time

import psutil
import psycopg2
import pytest
import redis
import requests

from leaklab.stack import NativeStack
from leaklab.stack.state import RunState


def _admin_query(state: RunState, sql: str) -> list[tuple[object, ...]]:
    conn = psycopg2.connect(state.database_admin_url, application_name="leaklab-test")
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    finally:
        conn.close()


def test_each_app_logs_in_as_its_own_role_with_its_own_connection_limit(
    stack: NativeStack, state: RunState
) -> None:
    roles = dict(
        _admin_query(
            state,
            "SELECT rolname, rolconnlimit FROM pg_roles WHERE rolname LIKE 'leaklab\\_%'"
            " AND rolcanlogin AND NOT rolsuper",
        )
    )
    assert roles == {
        "leaklab_leaky": state.connection_limits["leaky"],
        "leaklab_fixed": state.connection_limits["fixed"],
        "leaklab_monitor": 3,
    }
    s = stack.settings
    assert state.connection_limits["fixed"] > s.workers * s.db_pool_max  # cold pools fit
    assert sum(roles.values()) <= s.pg_max_connections - 3  # the superuser keeps its slots


def _fixed_workers(state: RunState) -> set[int]:
    return {p.pid for p in psutil.Process(state.services["fixed"].pid).children()}


def _reload_fixed(stack: NativeStack, state: RunState) -> None:
    """New workers with empty pools (what a deploy or a crashed worker gives)."""
    old = _fixed_workers(state)
    psutil.Process(state.services["fixed"].pid).send_signal(1)  # SIGHUP: Gunicorn reloads
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = _fixed_workers(state)
        if len(now) == stack.settings.workers and not now & old:
            break
        time.sleep(0.2)
    else:
        raise AssertionError("the fixed app's workers did not restart")
    while requests.get(f"{state.url('fixed')}/health", timeout=5).status_code != 200:
        time.sleep(0.2)


def test_the_fixed_app_serves_with_a_cold_pool_while_the_leaky_one_is_saturated(
    stack: NativeStack, state: RunState
) -> None:
    """It used to answer 20/20 503s: the leaky app had taken every connection."""
    leaky = f"{state.url('leaky')}/api/database"
    for _ in range(stack.settings.pg_max_connections + 10):
        if requests.get(leaky, timeout=10).status_code == 503:
            break
    else:
        raise AssertionError("the leaky app never hit its limit")
    assert requests.get(leaky, timeout=10).json()["resource"] == "postgresql_max_connections"
    held = _admin_query(
        state, "SELECT count(*) FROM pg_stat_activity WHERE usename = 'leaklab_leaky'"
    )
    assert held[0][0] == state.connection_limits["leaky"]  # all it may have, no more

    _reload_fixed(stack, state)
    codes = [
        requests.get(f"{state.url('fixed')}/api/database?id={i}", timeout=10).status_code
        for i in range(1, 21)
    ]
    assert codes == [200] * 20
    assert requests.get(f"{state.url('fixed')}/ready", timeout=10).status_code == 200


def test_the_apps_redis_user_cannot_flush_list_clients_or_reconfigure(state: RunState) -> None:
    app = redis.Redis.from_url(state.url("redis"))
    try:
        app.set("leaklab:test", "1")
        assert app.get("leaklab:test") == b"1"
        for refused in (app.flushall, app.client_list, lambda: app.config_get("*"), app.keys):
            with pytest.raises(redis.exceptions.NoPermissionError):
                refused()
    finally:
        app.close()
    admin = redis.Redis.from_url(state.admin_redis_url())
    try:
        assert admin.acl_whoami() == "default"  # probes and the exporter see everything
        assert admin.client_list()
    finally:
        admin.close()


def test_postgres_exporter_reads_as_a_pg_monitor_role_not_the_superuser(state: RunState) -> None:
    text = requests.get(f"{state.url('postgres-exporter')}/metrics", timeout=10).text
    assert "\npg_up 1" in text
    rows = _admin_query(
        state,
        "SELECT r.rolsuper, pg_has_role(r.oid, 'pg_monitor', 'MEMBER') FROM pg_roles r"
        " WHERE r.rolname = 'leaklab_monitor'",
    )
    assert rows == [(False, True)]
    users = _admin_query(
        state,
        "SELECT DISTINCT usename FROM pg_stat_activity WHERE backend_type = 'client backend'"
        " AND application_name NOT LIKE 'leaklab%'",
    )
    assert ("leaklab_monitor",) in users
    assert ("postgres",) not in users  # nothing but our own probes uses the superuser
