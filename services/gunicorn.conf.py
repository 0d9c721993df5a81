"""Gunicorn configuration for both variants (settings come from the environment).

Threaded workers (gthread), not sync: a sync worker reads a request with the whole
process, so two clients that send half a request line each made an app with two
workers unavailable until Gunicorn killed them (30 s). gthread's main loop accepts and
waits for a new connection's first bytes without a thread (up to 5 s), but in Gunicorn
27.0.1 a thread that has read part of a request reads the rest with a blocking socket
and no timeout: each such slow client holds a thread until it finishes or hangs up.
So a worker has more threads than the slow clients it should outlast; past that, only a
buffering proxy in front helps (Gunicorn's deployment advice).
"""

import os

from leaklab.settings import AppSettings
from webapp import gunicorn_hooks

_settings = AppSettings.from_env(os.environ)

wsgi_app = "webapp:create_app()"
bind = [_settings.bind]
workers = _settings.workers
worker_class = "gthread"
threads = 16  # per worker; started at boot (gunicorn_hooks.start_threads)
# Connections per worker, kept-alive ones included. With the threads, fewer than the
# fd headroom at which the app refuses to open sockets: accept() never meets EMFILE,
# which would end the worker (and with it the leak the demo shows).
worker_connections = max(threads + 4, _settings.fd_headroom - threads - 8)
keepalive = 2
preload_app = False  # pools and clients are created after the fork, in each worker
proc_name = f"leaklab-{_settings.variant}"
timeout = 30
graceful_timeout = 10
accesslog = None
errorlog = "-"
loglevel = "info"


def post_fork(server, worker):  # type: ignore[no-untyped-def]
    gunicorn_hooks.limit_open_files(_settings.worker_nofile)
    gunicorn_hooks.json_errors()


def post_worker_init(worker):  # type: ignore[no-untyped-def]
    gunicorn_hooks.worker_ready(worker)
    gunicorn_hooks.start_threads(worker)


def child_exit(server, worker):  # type: ignore[no-untyped-def]
    gunicorn_hooks.worker_exited(worker.pid, _settings.multiproc_dir)
