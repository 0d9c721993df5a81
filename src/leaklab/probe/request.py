"""The endpoint of the request in flight: what objects made now are labelled with.

A WSGI middleware puts the request's environ in a context variable (each thread, and each
asyncio task, has its own). The endpoint is read only when an object is made: the route
template when the framework has matched one (Flask's `url_rule`, through the
`werkzeug.request` Werkzeug leaves in the environ), else PATH_INFO's first two segments.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

_environ: ContextVar[dict[str, Any] | None] = ContextVar("leaklab_probe_environ", default=None)
SEGMENTS = 2
_served = [0]  # requests begun in this process (a race may lose one: it only paces windows)


def served() -> int:
    """About how many requests this process has begun serving through the middleware."""
    return _served[0]


def endpoint() -> str:
    """The endpoint of the request in flight on this thread ("" outside a request)."""
    environ = _environ.get()
    if environ is None:
        return ""
    rule = getattr(environ.get("werkzeug.request"), "url_rule", None)
    template = getattr(rule, "rule", None)
    if isinstance(template, str):
        return template
    path = str(environ.get("PATH_INFO") or "/")
    return "/" + "/".join(path.strip("/").split("/")[:SEGMENTS])


def within_requests(wsgi_app: WSGIApplication) -> WSGIApplication:
    """wsgi_app with each request's environ known to the probe while it runs."""

    def probed(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        _served[0] += 1
        token = _environ.set(environ)
        try:
            return wsgi_app(environ, start_response)
        finally:
            _environ.reset(token)

    return probed
