"""The catalog's endpoints: real work against real servers, through the variant's strategy.

Each view does what production code does around the leak (a query per tenant, a call to
an upstream service, a fan-out, a memoized render, a notification, an order log line, an
export) and leaves the leaking or the fixing to its strategy.
"""

from __future__ import annotations

import time
from typing import cast

from flask import Response, current_app, jsonify
from sqlalchemy import text
from werkzeug.exceptions import NotFound

from webapp.resources import (
    Exports,
    Fanout,
    Memo,
    OrderLog,
    Receipts,
    Subscriptions,
    Tenants,
    Upstream,
    ensure_fd_headroom,
    ensure_thread_headroom,
    translate_limits,
)
from webapp.schema import PRODUCTS
from webapp.views import current_resources, whole_number

TENANTS = 1_000_000  # tenant ids: nearly every request meets a new one
ORDERS = 1_000_000
SKUS = 20  # price sheets and exports: a small catalog, so the fixed memo fills early
MESSAGE_WAIT_SECONDS = 2.0


def _strategy(name: str) -> object:
    return current_resources().strategies[name]


def _fd_headroom() -> None:
    ensure_fd_headroom(current_app.config["FD_HEADROOM"])


def tenants() -> Response:
    """One product's price for one tenant, through that tenant's SQLAlchemy engine."""
    tenant = whole_number("tenant", TENANTS)
    product = tenant % PRODUCTS + 1
    _fd_headroom()
    with translate_limits():
        engine = cast(Tenants, _strategy("tenant_engines")).engine(str(tenant))
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT id, name, price_cents FROM products WHERE id = :id"), {"id": product}
            ).one_or_none()
    if row is None:
        raise NotFound(f"no product {product}")
    return jsonify(tenant=tenant, id=row.id, name=row.name, price_cents=row.price_cents)


def stock() -> Response:
    """A sku's stock, asked of the upstream inventory service over HTTP."""
    sku = whole_number("sku", SKUS)
    upstream = current_app.config["LEAKLAB"].upstream_url
    if not upstream:
        raise NotFound("no upstream service is configured (LEAKLAB_UPSTREAM_URL)")
    _fd_headroom()
    with translate_limits():
        session = cast(Upstream, _strategy("http_sessions")).session()
        answer = session.get(f"{upstream}/stock", params={"sku": sku}, timeout=5)
    answer.raise_for_status()
    return jsonify(sku=sku, stock=answer.json()["stock"])


def quotes() -> Response:
    """A sku's price in three currencies, worked out on a thread pool."""
    sku = whole_number("sku", SKUS)
    ensure_thread_headroom(current_app.config["LEAKLAB"].thread_limit)
    with translate_limits():
        executor = cast(Fanout, _strategy("executors")).executor()
        future = executor.submit(_prices, sku)  # one task: one thread per request, at most
        prices = future.result(timeout=5)
    return jsonify(sku=sku, prices=prices)


def _prices(sku: int) -> dict[str, int]:
    cents = 100 + sku * 7
    return {"EUR": cents, "USD": cents * 108 // 100, "GBP": cents * 85 // 100}


def price_sheet() -> Response:
    """A sku's rendered price sheet (16 KiB), memoized."""
    sku = whole_number("sku", SKUS)
    sheet = cast(Memo, _strategy("memo")).quote(sku)
    return jsonify(sku=sku, bytes=len(sheet), head=sheet[:16].decode())


def notify() -> Response:
    """Subscribe to an order's channel, publish its update, and wait for it to come back."""
    order = whole_number("order", ORDERS)
    channel = f"orders:{order}"
    strategy = cast(Subscriptions, _strategy("pubsub"))
    _fd_headroom()
    with translate_limits():
        pubsub = strategy.subscribe(channel)
        try:
            strategy.client().publish(channel, f"order {order} shipped")
            message = _first_message(pubsub)
        finally:
            strategy.done(pubsub)
    return jsonify(order=order, channel=channel, delivered=message is not None)


def _first_message(pubsub: object) -> object:
    deadline = time.monotonic() + MESSAGE_WAIT_SECONDS
    while time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.1)  # type: ignore[attr-defined]
        if message is not None:
            return message
    return None


def order_log() -> Response:
    """Write the order's line to the order log."""
    order = whole_number("order", ORDERS)
    _fd_headroom()
    with translate_limits():
        logger = cast(OrderLog, _strategy("loggers")).logger(order)
        logger.warning("order %s placed", order)
    return jsonify(order=order, logged=True)


def export() -> Response:
    """Append a sku's price line to its export file; how long the file is now."""
    sku = whole_number("sku", SKUS)
    _fd_headroom()
    with translate_limits(), cast(Exports, _strategy("files")).export(sku) as out:
        out.write(f"{sku},{100 + sku * 7},{time.time():.3f}\n")
        out.flush()
        size = out.tell()
    return jsonify(sku=sku, bytes=size)


def receipt() -> Response:
    """An order's receipt, rendered (8 KiB) and summarized."""
    order = whole_number("order", ORDERS)
    with cast(Receipts, _strategy("exit_hooks")).render(order) as rendered:
        body = rendered.body or b""
        return jsonify(order=order, bytes=len(body), head=body[:16].decode())
