"""The fixed strategies: what the talk's second slide shows."""

from __future__ import annotations

import threading

import redis
from psycopg2.extensions import connection
from psycopg2.pool import PoolError, ThreadedConnectionPool

from webapp.resources import FillOnce, pg_pool_connections, redis_pool_connections

POOL_WAIT_SECONDS = 5


class PooledConnections:
    """A bounded pool shared by the worker's threads; every connection goes back in `release`.

    psycopg2's pool refuses at once when all are out; the semaphore makes a request wait
    for one instead, as long as the wait stays short (then: a 503 naming db_pool). Fixed
    size, as HikariCP advises: all connections open at the first request, so the count is
    flat from then on instead of rising with the load's peaks (which reads as a leak).
    """

    def __init__(self, dsn: str, name: str, max_connections: int) -> None:
        self._max = max_connections
        self._pool = ThreadedConnectionPool(  # FIX: bounded, shared, thread-safe
            0, max_connections, dsn, application_name=name, connect_timeout=5
        )
        # psycopg2 closes returned connections above minconn; 0 at start keeps the first
        # connect lazy (after the fork, at the first request), then up to max stay open.
        self._pool.minconn = max_connections
        self._free = threading.BoundedSemaphore(max_connections)
        self._fill = FillOnce(self._pool.getconn, self._pool.putconn, max_connections)

    def acquire(self) -> connection:
        self._fill()  # FIX: fixed size: all connections open at the first request
        if not self._free.acquire(timeout=POOL_WAIT_SECONDS):  # FIX: wait for a free one
            raise PoolError(f"all {self._max} connections in use for {POOL_WAIT_SECONDS} s")
        try:
            return self._pool.getconn()
        except BaseException:
            self._free.release()
            raise

    def release(self, conn: connection) -> None:
        try:
            self._pool.putconn(conn, close=bool(conn.closed))  # FIX: back, even after an error
        finally:
            self._free.release()

    def open_connections(self) -> int:
        return pg_pool_connections(self._pool)[0]

    def pool_max(self) -> int:
        return self._max

    def in_use(self) -> int:
        return pg_pool_connections(self._pool)[1]

    def reset(self) -> int:
        return 0  # nothing leaked, nothing to release


class SharedClient:
    """One Redis client for the whole worker, on a bounded pool its threads wait on.

    Built in create_app, before any request thread runs. redis-py's client and pool are
    thread-safe. Fixed size like the PostgreSQL pool: filled at the first request.
    """

    def __init__(self, url: str, name: str, max_connections: int) -> None:
        pool = redis.BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=5, client_name=name
        )
        self._client = redis.Redis(connection_pool=pool)  # FIX: one client, one bounded pool
        self._max = max_connections
        self._fill = FillOnce(pool.get_connection, pool.release, max_connections)

    def client(self) -> redis.Redis:
        self._fill()
        return self._client

    def open_connections(self) -> int:
        return redis_pool_connections(self._client.connection_pool)

    def pool_max(self) -> int:
        return self._max

    def pools(self) -> int:
        return 1

    def reset(self) -> int:
        return 0  # nothing leaked, nothing to release
