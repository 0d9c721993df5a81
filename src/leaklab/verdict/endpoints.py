"""Which endpoint leaks: each request name's own growth per request, from one mixed run.

A load mixes endpoints, so every resource grows against every endpoint's count at once;
the total count cannot tell them apart. The endpoints' counts drift apart during a run
(Locust picks each user's next task at random, and the plugin's --leak-mix vary boosts
each task in turn), and the resource follows the counts of the endpoints that leak:

    R(t) = a_segment + sum_k b_k N_k(t) + e(t),

fitted by least squares on the counts so far (levels, not steps: a scrape and the
counters are never read at the same instant, and the few requests between them would
bias step-by-step slopes towards zero), after the warm-up, with an intercept per segment
(a restart). b_k is endpoint k's growth per request. Its standard error is the larger
of least squares' and a moving-block bootstrap's of the residuals (which keeps their
autocorrelation and the allocator's steps), with Student's t on the degrees of freedom
left: a short run mixing eleven endpoints has few, and a fit that keeps fewer than
MIN_DOF names nobody. An endpoint is named LEAK at NAMING_ALPHA for the whole run
(Bonferroni over its endpoints), not 5 % for each. Endpoints whose counts never vary
apart (always called together) cannot be separated: they are one group, named "a + b".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.stats import t as student_t

from leaklab.verdict.slope import Array
from leaklab.verdict.stats import Verdict

BOOTSTRAP = 400
BLOCK = 8  # points per bootstrap block, at least
MIN_POINTS = 12
# Residual degrees of freedom the fit must keep (points minus fitted parameters): with
# eleven endpoints and a dozen points the least squares fit passes through every point,
# its residuals vanish and any interval drawn from them is as narrow as it is wrong.
MIN_DOF = 10
NAMING_ALPHA = 0.05  # the chance that any clean endpoint of a run is named LEAK
# An endpoint named LEAK must carry a material share of the leak, not only clear the
# resource's threshold: the counters and the scrape are read a few milliseconds apart, and
# with an exact resource (fds) and a tight interval that offset alone can put a clean
# endpoint a hundredth of the leaking one's cost above a small threshold.
MATERIAL = 0.1


@dataclass(frozen=True)
class EndpointGrowth:
    """One endpoint's share of a resource's growth."""

    name: str
    growth_per_request: float
    ci95: tuple[float, float]
    requests: float
    verdict: Verdict
    # "regression": fitted on the endpoints' counts; "refusals": the resource ran out before
    # enough points to fit, and only these endpoints' requests were refused at its limit
    basis: str = "regression"

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "growth_per_request": _finite(self.growth_per_request),
            "ci95_per_request": [_finite(v) for v in self.ci95],
            "requests": self.requests,
            "verdict": self.verdict.value,
            "basis": self.basis,
        }


def _finite(value: float) -> float | None:
    return value if np.isfinite(value) else None


def _points(
    counts: Mapping[str, Array], values: Array, segments: Array | None, start: int
) -> tuple[Array, Array, Array]:
    """Cumulative requests per endpoint (columns), the resource, segments: after the warm-up."""
    x = np.column_stack([np.asarray(counts[n], dtype=float) for n in counts])
    y = np.asarray(values, dtype=float)
    seg = np.zeros(len(y)) if segments is None else np.asarray(segments, dtype=float)
    keep = np.isfinite(y) & np.isfinite(x).all(axis=1)
    keep[:start] = False
    return x[keep], y[keep], seg[keep]


def _groups(x: Array) -> list[list[int]]:
    """Columns whose steps rise and fall together are one group (only their sum can be fitted).

    Steps that move against each other (one endpoint boosted while the other is not, at a
    steady total) are what tells them apart: only a positive correlation groups. A column
    that never moves is left out: it explains nothing.
    """
    dx = np.diff(x, axis=0)
    groups: list[list[int]] = []
    for j in range(x.shape[1]):
        if dx[:, j].std() == 0:
            continue
        for group in groups:
            if np.corrcoef(dx[:, group[0]], dx[:, j])[0, 1] > 0.99:
                group.append(j)
                break
        else:
            groups.append([j])
    return groups


def _design(gx: Array, seg: Array) -> Array:
    dummies = [(seg == s).astype(float) for s in np.unique(seg)]
    return np.column_stack([*dummies, gx])


def _fit(design: Array, y: Array, k: int) -> Array | None:
    coef, _res, rank, _sv = np.linalg.lstsq(design, y, rcond=None)
    return np.asarray(coef[-k:], dtype=float) if rank == design.shape[1] else None


def _spread(design: Array, y: Array, k: int, seed: int) -> Array:
    """Each endpoint's standard error: the larger of least squares' and a moving-block
    bootstrap's (which keeps the residuals' autocorrelation and the allocator's steps)."""
    coef, _res, _rank, _sv = np.linalg.lstsq(design, y, rcond=None)
    fitted = design @ coef
    n, p = design.shape
    # residuals of a least squares fit are smaller than its errors by n - p of n
    residuals = (y - fitted) * np.sqrt(n / (n - p))
    pinv = np.linalg.pinv(design)[-k:]
    ols = np.sqrt(np.sum(residuals**2) / n * np.sum(pinv**2, axis=1))
    block = min(max(BLOCK, int(round(n ** (1 / 3)))), max(n // 4, 1))
    rng = np.random.default_rng(seed)
    draws = np.empty((BOOTSTRAP, k))
    for b in range(BOOTSTRAP):
        starts = rng.integers(0, n - block + 1, size=-(-n // block))
        resampled = np.concatenate([residuals[s : s + block] for s in starts])[:n]
        draws[b] = pinv @ (fitted + resampled)
    return np.asarray(np.maximum(ols, draws.std(axis=0)), dtype=float)


def _verdict(low: float, high: float, floor: float, resource: Verdict) -> Verdict:
    """LEAK: the resource leaks and this endpoint's whole interval is above the floor."""
    if resource is Verdict.LEAK and low > floor:
        return Verdict.LEAK
    if resource is Verdict.NO_LEAK or high < floor:
        return Verdict.NO_LEAK
    return Verdict.UNDECIDED


def by_refusals(
    counts: Mapping[str, Array], values: Array, refused: Mapping[str, float]
) -> EndpointGrowth | None:
    """A resource that ran out before a fit: the endpoints whose requests its limit refused.

    Only a request that needs the resource is refused for it, so those endpoints are the
    ones that take it. A limit several resources share (PostgreSQL's max_connections)
    refuses every endpoint that needs it: of those, the ones whose own count follows the
    climb (a line on it fits within twice the best one's squared error) are named, and
    those that never varied apart are named together. Their growth is the climb before the
    limit over their own requests then (counts and values: the points before saturation).
    No interval: too few points.
    """
    y = np.asarray(values, dtype=float)
    names = sorted(n for n in refused if n in counts)
    if not names or len(y) < 2 or not np.isfinite(y).any():
        return None
    errors = {n: _line_error(np.asarray(counts[n], dtype=float), y) for n in names}
    best = min(errors.values())
    names = [n for n in names if errors[n] <= 2 * best + 1e-9 * (1 + abs(best))]
    served = sum(float(np.nanmax(counts[n]) - np.nanmin(counts[n])) for n in names)
    rise = float(np.nanmax(y) - y[np.isfinite(y)][0])
    if served <= 0:
        return None
    return EndpointGrowth(
        " + ".join(names), rise / served, (np.nan, np.nan), served, Verdict.LEAK, "refusals"
    )


def _line_error(x: Array, y: Array) -> float:
    """Squared error of the best line y = a + b x."""
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 2 or np.ptp(x[ok]) == 0:
        return float("inf")
    design = np.column_stack([np.ones(int(ok.sum())), x[ok]])
    coef, *_ = np.linalg.lstsq(design, y[ok], rcond=None)
    return float(np.sum((y[ok] - design @ coef) ** 2))


def attribute(
    counts: Mapping[str, Array],
    values: Array,
    threshold_per_1k: float,
    resource_verdict: Verdict,
    segments: Array | None = None,
    warmup_fraction: float = 0.2,
    seed: int = 0,
) -> list[EndpointGrowth]:
    """Each endpoint's (or group's) growth per request, largest first.

    counts: cumulative requests per endpoint on the scrape grid; values: the resource.
    An endpoint is LEAK only when the resource is and its whole interval is above the
    floor (the threshold per request, and MATERIAL of the costliest endpoint's growth);
    NO LEAK when its interval is below it (or the resource is NO LEAK); UNDECIDED otherwise.
    """
    names = [n for n in counts if np.nanmax(np.asarray(counts[n], dtype=float), initial=0) > 0]
    if not names:
        return []
    x, y, seg = _points(
        {n: counts[n] for n in names}, values, segments, int(len(values) * warmup_fraction)
    )
    groups = _groups(x) if len(y) >= MIN_POINTS else []
    if not groups:
        return []
    gx = np.column_stack([x[:, g].sum(axis=1) for g in groups])
    design = _design(gx, seg)
    if len(y) - design.shape[1] < MIN_DOF:
        return []
    coef = _fit(design, y, len(groups))
    if coef is None:
        return []
    se = _spread(design, y, len(groups), seed)
    df = len(y) - design.shape[1]
    half = float(student_t.ppf(0.975, df)) * se
    # named LEAK: above the floor at 5 % for all endpoints together (Bonferroni), so one
    # run's ten clean endpoints do not each get their own 5 % chance of being named
    named_low = coef - float(student_t.ppf(1 - NAMING_ALPHA / len(groups), df)) * se
    floor = max(threshold_per_1k / 1000.0, MATERIAL * float(np.max(coef)))
    out = []
    for i, group in enumerate(groups):
        served = sum(float(np.nanmax(np.asarray(counts[names[j]], dtype=float))) for j in group)
        out.append(
            EndpointGrowth(
                " + ".join(names[j] for j in group),
                float(coef[i]),
                (float(coef[i] - half[i]), float(coef[i] + half[i])),
                served,
                _verdict(named_low[i], coef[i] + half[i], floor, resource_verdict),
            )
        )
    return sorted(out, key=lambda e: -e.growth_per_request)
