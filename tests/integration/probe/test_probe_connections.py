"""leaklab.probe against the session stack's real PostgreSQL, Redis and upstream HTTP
service, in this process: a connection is live until it is closed, and one in a pool is
shown where it was checked out while it is out, at the pool's origin once it is back."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import psycopg2
import psycopg2.pool
import psycopg_pool
import pytest
import redis
import sqlalchemy

from leaklab import probe
from leaklab.probe.registry import Key
from leaklab.settings import ProbeSettings
from leaklab.stack import NativeStack

HERE = Path(__file__).resolve().parent
ME = "test_probe_connections.py"


@pytest.fixture
def probed() -> Iterator[probe.Probe]:
    probe.disable()  # an app built by an earlier test enabled it with its own root
    enabled = probe.enable(str(HERE), settings=ProbeSettings(memory_window=0))
    assert enabled is not None
    try:
        yield enabled
    finally:
        probe.disable()


def at(marker: str, function: str) -> Key:
    """The origin of the line of this file that carries the comment `# <marker>`."""
    lines = (HERE / ME).read_text().splitlines()
    (number,) = [n + 1 for n, text in enumerate(lines) if text.rstrip().endswith(f"# {marker}")]
    return (f"{ME}:{number} {function}", "")


def live(p: probe.Probe, kind: str) -> Counter[Key]:
    return p.registry.live().get(kind, Counter())


def test_psycopg2_connections_and_pool_checkouts(stack: NativeStack, probed: probe.Probe) -> None:
    dsn = stack.state.url("postgres")
    test = "test_psycopg2_connections_and_pool_checkouts"
    conn = psycopg2.connect(dsn, application_name="leaklab-probe-test")  # connect
    assert live(probed, "pg_connection") == {at("connect", test): 1}
    conn.close()
    assert live(probed, "pg_connection") == Counter()

    pool = psycopg2.pool.ThreadedConnectionPool(1, 2, dsn)  # pool
    assert live(probed, "pg_connection") == {at("pool", test): 1}  # opened by the pool
    out = pool.getconn()  # checkout
    assert live(probed, "pg_connection") == {at("checkout", test): 1}
    pool.putconn(out)
    assert live(probed, "pg_connection") == {at("pool", test): 1}  # back: the pool's
    pool.closeall()
    assert live(probed, "pg_connection") == Counter()


def test_psycopg3_connections_and_pool_checkouts(stack: NativeStack, probed: probe.Probe) -> None:
    dsn = stack.state.url("postgres")
    test = "test_psycopg3_connections_and_pool_checkouts"
    # psycopg.connect: bound to the class's connect when psycopg was imported, before enable()
    conn = psycopg.connect(dsn, application_name="leaklab-probe-test")  # psycopg connect
    assert live(probed, "pg_connection") == {at("psycopg connect", test): 1}
    conn.close()
    assert live(probed, "pg_connection") == Counter()

    pool = psycopg_pool.ConnectionPool(dsn, min_size=1, max_size=1, open=True)  # psycopg pool
    pool.wait()  # its connection is opened by a worker thread of the pool
    assert live(probed, "pg_connection") == {at("psycopg pool", test): 1}
    out = pool.getconn()  # psycopg checkout
    assert live(probed, "pg_connection") == {at("psycopg checkout", test): 1}
    pool.putconn(out)
    assert live(probed, "pg_connection") == {at("psycopg pool", test): 1}  # back: the pool's
    with pool.connection() as held:  # psycopg pool connection
        held.execute("SELECT 1")
        assert live(probed, "pg_connection") == {at("psycopg pool connection", test): 1}
    assert live(probed, "pg_connection") == {at("psycopg pool", test): 1}
    pool.close()
    assert live(probed, "pg_connection") == Counter()


def test_sqlalchemy_engines_and_their_checkouts(stack: NativeStack, probed: probe.Probe) -> None:
    url = stack.state.url("postgres").replace("postgresql://", "postgresql+psycopg2://", 1)
    test = "test_sqlalchemy_engines_and_their_checkouts"
    engine = sqlalchemy.create_engine(url, pool_size=1, max_overflow=0)  # engine
    with engine.connect() as conn:  # engine checkout
        conn.execute(sqlalchemy.text("SELECT 1"))
        assert live(probed, "pg_connection") == {at("engine checkout", test): 1}
    assert live(probed, "pg_connection") == {at("engine", test): 1}  # in the engine's pool
    assert live(probed, "sqlalchemy_engine") == {at("engine", test): 1}
    engine.dispose()
    assert live(probed, "pg_connection") == Counter()


def test_redis_pools_connections_and_pubsub(stack: NativeStack, probed: probe.Probe) -> None:
    test = "test_redis_pools_connections_and_pubsub"
    client = redis.Redis.from_url(stack.state.url("redis"))  # client
    client.ping()
    assert live(probed, "redis_pool") == {at("client", test): 1}
    assert live(probed, "redis_connection") == {at("client", test): 1}  # idle in its pool
    pubsub = client.pubsub()
    pubsub.subscribe("leaklab-probe-test")  # subscribe
    # the pool's idle connection, checked out by the subscription: shown where it was
    assert live(probed, "redis_connection") == {at("subscribe", test): 1}
    client.ping()  # a second connection, while the first is subscribed
    assert live(probed, "redis_connection") == {at("client", test): 1, at("subscribe", test): 1}
    pubsub.close()  # redis-py disconnects a subscription's connection as it gives it back
    assert live(probed, "redis_connection") == {at("client", test): 1}
    client.connection_pool.disconnect()
    assert live(probed, "redis_connection") == Counter()
    client.close()


def test_httpx_clients_and_their_sockets(stack: NativeStack, probed: probe.Probe) -> None:
    url = stack.state.url("upstream")
    test = "test_httpx_clients_and_their_sockets"
    client = httpx.Client()  # httpx client
    client.get(f"{url}/health").raise_for_status()
    assert live(probed, "http_session") == {at("httpx client", test): 1}
    assert live(probed, "socket") == {at("httpx client", test): 1}  # kept alive in its pool
    with client.stream("GET", f"{url}/health") as response:  # httpx stream
        # the same socket, in use until the response is closed: shown where it was sent from
        assert live(probed, "socket") == {at("httpx stream", test): 1}
        response.read()
    assert live(probed, "socket") == {at("httpx client", test): 1}  # back in its pool
    client.close()
    assert live(probed, "http_session") == Counter()
    assert live(probed, "socket") == Counter()
