"""`leaklab load` as a user runs it: headless, web UI, distributed, shapes, bad input.

Locust always runs in subprocesses: it monkey-patches with gevent.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from leaklab.burst import burst
from leaklab.scenarios import SCENARIOS
from leaklab.stack import NativeStack
from leaklab.stack.process import free_port
from leaklab.stack.state import RunState

LEAKLAB = [sys.executable, "-m", "leaklab.cli"]


@pytest.fixture
def env(stack: NativeStack) -> dict[str, str]:
    return {
        **os.environ,
        "LEAKLAB_RUN_DIR": str(stack.run_dir),
        "LOCUST_MASTER_BIND_PORT": str(free_port()),
        "LOCUST_WEB_PORT": str(free_port()),
    }


def load(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LEAKLAB, "load", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_load(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*LEAKLAB, "load", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def latest_run(stack: NativeStack) -> Path:
    return max((stack.run_dir / "load").iterdir(), key=lambda p: p.stat().st_mtime)


def requests_per_app(run_dir: Path) -> dict[str, int]:
    with open(run_dir / "stats_stats.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["Name"] != "Aggregated"]
    counts: dict[str, int] = {}
    for row in rows:
        app = row["Name"].split(" ", 1)[0]
        counts[app] = counts.get(app, 0) + int(row["Request Count"])
    return counts


def locust_metrics(port: int) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=3).text
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def poll(check: Callable[[], bool], timeout: float, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        try:
            if check():
                return
        except (requests.RequestException, KeyError, ValueError):
            pass
        time.sleep(0.3)
    raise AssertionError("condition not met in time")


def apps_in(series: dict[tuple[tuple[str, str], ...], float]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for labels, value in series.items():
        app = dict(labels).get("app", "")
        totals[app] = totals.get(app, 0.0) + value
    return totals


def test_headless_run_loads_both_apps_alike_and_exports_its_figures(
    stack: NativeStack, state: RunState, env: dict[str, str]
) -> None:
    proc = start_load(
        env,
        "--headless",
        "--run-time",
        "10s",
        "--users",
        "20",
        "--spawn-rate",
        "20",
        "--pace",
        "0.25",
    )
    port = state.locust_metrics_port

    def figures_flow() -> bool:
        m = locust_metrics(port)
        requests_by_app = apps_in(m["locust_requests_total"])
        latency = [
            v for k, v in m["locust_response_time_seconds"].items() if ("quantile", "0.95") in k
        ]
        return (
            min(requests_by_app.get("leaky", 0), requests_by_app.get("fixed", 0)) > 0
            and all(v > 0 for v in latency)
            and len(latency) == 2 * len(SCENARIOS)  # each app, each scenario's endpoint
            and apps_in(m["locust_users"]) == {"leaky": 10, "fixed": 10}
            and m["locust_running"][()] == 1
        )

    poll(figures_flow, 15, proc)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert "Traceback" not in out

    run_dir = latest_run(stack)
    for name in ("stats_stats.csv", "stats_stats_history.csv", "report.html"):
        assert (run_dir / name).stat().st_size > 0, name
    assert "leaky /api/database" in (run_dir / "report.html").read_text()
    counts = requests_per_app(run_dir)
    assert counts["leaky"] > 100 and counts["fixed"] > 100
    # alike, not equal: a leaky request that opens its connections can outlast the pace
    assert abs(counts["leaky"] - counts["fixed"]) <= 0.10 * max(counts.values())

    # the stack's Prometheus scraped Locust's master (its series went stale when it stopped)
    query = f"{state.url('prometheus')}/api/v1/query"
    result = requests.get(
        query,
        params={"query": "sum by (app) (max_over_time(locust_requests_total[2m]))"},
        timeout=5,
    ).json()["data"]["result"]
    assert {r["metric"]["app"] for r in result} == {"leaky", "fixed"}


def test_saturation_fails_the_run_only_when_asked(state: RunState, env: dict[str, str]) -> None:
    burst(state.url("leaky"), 110)  # past max_connections: /api/database now answers 503
    failing = load(
        env,
        "--headless",
        "--run-time",
        "3s",
        "--users",
        "4",
        "--spawn-rate",
        "4",
        "--saturation",
        "failure",
    )
    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert "unexpected failures" in failing.stderr
    expected = load(env, "--headless", "--run-time", "3s", "--users", "4", "--spawn-rate", "4")
    assert expected.returncode == 0, expected.stdout + expected.stderr
    assert "saturation answers (expected)" in expected.stderr


def test_the_web_ui_binds_loopback_and_runs_a_swarm(
    stack: NativeStack, state: RunState, env: dict[str, str]
) -> None:
    web = f"http://127.0.0.1:{env['LOCUST_WEB_PORT']}"
    proc = start_load(env, "--pace", "0.25")
    try:
        poll(lambda: requests.get(web, timeout=2).status_code == 200, 30, proc)
        locust_procs = [p for p in psutil.Process(proc.pid).children(recursive=True)]
        listening = [
            c.laddr
            for p in locust_procs
            for c in p.net_connections("tcp")
            if c.status == psutil.CONN_LISTEN
        ]
        assert listening and all(addr.ip == "127.0.0.1" for addr in listening)

        started = requests.post(
            f"{web}/swarm", data={"user_count": 4, "spawn_rate": 4}, timeout=5
        ).json()
        assert started["success"] is True

        def both_apps_served() -> bool:
            stats = requests.get(f"{web}/stats/requests", timeout=3).json()
            names = {s["name"]: s["num_requests"] for s in stats["stats"]}
            return all(names.get(f"{app} /api/database", 0) > 0 for app in ("leaky", "fixed"))

        poll(both_apps_served, 20, proc)
        requests.post(f"{web}/stop", timeout=5)
        poll(
            lambda: requests.get(f"{web}/stats/requests", timeout=3).json()["state"] == "stopped",
            10,
            proc,
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert (latest_run(stack) / "report.html").exists()


def test_distributed_master_aggregates_both_workers(
    stack: NativeStack, state: RunState, env: dict[str, str]
) -> None:
    users, pace, seconds = 4, 0.5, 8
    proc = start_load(
        env,
        "--headless",
        "--workers",
        "2",
        "--users",
        str(users),
        "--spawn-rate",
        "4",
        "--run-time",
        f"{seconds}s",
        "--pace",
        str(pace),
    )
    port = state.locust_metrics_port

    def two_workers_running() -> bool:
        m = locust_metrics(port)
        return m["locust_workers"][()] == 2 and sum(m["locust_users"].values()) == users

    poll(two_workers_running, 60, proc)
    out, _ = proc.communicate(timeout=90)
    assert proc.returncode == 0, out
    run_dir = latest_run(stack)
    assert {p.name for p in run_dir.glob("worker-*.log")} == {"worker-1.log", "worker-2.log"}
    total = sum(requests_per_app(run_dir).values())
    # one worker alone would carry half the users and send about half of this
    assert total >= 0.75 * users * seconds / pace


def test_a_named_shape_runs_and_stops_by_itself(
    stack: NativeStack, state: RunState, env: dict[str, str]
) -> None:
    result = load(env, "--headless", "--shape", "smoke")
    assert result.returncode == 0, result.stdout + result.stderr
    assert sum(requests_per_app(latest_run(stack)).values()) > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--users", "-3"], "Invalid value for '-u' / '--users'"),
        (["--shape", "ramp"], "'ramp' is not one of 'ci', 'smoke', 'talk'"),
        (["--run-time", "ten"], "'ten' is not a duration"),
        (["--headless"], "--headless needs --run-time or --shape"),
        (["--workers", "-1"], "Invalid value for '--workers'"),
    ],
)
def test_bad_input_gets_a_message_and_exit_2(
    env: dict[str, str], args: list[str], message: str
) -> None:
    result = load(env, *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreachable_app_is_named(env: dict[str, str], state: RunState) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    result = load(
        env,
        "--headless",
        "--run-time",
        "2s",
        "--leaky-url",
        closed,
        "--fixed-url",
        state.url("fixed"),
    )
    assert result.returncode == 2
    assert f"the leaky app at {closed} does not answer" in result.stderr
    assert "Traceback" not in result.stderr
