"""redis-py: pools where they are made, connections where they are checked out (pub/sub's
too); a connection back in its pool is shown at the pool's origin."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

from leaklab.probe import kinds
from leaklab.probe.imports import when_imported
from leaklab.probe.patching import checked_in, checked_out, hooks, patch


def install() -> None:
    when_imported("redis.connection", _redis)


def _redis(connection: ModuleType) -> None:
    patch(connection.ConnectionPool, "__init__", _pool_init)  # BlockingConnectionPool's calls it
    for pool in (connection.ConnectionPool, connection.BlockingConnectionPool):
        if "get_connection" in pool.__dict__:
            patch(pool, "get_connection", checked_out(kinds.REDIS_CONNECTION))
        if "release" in pool.__dict__:
            patch(pool, "release", checked_in)


def _pool_init(original: Callable[..., None]) -> Callable[..., None]:
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        if hooks.registry is not None:
            hooks.registry.track(kinds.REDIS_POOL, self)
        original(self, *args, **kwargs)

    return init
