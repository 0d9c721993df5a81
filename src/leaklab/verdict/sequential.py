"""When a LEAK may be claimed: looks on a geometric grid of requests, each spending its share
of the false-alarm budget, so the guarantee holds however often the verdict is re-read.

Why alpha spending rather than a confidence sequence or an e-process: the slope's error
is autocorrelated and heavy-tailed (allocator steps), where the sub-Gaussian boundaries of
confidence sequences do not hold as stated; the union bound over looks needs only that each
look's test holds its own level, which the block bootstrap and the noise-model simulation
check (docs/design.md, "The verdict's guarantee").
"""

from __future__ import annotations

import math

from scipy.stats import t as student

# A LEAK is claimed only at looks on a geometric grid of requests served (100, 125, 156, ...:
# the data up to the last grid point crossed), look k at level ALPHA * 6 / (pi^2 k^2): summed
# over every look of a run that is at most ALPHA, however often the verdict is re-read.
ALPHA = 0.01
LOOK_GROWTH = 1.25


def look(served: float, first: float) -> tuple[int, float]:
    """The look a run of `served` requests is at (1, 2, ...) and the requests it decides on."""
    if served < first:
        return 0, 0.0
    k = int(math.floor(math.log(served / first) / math.log(LOOK_GROWTH) + 1e-9)) + 1
    return k, first * LOOK_GROWTH ** (k - 1)


def look_z(k: int, blocks: float = math.inf) -> float:
    """The one-sided quantile at look k's share of ALPHA: Student's t on the independent
    blocks the residuals hold (few blocks: the bootstrap's spread is itself uncertain)."""
    share = ALPHA * 6 / (math.pi**2 * k**2)
    return float(student.isf(share, max(blocks - 1, 1.0)))
