"""How many of its real objects a library holds: what the catalog's gauges report.

None of these libraries has public counters for it; each reader takes the library's own
lists (under its lock where it has one), so the figure is what the process holds.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext

import redis
import requests
from sqlalchemy.engine import Engine
from sqlalchemy.pool import QueuePool


def engine_connections(engine: Engine) -> int:
    """The PostgreSQL connections an engine's pool has open: checked in and checked out."""
    pool = engine.pool
    if isinstance(pool, QueuePool):
        return int(pool.checkedin()) + int(pool.checkedout())
    return 0


def session_sockets(session: requests.Session) -> int:
    """The sockets a requests.Session's pools keep open (kept alive between requests)."""
    count = 0
    for adapter in list(session.adapters.values()):
        manager = getattr(adapter, "poolmanager", None)
        if manager is None:
            continue
        for key in list(manager.pools.keys()):
            pool = manager.pools.get(key)
            queue = getattr(pool, "pool", None)
            if queue is None:
                continue
            with queue.mutex:
                idle = list(queue.queue)
            count += sum(1 for conn in idle if conn is not None and conn.sock is not None)
    return count


def executor_threads(executor: ThreadPoolExecutor) -> int:
    """Threads an executor has started and not ended."""
    threads: set[threading.Thread] = getattr(executor, "_threads", set())
    return sum(1 for t in list(threads) if t.is_alive())


def start_threads(executor: ThreadPoolExecutor, count: int) -> None:
    """Start all of an executor's threads now: it starts them lazily, one per busy submit,
    so a fresh pool's thread count rises with the load's peaks (which reads as a leak)."""
    started = threading.Barrier(count + 1)
    for _ in range(count):
        executor.submit(started.wait, 5)
    started.wait(5)


def redis_connected(pool: redis.ConnectionPool) -> int:
    """The connections of a redis-py pool that hold a socket now (a closed PubSub gives its
    connection back disconnected: the pool still lists it)."""
    with getattr(pool, "_lock", nullcontext()):
        listed = [*pool._get_free_connections(), *pool._get_in_use_connections()]
    return sum(1 for conn in listed if getattr(conn, "_sock", None) is not None)
