"""The protocol every strategy implements, and what leaky and fixed share.

`leaky.py` and `fixed.py` each hold one short class per resource; everything
else (error mapping, the file-descriptor guard, counting) lives here so the two
files differ only in the lines that leak or fix.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import gc
import logging
import resource
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, Protocol, TextIO, TypeVar

import psutil
import psycopg2
import psycopg2.pool
import redis
import requests
import sqlalchemy.exc
from psycopg2.extensions import connection
from redis.client import PubSub
from sqlalchemy.engine import Engine

from webapp.work import Receipt


class ResourceExhausted(Exception):
    """A limit was reached: answered as a JSON 503 naming the resource."""

    def __init__(self, resource: str, detail: str) -> None:
        super().__init__(f"{resource}: {detail}")
        self.resource = resource
        self.detail = detail


class Strategy(Protocol):
    """What every scenario's leaky and fixed class does besides its own work.

    Built once per worker with the AppSettings attributes its scenario names; the
    registry's gauges name the methods that report its figures.
    """

    def reset(self) -> int:
        """Close what it leaked; how many it released."""
        ...


class Database(Strategy, Protocol):
    """Hands out PostgreSQL connections for one request."""

    def acquire(self) -> connection: ...
    def release(self, conn: connection) -> None: ...
    def open_connections(self) -> int: ...
    def pool_max(self) -> int: ...
    def in_use(self) -> int: ...


class Cache(Strategy, Protocol):
    """Hands out a Redis client for one request."""

    def client(self) -> redis.Redis: ...
    def open_connections(self) -> int: ...
    def pool_max(self) -> int: ...
    def pools(self) -> int: ...


class Tenants(Strategy, Protocol):
    """Hands out the SQLAlchemy engine of one tenant."""

    def engine(self, tenant: str) -> Engine: ...


class Upstream(Strategy, Protocol):
    """Hands out the requests.Session a call to the upstream goes through."""

    def session(self) -> requests.Session: ...


class Fanout(Strategy, Protocol):
    """Hands out the thread pool a request fans its work out to."""

    def executor(self) -> ThreadPoolExecutor: ...


class Memo(Strategy, Protocol):
    def quote(self, sku: int) -> bytes: ...


class Receipts(Strategy, Protocol):
    def render(self, order: int) -> AbstractContextManager[Receipt]: ...


class Subscriptions(Strategy, Protocol):
    """A request's subscription, the client it publishes with, and what happens after."""

    def subscribe(self, channel: str) -> PubSub: ...
    def client(self) -> redis.Redis: ...
    def done(self, pubsub: PubSub) -> None: ...


class OrderLog(Strategy, Protocol):
    def logger(self, order: int) -> logging.Logger | logging.LoggerAdapter[logging.Logger]: ...


class Exports(Strategy, Protocol):
    def export(self, sku: int) -> AbstractContextManager[TextIO]: ...


_PG_TOO_MANY = ("too many clients", "remaining connection slots", "too many connections")


def _postgresql_limit(exc: BaseException) -> ResourceExhausted | None:
    """The limit a PostgreSQL error names, if it names one."""
    text = str(exc).strip()
    if any(marker in text for marker in _PG_TOO_MANY):
        return ResourceExhausted("postgresql_max_connections", text)
    if "Too many open files" in text:
        return ResourceExhausted("worker_open_files", text)
    return None


def _redis_limit(exc: redis.ConnectionError) -> ResourceExhausted | None:
    if isinstance(exc, redis.exceptions.MaxConnectionsError):
        return ResourceExhausted("redis_pool", str(exc))
    if "max number of clients" in str(exc):
        return ResourceExhausted("redis_maxclients", str(exc))
    if "Too many open files" in str(exc) or "Error 24" in str(exc):
        return ResourceExhausted("worker_open_files", str(exc))
    return None


def _os_limit(exc: OSError | RuntimeError) -> ResourceExhausted | None:
    if isinstance(exc, OSError) and exc.errno in (errno.EMFILE, errno.ENFILE):
        return ResourceExhausted("worker_open_files", str(exc))
    if isinstance(exc, RuntimeError) and "can't start new thread" in str(exc):
        return ResourceExhausted("worker_threads", str(exc))
    return None


def limit_of(exc: BaseException) -> ResourceExhausted | None:
    """The limit an error says was reached (None: some other failure)."""
    if isinstance(exc, psycopg2.pool.PoolError | sqlalchemy.exc.TimeoutError):
        return ResourceExhausted("db_pool", str(exc))
    if isinstance(exc, psycopg2.OperationalError):
        return _postgresql_limit(exc)
    if isinstance(exc, sqlalchemy.exc.DBAPIError):  # SQLAlchemy wraps the driver's: its .orig
        return _postgresql_limit(exc.orig) if exc.orig is not None else None
    if isinstance(exc, redis.ConnectionError):
        return _redis_limit(exc)
    if isinstance(exc, OSError | RuntimeError):
        return _os_limit(exc)
    return None


@contextmanager
def translate_limits() -> Iterator[None]:
    """Turn 'a server or the OS said no more' into ResourceExhausted."""
    try:
        yield
    except Exception as exc:
        limit = limit_of(exc)
        if limit is None:
            raise
        raise limit from exc


def ensure_fd_headroom(headroom: int) -> None:
    """Refuse to open another socket when the worker nears its open-file limit.

    A sync worker that hits EMFILE in accept() dies; refusing early keeps it
    alive and answering 503, so the demo can show the limit and recover.
    """
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return
    used = psutil.Process().num_fds()
    if used >= soft - headroom:
        raise ResourceExhausted(
            "worker_open_files", f"{used} of {soft} file descriptors open (ulimit -n)"
        )


def ensure_thread_headroom(limit: int) -> None:
    """Refuse a request that could start a thread once the worker has `limit` of them.

    RLIMIT_NPROC does not bind root, and a process out of threads fails in places it
    cannot answer from: the app's own limit keeps the worker answering (503).
    """
    running = threading.active_count()
    if running >= limit:
        raise ResourceExhausted("worker_threads", f"{running} threads running (limit {limit})")


def pg_args(name: str) -> dict[str, object]:
    """psycopg2's connect arguments for one scenario's connections: its name, a timeout."""
    return {"application_name": name, "connect_timeout": 5}


def sqlalchemy_url(dsn: str) -> str:
    """The DSN for SQLAlchemy on psycopg2 (SQLAlchemy 2.1's postgresql:// means psycopg 3)."""
    scheme, sep, rest = dsn.partition("://")
    return f"postgresql+psycopg2://{rest}" if sep and scheme in ("postgresql", "postgres") else dsn


def trim_heap() -> None:
    """Give the memory a reset freed back to the OS (glibc's malloc_trim; elsewhere nothing).

    Freed blocks otherwise stay in the process, and the next run's allocations reuse them
    without RSS moving: a leak measured right after a reset would read as flat.
    """
    gc.collect()
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: RSS may lag a reset there


Held = TypeVar("Held")


def close_held(held: list[Held], close: Callable[[Held], object]) -> None:
    """Close what a module list holds now, and forget it (the leaky variants' reset).

    Requests in other threads only append: the first items of the list are the ones closed.
    """
    closing = held[:]
    for item in closing:
        close(item)
    del held[: len(closing)]


class Once:
    """Call `action` once, at the first request (thread-safe); a failure tries again."""

    def __init__(self, action: Callable[[], object]) -> None:
        self._action = action
        self._done = False
        self._lock = threading.Lock()

    def __call__(self) -> None:
        if self._done:
            return
        with self._lock:
            if not self._done:
                self._action()
                self._done = True


class FillOnce(Once):
    """Opens all of a fixed-size pool's connections once, at the first request (thread-safe).

    A pool that grows with the load's peaks reads as a leak; HikariCP's advice is a fixed
    size. A failed connect gives back what was opened and tries again next time.
    """

    def __init__(
        self, take: Callable[[], Any], give_back: Callable[[Any], None], count: int
    ) -> None:
        super().__init__(self._fill)
        self._take, self._give_back, self._count = take, give_back, count

    def _fill(self) -> None:
        opened = []
        try:
            for _ in range(self._count):
                opened.append(self._take())
        finally:
            for conn in opened:
                self._give_back(conn)


def redis_pool_connections(pool: redis.ConnectionPool) -> int:
    """Count the connections a redis-py pool has created and not discarded.

    Both lists under the pool's (reentrant) lock: a connection moving from one to the
    other in another thread is counted once.
    """
    with getattr(pool, "_lock", nullcontext()):
        free = list(pool._get_free_connections())
        in_use = list(pool._get_in_use_connections())
    return len(free) + len(in_use)


def subscribed(client: redis.Redis, channel: str) -> PubSub:
    """A pub/sub on the channel: it holds a connection of the client's pool until closed."""
    pubsub: PubSub = client.pubsub(ignore_subscribe_messages=True)
    try:
        pubsub.subscribe(channel)
    except BaseException:
        pubsub.close()
        raise
    return pubsub


def pg_pool_connections(pool: psycopg2.pool.AbstractConnectionPool) -> tuple[int, int]:
    """Open and checked-out connections of a psycopg2 pool (it has no public counters)."""
    with getattr(pool, "_lock", nullcontext()):  # ThreadedConnectionPool's
        idle: list[connection] = getattr(pool, "_pool")  # noqa: B009
        used: dict[int, connection] = getattr(pool, "_used")  # noqa: B009
        return len(idle) + len(used), len(used)


def pg_connect(dsn: str, name: str) -> connection:
    """Open one connection, tagged with the app's name for pg_stat_activity."""
    return psycopg2.connect(dsn, application_name=name, connect_timeout=5)
