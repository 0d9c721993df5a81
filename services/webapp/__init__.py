"""One Flask codebase, two variants: `LEAKLAB_VARIANT` picks the strategies once, here."""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import psycopg2
import redis
import requests
import sqlalchemy.exc
from flask import Flask, Request, Response, g, jsonify, request
from prometheus_client import CollectorRegistry
from prometheus_flask_exporter import PrometheusMetrics
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as WerkzeugResponse

from leaklab import probe
from leaklab.scenarios import SCENARIOS, Scenario
from leaklab.settings import AppSettings

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

INTERNAL_ERROR = "internal server error: the app log has the details"
# leaklab.probe: this package is application code shown as services/webapp/, wherever it
# is installed (the image: site-packages); the helpers both variants share are passed over,
# so an origin names the leaky.py or fixed.py line that called them; the metrics' own code
# is no origin (a memory window named /metrics' figures the leaky app's RSS origin)
PACKAGE = Path(__file__).resolve().parent
HELPERS = tuple(
    str(PACKAGE / name)
    for name in ("resources.py", "work.py", "counting.py", "metrics.py", "multiproc.py")
)


def path(request: Request) -> str:
    """The `path` label of the request metrics: the route template, never the raw path."""
    return request.url_rule.rule if request.url_rule else "<unmatched>"


def named(spec: str) -> Any:
    """The object a registry string names: "webapp.leaky:ConnectionPerRequest"."""
    module, _, attribute = spec.partition(":")
    return getattr(importlib.import_module(module), attribute)


def strategy(scenario: Scenario, settings: AppSettings) -> Any:
    """The variant's class of one scenario, built with the settings the scenario names."""
    cls = named(scenario.leaky if settings.variant == "leaky" else scenario.fixed)
    return cls(*(getattr(settings, name) for name in scenario.settings))


def _instrument(app: Flask, scenarios: list[Scenario]) -> None:
    """The contract's series, all present from the start (at 0), and the request metrics."""
    from webapp import metrics

    for resource in SCENARIOS.exhaustible():
        metrics.EXHAUSTED.labels(resource=resource, path="")  # the sum starts at 0
    for scenario in scenarios:  # a scenario registered after import (tests) too
        for spec in scenario.all_gauges:
            metrics.gauge(spec)
    PrometheusMetrics(
        app,
        path=None,
        registry=app.config["METRICS_REGISTRY"],
        group_by=path,  # the label is named after the function
        defaults_prefix="flask",
        excluded_paths=["^/metrics$"],
    )


def _route(app: Flask, scenarios: list[Scenario]) -> None:
    """Each scenario's view on its endpoint (GET), and the parameter check before any view."""
    from webapp import views

    for scenario in scenarios:
        app.add_url_rule(
            scenario.endpoint,
            endpoint=f"scenario.{scenario.name}",
            view_func=named(scenario.view),
            methods=["GET"],
        )
    app.before_request(views.check_parameters)


def create_app(settings: AppSettings | None = None) -> Flask:
    """Build the app for one variant; every connection is made lazily, after the fork."""
    from webapp import views
    from webapp.resources import ResourceExhausted
    from webapp.state import Resources

    settings = settings or AppSettings.from_env(os.environ)
    scenarios = list(SCENARIOS)

    app = Flask(__name__)
    # first: the strategies' pools, made next, are recorded too
    app.wsgi_app = probe.middleware(  # type: ignore[method-assign,assignment]
        app.wsgi_app,
        skip=HELPERS,
        packages={str(PACKAGE): "services/webapp"},
        token=settings.admin_token,  # POST /leaklab/memory-window: check, after a memory LEAK
    )
    app.config.update(
        LEAKLAB=settings,
        VARIANT=settings.variant,
        ADMIN_TOKEN=settings.admin_token,
        CACHE_TTL=settings.cache_ttl_seconds,
        FD_HEADROOM=settings.fd_headroom,
        UPSTREAM_PORT=urlsplit(settings.upstream_url).port or 0 if settings.upstream_url else 0,
        METRICS_REGISTRY=CollectorRegistry(auto_describe=True),
        PARAMETERS={f"scenario.{s.name}": (s.request.param,) for s in scenarios},
    )
    resources = Resources(
        scenarios=scenarios,
        strategies={s.name: strategy(s, settings) for s in scenarios},
        multiproc_dir=settings.multiproc_dir,
        metrics=settings.metrics,
    )
    app.extensions["leaklab"] = resources
    resources.publish()

    if settings.metrics:  # off only to measure what the metrics cost (bench/)
        _instrument(app, scenarios)
    app.register_blueprint(views.bp)
    _route(app, scenarios)

    @app.before_request
    def _started() -> None:
        resources.request_started()
        g.counted = True  # finished once, by the teardown of this request's context only

    @app.teardown_appcontext
    def _finished(exc: BaseException | None) -> None:
        if g.pop("counted", False):
            resources.request_finished()

    app.register_error_handler(ResourceExhausted, views.exhausted)
    app.register_error_handler(psycopg2.Error, partial(views.unavailable, "postgresql"))
    app.register_error_handler(redis.RedisError, partial(views.unavailable, "redis"))
    app.register_error_handler(
        sqlalchemy.exc.SQLAlchemyError, partial(views.unavailable, "postgresql")
    )
    app.register_error_handler(requests.RequestException, partial(views.unavailable, "upstream"))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> WerkzeugResponse:
        """Werkzeug's own response (its Allow, Location headers), with a JSON body."""
        response = exc.get_response()
        response.set_data(json.dumps({"error": exc.description or exc.name, "status": exc.code}))
        response.content_type = "application/json"
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> tuple[Response, int]:
        """Last resort: the traceback goes to the log, the client gets a JSON 500."""
        app.logger.exception("unhandled %s on %s", type(exc).__name__, request.path)
        return jsonify(error=INTERNAL_ERROR, status=500), 500

    app.wsgi_app = _json_last_resort(app.wsgi_app, app.logger)  # type: ignore[method-assign,assignment]
    return app


def _json_last_resort(wsgi_app: WSGIApplication, logger: logging.Logger) -> WSGIApplication:
    """Catch what escapes Flask's handlers (a failing teardown, a failing handler).

    Without it Gunicorn answers such a request with its own HTML page.
    """

    def guarded(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = False

        def tracked(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            nonlocal started
            started = True
            return start_response(status, headers, exc_info)

        try:
            return wsgi_app(environ, tracked)
        except Exception:
            logger.exception("unhandled error outside the view on %s", environ.get("PATH_INFO"))
            body = json.dumps({"error": INTERNAL_ERROR, "status": 500}).encode()
            headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            # a second start_response needs exc_info (PEP 3333); the server re-raises it
            # only if the first response's headers were already sent
            start_response(
                "500 INTERNAL SERVER ERROR", headers, sys.exc_info() if started else None
            )
            return [body]

    return guarded
