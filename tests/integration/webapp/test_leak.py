"""The leak is real, proved server-side; the fix stays bounded."""

import pytest
import requests

from leaklab.burst import burst
from leaklab.measure import holdings
from leaklab.scenarios import SCENARIOS
from leaklab.stack import NativeStack
from leaklab.stack.state import RunState

N = 40


@pytest.mark.parametrize("variant", ["leaky", "fixed"])
def test_n_requests_and_what_the_servers_see(
    stack: NativeStack, state: RunState, variant: str
) -> None:
    codes = burst(state.url(variant), N)
    assert codes == {200: 2 * N}

    held = holdings(state, variant)
    workers = stack.settings.workers
    if variant == "leaky":
        # exactly one PostgreSQL backend ("idle in transaction") and one Redis client (with
        # its own pool) per request, however the worker's threads interleave them
        assert held.db_server == N
        assert held.redis_server == N
        assert held.app_metrics["leaklab_redis_pools"] == N
    else:
        assert 1 <= held.db_server <= stack.settings.db_pool_max * workers
        assert 1 <= held.redis_server <= stack.settings.redis_pool_max * workers


def test_leaky_connections_stay_idle_in_transaction(state: RunState) -> None:
    import psycopg2

    burst(state.url("leaky"), 5)
    conn = psycopg2.connect(state.database_admin_url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT state, count(*) FROM pg_stat_activity "
                "WHERE application_name = 'leaklab-leaky' GROUP BY state"
            )
            states = dict(cur.fetchall())
    finally:
        conn.close()
    assert states.get("idle in transaction", 0) >= 5


def test_reset_releases_everything_the_leaky_app_holds_in_every_worker(state: RunState) -> None:
    burst(state.url("leaky"), N)
    before = holdings(state, "leaky")
    response = requests.post(
        f"{state.url('leaky')}/admin/reset",
        headers={"Authorization": f"Bearer {state.admin_token}"},
        timeout=10,
    )
    assert response.status_code == 200
    body = response.json()
    released = {"database": before.db_server, "redis": before.redis_server}
    assert {k: body["released"][k] for k in released} == released
    assert body["still_open"] == dict.fromkeys(SCENARIOS.names(), 0)  # every scenario's
    assert body["workers"] == 2
    after = holdings(state, "leaky")
    assert (after.db_server, after.redis_server) == (0, 0)


def test_fixed_stays_bounded_and_returns_every_connection_under_concurrency(
    stack: NativeStack, state: RunState
) -> None:
    """More requests at once than a worker has pooled connections: they wait, none fails."""
    codes = burst(state.url("fixed"), 150, concurrency=48)
    assert codes == {200: 300}
    held = holdings(state, "fixed")
    assert held.app_metrics["leaklab_db_pool_in_use"] == 0  # every connection went back
    assert 1 <= held.db_server <= stack.settings.db_pool_max * stack.settings.workers
    assert held.db_server == held.app_metrics["leaklab_db_connections_open"]
