"""The upstream the http_sessions scenario calls: a small inventory service over HTTP.

Plain WSGI under Gunicorn's threaded worker, which keeps connections alive (a sync worker
answers `Connection: close`, and a client that never reuses its socket would then leak
nothing). The stack runs it (leaklab.stack.upstream), and compose as its own service.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


def _answer(start_response: StartResponse, status: str, body: dict[str, object]) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    )
    return [data]


def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "")
    if path == "/health":
        return _answer(start_response, "200 OK", {"status": "ok"})
    if path != "/stock":
        return _answer(start_response, "404 Not Found", {"error": f"no such path {path[:40]!r}"})
    raw = parse_qs(environ.get("QUERY_STRING", "")).get("sku", [""])[0]
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= 1_000_000:
        return _answer(start_response, "400 Bad Request", {"error": "sku: a whole number"})
    sku = int(raw)
    return _answer(start_response, "200 OK", {"sku": sku, "stock": (sku * 37) % 101})
