"""redis-py: pools where they are made, connections where they are checked out (pub/sub's
too); a connection back in its pool is shown at the pool's origin."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from leaklab.probe import kinds
from leaklab.probe.patching import checked_in, checked_out, hooks, installed, patch


def install() -> None:
    if not installed("redis"):
        return
    from redis.connection import BlockingConnectionPool, ConnectionPool

    patch(ConnectionPool, "__init__", _pool_init)  # BlockingConnectionPool's calls it
    for pool in (ConnectionPool, BlockingConnectionPool):
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
