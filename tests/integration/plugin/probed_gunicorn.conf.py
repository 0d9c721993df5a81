"""Gunicorn config of a foreign app that enables leaklab.probe without touching its code."""

from leaklab.probe.gunicorn import child_exit, post_worker_init  # noqa: F401
