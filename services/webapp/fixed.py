"""The fixed strategies: what the talk's second slide shows."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from typing import TextIO

import redis
import requests
from psycopg2.extensions import connection
from psycopg2.pool import PoolError, ThreadedConnectionPool
from redis.client import PubSub
from requests.adapters import HTTPAdapter
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from webapp.counting import (
    engine_connections,
    executor_threads,
    session_sockets,
    start_threads,
)
from webapp.resources import (
    FillOnce,
    Once,
    pg_args,
    pg_pool_connections,
    redis_pool_connections,
    sqlalchemy_url,
    subscribed,
)
from webapp.work import ORDER_LOGGER, Receipt, drain, exports_dir, order_log, price_sheet

POOL_WAIT_SECONDS = 5
EXECUTOR_THREADS = 4  # per worker, all started at the first request
MEMO_ENTRIES = 64  # price sheets per worker (16 KiB each)
HTTP_SOCKETS = 4  # kept-alive sockets to the upstream, per worker
PUBSUB_CONNECTIONS = 17  # 16 threads subscribed still leave one for a publisher: no deadlock


class PooledConnections:
    """A bounded pool: every connection goes back.

    Shared by the worker's threads; `release` gives each connection back. psycopg2's pool
    refuses at once when all are out; the semaphore makes a request wait for one instead,
    as long as the wait stays short (then: a 503 naming db_pool). Fixed
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
        self._fill()  # FIX: fixed size, filled once
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


# The catalog's fixes (README, "The scenarios").
class SharedEngine:
    """One SQLAlchemy engine for every tenant, on a bounded pool; the tenant is a parameter."""

    def __init__(self, dsn: str, name: str, pool_max: int) -> None:
        self._max = pool_max
        self._engine = create_engine(  # FIX: one engine, one bounded pool
            sqlalchemy_url(dsn),
            pool_size=pool_max,
            max_overflow=0,
            pool_timeout=POOL_WAIT_SECONDS,
            pool_pre_ping=True,
            connect_args=pg_args(f"{name}-tenants"),
        )
        self._fill = FillOnce(self._engine.pool.connect, lambda c: c.close(), pool_max)

    def engine(self, tenant: str) -> Engine:
        self._fill()
        return self._engine

    def open_connections(self) -> int:
        return engine_connections(self._engine)

    def pool_max(self) -> int:
        return self._max

    def engines(self) -> int:
        return 1

    def reset(self) -> int:
        return 0


class SharedSession:
    """One requests.Session per worker, its pool bounded: the threads share its sockets."""

    def __init__(self, url: str) -> None:
        self._session = requests.Session()
        # max_retries: once more for a GET on a kept-alive socket the upstream just closed
        adapter = HTTPAdapter(
            pool_connections=1, pool_maxsize=HTTP_SOCKETS, pool_block=True, max_retries=1
        )
        self._session.mount("http://", adapter)  # FIX: one session, at most HTTP_SOCKETS
        health = f"{url}/health"
        self._fill = FillOnce(lambda: self._session.get(health, stream=True), drain, HTTP_SOCKETS)

    def session(self) -> requests.Session:
        self._fill()
        return self._session

    def open_sockets(self) -> int:
        return session_sockets(self._session)

    def pool_max(self) -> int:
        return HTTP_SOCKETS

    def reset(self) -> int:
        return 0


class SharedExecutor:
    """One bounded thread pool per worker, its threads started with it."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=EXECUTOR_THREADS)  # FIX: one, bounded
        self._start = Once(lambda: start_threads(self._executor, EXECUTOR_THREADS))

    def executor(self) -> ThreadPoolExecutor:
        self._start()
        return self._executor

    def threads(self) -> int:
        return executor_threads(self._executor)

    def pool_max(self) -> int:
        return EXECUTOR_THREADS

    def reset(self) -> int:
        return 0


class BoundedMemo:
    """Memoizes each price sheet by its sku alone, at most MEMO_ENTRIES of them."""

    @staticmethod
    @functools.lru_cache(maxsize=MEMO_ENTRIES)  # FIX: bounded, keyed by what the sheet needs
    def _sheet(sku: int) -> bytes:
        return price_sheet(sku)

    def quote(self, sku: int) -> bytes:
        return self._sheet(sku)

    def entries(self) -> int:
        return self._sheet.cache_info().currsize

    def max_entries(self) -> int:
        return MEMO_ENTRIES

    def reset(self) -> int:
        return 0


class ClosedSubscriptions:
    """Subscribes per request and unsubscribes when it is answered: the connection goes back."""

    def __init__(self, url: str, name: str, pool_max: int) -> None:
        pool = redis.BlockingConnectionPool.from_url(
            url,
            max_connections=PUBSUB_CONNECTIONS,
            timeout=POOL_WAIT_SECONDS,
            client_name=f"{name}-pubsub",
        )
        self._client = redis.Redis(connection_pool=pool)
        self._fill = FillOnce(pool.get_connection, pool.release, PUBSUB_CONNECTIONS)

    def subscribe(self, channel: str) -> PubSub:
        return subscribed(self.client(), channel)

    def client(self) -> redis.Redis:
        self._fill()
        return self._client

    def done(self, pubsub: PubSub) -> None:
        pubsub.close()  # FIX: unsubscribed, its connection back in the pool

    def open_connections(self) -> int:
        return redis_pool_connections(self._client.connection_pool)

    def pool_max(self) -> int:
        return PUBSUB_CONNECTIONS

    def reset(self) -> int:
        return 0


class OneLogger:
    """One logger and one file for every order; the order goes into each record."""

    def __init__(self, files_dir: str) -> None:
        self._logger = logging.getLogger(ORDER_LOGGER)
        self._logger.propagate = False
        path = str(order_log(files_dir))
        if not any(getattr(h, "baseFilename", None) == path for h in self._logger.handlers):
            self._logger.addHandler(logging.FileHandler(path))  # FIX: one handler, one file

    def logger(self, order: int) -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
        return logging.LoggerAdapter(self._logger, {"order": order})  # FIX: a field, not a name

    def loggers(self) -> int:
        return 1

    def reset(self) -> int:
        return 0


class ClosedFiles:
    """Appends each export to its file and closes it."""

    def __init__(self, files_dir: str) -> None:
        self._dir = exports_dir(files_dir)

        self._open = 0
        self._lock = threading.Lock()

    @contextmanager
    def export(self, sku: int) -> Iterator[TextIO]:
        with open(self._dir / f"sku-{sku}.csv", "a") as export:  # FIX: closed when done
            self._count(+1)
            try:
                yield export
            finally:
                self._count(-1)

    def _count(self, change: int) -> None:
        with self._lock:
            self._open += change

    def open_files(self) -> int:
        return self._open

    def reset(self) -> int:
        return 0


class ClosedReceipts:
    """Renders each receipt and closes it when the request is answered: nothing is kept."""

    @contextmanager
    def render(self, order: int) -> Iterator[Receipt]:
        with closing(Receipt(order)) as receipt:  # FIX: closed with the request, not at exit
            yield receipt

    def exit_hooks(self) -> int:
        return 0

    def reset(self) -> int:
        return 0
