"""The leaky strategies: what the talk's first slide shows."""

from __future__ import annotations

import atexit
import functools
import logging
import time
import weakref
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TextIO

import redis
import requests
from psycopg2.extensions import connection
from redis.client import PubSub
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from webapp.counting import (
    engine_connections,
    executor_threads,
    session_sockets,
)
from webapp.resources import (
    close_held,
    pg_args,
    pg_connect,
    redis_pool_connections,
    sqlalchemy_url,
    subscribed,
)
from webapp.work import (
    ORDER_LOGGER,
    Receipt,
    drop_loggers,
    exports_dir,
    order_log,
    order_loggers,
    price_sheet,
)

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
        close_held(_connections, connection.close)
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
        close_held(_clients, _close_client)
        return released


def _close_client(client: redis.Redis) -> None:
    client.close()
    client.connection_pool.disconnect()  # the pool's own connections, whoever made it


# The catalog: leaks production Python really ships (README, "The scenarios").
_engines: dict[str, Engine] = {}
_sessions: list[requests.Session] = []
_executors: list[ThreadPoolExecutor] = []
_subscriptions: list[PubSub] = []
_exports: list[TextIO] = []


class EnginePerTenant:
    """Creates a SQLAlchemy engine for each tenant it meets and caches it: a pool per tenant."""

    def __init__(self, dsn: str, name: str, pool_max: int) -> None:
        self._dsn, self._name = sqlalchemy_url(dsn), f"{name}-tenants"

    def engine(self, tenant: str) -> Engine:
        if tenant not in _engines:  # LEAK: an engine, and its pool's connection, per tenant
            _engines[tenant] = create_engine(self._dsn, connect_args=pg_args(self._name))
        return _engines[tenant]

    def open_connections(self) -> int:
        return sum(engine_connections(e) for e in list(_engines.values()))

    def pool_max(self) -> int:
        return 0  # a pool per tenant, and no end to the tenants

    def engines(self) -> int:
        return len(_engines)

    def reset(self) -> int:
        released = self.open_connections()
        for tenant in list(_engines):
            _engines.pop(tenant).dispose()
        return released


class SessionPerRequest:
    """Opens a requests.Session per call to the upstream, and keeps it."""

    def __init__(self, url: str) -> None:
        self._url = url

    def session(self) -> requests.Session:
        session = requests.Session()
        _sessions.append(session)  # LEAK: a session and its kept-alive socket per request
        return session

    def open_sockets(self) -> int:
        return sum(session_sockets(s) for s in _sessions[:])

    def pool_max(self) -> int:
        return 0

    def reset(self) -> int:
        released = self.open_sockets()
        close_held(_sessions, requests.Session.close)
        return released


class ExecutorPerRequest:
    """Creates a thread pool per request to fan its work out, and never shuts it down."""

    def executor(self) -> ThreadPoolExecutor:
        executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="quote")
        _executors.append(executor)  # LEAK: its threads wait for work forever
        return executor

    def threads(self) -> int:
        return sum(executor_threads(e) for e in _executors[:])

    def pool_max(self) -> int:
        return 0

    def reset(self) -> int:
        released = self.threads()
        close_held(_executors, lambda executor: executor.shutdown(wait=False))
        return released


class MemoPerTimestamp:
    """Memoizes each price sheet by (sku, time): a new entry for every request."""

    @staticmethod
    @functools.cache  # LEAK: unbounded (lru_cache(maxsize=None)), the time in every key
    def _sheet(sku: int, at: int) -> bytes:
        return price_sheet(sku)

    def quote(self, sku: int) -> bytes:
        return self._sheet(sku, time.time_ns())

    def entries(self) -> int:
        return self._sheet.cache_info().currsize

    def max_entries(self) -> int:
        return 0  # no maxsize

    def reset(self) -> int:
        released = self.entries()
        self._sheet.cache_clear()
        return released


class SubscriptionPerRequest:
    """Subscribes to the order's channel per request and never unsubscribes."""

    def __init__(self, url: str, name: str, pool_max: int) -> None:
        self._client = redis.Redis.from_url(url, client_name=f"{name}-pubsub")

    def subscribe(self, channel: str) -> PubSub:
        return subscribed(self._client, channel)

    def client(self) -> redis.Redis:
        return self._client

    def done(self, pubsub: PubSub) -> None:
        _subscriptions.append(pubsub)  # LEAK: still subscribed, its connection never back

    def open_connections(self) -> int:
        return redis_pool_connections(self._client.connection_pool)

    def pool_max(self) -> int:
        return 0  # redis-py's default pool: its limit (100) is where the 503s start

    def reset(self) -> int:
        released = self.open_connections()
        close_held(_subscriptions, PubSub.close)
        self._client.connection_pool.disconnect()  # and the idle publishers
        self._client.connection_pool.reset()  # their connection objects too: a fresh pool
        return released


class LoggerPerRequest:
    """Logs each order to a logger of its own, with a file handler of its own."""

    def __init__(self, files_dir: str) -> None:
        self._path = order_log(files_dir)

    def logger(self, order: int) -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
        logger = logging.getLogger(f"{ORDER_LOGGER}.{order}")  # LEAK: logging keeps them all
        logger.addHandler(logging.FileHandler(self._path))  # LEAK: and an open file each
        logger.propagate = False
        return logger

    def loggers(self) -> int:
        return len(order_loggers())

    def reset(self) -> int:
        return drop_loggers(order_loggers())


class FilePerRequest:
    """Appends each export to its file, keeping the file open for the next one."""

    def __init__(self, files_dir: str) -> None:
        self._dir = exports_dir(files_dir)

    @contextmanager
    def export(self, sku: int) -> Iterator[TextIO]:
        export = open(self._dir / f"sku-{sku}.csv", "a")  # noqa: SIM115
        _exports.append(export)  # LEAK: kept open for next time, never closed
        yield export
        export.flush()

    def open_files(self) -> int:
        return sum(1 for f in _exports[:] if not f.closed)

    def reset(self) -> int:
        released = self.open_files()
        close_held(_exports, lambda export: export.close())
        return released


_receipts: weakref.WeakSet[Receipt] = weakref.WeakSet()  # only to find them again on reset


class ExitHookPerRequest:
    """Renders each receipt and registers its cleanup to run at exit, as a script would."""

    @contextmanager
    def render(self, order: int) -> Iterator[Receipt]:
        receipt = Receipt(order)
        atexit.register(receipt.close)  # LEAK: atexit holds it (and its 8 KiB) until exit
        _receipts.add(receipt)
        yield receipt

    def exit_hooks(self) -> int:
        return len(_receipts)  # alive only because atexit holds them

    def reset(self) -> int:
        held = list(_receipts)
        for receipt in held:
            atexit.unregister(receipt.close)
            receipt.close()
        return len(held)
