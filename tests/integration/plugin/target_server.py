"""The foreign app (target_app.py) under Gunicorn, one worker, on a free port: for the plugin's
tests and bench/plugin.py. One worker, so prometheus_client's process metrics are the app's."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from leaklab.stack.process import free_port, wait_until_ready

HERE = Path(__file__).resolve().parent


def start(
    log: Path,
    name: str = "target",
    app: str = "target_app:app",
    options: tuple[str, ...] = ("--workers", "1"),
    env: dict[str, str] | None = None,
) -> tuple[subprocess.Popen[bytes], str]:
    """Start it, wait until it answers; the process (the caller stops it) and its URL.

    app, options, env: another app (probed_app.py), Gunicorn's options, its environment.
    """
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "--no-control-socket", *options]
            + ["--threads", "8", "--bind", f"127.0.0.1:{port}", app],
            cwd=HERE,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(name, proc, lambda: requests.get(f"{url}/steady", timeout=1).ok, log)
    except BaseException:
        stop(proc)
        raise
    return proc, url


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait()


@contextmanager
def serving(log: Path) -> Iterator[str]:
    """The app's URL for the block; stopped after it."""
    proc, url = start(log)
    try:
        yield url
    finally:
        stop(proc)
