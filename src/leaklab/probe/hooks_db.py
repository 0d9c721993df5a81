"""PostgreSQL: psycopg2 connects and pool checkouts, psycopg 3, SQLAlchemy engines and
their pools' checkouts. Each patched when the module that holds it is imported (at once if
it already is)."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

from leaklab.probe import kinds
from leaklab.probe.imports import when_imported
from leaklab.probe.patching import checked_in, checked_out, hooks, patch


def install() -> None:
    when_imported("psycopg2", _psycopg2)
    when_imported("psycopg2.pool", _psycopg2_pool)  # psycopg2 does not import it itself
    when_imported("psycopg", _psycopg)
    when_imported("psycopg_pool", _psycopg_pool)
    when_imported("sqlalchemy.engine", _sqlalchemy)


def _psycopg2(psycopg2: ModuleType) -> None:
    # psycopg2.connect calls the module's _connect: patched there, `from psycopg2 import
    # connect` made before enable() is recorded too (and so are pools' and SQLAlchemy's);
    # psycopg2 imported after it is patched before its importer gets it
    patch(psycopg2, "_connect", _made(kinds.PG_CONNECTION))


def _psycopg2_pool(module: ModuleType) -> None:
    pool = module.AbstractConnectionPool
    patch(pool, "__init__", _pool_init(kinds.PG_POOL))
    patch(pool, "_connect", _pool_made)
    patch(pool, "_getconn", checked_out(kinds.PG_CONNECTION))
    patch(pool, "_putconn", checked_in)


def _psycopg(psycopg: ModuleType) -> None:
    # Made by cls(pgconn) in Connection.connect: recorded there, psycopg.connect (bound to
    # the original classmethod when psycopg is imported) and pools' connects are recorded too
    patch(psycopg.Connection, "__init__", _init_made(kinds.PG_CONNECTION))


def _psycopg_pool(psycopg_pool: ModuleType) -> None:
    pool = psycopg_pool.ConnectionPool
    patch(pool, "__init__", _pool_init(kinds.PG_POOL))
    patch(pool, "_connect", _pool_made)  # in the pool's worker threads
    patch(pool, "getconn", checked_out(kinds.PG_CONNECTION))
    patch(pool, "putconn", checked_in)


def _made(kind: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def wrap(original: Callable[..., Any]) -> Callable[..., Any]:
        def made(*args: Any, **kwargs: Any) -> Any:
            obj = original(*args, **kwargs)
            if hooks.registry is not None:
                hooks.registry.track(kind, obj)
            return obj

        return made

    return wrap


def _init_made(kind: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    def wrap(original: Callable[..., None]) -> Callable[..., None]:
        def init(self: Any, *args: Any, **kwargs: Any) -> None:
            original(self, *args, **kwargs)
            if hooks.registry is not None:
                hooks.registry.track(kind, self)

        return init

    return wrap


def _pool_init(kind: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Recorded before the pool's own __init__ runs: the connections it opens are its."""

    def wrap(original: Callable[..., None]) -> Callable[..., None]:
        def init(self: Any, *args: Any, **kwargs: Any) -> None:
            if hooks.registry is not None:
                hooks.registry.track(kind, self)
            original(self, *args, **kwargs)

        return init

    return wrap


def _pool_made(original: Callable[..., Any]) -> Callable[..., Any]:
    def made(self: Any, *args: Any, **kwargs: Any) -> Any:
        conn = original(self, *args, **kwargs)
        registry = hooks.registry
        if registry is not None:
            record = registry.find(conn)
            if record is not None:
                record.owner = registry.find(self)
        return conn

    return made


def _sqlalchemy(engine: ModuleType) -> None:
    patch(engine.Engine, "__init__", _engine_init)


def _engine_init(original: Callable[..., None]) -> Callable[..., None]:
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        registry = hooks.registry
        if registry is None:
            return
        record = registry.track(kinds.SQLALCHEMY_ENGINE, self)
        if record is None or self.dialect.name != "postgresql":
            return
        from sqlalchemy import event

        def checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
            if hooks.registry is not None:
                hooks.registry.checkout(kinds.PG_CONNECTION, dbapi_connection, owner=record)

        def checkin(dbapi_connection: Any, _record: Any) -> None:
            if hooks.registry is not None and dbapi_connection is not None:
                hooks.registry.checkin(dbapi_connection)

        event.listen(self, "checkout", checkout)
        event.listen(self, "checkin", checkin)

    return init
