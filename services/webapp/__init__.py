"""One Flask codebase, two variants: `LEAKLAB_VARIANT` picks the strategies once, here."""

from __future__ import annotations

import os

import psycopg2
import redis
from flask import Flask, Request, Response, g, jsonify
from prometheus_client import CollectorRegistry
from prometheus_flask_exporter import PrometheusMetrics
from werkzeug.exceptions import HTTPException

from leaklab.settings import AppSettings


def path(request: Request) -> str:
    """The `path` label of the request metrics: the route template, never the raw path."""
    return request.url_rule.rule if request.url_rule else "<unmatched>"


def create_app(settings: AppSettings | None = None) -> Flask:
    """Build the app for one variant; every connection is made lazily, after the fork."""
    from webapp import fixed, leaky, metrics, views
    from webapp.resources import EXHAUSTIBLE, ResourceExhausted
    from webapp.state import Resources

    settings = settings or AppSettings.from_env(os.environ)
    strategies = leaky if settings.variant == "leaky" else fixed

    app = Flask(__name__)
    app.config.update(
        LEAKLAB=settings,
        VARIANT=settings.variant,
        ADMIN_TOKEN=settings.admin_token,
        CACHE_TTL=settings.cache_ttl_seconds,
        FD_HEADROOM=settings.fd_headroom,
        METRICS_REGISTRY=CollectorRegistry(auto_describe=True),
    )
    resources = Resources(
        db=strategies.Database(settings.database_url, settings.app_name, settings.db_pool_max),
        cache=strategies.Cache(settings.redis_url, settings.app_name, settings.redis_pool_max),
        multiproc_dir=settings.multiproc_dir,
        metrics=settings.metrics,
    )
    app.extensions["leaklab"] = resources
    resources.publish()

    if settings.metrics:  # off only to measure what the metrics cost (bench/)
        for resource in EXHAUSTIBLE:  # every series exists from the start, at 0
            metrics.EXHAUSTED.labels(resource=resource)
        PrometheusMetrics(
            app,
            path=None,
            registry=app.config["METRICS_REGISTRY"],
            group_by=path,  # the label is named after the function
            defaults_prefix="flask",
            excluded_paths=["^/metrics$"],
        )
    app.register_blueprint(views.bp)

    @app.before_request
    def _started() -> None:
        resources.request_started()

    @app.teardown_appcontext
    def _release(exc: BaseException | None) -> None:
        conn = g.pop("db_conn", None)
        if conn is not None:
            resources.db.release(conn)
        resources.request_finished()

    app.register_error_handler(ResourceExhausted, views.exhausted)
    app.register_error_handler(psycopg2.Error, views.unavailable)
    app.register_error_handler(redis.RedisError, views.unavailable)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> tuple[Response, int]:
        return jsonify(error=exc.description, status=exc.code), exc.code or 500

    return app
