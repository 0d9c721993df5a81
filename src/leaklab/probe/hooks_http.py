"""HTTP clients: requests.Session and httpx.Client where they are made, and their sockets
(urllib3's, httpcore's). A socket idle in a session's pool is shown at the session's
origin; one in use, where the request was sent from."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

from leaklab.probe import kinds
from leaklab.probe.imports import when_imported
from leaklab.probe.patching import checked_in, checked_out, context, hooks, patch


def install() -> None:
    when_imported("requests", _requests)
    when_imported("urllib3.connectionpool", _urllib3)
    when_imported("httpx", _httpx)
    when_imported("httpcore", _httpcore)  # its __init__ imports the private modules below


def _requests(requests: ModuleType) -> None:
    patch(requests.Session, "__init__", _made_session)
    patch(requests.Session, "send", _within_session)
    patch(requests.Session, "close", _closed)


def _urllib3(connectionpool: ModuleType) -> None:
    pool = connectionpool.HTTPConnectionPool
    patch(pool, "__init__", _made_within_session(kinds.HTTP_POOL))
    patch(pool, "_new_conn", _new_conn)
    patch(pool, "_get_conn", checked_out(kinds.SOCKET))
    patch(pool, "_put_conn", checked_in)


def _httpx(httpx: ModuleType) -> None:
    patch(httpx.Client, "__init__", _made_session)
    patch(httpx.Client, "send", _within_session)


def _httpcore(httpcore: ModuleType) -> None:
    from httpcore._sync import connection_pool

    patch(httpcore.HTTPConnection, "__init__", _made_within_session(kinds.SOCKET))
    stream = getattr(connection_pool, "PoolByteStream", None)  # private: both or neither
    if stream is not None:
        patch(httpcore.HTTPConnection, "handle_request", _sending)
        patch(stream, "close", _response_closed)


def _made_session(original: Callable[..., None]) -> Callable[..., None]:
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        outer, context.session = context.session, self  # its pools, made now, are its
        try:
            original(self, *args, **kwargs)
        finally:
            context.session = outer
        if hooks.registry is not None:
            hooks.registry.track(kinds.HTTP_SESSION, self)

    return init


def _within_session(original: Callable[..., Any]) -> Callable[..., Any]:
    def send(self: Any, *args: Any, **kwargs: Any) -> Any:
        outer, context.session = context.session, self
        try:
            return original(self, *args, **kwargs)
        finally:
            context.session = outer

    return send


def _closed(original: Callable[..., None]) -> Callable[..., None]:
    def close(self: Any) -> None:
        original(self)
        if hooks.registry is not None:
            hooks.registry.close(self)

    return close


def _owner() -> Any:
    registry = hooks.registry
    return registry.find(context.session) if registry and context.session is not None else None


def _made_within_session(kind: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """An object made while a session or client sends (a urllib3 pool, httpcore's
    connection: httpx's socket): shown at the session's origin."""

    def wrap(original: Callable[..., None]) -> Callable[..., None]:
        def init(self: Any, *args: Any, **kwargs: Any) -> None:
            original(self, *args, **kwargs)
            if hooks.registry is not None:
                hooks.registry.track(kind, self, owner=_owner())

        return init

    return wrap


def _new_conn(original: Callable[..., Any]) -> Callable[..., Any]:
    def new_conn(self: Any) -> Any:
        conn = original(self)
        registry = hooks.registry
        if registry is not None:
            registry.track(kinds.SOCKET, conn, owner=registry.find(self))
        return conn

    return new_conn


def _sending(original: Callable[..., Any]) -> Callable[..., Any]:
    """httpcore's connection sends a request: shown where it was sent from until the
    response is closed (or the send failed)."""

    def handle_request(self: Any, request: Any) -> Any:
        if hooks.registry is not None:
            hooks.registry.checkout(kinds.SOCKET, self)
        try:
            return original(self, request)
        except BaseException:
            if hooks.registry is not None:
                hooks.registry.checkin(self)
            raise

    return handle_request


def _response_closed(original: Callable[..., None]) -> Callable[..., None]:
    """httpcore's pool hands the connection back as the response closes: checked in
    first, as the close may hand it to a request of another thread."""

    def close(self: Any) -> None:
        conn = getattr(self._pool_request, "connection", None)
        if hooks.registry is not None and conn is not None and not self._closed:
            hooks.registry.checkin(conn)
        original(self)

    return close
