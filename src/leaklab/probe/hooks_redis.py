"""redis-py: pools where they are made, connections where they are checked out (pub/sub's
too); a connection back in its pool is shown at the pool's origin."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from leaklab.probe import kinds
from leaklab.probe.hooks_db import _installed
from leaklab.probe.patching import hooks, patch


def install() -> None:
    if not _installed("redis"):
        return
    from redis.connection import BlockingConnectionPool, ConnectionPool

    patch(ConnectionPool, "__init__", _pool_init)  # BlockingConnectionPool's calls it
    for pool in (ConnectionPool, BlockingConnectionPool):
        if "get_connection" in pool.__dict__:
            patch(pool, "get_connection", _get_connection)
        if "release" in pool.__dict__:
            patch(pool, "release", _release)


def _pool_init(original: Callable[..., None]) -> Callable[..., None]:
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        if hooks.registry is not None:
            hooks.registry.track(kinds.REDIS_POOL, self)
        original(self, *args, **kwargs)

    return init


def _get_connection(original: Callable[..., Any]) -> Callable[..., Any]:
    def get_connection(self: Any, *args: Any, **kwargs: Any) -> Any:
        conn = original(self, *args, **kwargs)
        registry = hooks.registry
        if registry is not None:
            registry.checkout(kinds.REDIS_CONNECTION, conn, owner=registry.find(self))
        return conn

    return get_connection


def _release(original: Callable[..., Any]) -> Callable[..., Any]:
    def release(self: Any, connection: Any, *args: Any, **kwargs: Any) -> Any:
        if hooks.registry is not None:
            hooks.registry.checkin(connection)
        return original(self, connection, *args, **kwargs)

    return release
