"""A foreign app with leaklab.probe: plain Flask and prometheus_client, and one line of
leaklab (the middleware) or none (the Gunicorn hooks in probed_gunicorn.conf.py).

    /steady   does some work and keeps nothing
    /files    opens a file per call and keeps it open (a leak of fds)
    /memory   keeps KEPT bytes per call in a module list (a leak of memory)
    /metrics  prometheus_client's default registry, or its multiprocess files when
              PROMETHEUS_MULTIPROC_DIR is set (Gunicorn with several workers)
"""

from __future__ import annotations

import hashlib
import itertools
import os
import tempfile
from typing import IO

from flask import Flask, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

import leaklab.probe

KEPT = 32768
_files: list[IO[str]] = []
_kept: list[bytes] = []
_calls = itertools.count()
_dir = tempfile.mkdtemp(prefix="leaklab-probed-")


def create(probe: bool = True) -> Flask:
    app = Flask(__name__)
    if probe:
        app.wsgi_app = leaklab.probe.middleware(app.wsgi_app)  # type: ignore[method-assign]

    @app.get("/steady")
    def steady() -> dict[str, str]:
        return {"digest": hashlib.sha256(os.urandom(64)).hexdigest()}

    @app.get("/files")
    def files() -> dict[str, int]:
        handle = open(os.path.join(_dir, f"{next(_calls) % 8}.log"), "a")  # noqa: SIM115
        handle.write("called\n")
        _files.append(handle)  # kept open forever
        return {"open": len(_files)}

    @app.get("/memory")
    def memory() -> dict[str, int]:
        _kept.append(os.urandom(KEPT))  # kept forever
        return {"kept": len(_kept)}

    @app.get("/metrics")
    def metrics() -> Response:
        registry = REGISTRY
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)

    return app
