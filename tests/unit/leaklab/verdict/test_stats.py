"""The decision on synthetic series whose truth we know."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leaklab.verdict.stats import (
    Rules,
    Series,
    Verdict,
    decide,
    requests_to_settle,
    theil_sen,
)

CONNECTIONS = Rules(threshold_per_1k=2.0)
RSS = Rules(threshold_per_1k=512 * 1024.0)
MiB = 2**20


def requests(n: int = 120, per_point: float = 20.0) -> np.ndarray:
    return np.arange(n) * per_point


def noisy(values: np.ndarray, scale: float, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # autocorrelated noise (AR(1)), as scraped gauges are
    e = np.zeros(len(values))
    for k in range(1, len(values)):
        e[k] = 0.7 * e[k - 1] + rng.normal(0, scale)
    return values + e


def test_steady_linear_growth_is_a_leak_with_an_interval_around_the_truth() -> None:
    x = requests()
    d = decide(Series(x, noisy(0.6 * x, 1.0)), CONNECTIONS)
    assert d.verdict is Verdict.LEAK
    assert d.fit is not None
    assert d.fit.ci_low_per_1k <= 600 <= d.fit.ci_high_per_1k
    assert 550 < d.fit.slope_per_1k < 650


def test_a_pool_filling_to_its_cap_then_flat_is_no_leak() -> None:
    x = requests()
    y = np.minimum(x / 5, 20)
    assert decide(Series(x, y), Rules(2.0, bound=20)).verdict is Verdict.NO_LEAK
    assert decide(Series(x, y), CONNECTIONS).verdict is Verdict.NO_LEAK  # bound unknown


def test_above_the_legal_bound_is_a_leak_outright() -> None:
    x = requests(20, 2)  # few requests: still decided by the bound
    d = decide(Series(x, 2 + x / 2), Rules(2.0, bound=20, min_requests=10))
    assert d.verdict is Verdict.LEAK and "legal bound 20" in d.reason


def test_two_scrapes_above_the_bound_are_a_leak_before_the_minimum_load() -> None:
    x = np.array([0.0, 15, 30, 45])  # 45 requests, 4 points: far below the minimum
    d = decide(Series(x, 1 + x), Rules(2.0, bound=20))  # 31 and 46 connections > 20
    assert d.verdict is Verdict.LEAK and "above the legal bound 20" in d.reason, d.reason
    once = decide(Series(x, np.array([5.0, 30, 12, 14])), Rules(2.0, bound=20))
    assert once.verdict is Verdict.UNDECIDED  # one scrape over (a restart's overlap): no proof


def test_a_bounded_cache_filling_then_flat_is_no_leak() -> None:
    x = requests(200, 25)
    y = noisy(500 * (1 - np.exp(-x / 500)), 0.5)
    d = decide(Series(x, y), CONNECTIONS)
    assert d.verdict is Verdict.NO_LEAK, d.reason


def test_a_step_at_warm_up_is_no_leak() -> None:
    x = requests()
    y = noisy(40 * MiB + 5 * MiB * (x > 60), 50_000)
    assert decide(Series(x, y), RSS).verdict is Verdict.NO_LEAK


def test_noisy_rss_with_allocator_jumps() -> None:
    x = requests(300, 60)
    rng = np.random.default_rng(3)
    jumps = np.cumsum(rng.choice([0, 2 * MiB, -2 * MiB], size=len(x), p=[0.96, 0.02, 0.02]))
    base = noisy(40 * MiB + jumps, 100_000)
    leaking = decide(Series(x, base + 1024 * x), RSS)  # 1 KiB per request
    assert leaking.verdict is Verdict.LEAK, leaking.reason
    assert decide(Series(x, base), RSS).verdict is not Verdict.LEAK


def test_a_saturation_plateau_is_a_leak_with_the_growth_before_it() -> None:
    x = requests(60, 10)
    y = np.minimum(0.6 * x, 93)
    refused = np.maximum(0, x - 155) * 0.4
    d = decide(Series(x, y, exhausted=refused), CONNECTIONS)
    assert d.verdict is Verdict.LEAK and "SATURATED" in d.reason
    assert d.saturated_at is not None and 150 <= d.saturated_at <= 170


def test_a_pooled_app_refused_by_a_saturated_server_is_not_called_leaky() -> None:
    x = requests(60, 10)
    y = np.minimum(x / 5, 2)  # two pooled connections, then flat
    refused = np.maximum(0, x - 155)  # another client took the server's last slots
    d = decide(Series(x, y, exhausted=refused), Rules(2.0, bound=20))
    assert d.verdict is not Verdict.LEAK


def test_a_worker_restart_splits_the_series() -> None:
    x = requests()
    restart = x >= x[60]
    y = np.where(restart, 0.5 * (x - x[60]), 0.5 * x)  # the new worker starts from 0
    seg = restart.astype(np.int64)
    d = decide(Series(x, y, segments=seg), CONNECTIONS)
    assert d.verdict is Verdict.LEAK
    assert d.fit is not None and 450 < d.fit.slope_per_1k < 550
    flat = np.where(restart, 3.0, 5.0)  # a restart drops a flat series: no leak
    assert decide(Series(x, flat, segments=seg), CONNECTIONS).verdict is Verdict.NO_LEAK


def test_no_load_is_undecided_never_no_leak() -> None:
    x = np.full(100, 500.0)
    d = decide(Series(x, np.full(100, 3.0)), CONNECTIONS)
    assert d.verdict is Verdict.UNDECIDED and "too little load" in d.reason


def test_too_few_points_is_undecided() -> None:
    x = requests(5, 100)
    assert decide(Series(x, x), CONNECTIONS).verdict is Verdict.UNDECIDED


def test_theil_sen_shrugs_off_outliers() -> None:
    x = requests(50, 1)
    y = 2 * x
    y[[5, 20, 33]] = [1e6, -1e6, 5e5]
    assert theil_sen(x, y) == pytest.approx(2.0)


@settings(max_examples=25, deadline=None)
@given(
    slope=st.sampled_from([0.0, 0.0005, 0.6]),
    offset=st.floats(min_value=-1e4, max_value=1e4),
    start=st.floats(min_value=0, max_value=1e6),
    scale=st.sampled_from([0.5, 3.0, 40.0]),
)
def test_offsets_and_scaling_do_not_change_the_verdict(
    slope: float, offset: float, start: float, scale: float
) -> None:
    x = requests()
    y = noisy(slope * x, 0.3)
    reference = decide(Series(x, y), CONNECTIONS).verdict
    assert decide(Series(x, y + offset), CONNECTIONS).verdict is reference
    assert decide(Series(x + start, y), CONNECTIONS).verdict is reference
    # the same growth per request, at a larger request count and resource scale
    assert decide(Series(x * scale, y * scale), CONNECTIONS).verdict is reference


def test_a_fresh_workers_heap_warming_up_is_not_a_leak_once_its_warm_up_is_known() -> None:
    # What the fixed app did from a cold start in the Leaks view: RSS still climbing
    # ~2 MiB per 1,000 requests when judged at 240 requests; flat after ~300.
    def heap(x: np.ndarray) -> np.ndarray:
        return noisy(90 * MiB + 2 * 1024 * np.minimum(x, 300), 2_000.0)

    early = np.arange(25) * 10.0  # 240 requests
    assert decide(Series(early, heap(early)), RSS).verdict is Verdict.LEAK  # 20 %: too short
    warm = Rules(threshold_per_1k=512 * 1024.0, warmup_requests=300)
    assert decide(Series(early, heap(early)), warm).verdict is Verdict.UNDECIDED
    later = np.arange(120) * 10.0  # 1,190 requests: the heap has settled
    assert decide(Series(later, heap(later)), warm).verdict is Verdict.NO_LEAK
    # and a real leak still shows after the same warm-up
    leaking = Series(later, heap(later) + 4 * 1024 * later)
    assert decide(leaking, warm).verdict is Verdict.LEAK


def test_the_contract_gives_rss_its_warm_up() -> None:
    from leaklab.verdict.query import CONTRACT

    rules = {r.name: r.rules() for r in CONTRACT}
    assert rules["rss"].warmup_requests >= 300
    assert rules["db_connections"].warmup_requests == 0


def test_too_little_load_says_how_many_requests_would_decide_and_they_do() -> None:
    x = requests(5)
    early = decide(Series(x, noisy(0.6 * x, 1.0)), CONNECTIONS)
    assert early.verdict is Verdict.UNDECIDED and early.requests_to_decide is not None
    assert "more requests should decide it" in early.reason
    longer = requests(int(early.requests_to_decide / 20) + 2)
    assert decide(Series(longer, noisy(0.6 * longer, 1.0)), CONNECTIONS).verdict is Verdict.LEAK


def test_an_interval_across_the_threshold_says_how_long_a_run_would_settle_it() -> None:
    x = requests(30)
    rng = np.random.default_rng(0)
    values = 50 * MiB + 650 * x + np.cumsum(rng.normal(0, 24 * 1024, len(x)))  # a random walk
    d = decide(Series(x, values), RSS)
    assert d.verdict is Verdict.UNDECIDED and "straddles" in d.reason, d.reason
    assert d.requests_to_decide is not None and d.requests_to_decide > d.requests
    assert f"about {d.requests_to_decide - d.requests:,.0f} more requests" in d.reason
    assert d.fit is not None  # a growth on the threshold itself: no run settles it soon
    assert requests_to_settle(replace(d.fit, slope_per_1k=512 * 1024.0), 512 * 1024.0, 600) is None
    decided = decide(Series(requests(), noisy(0.6 * requests(), 1.0)), CONNECTIONS)
    assert decided.verdict is Verdict.LEAK and decided.requests_to_decide is None


@pytest.mark.parametrize("every", [400, 800])
def test_a_growth_given_back_every_n_requests_is_no_leak_once_two_cycles_are_seen(
    every: int,
) -> None:
    x = requests()  # 2,380 requests: 5 or 2 releases after the warm-up
    cache = 20 + (x % every) / 20  # a cache cleared every `every` requests
    d = decide(Series(x, cache), CONNECTIONS)
    assert d.verdict is Verdict.NO_LEAK and "released every ~" in d.reason, d.reason
    memory = 50 * MiB + (x % every) * 4096 + np.random.default_rng(1).normal(0, 20e3, len(x))
    assert decide(Series(x, memory), RSS).verdict is Verdict.NO_LEAK


def test_a_leak_under_a_periodic_release_is_still_a_leak_and_one_release_decides_nothing() -> None:
    x = requests(240)
    kept = 20 + (x % 400) / 20 + x / 100  # what is released comes back; 10 per 1,000 stays
    assert decide(Series(x, kept), CONNECTIONS).verdict is Verdict.LEAK
    x = requests()
    once = decide(Series(x, 20 + (x % 1200) / 20), CONNECTIONS)  # one release in the run
    assert once.verdict is Verdict.UNDECIDED and "the next release" in once.reason, once.reason
