"""Gunicorn config hooks: the probe in every worker with no change to the app's code.

In gunicorn.conf.py::

    from leaklab.probe.gunicorn import child_exit, post_worker_init  # noqa: F401

`post_worker_init` wraps the worker's WSGI app in `leaklab.probe.middleware`;
`child_exit` drops a dead worker's multiprocess gauges (prometheus-client's
`mark_process_dead`), which an app in multiprocess mode does already if it has one.
"""

from __future__ import annotations

from typing import Any

from leaklab.probe import middleware
from leaklab.probe.export import multiprocess


def post_worker_init(worker: Any) -> None:
    worker.wsgi = middleware(worker.wsgi)


def child_exit(server: Any, worker: Any) -> None:
    if multiprocess():
        from prometheus_client.multiprocess import mark_process_dead

        mark_process_dead(worker.pid)
