"""What Gunicorn's server hooks do: per-worker set-up, and clean-up after a worker dies."""

from __future__ import annotations

import json
import resource
import signal
import socket
import threading
from typing import Any

from gunicorn import util

from webapp.multiproc import retire_worker
from webapp.state import RESET_SIGNAL, Resources


def limit_open_files(nofile: int) -> None:
    """Lower this worker's soft `ulimit -n` (0 keeps the inherited one)."""
    if nofile:
        _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(nofile, hard), hard))


def write_json_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    """Gunicorn's answer to a request it cannot parse (a bad header, an overlong line), as
    JSON like every other error of the apps instead of its HTML page. The client's own
    bytes that Gunicorn echoes are cut short: echo, never amplify."""
    text = mesg or reason
    shown = text[:200] + ("..." if len(text) > 200 else "")
    body = json.dumps({"error": shown, "status": status_int})  # ASCII: non-ASCII is escaped
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    util.write_nonblock(sock, (head + body).encode("latin1"))


def json_errors() -> None:
    """Make Gunicorn's parse errors JSON in this worker (its workers call util.write_error)."""
    util.write_error = write_json_error


def worker_ready(worker: Any) -> None:
    """Tell the app its master (to find sibling workers) and listen for resets."""
    resources: Resources = worker.wsgi.extensions["leaklab"]
    resources.master_pid = worker.ppid
    signal.signal(RESET_SIGNAL, resources.on_reset_signal)


def start_threads(worker: Any) -> None:
    """Start all of a gthread worker's threads now, not as concurrency first needs them.

    The pool otherwise grows a thread whenever none is idle, for the worker's whole
    life: a thread count that rises with the load's peaks reads as a thread leak.
    """
    pool = getattr(worker, "tpool", None)  # a ThreadPoolExecutor; sync workers have none
    count = int(worker.cfg.threads)
    if pool is None or count < 2:
        return
    everyone = threading.Barrier(count)  # no task ends before all threads exist
    for _ in range(count):
        pool.submit(everyone.wait, 10)


def worker_exited(pid: int, multiproc_dir: str | None) -> None:
    """Mark the dead worker for prometheus-client and retire its files."""
    if multiproc_dir:
        retire_worker(pid, multiproc_dir)
