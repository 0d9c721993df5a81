"""Which memory LEAKs check locates after the verdict, and what load each window gets."""

from __future__ import annotations

import numpy as np

from leaklab.memory_sites import unlocated
from leaklab.scenarios import SCENARIOS
from leaklab.verdict.check import AppVerdict, CheckResult
from leaklab.verdict.endpoints import EndpointGrowth
from leaklab.verdict.origins import Origin
from leaklab.verdict.query import AppData, Window, contract
from leaklab.verdict.stats import Decision, Verdict

LEAKY = {"memo_entries", "rss", "exit_hooks", "db_connections"}
MEMO, ORDERS = SCENARIOS.get("memo").endpoint, SCENARIOS.get("exit_hooks").endpoint


def result(leaking: set[str], origins: dict[str, list[Origin]] | None = None) -> CheckResult:
    grid = np.arange(0.0, 600.0, 20.0)
    data = AppData(requests=grid, segments=np.zeros(len(grid), dtype=np.int64))
    apps = []
    for name, leaks in (("leaky", leaking), ("fixed", set())):
        decisions = {
            r.name: Decision(Verdict.LEAK if r.name in leaks else Verdict.NO_LEAK, "", 600.0)
            for r in contract()
        }
        app = AppVerdict(name, f'app="{name}"', data, decisions, origins=dict(origins or {}))
        apps.append(app)
    # a saturated app's refusals name endpoints that do not grow memory: never loaded
    refused = EndpointGrowth("/api/stock", 1.0, (0.5, 2.0), 100, Verdict.LEAK, "refusals")
    apps[0].endpoints["rss"] = [refused]
    return CheckResult("http://prometheus", Window(0, 60, 1), contract(), apps)


def test_each_memory_leak_gets_a_window_loading_the_endpoints_that_grow_it() -> None:
    plan = unlocated(result(LEAKY), ["/api/database", MEMO, ORDERS])
    assert set(plan) == {"leaky"}  # the fixed app leaks nothing: no window there
    # the memo's entries: its endpoint only; RSS: the leaking scenarios that grow it
    assert plan["leaky"] == {(MEMO,): ["memo_entries"], (MEMO, ORDERS): ["rss"]}


def test_a_memory_leak_already_located_or_no_memory_leak_needs_no_window() -> None:
    site = Origin("services/webapp/leaky.py:194 MemoPerTimestamp._sheet", None, 9e6, 9e6, "bytes")
    located = unlocated(result(LEAKY, {"memo_entries": [site], "rss": [site]}), [MEMO])
    assert located == {}
    assert unlocated(result({"db_connections"}), [MEMO]) == {}  # objects: their own origins


def test_with_no_scenario_growing_it_rss_loads_the_run_s_endpoints() -> None:
    plan = unlocated(result({"rss"}), ["/api/database", "/api/redis"])
    assert plan == {"leaky": {("/api/database", "/api/redis"): ["rss"]}}
