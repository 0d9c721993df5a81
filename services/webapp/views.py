"""The endpoints. They never know which variant runs: they call the strategies.

A scenario's view is a plain function the registry names ("webapp.views:database");
create_app routes it to the scenario's endpoint.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import re
from typing import Any, cast

import psycopg2
import redis
from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import BadRequest, Forbidden, NotFound, Unauthorized

from leaklab import probe
from leaklab.settings import AppSettings
from webapp import metrics
from webapp.resources import (
    Cache,
    Database,
    ResourceExhausted,
    ensure_fd_headroom,
    pg_connect,
    translate_limits,
)
from webapp.schema import PRODUCTS
from webapp.state import Resources

bp = Blueprint("webapp", __name__)
_KEY = re.compile(r"[A-Za-z0-9_:.-]{1,64}")
_WHOLE = re.compile(r"[0-9]{1,9}")  # ASCII only: str.isdigit() also passes '¹', which int() rejects


def current_resources() -> Resources:
    resources: Resources = current_app.extensions["leaklab"]
    return resources


def _shown(raw: str, limit: int = 40) -> str:
    """A client's value quoted in an error message, cut short: echo, never amplify."""
    return repr(raw[:limit]) + ("..." if len(raw) > limit else "")


def check_parameters() -> None:
    """Refuse unknown and repeated parameters before any view runs.

    The query parameters each endpoint takes are in app.config["PARAMETERS"] (from the
    registry); any other is refused, so a typo is not ignored.
    """
    allowed = current_app.config["PARAMETERS"].get(request.endpoint or "", ())
    for name in request.args:
        if name not in allowed:
            takes = ", ".join(allowed) if allowed else "no parameters"
            raise BadRequest(f"unknown parameter {_shown(name)}: {request.path} takes {takes}")
        given = len(request.args.getlist(name))
        if given > 1:
            raise BadRequest(f"{name} must be given once, got it {given} times")


def whole_number(name: str, maximum: int) -> int:
    """The query parameter `name`, a whole number from 1 to maximum (absent: a random one)."""
    raw = request.args.get(name)
    if raw is None:
        return random.randint(1, maximum)
    if not _WHOLE.fullmatch(raw) or not 1 <= int(raw) <= maximum:
        raise BadRequest(f"{name} must be a whole number from 1 to {maximum}, got {_shown(raw)}")
    return int(raw)


def _product_id() -> int:
    return whole_number("id", PRODUCTS)


def _cache_key() -> str:
    raw = request.args.get("key")
    if raw is None:
        return f"product:{random.randint(1, PRODUCTS)}"
    if not _KEY.fullmatch(raw):
        raise BadRequest(
            f"key must be 1-64 characters of letters, digits and _ : . -, got {_shown(raw)}"
        )
    return raw


def database() -> Response:
    """Look one product up in PostgreSQL."""
    product_id = _product_id()
    db = cast(Database, current_resources().strategies["database"])
    ensure_fd_headroom(current_app.config["FD_HEADROOM"])
    with translate_limits():
        conn = db.acquire()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT id, name, price_cents FROM products WHERE id = %s", (product_id,))
            row = cur.fetchone()
    finally:
        db.release(conn)
    if row is None:
        raise NotFound(f"no product {product_id}")
    return jsonify(id=row[0], name=row[1], price_cents=row[2])


def cache() -> Response:
    """Read through the Redis cache: GET, and on a miss compute and SET with a TTL."""
    key = _cache_key()
    ensure_fd_headroom(current_app.config["FD_HEADROOM"])
    with translate_limits():
        client = cast(Cache, current_resources().strategies["redis"]).client()
        cached = client.get(key)
        hit = cached is not None
        value = cached.decode() if isinstance(cached, bytes) else str(cached)
        if not hit:
            value = hashlib.sha256(key.encode()).hexdigest()
            client.set(key, value, ex=current_app.config["CACHE_TTL"])
    return jsonify(key=key, value=value, hit=hit)


@bp.get("/health")
def health() -> Response:
    """Alive: the worker answers."""
    return jsonify(status="ok", variant=current_app.config["VARIANT"])


@bp.get("/ready")
def ready() -> tuple[Response, int]:
    """Ready when PostgreSQL and Redis answer, checked on short-lived connections.

    A failed check says which limit was hit, or just "unavailable": the server's own
    message (addresses, ports, roles) goes to the app log, not to the client.
    """
    checks: dict[str, str] = {}
    settings = current_app.config["LEAKLAB"]
    try:
        with translate_limits():
            conn = pg_connect(settings.database_url, f"{settings.app_name}-ready")
        conn.close()
        checks["postgresql"] = "ok"
    except (psycopg2.Error, ResourceExhausted) as exc:
        checks["postgresql"] = _failed_check("postgresql", exc)
    try:
        with translate_limits():
            with redis.Redis.from_url(settings.redis_url, socket_connect_timeout=2) as client:
                client.ping()
                client.connection_pool.disconnect()
        checks["redis"] = "ok"
    except (redis.RedisError, ResourceExhausted) as exc:
        checks["redis"] = _failed_check("redis", exc)
    ok = all(v == "ok" for v in checks.values())
    return jsonify(status="ready" if ok else "not ready", checks=checks), 200 if ok else 503


def _failed_check(backend: str, exc: Exception) -> str:
    current_app.logger.warning("/ready: %s check failed: %s", backend, _first_line(exc))
    return f"{exc.resource} exhausted" if isinstance(exc, ResourceExhausted) else "unavailable"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@bp.get("/metrics")
def metrics_view() -> Response:
    """Prometheus exposition for every live worker of this app."""
    resources = current_resources()
    if not resources.metrics:
        raise NotFound(f"metrics are off ({AppSettings.variable('metrics')}=off)")
    probe.publish()  # this worker's live objects, fresh (the others write theirs each second)
    body = metrics.exposition(
        resources.multiproc_dir,
        current_app.config["METRICS_REGISTRY"],
        lambda: resources.master_pid,
        current_app.config["UPSTREAM_PORT"],
    )
    return Response(body, mimetype="text/plain; version=0.0.4")


@bp.post("/admin/reset")
def admin_reset() -> Response:
    """Close and drop everything the app holds, in every worker (token required)."""
    expected = current_app.config["ADMIN_TOKEN"]
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        raise Unauthorized("send the admin token as 'Authorization: Bearer <token>'")
    if not expected:
        raise Forbidden(f"admin endpoints are disabled: set {AppSettings.variable('admin_token')}")
    if not hmac.compare_digest(header.removeprefix("Bearer ").encode(), expected.encode()):
        raise Forbidden("wrong admin token")
    return jsonify(current_resources().reset_everywhere())


def exhausted(exc: ResourceExhausted) -> tuple[Response, int]:
    """A JSON 503 naming the resource; what the server said stays in the log."""
    current_app.logger.warning("503: %s exhausted: %s", exc.resource, exc.detail)
    if current_resources().metrics:
        metrics.EXHAUSTED.labels(resource=exc.resource, path=request.path).inc()
    body: dict[str, Any] = {
        "error": f"{exc.resource} exhausted",
        "resource": exc.resource,
        "status": 503,
    }
    return jsonify(body), 503


def unavailable(backend: str, exc: Exception) -> tuple[Response, int]:
    """A JSON 503 naming the backend (not `resource`: Locust reads that as saturation)."""
    current_app.logger.warning("503: %s unavailable: %s", backend, _first_line(exc))
    return jsonify(error="backend unavailable", backend=backend, status=503), 503
