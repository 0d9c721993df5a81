"""How many of its real objects a library holds: what the catalog's gauges report.

None of these libraries has public counters for it; each reader takes the library's own
lists (under its lock where it has one), so the figure is what the process holds.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

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
    """The connections a requests.Session's pools keep for reuse (each its socket: open, or
    closed by the server's keep-alive timeout and left in CLOSE_WAIT until reused)."""
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
            with queue.mutex:  # a slot holds None until its connection is first made
                unmade = sum(1 for conn in queue.queue if conn is None)
            count += queue.maxsize - unmade  # idle in the pool, or out serving a request
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
