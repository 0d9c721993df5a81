"""A memory window asked for over HTTP, in every worker: what `check` does after a memory LEAK.

Windows are off by default (a worker's first leaves a step in its RSS), so the allocation
sites of a memory leak are read once the leak is decided: `POST /leaklab/memory-window?
seconds=2` with `Authorization: Bearer <LEAKLAB_PROBE_TOKEN>` (our apps: their admin token),
while the load still runs. One process opens its window at its probe's next tick. Under
Gunicorn the worker that answers cannot reach its siblings, so it writes the request into
the multiprocess directory and each worker's probe thread, which looks at that file every
tick, opens its own window within a second. `leaklab_allocation_window_end_seconds` (the
earliest of the live workers') tells the caller when every worker's window has closed.
"""

from __future__ import annotations

import hmac
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

WINDOW_PATH = "/leaklab/memory-window"
REQUEST_FILE = "leaklab_memory_window.request"  # not *.db: prometheus-client never reads it
MAX_SECONDS = 10.0  # tracemalloc costs about 2/3 of throughput while a window runs
DEFAULT_SECONDS = 2.0


class WindowRequests:
    """The request file in the multiprocess directory: written by the worker that was asked,
    watched by each worker's probe thread."""

    def __init__(self, directory: str) -> None:
        self.path = os.path.join(directory, REQUEST_FILE)
        self._seen: int | None = None

    def ask(self, seconds: float) -> None:
        fd, temporary = tempfile.mkstemp(dir=os.path.dirname(self.path), prefix=".window-")
        with os.fdopen(fd, "w") as out:
            json.dump({"seconds": seconds}, out)
        os.replace(temporary, self.path)  # atomic: a worker never reads half of it

    def _stamp(self) -> int:
        try:
            st = os.stat(self.path)
        except OSError:
            return 0
        return st.st_mtime_ns ^ st.st_ino  # a new file each time: a new inode

    def mark_seen(self) -> None:
        """What is there now was asked before this worker started: not for it."""
        self._seen = self._stamp()

    def asked(self) -> float:
        """The seconds of a window asked for since the last look (0: none)."""
        stamp = self._stamp()
        if self._seen is None or stamp == self._seen:
            self._seen = stamp if self._seen is None else self._seen
            return 0.0
        self._seen = stamp
        try:
            with open(self.path) as f:
                seconds = float(json.load(f)["seconds"])
        except (OSError, ValueError, KeyError, TypeError):
            return 0.0
        return seconds if 0 < seconds <= MAX_SECONDS else 0.0


def parse_seconds(query: str) -> float:
    """`seconds=2` from a query string (default 2); ValueError with the reason."""
    values = [v for k, _, v in (p.partition("=") for p in query.split("&") if p) if k == "seconds"]
    if not values:
        return DEFAULT_SECONDS
    try:
        seconds = float(values[-1])
    except ValueError:
        raise ValueError(f"seconds must be a number, got {values[-1]!r}") from None
    if not (math.isfinite(seconds) and 0 < seconds <= MAX_SECONDS):
        raise ValueError(f"seconds must be more than 0 and at most {MAX_SECONDS:g}")
    return seconds


def answer(
    environ: WSGIEnvironment,
    start_response: StartResponse,
    token: str,
    ask: Callable[[float], None],
) -> Iterable[bytes]:
    """The window endpoint: 202 once asked; 4xx with a JSON message for anything else."""
    if environ.get("REQUEST_METHOD") != "POST":
        return _json(start_response, 405, {"error": "POST asks for a memory window"}, "POST")
    header = str(environ.get("HTTP_AUTHORIZATION", ""))
    if not header.startswith("Bearer "):
        return _json(start_response, 401, {"error": "send the token as 'Bearer <token>'"})
    if not token:
        return _json(start_response, 403, {"error": "disabled: set LEAKLAB_PROBE_TOKEN"})
    if not hmac.compare_digest(header.removeprefix("Bearer ").encode(), token.encode()):
        return _json(start_response, 403, {"error": "wrong token"})
    try:
        seconds = parse_seconds(str(environ.get("QUERY_STRING", "")))
    except ValueError as exc:
        return _json(start_response, 400, {"error": str(exc)})
    ask(seconds)
    return _json(start_response, 202, {"window_seconds": seconds})


_REASONS = {202: "Accepted", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden"}


def _json(
    start_response: StartResponse, status: int, body: dict[str, object], allow: str = ""
) -> list[bytes]:
    data = json.dumps({**body, "status": status}).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    if allow:
        headers.append(("Allow", allow))
    start_response(f"{status} {_REASONS.get(status, 'Method Not Allowed')}", headers)
    return [data]
