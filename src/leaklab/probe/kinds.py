"""The kinds of objects the probe watches, and how each is judged live when scraped.

A test returns True (live), False (not now: a redis-py connection reconnects) or None
(never again: the record is dropped).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from leaklab.probe.registry import Liveness

PG_CONNECTION = "pg_connection"
REDIS_CONNECTION = "redis_connection"
REDIS_POOL = "redis_pool"
THREAD = "thread"
SOCKET = "socket"
FILE = "file"
SQLALCHEMY_ENGINE = "sqlalchemy_engine"
HTTP_SESSION = "http_session"
LOGGER = "logger"
EXIT_HOOK = "exit_hook"
EXPORTED = frozenset(
    {
        PG_CONNECTION,
        REDIS_CONNECTION,
        REDIS_POOL,
        THREAD,
        SOCKET,
        FILE,
        SQLALCHEMY_ENGINE,
        HTTP_SESSION,
        LOGGER,
        EXIT_HOOK,
    }
)
# Owners only, never exported: their objects are shown at their origin when idle.
PG_POOL, HTTP_POOL, EXECUTOR = "pg_pool", "http_pool", "executor"


def _unless_closed(obj: Any) -> bool | None:
    """psycopg2 (closed: 0 or more), psycopg 3, files, httpx: closed is for good."""
    closed = getattr(obj, "closed", False) or getattr(obj, "is_closed", False) is True
    return None if closed else True


def _connected(obj: Any) -> bool:
    """A redis-py connection: its socket open (it reconnects after a disconnect)."""
    return getattr(obj, "_sock", None) is not None


def _socket_open(obj: Any) -> bool:
    """A urllib3 connection: its socket made and not closed (CLOSE_WAIT still counts);
    an httpcore one: connected and not closed."""
    if hasattr(obj, "sock"):
        return obj.sock is not None
    return getattr(obj, "_connection", None) is not None and not obj.is_closed()


def _running(thread: threading.Thread) -> bool | None:
    return True if thread.is_alive() else None


def _registered(logger: logging.Logger) -> bool | None:
    return True if logger.manager.loggerDict.get(logger.name) is logger else None


LIVENESS: dict[str, Liveness] = {
    PG_CONNECTION: _unless_closed,
    REDIS_CONNECTION: _connected,
    SOCKET: _socket_open,
    FILE: _unless_closed,
    THREAD: _running,
    HTTP_SESSION: _unless_closed,
    LOGGER: _registered,
}
