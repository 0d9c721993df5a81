"""The leaky strategies: what the talk's first slide shows."""

from __future__ import annotations

import redis
from psycopg2.extensions import connection

from webapp.resources import pg_connect, redis_pool_connections

# Module-level, as real code does: these references keep the leaks alive.
_connections: list[connection] = []
_clients: list[redis.Redis] = []


class ConnectionPerRequest:
    """Opens a PostgreSQL connection per request and keeps it."""

    def __init__(self, dsn: str, name: str, max_connections: int) -> None:
        self._dsn, self._name = dsn, name

    def acquire(self) -> connection:
        conn = pg_connect(self._dsn, self._name)
        _connections.append(conn)  # LEAK: never closed, never returned
        return conn

    def release(self, conn: connection) -> None:
        """Nothing goes back: the connection stays open, idle in transaction."""

    def open_connections(self) -> int:
        return sum(1 for conn in _connections if not conn.closed)

    def pool_max(self) -> int:
        return 0  # no pool, no bound

    def in_use(self) -> int:
        return self.open_connections()

    def reset(self) -> int:
        released = self.open_connections()
        held = _connections[:]  # other threads only append: the first len(held) are these
        for conn in held:
            conn.close()
        del _connections[: len(held)]
        return released


class ClientPerRequest:
    """Creates a Redis client, with its own connection pool, per request."""

    def __init__(self, url: str, name: str, max_connections: int) -> None:
        self._url, self._name = url, name

    def client(self) -> redis.Redis:
        client = redis.Redis.from_url(self._url, client_name=self._name)
        _clients.append(client)  # LEAK: a client and its pool per request, never closed
        return client

    def open_connections(self) -> int:
        return sum(redis_pool_connections(c.connection_pool) for c in _clients)

    def pool_max(self) -> int:
        return 0  # every client's pool is unbounded, and there is no end to the clients

    def pools(self) -> int:
        return len(_clients)

    def reset(self) -> int:
        released = self.open_connections()
        held = _clients[:]
        for client in held:
            client.close()
            client.connection_pool.disconnect()
        del _clients[: len(held)]
        return released
