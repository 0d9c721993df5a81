"""Decide whether one resource of one app leaks. Pure functions, no I/O.

The resource is regressed on cumulative requests, not on time, so the verdict does not
depend on how hard the load pushed. The slope is Theil–Sen (robust to allocator jumps and
outliers), fitted within segments (a worker restart starts a new one), after trimming the
warm-up; its 95 % interval comes from a moving-block bootstrap of the residuals. A LEAK needs the
whole interval above the resource's threshold and the late half still growing,
so a pool or a cache filling up to its cap is not one, and the lower bound at the
current look's share of the false-alarm budget above it too (`sequential`): at most
1 % false LEAK under the noise model M however often the verdict is re-read. A
growth given back twice is a periodic release; a count above a pool's legal bound (or,
with none declared, above what the requests in flight can hold) is LEAK outright.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

import numpy as np
from numpy.typing import NDArray

from leaklab.verdict.sequential import ALPHA, LOOK_GROWTH, look, look_z
from leaklab.verdict.slope import (
    Array,
    Fit,
    block_bootstrap,
    block_bootstrap_ci,
    residual_spread,
    resolution_sd,
    theil_sen,
    thin,
)

LEGAL = "pool max x workers"  # a bound the app declares


class Verdict(str, Enum):
    LEAK = "LEAK"
    NO_LEAK = "NO LEAK"
    UNDECIDED = "UNDECIDED"


@dataclass(frozen=True)
class Series:
    """One resource over a run: cumulative requests and the resource, point by point."""

    requests: Array
    values: Array
    segments: NDArray[np.int64] | None = None  # a new id where a worker restarted
    exhausted: Array | None = None  # cumulative 503s naming this resource

    def arrays(self) -> tuple[Array, Array, NDArray[np.int64]]:
        """Requests, values and segments as numpy arrays (one segment when none is given)."""
        x = np.asarray(self.requests, dtype=float)
        seg = np.zeros(len(x), dtype=np.int64) if self.segments is None else self.segments
        return x, np.asarray(self.values, dtype=float), np.asarray(seg, dtype=np.int64)


@dataclass(frozen=True)
class Rules:
    """How one resource is judged; thresholds are calibrated on the fixed app."""

    threshold_per_1k: float  # growth per 1,000 requests that counts as a leak
    bound: float | None = None  # the most it can legally hold, when known
    bound_why: str = LEGAL  # where the bound comes from, for the reason (or in_flight_why)
    min_requests: float = 100
    min_points: int = 8
    warmup_fraction: float = 0.2
    warmup_requests: float = 0.0  # at least this many requests are warm-up, however long the run
    noise_multiple: float = 0.0  # K > 0: the threshold is at least K x the run's noise
    noise_grain: float = 0.0  # the least growth over the run that can count (memory: an arena)


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str
    requests: float
    fit: Fit | None = None
    saturated_at: float | None = None  # cumulative requests where 503s began
    # UNDECIDED: the requests in all (served so far included) likely to decide it; None when
    # decided, or when more load would not settle it (a growth at the threshold itself)
    requests_to_decide: float | None = None
    threshold_per_1k: float | None = None  # the threshold it was judged against
    method: str = (
        "Theil-Sen on cumulative requests, warm-up trimmed, moving-block bootstrap 95 % CI"
    )


def decide(series: Series, rules: Rules, seed: int = 0) -> Decision:
    """LEAK, NO LEAK or UNDECIDED for one resource, with the evidence."""
    x, y, seg = series.arrays()
    ok = np.isfinite(x) & np.isfinite(y)
    x, y, seg = x[ok], y[ok], seg[ok]
    served = _served(x, seg)
    over = _over_the_bound(y, rules.bound)
    if over is not None and (len(x) < rules.min_points or served < rules.min_requests):
        # physics, not statistics: a bounded pool cannot hold more, however short the run
        return Decision(
            Verdict.LEAK,
            f"holds {over:.0f}, above {_bound_words(rules)} in two scrapes running",
            served,
        )
    if len(x) < rules.min_points or served < rules.min_requests:
        needed = _needed_for_a_fit(rules, len(x), served)
        return Decision(
            Verdict.UNDECIDED,
            f"too little load: {served:.0f} requests in "
            f"{len(x)} points (needs {rules.min_requests:.0f} requests and "
            f"{rules.min_points} points)" + _more(needed, served),
            served,
            requests_to_decide=needed,
        )

    saturated_at, x, y, seg = _before_saturation(series.exhausted, ok, x, y, seg)
    fit = _fit(x, y, seg, rules, seed) if len(x) >= 4 else None
    rules = replace(rules, threshold_per_1k=calibrated(rules, fit))
    decision = Decision(
        Verdict.UNDECIDED, "", served, fit, saturated_at, threshold_per_1k=rules.threshold_per_1k
    )
    peak = float(np.max(y, initial=0.0))
    if rules.bound is not None and rules.bound > 0 and peak > rules.bound:
        return replace(
            decision,
            verdict=Verdict.LEAK,
            reason=f"holds {peak:.0f}, above {_bound_words(rules)}"
            + ("" if saturated_at is None else f"; SATURATED at {saturated_at:.0f} requests"),
        )
    thr = rules.threshold_per_1k
    if saturated_at is not None and (fit is None or fit.ci_low_per_1k <= thr):
        # Too short a climb to fit before the limit: judge the climb itself.
        rise = peak - float(y[0]) if len(y) else 0.0
        climbed = float(x[-1] - x[0]) if len(x) > 1 else 0.0
        unbounded = rules.bound is None or rules.bound <= 0
        if unbounded and rise >= 10 and climbed > 0 and 1000 * rise / climbed > thr:
            return replace(
                decision,
                verdict=Verdict.LEAK,
                reason=f"SATURATED at {saturated_at:.0f} requests, after climbing {rise:.0f} "
                f"in {climbed:.0f} requests ({1000 * rise / climbed:.3g} per 1,000)",
            )
    if fit is None:
        if saturated_at is not None:
            return replace(decision, reason="saturated before enough points to fit")
        needed = _needed_for_a_fit(rules, len(x), served)
        why = (
            "too few points after the warm-up (the first "
            f"{max(rules.warmup_fraction * served, rules.warmup_requests):.0f} requests)"
        )
        return replace(decision, reason=why + _more(needed, served), requests_to_decide=needed)
    judged = _judge_slope(decision, fit, thr)
    if judged.verdict is Verdict.LEAK and saturated_at is None:
        judged = _beyond_every_look(judged, x, y, seg, rules, seed)
    if judged.verdict is not Verdict.NO_LEAK and saturated_at is None:
        keep = x >= fit.warmup_until
        return _given_back(judged, fit, x[keep], y[keep], seg[keep], thr)
    return judged


def calibrated(rules: Rules, fit: Fit | None) -> float:
    """The threshold per 1,000: the most of its own, K (noise_multiple) x the run's noise
    and the grain over the requests fitted; at most 8 x its own (memory: the old 512 B)."""
    if rules.noise_multiple <= 0 or fit is None or fit.span_requests <= 0:
        return rules.threshold_per_1k
    noise = max(rules.noise_multiple * fit.residual_sd, rules.noise_grain)
    floor = 1000 * noise / fit.span_requests
    return max(rules.threshold_per_1k, min(floor, 8 * rules.threshold_per_1k))


def _given_back(
    decision: Decision, fit: Fit, x: Array, y: Array, seg: NDArray[np.int64], thr: float
) -> Decision:
    """A growth that is given back (a cache cleared every N requests) is not a leak.

    A release is a fall, within a segment, of at least half the climb seen. Two releases
    or more: judged on the levels right after each one, which a leak raises and a periodic
    release does not (NO LEAK when they grow less than thr). One: UNDECIDED, until the next.
    """
    span = float(np.ptp(y)) if len(y) else 0.0
    falls = np.nonzero((np.diff(y) < -0.5 * span) & (np.diff(seg) == 0))[0] + 1
    if span <= 0 or not len(falls):
        return decision
    if len(falls) == 1:
        if decision.verdict is not Verdict.LEAK:
            return decision
        return replace(
            decision,
            verdict=Verdict.UNDECIDED,
            reason=f"gave back {y[falls[0] - 1] - y[falls[0]]:.3g} at "
            f"{x[falls[0]]:.0f} requests after growing {fit.slope_per_1k:.3g} per "
            "1,000: the next release tells a periodic release from a leak",
            requests_to_decide=2 * float(x[falls[0]] - x[0]) + float(x[0]),
        )
    troughs = y[falls]
    growth = 1000 * float(np.polyfit(x[falls], troughs, 1)[0])
    growth = 0.0 if abs(growth) < 1e-9 * max(1.0, thr) else growth  # float dust, not growth
    if growth < thr:
        every = float(np.median(np.diff(x[falls])))
        return replace(
            decision,
            verdict=Verdict.NO_LEAK,
            reason=f"released every ~{every:,.0f} requests ({len(falls)} releases seen); "
            f"the level after each grows {growth:.3g} per 1,000 < {thr:g}",
        )
    return decision


def _bound_words(rules: Rules) -> str:
    return f"the {'legal ' * (rules.bound_why == LEGAL)}bound {rules.bound:.0f} ({rules.bound_why})"


def _needed_for_a_fit(rules: Rules, points: int, served: float) -> float | None:
    """Requests in all for the fewest points a fit needs after the warm-up, at the pace of
    the points so far (None: no pace yet)."""
    per_point = served / (points - 1) if points > 1 and served > 0 else 0.0
    if not per_point:
        return None
    after = max(4, rules.min_points // 2) * per_point  # as _fit asks, after the warm-up
    return max(
        served,
        rules.min_requests,
        rules.min_points * per_point,
        rules.warmup_requests + after,
        after / (1 - rules.warmup_fraction),
    )


def requests_to_settle(fit: Fit, thr: float, served: float) -> float | None:
    """Requests in all at which the interval likely clears thr: its half-width shrinks at
    least as 1/requests (white noise shrinks it faster; this errs long). None: the growth
    sits on the threshold, and no feasible run settles it (more than 100x this one)."""
    slope = fit.slope_per_1k
    # the side of the interval that faces the threshold is the one that must clear it
    half = fit.ci_high_per_1k - slope if slope < thr else slope - fit.ci_low_per_1k
    gap = abs(slope - thr)
    if half <= 0 or served <= 0:
        return None
    needed = max(served * half / gap, 1.1 * served) if gap > 0 else float("inf")
    return needed if needed <= 100 * served else None


def _more(needed: float | None, served: float) -> str:
    if needed is None:
        return ": more load will not settle it soon"
    return f"; about {max(needed - served, 0):,.0f} more requests should decide it"


def _over_the_bound(y: Array, bound: float | None) -> float | None:
    """The count held when two scrapes running were above the bound (a worker's restart can
    show one scrape of both its old and new connections); None: never."""
    if bound is None or bound <= 0 or len(y) < 2:
        return None
    above = y > bound
    both = np.nonzero(above[1:] & above[:-1])[0]
    return float(np.max(y)) if len(both) else None


def _before_saturation(
    exhausted: Array | None, ok: NDArray[np.bool_], x: Array, y: Array, seg: NDArray[np.int64]
) -> tuple[float | None, Array, Array, NDArray[np.int64]]:
    """Where the 503s naming the resource began (None: never), and the points before then."""
    if exhausted is None:
        return None, x, y, seg
    refused = np.asarray(exhausted, dtype=float)[ok]
    rising = np.nonzero(refused > refused[0])[0]
    if not len(rising):
        return None, x, y, seg
    before = np.arange(len(x)) < rising[0]
    return float(x[rising[0]]), x[before], y[before], seg[before]


def look_bound(
    x: Array, y: Array, seg: NDArray[np.int64], rules: Rules, seed: int = 0
) -> float | None:
    """At the current look, the slope's lower bound per 1,000 (its share of ALPHA), fitted
    on the data up to the look's request count; None: nothing to claim (no fit, or a late
    half that is not growing)."""
    k, upto = look(_served(x, seg), rules.min_requests)
    if k == 0:
        return None
    keep = x - x.min() <= upto + 1e-9
    if keep.sum() < rules.min_points:
        return None
    fit = _fit(x[keep], y[keep], seg[keep], rules, seed)
    if fit is None or fit.late_slope_per_1k <= rules.threshold_per_1k:
        return None
    return fit.slope_per_1k - look_z(k, fit.blocks) * fit.slope_sd_per_1k


def _beyond_every_look(
    decision: Decision, x: Array, y: Array, seg: NDArray[np.int64], rules: Rules, seed: int
) -> Decision:
    """A LEAK by the 95 % interval stands only if it holds at the current look's share of
    ALPHA too (the guarantee over every look); else UNDECIDED, saying how long."""
    thr, fit = rules.threshold_per_1k, decision.fit
    bound = look_bound(x, y, seg, rules, seed)
    if bound is not None and bound > thr:
        return decision
    served = decision.requests
    needed = None
    if fit is not None and fit.slope_per_1k > thr and fit.slope_sd_per_1k > 0:
        k, _upto = look(served, rules.min_requests)
        margin = fit.slope_per_1k - thr
        needed = served * LOOK_GROWTH * max(look_z(k + 1) * fit.slope_sd_per_1k / margin, 1.0)
    lower = f"{bound:.3g}" if bound is not None else "not yet fitted"
    return replace(
        decision,
        verdict=Verdict.UNDECIDED,
        reason=f"{decision.reason}, but not yet beyond the bound that keeps false LEAKs under "
        f"{ALPHA:.0%} over every look (lower bound {lower})" + _more(needed, served),
        requests_to_decide=needed,
    )


def _judge_slope(decision: Decision, fit: Fit, thr: float) -> Decision:
    """The verdict from the fitted slope: its interval and its late half against thr."""
    saturated_at = decision.saturated_at
    low, high = fit.ci_low_per_1k, fit.ci_high_per_1k
    if low > thr and fit.late_slope_per_1k > thr:
        if saturated_at is not None:
            why = (
                f"SATURATED at {saturated_at:.0f} requests, after growing "
                f"{fit.slope_per_1k:.3g} per 1,000 (95 % CI {low:.3g} to {high:.3g})"
            )
        else:
            why = (
                f"grows {fit.slope_per_1k:.3g} per 1,000 requests "
                f"(95 % CI {low:.3g} to {high:.3g}) > {thr:g}"
            )
        return replace(decision, verdict=Verdict.LEAK, reason=why)
    if high < thr:
        return replace(
            decision,
            verdict=Verdict.NO_LEAK,
            reason=f"grows {fit.slope_per_1k:.3g} per 1,000 (95 % CI up to {high:.3g}) < {thr:g}",
        )
    if fit.late_ci_high_per_1k < thr:
        return replace(
            decision,
            verdict=Verdict.NO_LEAK,
            reason=f"stopped growing: late half {fit.late_slope_per_1k:.3g} per "
            f"1,000 (CI up to {fit.late_ci_high_per_1k:.3g}) < {thr:g}",
        )
    needed = requests_to_settle(fit, thr, decision.requests)
    return replace(
        decision,
        reason=f"95 % CI {low:.3g} to {high:.3g} per 1,000 straddles {thr:g}"
        + _more(needed, decision.requests),
        requests_to_decide=needed,
    )


def _served(x: Array, seg: NDArray[np.int64]) -> float:
    """Requests served over the series, summed within segments (counters may restart)."""
    total = 0.0
    for s in np.unique(seg):
        xs = x[seg == s]
        total += float(xs.max() - xs.min()) if len(xs) else 0.0
    return total


def _fit(
    x: Array,
    y: Array,
    seg: NDArray[np.int64],
    rules: Rules,
    seed: int,
) -> Fit | None:
    start = x.min() + max(rules.warmup_fraction * (x.max() - x.min()), rules.warmup_requests)
    keep = x >= start
    for s in np.unique(seg)[1:]:  # a restarted worker is a fresh process: it warms up too
        born = x[seg == s].min()
        keep &= (seg != s) | (x >= born + rules.warmup_requests)
    if keep.sum() < max(4, rules.min_points // 2):
        return None
    x, y, seg = thin(x[keep], y[keep], seg[keep])
    slope = theil_sen(x, y, seg)
    if slope is None:
        return None
    low, high, sd, block = block_bootstrap(x, y, seg, slope, seed)
    late = x >= x.min() + 0.5 * (x.max() - x.min())
    late_slope = theil_sen(x[late], y[late], seg[late]) if late.sum() >= 4 else None
    if late_slope is None:
        late_slope, late_high = slope, high
    else:
        _low, late_high = block_bootstrap_ci(x[late], y[late], seg[late], late_slope, seed + 1)
    return Fit(
        slope_per_1k=1000 * slope,
        ci_low_per_1k=1000 * low,
        ci_high_per_1k=1000 * high,
        late_slope_per_1k=1000 * late_slope,
        late_ci_high_per_1k=1000 * late_high,
        warmup_until=float(start),
        intercept=float(np.median(y - slope * (x - start))),
        slope_sd_per_1k=1000 * max(sd, resolution_sd(x, y, seg, block)),
        blocks=len(x) / block,
        residual_sd=residual_spread(x, y, seg, slope),
        span_requests=_served(x, seg),
    )
