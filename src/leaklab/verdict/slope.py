"""The slope of a resource on cumulative requests and its uncertainty: Theil-Sen within
segments, and a moving-block bootstrap of its residuals (blocks keep their autocorrelation).
Pure numpy; `stats` decides with them."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.stats import t as student

Array = NDArray[np.float64]
MAX_POINTS = 240  # Theil-Sen is O(n^2): thin longer series evenly
BOOTSTRAP = 300


@dataclass(frozen=True)
class Fit:
    """The slope after the warm-up, per 1,000 requests, with its interval."""

    slope_per_1k: float
    ci_low_per_1k: float
    ci_high_per_1k: float
    late_slope_per_1k: float
    late_ci_high_per_1k: float
    warmup_until: float  # cumulative requests where the fit starts
    intercept: float  # value of the fit at requests = warmup_until (for plots)
    slope_sd_per_1k: float = 0.0  # the slope's sd: the bootstrap's (a count's: at least rounding's)
    blocks: float = math.inf  # independent blocks in the residuals (points / block length)
    residual_sd: float = 0.0  # the residuals' robust spread about the line
    span_requests: float = 0.0  # requests fitted (after the warm-up, within segments)


def thin(x: Array, y: Array, seg: NDArray[np.int64]) -> tuple[Array, Array, NDArray[np.int64]]:
    if len(x) <= MAX_POINTS:
        return x, y, seg
    pick = np.unique(np.linspace(0, len(x) - 1, MAX_POINTS).round().astype(int))
    return x[pick], y[pick], seg[pick]


def theil_sen(x: Array, y: Array, seg: NDArray[np.int64] | None = None) -> float | None:
    """Median of the pairwise slopes, pairs taken within the same segment only."""
    if seg is None:
        seg = np.zeros(len(x), dtype=np.int64)
    i, j = np.triu_indices(len(x), k=1)
    same = (seg[i] == seg[j]) & (x[j] != x[i])
    if not same.any():
        return None
    i, j = i[same], j[same]
    return float(np.median((y[j] - y[i]) / (x[j] - x[i])))


def block_bootstrap_ci(
    x: Array, y: Array, seg: NDArray[np.int64], slope: float, seed: int, level: float = 0.95
) -> tuple[float, float]:
    """The slope's interval alone (the late half's: no look reads its spread)."""
    low, high, _sd, _block = block_bootstrap(x, y, seg, slope, seed, level, for_looks=False)
    return low, high


def block_bootstrap(
    x: Array,
    y: Array,
    seg: NDArray[np.int64],
    slope: float,
    seed: int,
    level: float = 0.95,
    for_looks: bool = True,
) -> tuple[float, float, float, int]:
    """The slope's 95 % interval, its standard deviation for the looks (not computed, 0,
    unless for_looks) and the textbook block length (the looks count independent blocks in
    it), from moving-block resampled residuals (blocks keep their autocorrelation)."""
    n = len(x)
    fitted = np.empty(n)
    for s in np.unique(seg):
        m = seg == s
        fitted[m] = np.median(y[m] - slope * x[m]) + slope * x[m]
    residuals = y - fitted
    rng = np.random.default_rng(seed)
    i, j = np.triu_indices(n, k=1)
    same = (seg[i] == seg[j]) & (x[j] != x[i])
    i, j = i[same], j[same]
    dx = x[j] - x[i]

    def slopes_of(block: int, wanted: bool = True) -> Array:
        """BOOTSTRAP slopes of the fitted line plus residuals resampled in blocks (drawn
        even when not wanted: the draws that follow stay the same)."""
        starts = np.arange(0, n - block + 1)
        chosen = rng.choice(starts, size=(BOOTSTRAP, -(-n // block)))  # one draw per resample
        if not wanted:
            return np.zeros(BOOTSTRAP)
        index = (chosen[:, :, None] + np.arange(block)).reshape(BOOTSTRAP, -1)[:, :n]
        ystar = fitted + residuals[index]
        out = np.empty(BOOTSTRAP)
        chunk = max(1, 2_000_000 // max(len(dx), 1))  # resamples at a time: bounded memory
        for b in range(0, BOOTSTRAP, chunk):
            part = ystar[b : b + chunk]
            out[b : b + chunk] = np.median((part[:, j] - part[:, i]) / dx, axis=1)
        return out

    base, block = textbook_block(n), resampled_block(n)
    looks = slopes_of(base, wanted=for_looks or block == base)
    slopes = looks if block == base else slopes_of(block)
    tail = (1 - level) / 2
    low, high = np.quantile(slopes, [tail, 1 - tail])
    # with few blocks the bootstrap's own spread is uncertain: the interval is at least
    # Student's t on the m blocks resampled times it (percentiles alone covered 1 KiB in 7 of
    # 10), that spread inflated by m / (m - 2): the residuals are about a level and a slope
    # fitted to the same blocks, which absorb two blocks' worth of their variation (the
    # endpoints' n / (n - p)). Without it 168 of 200 replays of one recording were covered,
    # 180 with it. The looks keep the textbook blocks' spread and count (Fit.blocks): the
    # longer blocks' spread left a plugin run's fd leak (268 per 1,000) UNDECIDED, and the
    # looks' false-alarm rate is the noise model's to check
    sd = float(np.std(slopes))
    m = n / block
    inflate = math.sqrt(m / max(m - 2, 1.0))
    half = float(student.isf(tail, max(m - 1, 1.0))) * sd * inflate
    return float(min(low, slope - half)), float(max(high, slope + half)), float(np.std(looks)), base


MIN_BLOCKS = 6  # a resampled block is never so long that fewer remain


def textbook_block(n: int) -> int:
    """n^(1/3) points: the block whose count of blocks Student's t and the looks take as
    the independent pieces of the residuals."""
    return max(2, int(round(n ** (1 / 3))))


def resampled_block(n: int) -> int:
    """The block the bootstrap resamples: twice the textbook one where at least MIN_BLOCKS
    remain. A run's RSS is autocorrelated past n^(1/3) points (the fixed app's residuals:
    0.41 at lag 5 of 65), and a moving-block bootstrap whose blocks cut that short
    underestimates the slope's spread: 95 % intervals covered the true slope in 173 of 200
    replays of one recording, 188 with this, Student's t on these blocks and the inflation
    in block_bootstrap (bench/detection.py)."""
    base = textbook_block(n)
    return max(base, min(2 * base, n // MIN_BLOCKS))


def resolution_sd(x: Array, y: Array, seg: NDArray[np.int64], block: int) -> float:
    """The least a count's slope's standard deviation can be when a LEAK is claimed: what
    rounding to whole numbers alone leaves. A count drifting by a unit now and then reads as a
    clean staircase whose residuals, and so its bootstrap, are near zero: under the noise
    model that read a no-leak count LEAK in 3 of 300 series, 0 with this floor. Rounding a
    slowly moving figure errs alike for neighbouring points, hence the block."""
    if not np.all(y == np.round(y)):
        return 0.0  # not a count
    spread = sum(float(np.sum((x[seg == s] - x[seg == s].mean()) ** 2)) for s in np.unique(seg))
    return math.sqrt(block / (12 * spread)) if spread > 0 else 0.0


def residual_spread(x: Array, y: Array, seg: NDArray[np.int64], slope: float) -> float:
    """The residuals' spread about the fitted line (each segment its own level)."""
    residuals = np.empty(len(x))
    for s in np.unique(seg):
        m = seg == s
        residuals[m] = y[m] - slope * x[m] - np.median(y[m] - slope * x[m])
    # the plain standard deviation too: an allocator's steps are the run's noise as well
    return float(max(1.4826 * np.median(np.abs(residuals)), np.std(residuals)))
