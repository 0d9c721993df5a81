"""The false-alarm guarantee, simulated: no-leak series under the noise model M
(src/leaklab/verdict/noise.py), each re-decided after every point as the Leaks view, the talk
and the plugin do, are ever read LEAK in at most 1 % of them; the rule before the guarantee
(the 95 % interval re-fitted at every look) was in a third to a half."""

from __future__ import annotations

import numpy as np
import pytest

from leaklab.verdict.noise import COUNT, KINDS, MEMORY, Kind, false_leaks, no_leak, watch
from leaklab.verdict.sequential import ALPHA, look, look_z
from leaklab.verdict.stats import Series, Verdict, decide

TRIALS = 300


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_no_leak_series_watched_continuously_read_leak_in_at_most_1_percent(kind: Kind) -> None:
    assert false_leaks(kind, TRIALS, seed=2026, points=60) <= ALPHA * TRIALS


def test_the_watch_sees_a_real_leak_and_the_looks_spend_less_than_alpha() -> None:
    rng = np.random.default_rng(7)
    quiet = no_leak(COUNT, rng)
    leaking = Series(quiet.requests, quiet.values + quiet.requests / 50, quiet.segments)
    assert watch(leaking, COUNT.rules)  # 20 per 1,000 against a threshold of 2
    memory = no_leak(MEMORY, rng)
    grown = Series(memory.requests, memory.values + 4096 * memory.requests, memory.segments)
    assert decide(grown, MEMORY.rules).verdict is Verdict.LEAK
    spent = sum(ALPHA * 6 / (np.pi**2 * k**2) for k in range(1, 10_000))
    assert spent < ALPHA
    assert look(99, 100) == (0, 0.0) and look(100, 100) == (1, 100.0)
    assert look(130, 100) == (2, 125.0)
    assert look_z(30) > look_z(1) > 2.3  # later looks demand more


def test_the_watch_answers_as_deciding_after_every_point_would() -> None:
    rng = np.random.default_rng(3)
    for trial in range(24):
        kind = KINDS[trial % 2]
        series = no_leak(kind, rng, points=40)
        if trial % 3 == 0:  # some leak, some do not
            series = Series(
                series.requests,
                series.values + 3e-3 * series.requests * (4096 if kind is MEMORY else 1) * 1000 / 3,
                series.segments,
            )
        every_point = any(
            decide(
                Series(series.requests[: i + 1], series.values[: i + 1], series.segments[: i + 1]),
                kind.rules,
            ).verdict
            is Verdict.LEAK
            for i in range(kind.rules.min_points - 1, len(series.requests))
        )
        assert watch(series, kind.rules) is every_point, trial
