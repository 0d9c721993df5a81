"""Standard-library kinds: threads (and an executor's, shown at the executor), files,
loggers and exit hooks."""

from __future__ import annotations

import atexit
import builtins
import io
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from leaklab.probe import kinds
from leaklab.probe.patching import context, hooks, patch

_original_start = threading.Thread.start


def start_untracked(thread: threading.Thread) -> None:
    """Start the probe's own thread without recording it."""
    _original_start(thread)


def install() -> None:
    patch(threading.Thread, "start", _start)
    patch(ThreadPoolExecutor, "__init__", _executor_init)
    patch(ThreadPoolExecutor, "_adjust_thread_count", _adjust_thread_count)
    patch(builtins, "open", _open)
    patch(io, "open", _open)
    patch(logging.Manager, "getLogger", _get_logger)
    patch(atexit, "register", _register)
    patch(atexit, "unregister", _unregister)


def _start(original: Callable[..., None]) -> Callable[..., None]:
    def start(self: threading.Thread) -> None:
        original(self)
        if hooks.registry is not None:
            owner = hooks.registry.find(context.executor) if context.executor else None
            hooks.registry.track(kinds.THREAD, self, owner=owner)

    return start


def _executor_init(original: Callable[..., None]) -> Callable[..., None]:
    def init(self: ThreadPoolExecutor, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        if hooks.registry is not None:
            hooks.registry.track(kinds.EXECUTOR, self)

    return init


def _adjust_thread_count(original: Callable[..., None]) -> Callable[..., None]:
    def adjust(self: ThreadPoolExecutor) -> None:
        outer, context.executor = context.executor, self
        try:
            original(self)
        finally:
            context.executor = outer

    return adjust


# The kernel's pseudo-files: psutil and metrics code read and close them many times a
# second (a /metrics scrape, each request's fd check), and recording one costs ~6 us (a
# frame walk past psutil, a weak reference, the lock). A leaked one still counts in fds.
_PSEUDO = ("/proc/", "/sys/")
_PSEUDO_BYTES = (b"/proc/", b"/sys/")


def _pseudo(file: object) -> bool:
    if isinstance(file, str):
        return file.startswith(_PSEUDO)
    return isinstance(file, bytes) and file.startswith(_PSEUDO_BYTES)


def _open(original: Callable[..., Any]) -> Callable[..., Any]:
    def opened(file: Any, *args: Any, **kwargs: Any) -> Any:
        handle = original(file, *args, **kwargs)
        if hooks.registry is not None and not _pseudo(file):
            hooks.registry.track(kinds.FILE, handle)
        return handle

    return opened


def _get_logger(original: Callable[..., logging.Logger]) -> Callable[..., logging.Logger]:
    def get_logger(self: logging.Manager, name: str) -> logging.Logger:
        new = not isinstance(self.loggerDict.get(name), logging.Logger)
        logger = original(self, name)
        if new and hooks.registry is not None and isinstance(logger, logging.Logger):
            hooks.registry.track(kinds.LOGGER, logger)
        return logger

    return get_logger


def _register(original: Callable[..., Any]) -> Callable[..., Any]:
    def register(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        result = original(func, *args, **kwargs)
        if hooks.registry is not None:
            hooks.registry.track(kinds.EXIT_HOOK, func, strong=True)
        return result

    return register


def _unregister(original: Callable[..., None]) -> Callable[..., None]:
    def unregister(func: Callable[..., Any]) -> None:
        original(func)
        if hooks.registry is not None:
            hooks.registry.forget(lambda registered: bool(registered == func), kinds.EXIT_HOOK)

    return unregister
