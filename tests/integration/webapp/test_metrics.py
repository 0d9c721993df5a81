"""The metric contract under real Gunicorn with two workers."""

import os
import random
import signal
import threading
import time
from collections import Counter
from dataclasses import replace
from functools import partial

import psutil
import pytest
import requests
from extra_app import ExtraAppFactory

from leaklab.burst import burst
from leaklab.measure import holdings, scrape
from leaklab.stack import NativeStack, apps
from leaklab.stack.process import free_port, stop, wait_until_ready
from leaklab.stack.state import RunState

CONTRACT = {
    "leaklab_db_connections_open",
    "leaklab_db_pool_max",
    "leaklab_db_pool_in_use",
    "leaklab_redis_connections_open",
    "leaklab_redis_pools",
    "leaklab_redis_pool_max",
}


def _exposition(url: str) -> str:
    return requests.get(f"{url}/metrics", timeout=5).text


@pytest.mark.parametrize("variant", ["leaky", "fixed"])
def test_every_contract_metric_is_exported(state: RunState, variant: str) -> None:
    burst(state.url(variant), 3)
    gauges, rss = scrape(state.url(variant))
    assert CONTRACT <= set(gauges)
    assert len(rss) == 2 and all(v > 10 * 2**20 for v in rss.values())
    text = _exposition(state.url(variant))
    for name in (
        "leaklab_worker_open_fds",
        "leaklab_worker_threads",
        "flask_http_request_duration_seconds_bucket",
        "flask_http_request_total",
    ):
        assert f"\n{name}{{" in text
    assert 'path="/api/database"' in text


def test_app_side_counts_equal_the_server_side_truth(state: RunState) -> None:
    burst(state.url("leaky"), 25)
    held = holdings(state, "leaky")
    assert held.app_metrics["leaklab_db_connections_open"] == held.db_server
    assert held.app_metrics["leaklab_redis_connections_open"] == held.redis_server
    assert held.app_metrics["leaklab_redis_pools"] >= 25


def test_fixed_reports_its_pool_bound(stack: NativeStack, state: RunState) -> None:
    burst(state.url("fixed"), 10)
    gauges, _ = scrape(state.url("fixed"))
    assert gauges["leaklab_db_pool_max"] == stack.settings.db_pool_max * stack.settings.workers
    assert 1 <= gauges["leaklab_db_connections_open"] <= gauges["leaklab_db_pool_max"]
    assert gauges["leaklab_db_pool_in_use"] == 0  # every connection went back
    assert (
        gauges["leaklab_redis_pool_max"] == stack.settings.redis_pool_max * stack.settings.workers
    )
    leaky, _ = scrape(state.url("leaky"))
    assert leaky["leaklab_db_pool_max"] == 0 and leaky["leaklab_redis_pool_max"] == 0  # no bound


def _worker_pids(master: int) -> set[int]:
    return {p.pid for p in psutil.Process(master).children()}


def test_a_killed_worker_disappears_and_its_replacement_appears(
    stack: NativeStack, state: RunState
) -> None:
    url = state.url("fixed")
    burst(url, 20)
    master = state.services["fixed"].pid
    before = _worker_pids(master)
    _, rss = scrape(url)
    assert set(map(int, rss)) == before
    requests_before = _requests_total(url)

    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        now = _worker_pids(master)
        if victim not in now and len(now) == len(before):
            break
        time.sleep(0.1)
    replacement = now - before
    assert len(replacement) == 1

    _, rss = scrape(url)  # the very next scrape
    assert victim not in set(map(int, rss))
    assert set(map(int, rss)) == now

    multiproc = stack.run_dir / "metrics" / "fixed"
    assert not list(multiproc.glob(f"*_{victim}.db")), "the dead worker's files were not cleaned"
    # its requests still count (folded into the archive), so counters never go backwards
    assert _requests_total(url) >= requests_before


def test_scrapes_never_fail_while_workers_are_killed(extra_app: ExtraAppFactory) -> None:
    """Issue #12: 6 of 48 SIGKILLs made a scrape on a sibling worker answer 500.

    A scrape the killed worker itself was serving has no answer to give (its connection
    drops); every scrape that is answered must be a 200, with counters that never fall.
    """
    kills = 24
    with extra_app("fixed-killed", workers=3) as app:
        burst(app.url, 5)
        answers: list[int] = []
        totals: list[float] = []
        dropped = 0
        done = threading.Event()

        def scrape_until_done() -> None:
            nonlocal dropped
            with requests.Session() as session:
                while not done.is_set():
                    try:
                        response = session.get(f"{app.url}/metrics", timeout=10)
                    except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
                        dropped += 1  # the killed worker was serving this one
                        continue
                    answers.append(response.status_code)
                    if response.status_code == 200:
                        totals.append(_requests_total_in(response.text))

        scrapers = [threading.Thread(target=scrape_until_done) for _ in range(3)]
        for thread in scrapers:
            thread.start()
        try:
            for _ in range(kills):
                _wait_for_workers(app.master, 3)
                os.kill(random.choice(sorted(_worker_pids(app.master))), signal.SIGKILL)
                time.sleep(0.3)
            _wait_for_workers(app.master, 3)
        finally:
            done.set()
            for thread in scrapers:
                thread.join(timeout=15)
        failed = Counter(code for code in answers if code != 200)
        assert not failed, f"{sum(failed.values())} of {len(answers)} scrapes failed: {failed}"
        assert len(answers) > 10 * kills, f"only {len(answers)} scrapes ({dropped} dropped)"
        assert "Traceback" not in app.log.read_text()
        # the scrapes are not counted (/metrics is excluded): the count stays, through every death
        assert min(totals) == max(totals) >= 10


def _wait_for_workers(master: int, count: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while len(_worker_pids(master)) < count:
        assert time.monotonic() < deadline, f"Gunicorn {master} did not restore {count} workers"
        time.sleep(0.02)


def _requests_total_in(text: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("flask_http_request_total{")
    )


def _requests_total(url: str) -> float:
    total = 0.0
    for line in _exposition(url).splitlines():
        if line.startswith("flask_http_request_total{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_metrics_can_be_switched_off(stack: NativeStack, state: RunState) -> None:
    """LEAKLAB_METRICS=off (for bench/): the app works, /metrics is a JSON 404."""
    settings = replace(stack.settings, fixed_port=free_port())
    env = apps.app_env(
        "fixed",
        settings,
        state.url("postgres"),
        state.url("redis"),
        apps.fresh_multiproc_dir(stack.run_dir, "fixed-nometrics"),
        state.admin_token,
        {"LEAKLAB_METRICS": "off"},
    )
    proc = apps.start_app(stack.run_dir, env, "fixed-nometrics")
    url = f"http://127.0.0.1:{settings.fixed_port}"
    try:
        wait_until_ready(
            "fixed without metrics",
            proc,
            partial(apps.is_ready, url),
            stack.run_dir / "logs" / "fixed-nometrics.log",
        )
        assert requests.get(f"{url}/api/database?id=3", timeout=5).json()["id"] == 3
        off = requests.get(f"{url}/metrics", timeout=5)
        assert off.status_code == 404 and "LEAKLAB_METRICS=off" in off.json()["error"]
    finally:
        assert stop(proc.pid, psutil.Process(proc.pid).create_time())
