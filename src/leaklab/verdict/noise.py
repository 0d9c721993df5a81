"""The noise model M the false-alarm guarantee is stated under, and the watch that tests it.

A no-leak series under M, on cumulative requests (one point per scrape):
  - autocorrelated noise: AR(1) with coefficient 0.5 to 0.95 (a gauge scraped faster than it
    settles);
  - allocator steps (memory): a few jumps of random size up, and some back down, at random
    points (arenas and pools grabbed and returned);
  - plateaus: a fill that saturates within the warm-up (a pool or a cache filling to its
    cap; one still filling after the warm-up is growth, and no rule can call it otherwise);
  - worker restarts: a new segment, its level starting over and filling again;
  - optionally a recorded app's own residuals, block-bootstrapped, on top.
Counts (connections, fds, threads) are whole numbers. `watch` re-decides a series after
every point, as the Leaks view, the talk and the plugin do, and says whether any look ever
read LEAK. Pure functions; the guarantee's test and bench/detection.py use them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from leaklab.scenarios import RSS
from leaklab.verdict.query import from_leak
from leaklab.verdict.sequential import look
from leaklab.verdict.slope import Array
from leaklab.verdict.stats import Rules, Series, Verdict, decide, look_bound


@dataclass(frozen=True)
class Kind:
    """One resource kind's scale: its threshold and how large its noise and steps are."""

    name: str
    rules: Rules
    noise: float  # the AR(1) innovations' standard deviation
    step: float  # an allocator step's typical size (0: none)
    fill: float  # the warm-up plateau's height
    whole: bool  # counts are whole numbers


MEMORY = Kind("memory", from_leak(RSS).rules(), 96e3, 256e3, 8e6, False)  # judged as RSS is
COUNT = Kind("count", Rules(2.0), 0.6, 0.0, 12.0, True)
KINDS = (MEMORY, COUNT)


def no_leak(
    kind: Kind,
    rng: np.random.Generator,
    points: int = 120,
    per_point: float = 40.0,
    residuals: Array | None = None,
) -> Series:
    """One series under M with no leak in it."""
    x = np.cumsum(rng.uniform(0.5, 1.5, points) * per_point)
    phi = rng.uniform(0.5, 0.95)
    e = np.zeros(points)
    shocks = rng.normal(0, kind.noise, points)
    for t in range(1, points):
        e[t] = phi * e[t - 1] + shocks[t]
    segments = np.zeros(points, dtype=np.int64)
    if rng.random() < 0.3:  # a worker restarts: its level starts over, and fills again
        segments[int(rng.integers(points // 4, points)) :] = 1
    # a fill that plateaus within the warm-up (what is still filling after it is growth)
    warmup = max(kind.rules.warmup_fraction * kind.rules.min_requests, kind.rules.warmup_requests)
    tau = rng.uniform(0.1, 0.2) * warmup  # 99 % filled at its end (a third left 5 %: growth)
    born = np.array([x[segments == s].min() for s in segments])
    level = kind.fill * (1 - np.exp(-(x - born + per_point) / tau))
    if kind.step:
        for at in rng.integers(0, points, rng.integers(0, 4)):
            level[at:] += rng.choice([-1.0, 1.0, 1.0]) * rng.exponential(kind.step)
    values = 50e6 * (not kind.whole) + 20 * kind.whole + level + e
    if residuals is not None and len(residuals) >= 4:
        values = values + block_resample(residuals, points, rng)
    if kind.whole:
        values = np.round(np.maximum(values, 0))
    return Series(x, values, segments)


def block_resample(residuals: Array, n: int, rng: np.random.Generator) -> Array:
    """n values of a moving-block bootstrap of residuals (blocks keep their autocorrelation)."""
    block = max(2, int(round(len(residuals) ** (1 / 3))))
    starts = rng.integers(0, len(residuals) - block + 1, size=-(-n // block))
    return np.concatenate([residuals[s : s + block] for s in starts])[:n]


def watch(series: Series, rules: Rules) -> bool:
    """Whether any look at the series, one after every point, reads LEAK."""
    return first_leak_at(series, rules) is not None


def first_leak_at(series: Series, rules: Rules) -> int | None:
    """The first point after which the series so far reads LEAK (None: never).

    A slope LEAK needs the current look's bound above the threshold, and that bound is
    fitted on the data up to the look's request count, the same for every point of the look.
    So the bound is computed once per look, and only a look whose bound is above the
    threshold is decided point by point: the same answer as deciding after every point.
    """
    x, y, seg = series.arrays()
    looks = np.array([look(s, rules.min_requests)[0] for s in x - x[0]])
    for k in np.unique(looks[looks > 0]):
        points = np.nonzero(looks == k)[0]
        last = int(points[-1]) + 1
        bound = look_bound(x[:last], y[:last], seg[:last], rules)
        if bound is None or bound <= rules.threshold_per_1k:
            continue  # no point of this look can read LEAK
        for i in points:
            if i + 1 < rules.min_points:
                continue
            prefix = Series(x[: i + 1], y[: i + 1], seg[: i + 1])
            if decide(prefix, rules).verdict is Verdict.LEAK:
                return int(i)
    return None


def false_leaks(
    kind: Kind, trials: int, seed: int, points: int = 120, residuals: Array | None = None
) -> int:
    """How many of `trials` no-leak series under M are ever read LEAK, watched continuously."""
    rng = np.random.default_rng(seed)
    return sum(
        watch(no_leak(kind, rng, points, residuals=residuals), kind.rules) for _ in range(trials)
    )
