"""The protocol every strategy implements, and what leaky and fixed share.

`leaky.py` and `fixed.py` each hold one short class per resource; everything
else (error mapping, the file-descriptor guard, counting) lives here so the two
files differ only in the lines that leak or fix.
"""

from __future__ import annotations

import errno
import resource
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any, Protocol

import psutil
import psycopg2
import psycopg2.pool
import redis
from psycopg2.extensions import connection


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


_PG_TOO_MANY = ("too many clients", "remaining connection slots", "too many connections")


@contextmanager
def translate_limits() -> Iterator[None]:
    """Turn 'a server or the OS said no more' into ResourceExhausted."""
    try:
        yield
    except psycopg2.pool.PoolError as exc:
        raise ResourceExhausted("db_pool", str(exc)) from exc
    except psycopg2.OperationalError as exc:
        if any(marker in str(exc) for marker in _PG_TOO_MANY):
            raise ResourceExhausted("postgresql_max_connections", str(exc).strip()) from exc
        if "Too many open files" in str(exc):
            raise ResourceExhausted("worker_open_files", str(exc).strip()) from exc
        raise
    except redis.ConnectionError as exc:
        if "max number of clients" in str(exc):
            raise ResourceExhausted("redis_maxclients", str(exc)) from exc
        if "Too many open files" in str(exc) or "Error 24" in str(exc):
            raise ResourceExhausted("worker_open_files", str(exc)) from exc
        raise
    except OSError as exc:
        if exc.errno in (errno.EMFILE, errno.ENFILE):
            raise ResourceExhausted("worker_open_files", str(exc)) from exc
        raise


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


class FillOnce:
    """Opens all of a fixed-size pool's connections once, at the first request (thread-safe).

    A pool that grows with the load's peaks reads as a leak; HikariCP's advice is a fixed
    size. A failed connect gives back what was opened and tries again next time.
    """

    def __init__(
        self, take: Callable[[], Any], give_back: Callable[[Any], None], count: int
    ) -> None:
        self._take, self._give_back, self._count = take, give_back, count
        self._done = False
        self._lock = threading.Lock()

    def __call__(self) -> None:
        if self._done:
            return
        with self._lock:
            if self._done:
                return
            opened = []
            try:
                for _ in range(self._count):
                    opened.append(self._take())
                self._done = True
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


def pg_pool_connections(pool: psycopg2.pool.AbstractConnectionPool) -> tuple[int, int]:
    """Open and checked-out connections of a psycopg2 pool (it has no public counters)."""
    with getattr(pool, "_lock", nullcontext()):  # ThreadedConnectionPool's
        idle: list[connection] = getattr(pool, "_pool")  # noqa: B009
        used: dict[int, connection] = getattr(pool, "_used")  # noqa: B009
        return len(idle) + len(used), len(used)


def pg_connect(dsn: str, name: str) -> connection:
    """Open one connection, tagged with the app's name for pg_stat_activity."""
    return psycopg2.connect(dsn, application_name=name, connect_timeout=5)
