"""leaklab.probe with drivers the app imports only after enable(), against the session
stack's real PostgreSQL and Redis, in a fresh interpreter: each is patched as it is
imported, so its connections are recorded where they were made, as when imported before."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from leaklab.stack import NativeStack

HERE = Path(__file__).resolve().parent
HELPER = "helper_connected_later.py"


def at(marker: str) -> str:
    lines = (HERE / HELPER).read_text().splitlines()
    (number,) = [n + 1 for n, text in enumerate(lines) if text.rstrip().endswith(f"# {marker}")]
    return f"{HELPER}:{number} <module>"


def test_drivers_imported_after_enable_record_their_connections(stack: NativeStack) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEAKLAB_", "PROMETHEUS_"))}
    urls = [stack.state.url("postgres"), stack.state.url("redis")]
    done = subprocess.run(
        [sys.executable, str(HERE / HELPER), str(HERE), *urls],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=env,
    )
    live = json.loads(done.stdout)
    assert live["pg_connection"] == {
        at("psycopg2 connect"): 1,  # `from psycopg2 import connect`, imported after enable()
        at("psycopg2 pool"): 1,  # the pool's own, idle in it
        at("psycopg connect"): 1,
    }
    assert live["pg_pool"] == {at("psycopg2 pool"): 1}
    assert live["redis_pool"] == {at("redis client"): 1}
    assert live["redis_connection"] == {at("redis client"): 1}
