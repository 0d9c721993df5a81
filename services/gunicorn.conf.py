"""Gunicorn configuration for both variants (settings come from the environment)."""

import os

from leaklab.settings import AppSettings
from webapp import gunicorn_hooks

_settings = AppSettings.from_env(os.environ)

wsgi_app = "webapp:create_app()"
bind = [_settings.bind]
workers = _settings.workers
worker_class = "sync"
preload_app = False  # pools and clients are created after the fork, in each worker
proc_name = f"leaklab-{_settings.variant}"
timeout = 30
graceful_timeout = 10
accesslog = None
errorlog = "-"
loglevel = "info"


def post_fork(server, worker):  # type: ignore[no-untyped-def]
    gunicorn_hooks.limit_open_files(_settings.worker_nofile)


def post_worker_init(worker):  # type: ignore[no-untyped-def]
    gunicorn_hooks.worker_ready(worker)


def child_exit(server, worker):  # type: ignore[no-untyped-def]
    gunicorn_hooks.worker_exited(worker.pid, _settings.multiproc_dir)
