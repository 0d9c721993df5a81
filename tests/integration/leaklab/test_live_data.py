"""The Leaks view's data on the real stack: charts per app, and the verdicts of `check`."""

from __future__ import annotations

import time

from leaklab.burst import burst
from leaklab.live import LiveView, charts
from leaklab.stack import NativeStack
from leaklab.stack.state import RunState
from leaklab.verdict.check import run_check


def test_snapshot_draws_leaky_climbing_and_fixed_flat_with_checks_verdicts(
    stack: NativeStack, state: RunState
) -> None:
    step = stack.settings.step_seconds
    view = LiveView(state.url("prometheus"), step=step)
    time.sleep(2 * step + 0.5)  # Prometheus sees the emptied apps
    view.run_started_now()
    for _ in range(12):  # a steady trickle, so there are points to fit
        for variant in ("leaky", "fixed"):
            burst(state.url(variant), 5)  # 60 in all: within the leaky role's budget
        time.sleep(step)
    time.sleep(2 * step + 0.5)
    snapshot = view.snapshot()
    assert snapshot["error"] is None
    drawn = {c["key"]: c for c in snapshot["charts"]}
    assert list(drawn) == [c.key for c in charts()]
    for chart in drawn.values():
        for app in ("leaky", "fixed"):
            assert len(chart["series"][app]) == len(chart["lines"])
            assert all(len(line) == len(chart["times"]) for line in chart["series"][app])
    held_by_app = {app: drawn["db_connections"]["series"][app][0] for app in ("leaky", "fixed")}
    leaky = [v for v in held_by_app["leaky"] if v is not None]
    fixed = [v for v in held_by_app["fixed"] if v is not None]
    assert state.connection_limits["leaky"] > 60
    assert leaky[0] <= 2 and leaky[-1] >= 50, leaky  # one per request, kept
    assert max(fixed) <= stack.settings.workers * stack.settings.db_pool_max
    # the pool line exists for fixed only: the leaky app has no pool
    pool_max = drawn["pool"]["series"]
    assert all(v is None for v in pool_max["leaky"][1]) and any(pool_max["fixed"][1])

    verdicts = snapshot["verdicts"]
    result = run_check(state.url("prometheus"), view.apps, view.window())
    for app in result.apps:
        for resource, decision in app.decisions.items():
            assert verdicts[resource][app.name]["verdict"] == decision.verdict.value, resource
    assert verdicts["db_connections"]["leaky"]["verdict"] == "LEAK"
    assert verdicts["redis_connections"]["fixed"]["verdict"] == "NO LEAK"
    rows = {row["resource"]: row for row in view.table_rows()}
    assert rows["PostgreSQL connections"]["leaky"].startswith("LEAK (+")
    assert rows["Redis connections"]["fixed"] == "NO LEAK"


def test_an_unreachable_prometheus_is_reported_not_raised() -> None:
    view = LiveView("http://127.0.0.1:9")
    view.run_started_now()
    snapshot = view.snapshot()
    assert "does not answer" in snapshot["error"]
    assert snapshot["charts"] == [] and snapshot["verdicts"] == {}
