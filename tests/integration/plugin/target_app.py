"""A foreign app the plugin never saw: plain Flask and prometheus_client, no leaklab code.

    /steady   does some work and keeps nothing
    /memory   keeps 4 KiB per call in a module list (a leak of memory)
    /files    opens a file per call and keeps it open (a leak of fds)
    /cached   memoizes into a bounded cache (CACHE_SIZE entries of 4 KiB): fills, then plateaus

Run one Gunicorn worker: prometheus_client's process metrics are that process's.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import tempfile
import threading
from collections import OrderedDict
from typing import IO

from flask import Flask, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

KEPT = 4096
CACHE_SIZE = 300

app = Flask(__name__)
_kept: list[bytes] = []
_files: list[IO[str]] = []
_cache: OrderedDict[int, bytes] = OrderedDict()
_lock = threading.Lock()
_calls = itertools.count()
_dir = tempfile.mkdtemp(prefix="leaklab-target-")


def _work() -> str:
    return hashlib.sha256(os.urandom(64)).hexdigest()


@app.get("/steady")
def steady() -> dict[str, str]:
    return {"digest": _work()}


@app.get("/memory")
def memory() -> dict[str, int]:
    _kept.append(os.urandom(KEPT))  # kept forever
    return {"kept": len(_kept)}


@app.get("/files")
def files() -> dict[str, int]:
    handle = open(os.path.join(_dir, f"{next(_calls) % 8}.log"), "a")  # noqa: SIM115
    handle.write(_work() + "\n")
    _files.append(handle)  # kept open forever
    return {"open": len(_files)}


@app.get("/cached")
def cached() -> dict[str, int]:
    key = next(_calls)
    with _lock:
        _cache[key] = os.urandom(KEPT)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
        return {"entries": len(_cache)}


@app.get("/metrics")
def metrics() -> Response:
    return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)
