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
    return run(env, "demo", "--run-time", "15s")


def _row(output: str, first_cell: str, after: str = "What each app holds now") -> list[str]:
    """The cells of the first row starting with first_cell in the table titled `after`."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if after in line)
    line = next(line for line in lines[start:] if line.startswith(f"│ {first_cell} "))
    return [cell.strip() for cell in line.split("│")[1:-1]]


def test_demo_tells_the_whole_story_and_exits_zero(
    demo: subprocess.CompletedProcess[str],
) -> None:
    assert demo.returncode == 0, demo.stdout + demo.stderr
    _app, pg, redis_clients, _app_side, _rss = _row(demo.stdout, "leaky")
    assert int(pg) > 20 and int(redis_clients) > 20  # one per request, kept, server-side
    _app, pg, redis_clients, _app_side, _rss = _row(demo.stdout, "fixed")
    assert 1 <= int(pg) <= 20 and 1 <= int(redis_clients) <= 20  # workers x pool max
    verdicts = {
        (cells[0], cells[1]): cells[2]
        for line in demo.stdout.splitlines()
        if line.startswith("│ leaky ") or line.startswith("│ fixed ")
        for cells in [[c.strip() for c in line.split("│")[1:-1]]]
        if len(cells) == 6
    }
    for resource in ("db_connections", "redis_connections"):
        assert verdicts[("leaky", resource)] == "LEAK"
        assert verdicts[("fixed", resource)] == "NO LEAK"
    report = next(line for line in demo.stdout.splitlines() if line.startswith("Report: "))
    assert Path(report.removeprefix("Report: ").strip()).exists()
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
    assert db["leaky"] > 20 >= db["fixed"]

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
    assert served["leaky"] >= 100 and served["fixed"] >= 100
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
    # reports, logs and Prometheus's history stay (issue #12: `check --since` after up)
    assert sorted(p.name for p in run_dir.iterdir()) == ["load", "logs", "prometheus"]
    assert "Prometheus's history stays" in " ".join(result.stdout.split())
    assert {p.name for p in (run_dir / "logs").iterdir()} >= {"postgres.log", "leaky.log"}
    wiped = run(env, "down", "--wipe")
    assert wiped.returncode == 0, wiped.stderr
    assert sorted(p.name for p in run_dir.iterdir()) == ["load", "logs"]
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
