"""Every dashboard query parses in the real Prometheus and shows both apps under load."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

import requests

from leaklab.paths import REPO
from leaklab.stack import NativeStack
from leaklab.stack.process import free_port
from leaklab.stack.state import RunState

DASHBOARD = json.loads((REPO / "dashboards" / "leaklab.json").read_text())


def _exprs() -> list[tuple[str, str]]:
    found = []
    for panel in DASHBOARD["panels"]:
        for target in panel.get("targets", []):
            found.append((panel["title"], target["expr"]))
    return found


def _query(state: RunState, expr: str) -> list[dict[str, Any]]:
    response = requests.get(
        f"{state.url('prometheus')}/api/v1/query", params={"query": expr}, timeout=10
    )
    body = response.json()
    assert response.status_code == 200 and body["status"] == "success", (expr, body)
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def test_every_expression_parses(state: RunState) -> None:
    annotations = [a["expr"] for a in DASHBOARD["annotations"]["list"] if a.get("expr")]
    for expr in [e for _, e in _exprs()] + annotations:
        _query(state, expr)  # a parse error is a 400 "bad_data"


def test_every_panel_shows_both_apps_during_a_locust_run(
    stack: NativeStack, state: RunState
) -> None:
    env = {
        **os.environ,
        "LEAKLAB_RUN_DIR": str(stack.run_dir),
        "LOCUST_MASTER_BIND_PORT": str(free_port()),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "leaklab.cli",
            "load",
            "--headless",
            "--run-time",
            "25s",
            "--users",
            "10",
            "--spawn-rate",
            "10",
            "--pace",
            "0.2",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        missing: dict[str, set[str]] = {}
        deadline = time.monotonic() + 22
        time.sleep(8)  # a few scrapes of Locust and the apps under load
        while time.monotonic() < deadline:
            missing = {}
            for title, expr in _exprs():
                apps = {r["metric"].get("app") for r in _query(state, expr)}
                if not {"leaky", "fixed"} <= apps:
                    missing[f"{title}: {expr}"] = apps
            if not missing:
                break
            time.sleep(1)
        assert not missing, f"panels without data for both apps: {missing}"
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == 0
