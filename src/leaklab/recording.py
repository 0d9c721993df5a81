"""A run recorded point by point in memory, and its verdicts: what the Locust plugin decides on.

Each point holds the requests sent so far (per request name, from the plugin's own
counters, which Locust's Reset Stats does not clear) and every resource's value. A target
that restarted (its process start time changed) starts a new segment, as a worker restart
does in `leaklab check`.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from leaklab.verdict.check import AppVerdict, CheckResult, decide_app, endpoints_of
from leaklab.verdict.origins import Census, origins_of
from leaklab.verdict.query import AppData, Resource, Window
from leaklab.verdict.stats import Series


@dataclass
class Recording:
    """The points of one run (thread-safe: the scraper appends while the UI decides)."""

    resources: tuple[Resource, ...]
    step: float
    source: str  # the metrics URLs, or the Prometheus, it was read from
    times: list[float] = field(default_factory=list)
    counts: list[dict[str, float]] = field(default_factory=list)
    values: list[dict[str, float]] = field(default_factory=list)
    segments: list[int] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _started: tuple[float, ...] | None = None
    # where the live objects were made, at the first read that had a census and the latest
    first_census: Census | None = None
    last_census: Census | None = None

    def add(
        self,
        at: float,
        counts: Mapping[str, float],
        values: Mapping[str, float],
        started: tuple[float, ...] = (),
        census: Census | None = None,
    ) -> None:
        """One point: requests so far per name, each resource's value (absent: unknown), and
        what the target said of where its live objects were made (None: not read)."""
        with self._lock:
            if census is not None:
                self.first_census = self.first_census or census
                self.last_census = census
            segment = self.segments[-1] if self.segments else 0
            if started and self._started is not None and started != self._started:
                segment += 1
            if started:
                self._started = started
            self.times.append(at)
            self.counts.append(dict(counts))
            self.values.append(dict(values))
            self.segments.append(segment)

    def __len__(self) -> int:
        return len(self.times)

    def arrays(self) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray]:
        """Times, cumulative requests per name, each resource's values, segments."""
        with self._lock:
            times, counts = list(self.times), list(self.counts)
            values, segments = list(self.values), list(self.segments)
        names = sorted({name for point in counts for name in point})
        per_name = {n: np.array([p.get(n, 0.0) for p in counts], dtype=float) for n in names}
        per_resource = {
            r.name: np.array([v.get(r.name, math.nan) for v in values], dtype=float)
            for r in self.resources
        }
        return np.array(times, dtype=float), per_name, per_resource, np.array(segments)

    def result(self, app: str = "target") -> CheckResult:
        """The verdicts, with each resource's endpoints and origins, as `leaklab check`
        gives them."""
        times, per_name, per_resource, segments = self.arrays()
        total = np.sum(list(per_name.values()), axis=0) if per_name else np.zeros(len(times))
        data = AppData(requests=total, segments=segments)
        for resource in self.resources:
            data.resources[resource.name] = Series(total, per_resource[resource.name], segments)
            data.bounds[resource.name] = None
        data.endpoints = per_name
        decisions = decide_app(data, self.resources)
        endpoints = endpoints_of(data, decisions, self.resources)
        with self._lock:
            first, last = self.first_census, self.last_census
        # a user's app: its endpoints are not our scenarios', so every origin of a kind counts
        names = [r.name for r in self.resources]
        origins = origins_of(names, last, first, scoped=False) if last is not None else {}
        verdict = AppVerdict(app, self.source, data, decisions, endpoints, origins)
        start = float(times[0]) if len(times) else 0.0
        window = Window(start, float(times[-1]) if len(times) else start, self.step)
        return CheckResult(self.source, window, self.resources, [verdict])
