"""Replacing a library's function with one that records, once, reversibly."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from leaklab.probe.imports import forget
from leaklab.probe.registry import Registry

MARK = "__leaklab_probe__"
_undo: list[Callable[[], None]] = []


def patch(owner: Any, name: str, wrap: Callable[[Any], Callable[..., Any]]) -> None:
    """owner.name = wrap(original), unless it is already ours (enable() twice)."""
    original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
    if getattr(original, MARK, False):
        return
    wrapped = wrap(original)
    functools.update_wrapper(wrapped, original)
    setattr(wrapped, MARK, True)
    setattr(owner, name, wrapped)
    _undo.append(lambda: setattr(owner, name, original))


def unpatch_all() -> None:
    """Put every original back, and patch nothing imported later (tests)."""
    forget()
    while _undo:
        _undo.pop()()


class Context(threading.local):
    """What the thread is inside of: a session's request, an executor's thread start.

    Objects made there (a urllib3 pool, a pool's thread) belong to it.
    """

    session: Any = None
    executor: Any = None


context = Context()


class Hooks:
    """The registry the installed wrappers record into (one per process)."""

    registry: Registry | None = None


hooks = Hooks()


def checked_out(kind: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A pool's checkout: the object is shown where it was checked out, until checked in."""

    def wrap(original: Callable[..., Any]) -> Callable[..., Any]:
        def checkout(self: Any, *args: Any, **kwargs: Any) -> Any:
            conn = original(self, *args, **kwargs)
            registry = hooks.registry
            if registry is not None and conn is not None:
                registry.checkout(kind, conn, owner=registry.find(self))
            return conn

        return checkout

    return wrap


def checked_in(original: Callable[..., Any]) -> Callable[..., Any]:
    """A pool's check-in: the object is shown at its pool's origin again."""

    def checkin(self: Any, conn: Any, *args: Any, **kwargs: Any) -> Any:
        if hooks.registry is not None and conn is not None:
            hooks.registry.checkin(conn)
        return original(self, conn, *args, **kwargs)

    return checkin
