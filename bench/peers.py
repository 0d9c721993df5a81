"""What teams alert on today, evaluated as Prometheus evaluates it, on the same series.

  deriv:          deriv(x[5m]) > 0, held `for: 10m` (the rule most leak alerts copy);
  predict_linear: predict_linear(x[5m], 3600) > limit, held `for: 5m` (will it run out
                  within the hour: PostgreSQL's max_connections, 1 GiB above the start).

Both read one point per second (a 1 s scrape and evaluation). `deriv` is the least squares
slope of the window's samples over time; `predict_linear` extrapolates that line from the
window's last sample. Pure numpy; bench/detection.py compares them with leaklab's verdict.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Peer:
    name: str
    window: int  # seconds of samples the range selector holds
    hold: int  # seconds the condition must hold (the rule's `for:`)
    horizon: float = 0.0  # predict_linear's seconds ahead (0: deriv > 0)


DERIV = Peer("deriv(x[5m]) > 0 for 10m", 300, 600)
PREDICT = Peer("predict_linear(x[5m], 1h) > limit for 5m", 300, 300, 3600.0)
PEERS = (DERIV, PREDICT)
MEMORY_HEADROOM = 2.0**30  # a container with 1 GiB above the start
COUNT_LIMIT = 100.0  # PostgreSQL's max_connections


def _windowed_line(y: Array, window: int) -> tuple[Array, Array]:
    """At each second t >= window - 1: slope and fitted value at t of the least squares line
    through the last `window` samples (NaN before a full window)."""
    n = len(y)
    slope, at_end = np.full(n, np.nan), np.full(n, np.nan)
    if n < window:
        return slope, at_end
    t = np.arange(window, dtype=float)
    tc = t - t.mean()
    views = np.lib.stride_tricks.sliding_window_view(y, window)
    b = views @ tc / float(tc @ tc)
    slope[window - 1 :] = b
    at_end[window - 1 :] = views.mean(axis=1) + b * tc[-1]
    return slope, at_end


def first_alarm(peer: Peer, y: Array, limit: float) -> int | None:
    """The second at which the rule first fires (its condition held for `hold`), or None."""
    slope, at_end = _windowed_line(np.asarray(y, dtype=float), peer.window)
    if peer.horizon:
        condition = at_end + slope * peer.horizon > limit
    else:
        condition = slope > 0
    held = 0
    for i, on in enumerate(np.nan_to_num(condition, nan=0.0).astype(bool)):
        held = held + 1 if on else 0
        if held > peer.hold:  # pending for `hold`, then firing
            return i
    return None


def limit_for(y: Array, memory: bool) -> float:
    """The limit predict_linear is asked about: 1 GiB above the start, or max_connections."""
    return float(y[0]) + MEMORY_HEADROOM if memory else COUNT_LIMIT
