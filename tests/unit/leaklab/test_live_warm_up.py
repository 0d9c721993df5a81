"""The Leaks view's cards give no verdict on a resource before its warm-up is served twice
and a half (as the talk's verdict stage): at 500 requests the fixed app's memory is
UNDECIDED, never a guess one noisy run from a false LEAK."""

from __future__ import annotations

import numpy as np

from leaklab.live import _verdicts_json, told
from leaklab.scenarios import SCENARIOS
from leaklab.story import warm_after
from leaklab.verdict.check import decide_app
from leaklab.verdict.query import AppData, contract
from leaklab.verdict.stats import Series

PER_SCRAPE = 20


def _flat(served: float) -> AppData:
    """Every resource flat (memory with a little noise) over `served` requests."""
    requests = np.arange(0, served + 1, PER_SCRAPE, dtype=float)
    data = AppData(requests=requests, segments=np.zeros(len(requests), dtype=np.int64))
    noise = np.random.default_rng(7).normal(0, 64 * 1024, len(requests))
    for resource in contract():
        flat = np.full(len(requests), 2.0)
        values = 300 * 2**20 + noise if resource.name == "rss" else flat
        data.resources[resource.name] = Series(requests, values)
        data.bounds[resource.name] = None
    return data


def _cards(served: float) -> dict[str, dict[str, object]]:
    data = {"fixed": _flat(served)}
    decisions = {"fixed": decide_app(data["fixed"], contract())}
    return {name: per_app["fixed"] for name, per_app in _verdicts_json(data, decisions).items()}


def test_memory_is_undecided_until_its_warm_up_is_served_then_decided() -> None:
    rss = next(r for r in contract() if r.name == "rss")
    warm = warm_after(rss.warmup_requests)
    early = _cards(500)
    assert warm > 500
    assert early["rss"]["verdict"] == "UNDECIDED"
    assert early["rss"]["growth_per_1k_requests"] is None  # no figure to read as a trend
    assert f"of {warm:.0f} requests" in str(early["rss"]["reason"])
    assert early["rss"]["requests_to_decide"] == int(np.ceil(warm - 500))
    # a resource with no warm-up is decided as before
    assert early["db_connections"]["verdict"] == "NO LEAK"
    late = _cards(2000)
    assert late["rss"]["verdict"] == "NO LEAK", late["rss"]["reason"]


def test_the_stage_layout_knows_each_scenarios_charts_and_cards() -> None:
    stage = told()
    assert stage["story"] == [s.name for s in SCENARIOS.story()] == ["database", "redis"]
    database = stage["scenarios"]["database"]
    assert database["charts"] == ["db_connections", "pool"]
    assert database["resources"] == ["db_connections"]
    assert "rss" in stage["scenarios"]["memo"]["charts"]  # memory is part of its story
    assert "rss" not in stage["scenarios"]["redis"]["charts"]
