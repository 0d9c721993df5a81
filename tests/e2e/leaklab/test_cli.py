"""The leaklab command end to end, as a user runs it: demo, status, Prometheus, down."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests

from leaklab.measure import holdings
from leaklab.stack.process import free_port
from leaklab.stack.state import RunState

LEAKLAB = [sys.executable, "-m", "leaklab.cli"]


def run(env: dict[str, str], *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LEAKLAB, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    environ = {
        **os.environ,
        "LEAKLAB_RUN_DIR": str(tmp_path_factory.mktemp("cli-run")),
        "LEAKLAB_LEAKY_PORT": str(free_port()),
        "LEAKLAB_FIXED_PORT": str(free_port()),
        "LEAKLAB_PROMETHEUS_PORT": str(free_port()),
        "COLUMNS": "160",
    }
    yield environ
    run(environ, "down")  # whatever a failed test left running


@pytest.fixture(scope="module")
def demo(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run(env, "demo", "--requests", "30")


def _row(output: str, app: str) -> list[str]:
    """The demo table's cells for one app."""
    line = next(line for line in output.splitlines() if line.startswith(f"│ {app} "))
    return [cell.strip() for cell in line.split("│")[1:-1]]


def test_demo_shows_the_leak_and_exits_zero(demo: subprocess.CompletedProcess[str]) -> None:
    assert demo.returncode == 0, demo.stdout + demo.stderr
    _app, answers, pg, redis_clients, app_side, _rss = _row(demo.stdout, "leaky")
    assert answers == "60x 200"
    assert (pg, redis_clients, app_side) == ("30", "30", "30 / 30")  # one per request, kept
    _app, answers, pg, redis_clients, _app_side, _rss = _row(demo.stdout, "fixed")
    assert answers == "60x 200"
    assert 1 <= int(pg) <= 20 and 1 <= int(redis_clients) <= 20  # workers x pool max
    assert "Traceback" not in demo.stderr


def test_prometheus_has_the_contract_series_for_both_apps(
    env: dict[str, str], demo: subprocess.CompletedProcess[str]
) -> None:
    state = RunState.load(Path(env["LEAKLAB_RUN_DIR"]))
    assert state is not None
    api = f"{state.url('prometheus')}/api/v1/query"
    truth = {variant: holdings(state, variant) for variant in ("leaky", "fixed")}

    def query(expr: str) -> dict[str, float]:
        result = requests.get(api, params={"query": expr}, timeout=5).json()["data"]["result"]
        return {r["metric"]["app"]: float(r["value"][1]) for r in result}

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # wait for a scrape after the burst
        db = query("leaklab_db_connections_open")
        redis_open = query("leaklab_redis_connections_open")
        expected_db = {v: float(h.db_server) for v, h in truth.items()}
        expected_redis = {v: float(h.redis_server) for v, h in truth.items()}
        if db == expected_db and redis_open == expected_redis:
            break
        time.sleep(0.5)
    assert db == expected_db
    assert redis_open == expected_redis
    assert db["leaky"] == 30

    for name in ("leaklab_db_pool_max", "leaklab_db_pool_in_use", "leaklab_redis_pools"):
        assert set(query(name)) == {"leaky", "fixed"}, name
    for name in (
        "leaklab_worker_resident_memory_bytes",
        "leaklab_worker_open_fds",
        "leaklab_worker_threads",
    ):
        per_worker = query(f"count by (app) ({name})")
        assert per_worker == {"leaky": 2.0, "fixed": 2.0}, name
    served = query('sum by (app) (flask_http_request_total{status="200"})')
    assert served["leaky"] >= 60 and served["fixed"] >= 60
    assert query('up{job="leaklab-apps"}') == {"leaky": 1.0, "fixed": 1.0}


def test_status_shows_every_service_healthy(
    env: dict[str, str], demo: subprocess.CompletedProcess[str]
) -> None:
    result = run(env, "status")
    assert result.returncode == 0, result.stdout + result.stderr
    for service in ("postgres", "redis", "leaky", "fixed", "prometheus"):
        assert service in result.stdout
    assert "password" not in result.stdout and ":@" not in result.stdout


def test_up_again_keeps_the_running_stack(
    env: dict[str, str], demo: subprocess.CompletedProcess[str]
) -> None:
    before = RunState.load(Path(env["LEAKLAB_RUN_DIR"]))
    result = run(env, "up")
    assert result.returncode == 0
    assert "already running" in result.stdout
    after = RunState.load(Path(env["LEAKLAB_RUN_DIR"]))
    assert before is not None and after is not None
    assert {k: s.pid for k, s in before.services.items()} == {
        k: s.pid for k, s in after.services.items()
    }


def test_a_taken_port_is_a_clear_error(env: dict[str, str]) -> None:
    other = {**env, "LEAKLAB_RUN_DIR": env["LEAKLAB_RUN_DIR"] + "-other"}
    result = run(other, "up")  # the first stack holds these ports
    assert result.returncode == 2
    assert "is in use" in result.stderr and "LEAKLAB_LEAKY_PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_down_leaves_nothing_running_and_only_logs(
    env: dict[str, str], demo: subprocess.CompletedProcess[str]
) -> None:
    run_dir = Path(env["LEAKLAB_RUN_DIR"])
    state = RunState.load(run_dir)
    assert state is not None
    pids = [s.pid for s in state.services.values()]
    result = run(env, "down")
    assert result.returncode == 0, result.stderr
    assert not [
        pid
        for pid in pids
        if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    ]
    assert sorted(p.name for p in run_dir.iterdir()) == ["logs"]
    assert {p.name for p in (run_dir / "logs").iterdir()} >= {"postgres.log", "leaky.log"}
    again = run(env, "status")
    assert again.returncode == 2 and "no stack" in again.stderr


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("LEAKLAB_LEAKY_PORT", "eighty", "LEAKLAB_LEAKY_PORT must be a whole number"),
        ("LEAKLAB_DATABASE_URL", "mysql://x", "LEAKLAB_DATABASE_URL must be a URL"),
    ],
)
def test_bad_settings_get_one_line_and_exit_2(
    env: dict[str, str], variable: str, value: str, message: str
) -> None:
    result = run({**env, variable: value}, "status")
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
