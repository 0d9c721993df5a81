"""What Gunicorn's server hooks do: per-worker set-up, and clean-up after a worker dies."""

from __future__ import annotations

import resource
import signal
from typing import Any

from webapp.multiproc import retire_worker
from webapp.state import RESET_SIGNAL, Resources


def limit_open_files(nofile: int) -> None:
    """Lower this worker's soft `ulimit -n` (0 keeps the inherited one)."""
    if nofile:
        _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(nofile, hard), hard))


def worker_ready(worker: Any) -> None:
    """Tell the app its master (to find sibling workers) and listen for resets."""
    resources: Resources = worker.wsgi.extensions["leaklab"]
    resources.master_pid = worker.ppid
    signal.signal(RESET_SIGNAL, resources.on_reset_signal)


def worker_exited(pid: int, multiproc_dir: str | None) -> None:
    """Mark the dead worker for prometheus-client and retire its files."""
    if multiproc_dir:
        retire_worker(pid, multiproc_dir)
