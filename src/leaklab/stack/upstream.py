"""The upstream HTTP service the http_sessions scenario calls, under Gunicorn on loopback."""

from __future__ import annotations

import os
import sys

import requests

from leaklab.stack.executor import Executor, Launched, Up
from leaklab.stack.process import RUN_DIR_VAR, start

# Seconds Gunicorn keeps an idle connection: long enough that a client's socket is reused
# (or, leaked, stays open), short enough that a leaked one soon sits in CLOSE_WAIT.
KEEPALIVE_SECONDS = 5


# Gunicorn's arguments for the upstream, natively and in docker-compose.yml (tested alike).
GUNICORN_ARGS = (
    "--worker-class",
    "gthread",
    "--workers",
    "1",
    "--threads",
    "8",
    "--keep-alive",
    str(KEEPALIVE_SECONDS),
    "--worker-connections",
    "4000",
    "--no-control-socket",
    "--error-logfile",
    "-",
)
APP = "webapp.upstream:app"


class UpstreamServer(Executor):
    """webapp.upstream under Gunicorn's threaded worker, which keeps connections alive."""

    name, title = "upstream", "the upstream service"

    def launch(self, up: Up) -> Launched:
        s = up.settings
        port = up.port(s.upstream_port)
        argv = [sys.executable, "-m", "gunicorn", *GUNICORN_ARGS, "--bind", f"{s.host}:{port}", APP]
        env = {**os.environ, RUN_DIR_VAR: str(up.run_dir.absolute())}
        # from the run directory: in services/ Gunicorn would read the apps' gunicorn.conf.py
        proc = start(argv, self.log(up.run_dir), env=env, cwd=up.run_dir)
        return Launched(f"http://{s.host}:{port}", proc)

    def ready(self, launched: Launched) -> bool:
        return requests.get(f"{launched.url}/health", timeout=2).ok

    def check(self, url: str) -> str:
        requests.get(f"{url}/health", timeout=3).raise_for_status()
        return "ok"
