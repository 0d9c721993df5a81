"""Read a run's series from Prometheus's HTTP API and line them up on one time grid."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import requests

from leaklab import scenarios
from leaklab.scenarios import ALLOCATED_BYTES, LIVE_OBJECTS, SCENARIOS, WINDOW_END, Leak, MiB
from leaklab.verdict.origins import Census
from leaklab.verdict.stats import LEGAL, Rules, Series


class QueryError(RuntimeError):
    """Prometheus did not answer, refused the query, or has no such series."""


@dataclass(frozen=True)
class Resource:
    """One resource to judge: a gauge selector and how to read it."""

    name: str
    selector: str
    threshold_per_1k: float
    unit: str
    bound: str | None = None  # selector of the legal maximum (pool max x workers)
    exhausted: tuple[str, ...] = ()  # leaklab_exhausted_total{resource=...} meaning saturation
    own_limits: tuple[str, ...] = ()  # of those, the limits of this resource itself
    warmup_requests: float = 0.0  # requests a fresh process needs before this resource settles
    in_flight: bool = False  # held one per request in flight at most, unless leaked
    noise_multiple: float = 0.0  # K > 0: the threshold is at least K x the run's noise
    noise_grain: float = 0.0  # the least growth over the run that can count

    @property
    def scale(self) -> tuple[float, str]:
        """How its figures are shown: bytes as MiB, counts as they are."""
        return (MiB, "MiB") if self.unit == "bytes" else (1.0, self.unit)

    def rules(self, bound: float | None = None, why: str = LEGAL) -> Rules:
        """How `decide` judges this resource (bound: the most it can legally hold, if known)."""
        return Rules(
            self.threshold_per_1k,
            bound=bound,
            bound_why=why,
            warmup_requests=self.warmup_requests,
            noise_multiple=self.noise_multiple,
            noise_grain=self.noise_grain,
        )


def from_leak(leak: Leak) -> Resource:
    """A registry resource as the verdict reads it."""
    return Resource(
        leak.resource,
        leak.held.name,
        leak.threshold_per_1k,
        leak.unit,
        bound=leak.bound.name if leak.bound else None,
        # the process's own limits saturate every resource it has, whichever leak hit them
        exhausted=tuple(dict.fromkeys((*leak.exhausted, *scenarios.PROCESS_LIMITS))),
        own_limits=leak.exhausted,
        warmup_requests=leak.warmup_requests,
        in_flight=leak.in_flight,
        noise_multiple=leak.noise_multiple,
        noise_grain=leak.noise_grain,
    )


def contract() -> tuple[Resource, ...]:
    """Every resource the verdict judges on our apps, from the registry as it is now."""
    return tuple(from_leak(leak) for leak in SCENARIOS.contract())


CONTRACT = contract()  # the registry's scenarios at import (toy scenarios: call contract())
REQUESTS = scenarios.API_REQUESTS
WORKERS = scenarios.WORKER_RSS.name  # per-pid: a new pid set is a restart
EXHAUSTED = f"{scenarios.EXHAUSTED}_total"
LOAD_USERS = scenarios.LOAD_USERS
ENDPOINT_LABELS = ("path", "endpoint", "handler", "route", "name")  # the first that names all


def with_matchers(selector: str, matchers: str) -> str:
    """Add label matchers to a metric selector: m{a="b"} + app="x" -> m{a="b",app="x"}."""
    if not matchers:
        return selector
    if selector.rstrip().endswith("}"):
        head = selector.rstrip()[:-1].rstrip()
        return f"{head}{'' if head.endswith('{') else ','}{matchers}}}"
    return f"{selector}{{{matchers}}}"


@dataclass
class Window:
    """A time grid: start, end (Unix seconds) and step."""

    start: float
    end: float
    step: float

    @property
    def times(self) -> np.ndarray:
        return np.arange(self.start, self.end + self.step / 2, self.step)


@dataclass
class AppData:
    """Everything read for one app on the window's grid."""

    requests: np.ndarray
    segments: np.ndarray
    resources: dict[str, Series] = field(default_factory=dict)
    bounds: dict[str, float | None] = field(default_factory=dict)
    users: np.ndarray | None = None
    # cumulative requests per endpoint (label value), when the request counter has one
    endpoints: dict[str, np.ndarray] = field(default_factory=dict)
    # per resource that ran out: the requests refused at its limit, by path (check fills it)
    refusals: dict[str, dict[str, float]] = field(default_factory=dict)


class Prometheus:
    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def range(self, expr: str, window: Window) -> list[dict[str, Any]]:
        return self._get(
            "query_range",
            expr,
            start=str(window.start),
            end=str(window.end),
            step=str(window.step),
        )

    def instant(self, expr: str, at: float) -> list[dict[str, Any]]:
        """The expression's series at one time (each with `metric` and `value`)."""
        return self._get("query", expr, time=str(at))

    def _get(self, api: str, expr: str, **params: str) -> list[dict[str, Any]]:
        try:
            response = requests.get(
                f"{self.url}/api/v1/{api}", params={"query": expr, **params}, timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise QueryError(
                f"Prometheus at {self.url} does not answer ({type(exc).__name__})"
            ) from None
        try:
            body = response.json()
        except ValueError:
            raise QueryError(
                f"{self.url} is not a Prometheus API (HTTP {response.status_code})"
            ) from None
        if body.get("status") != "success":
            raise QueryError(f"Prometheus refused {expr!r}: {body.get('error', body)}")
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def grid(self, expr: str, window: Window, required: bool = True) -> np.ndarray | None:
        """One series on the window's grid (NaN where absent); None if absent and optional."""
        result = self.range(expr, window)
        if not result:
            if required:
                raise QueryError(
                    f"no data for {expr!r} between the window's start and end: "
                    "check the selector and the time window"
                )
            return None
        values = np.full(len(window.times), np.nan)
        index = {round(t, 3): i for i, t in enumerate(window.times)}
        for ts, value in result[0]["values"]:
            i = index.get(round(float(ts), 3))
            if i is not None:
                values[i] = float(value)
        return values

    def grids_by(self, expr: str, label: str, window: Window) -> dict[str, np.ndarray]:
        """Each series of a result on the window's grid, by the value of one label."""
        index = {round(t, 3): i for i, t in enumerate(window.times)}
        out: dict[str, np.ndarray] = {}
        for series in self.range(expr, window):
            values = np.full(len(window.times), np.nan)
            for ts, value in series["values"]:
                i = index.get(round(float(ts), 3))
                if i is not None:
                    values[i] = float(value)
            out[str(series["metric"].get(label, ""))] = values
        return out

    def pid_sets(self, expr: str, window: Window) -> list[frozenset[str]]:
        """The set of per-worker series present at each grid time."""
        sets: list[set[str]] = [set() for _ in window.times]
        index = {round(t, 3): i for i, t in enumerate(window.times)}
        for series in self.range(expr, window):
            pid = str(series["metric"].get("pid", ""))
            for ts, _value in series["values"]:
                i = index.get(round(float(ts), 3))
                if i is not None:
                    sets[i].add(pid)
        return [frozenset(s) for s in sets]


def _segments(requests_: np.ndarray, pid_sets: list[frozenset[str]] | None) -> np.ndarray:
    """A new segment wherever the request counter fell or the worker set changed."""
    seg = np.zeros(len(requests_), dtype=np.int64)
    current, previous_pids, previous_count = 0, None, None
    for i, count in enumerate(requests_):
        pids = pid_sets[i] if pid_sets else None
        if previous_count is not None and np.isfinite(count) and count < previous_count:
            current += 1
        elif pids and previous_pids and pids != previous_pids:
            current += 1
        seg[i] = current
        if pids:
            previous_pids = pids
        if np.isfinite(count):
            previous_count = count
    return seg


def _cumulative(counter: np.ndarray) -> np.ndarray:
    """Requests served since the window's start; a counter reset starts again from 0."""
    out = np.full(len(counter), np.nan)
    total, last = 0.0, None
    for i, value in enumerate(counter):
        if not np.isfinite(value):
            continue
        if last is not None:
            total += value - last if value >= last else value
        last = value
        out[i] = total
    return out


def read_app(
    prom: Prometheus,
    matchers: str,
    resources: tuple[Resource, ...],
    requests_selector: str,
    window: Window,
) -> AppData:
    counter = prom.grid(f"sum({with_matchers(requests_selector, matchers)})", window)
    assert counter is not None
    pid_result = prom.range(with_matchers(WORKERS, matchers), window)
    pid_sets = prom.pid_sets(with_matchers(WORKERS, matchers), window) if pid_result else None
    seg = _segments(counter, pid_sets)
    served = _cumulative(counter)
    data = AppData(requests=served, segments=seg)
    for resource in resources:
        values = prom.grid(f"sum({with_matchers(resource.selector, matchers)})", window)
        assert values is not None
        exhausted = None
        if resource.exhausted:
            pattern = "|".join(re.escape(r) for r in resource.exhausted)
            refused = with_matchers(
                EXHAUSTED,
                f'{matchers},resource=~"{pattern}"' if matchers else f'resource=~"{pattern}"',
            )
            exhausted = prom.grid(f"sum({refused})", window, required=False)
            if exhausted is not None:
                exhausted = np.nan_to_num(exhausted, nan=float(np.nanmin(exhausted)))
        data.resources[resource.name] = Series(served, values, seg, exhausted)
        bound = None
        if resource.bound:
            bound_values = prom.grid(
                f"sum({with_matchers(resource.bound, matchers)})", window, required=False
            )
            if bound_values is not None and np.isfinite(bound_values).any():
                bound = float(np.nanmax(bound_values))
        data.bounds[resource.name] = bound
    data.users = prom.grid(f"sum({with_matchers(LOAD_USERS, matchers)})", window, required=False)
    data.endpoints = _endpoint_counts(prom, with_matchers(requests_selector, matchers), window)
    return data


def refusals_by_path(
    prom: Prometheus, matchers: str, resource: Resource, window: Window
) -> dict[str, float]:
    """Requests the resource's own limits refused within the window, by path (a series born
    refused counts from 0). Read only to name a resource that ran out (check does)."""
    own = "|".join(re.escape(r) for r in resource.own_limits or resource.exhausted)
    refused = with_matchers(
        EXHAUSTED, f'{matchers},resource=~"{own}"' if matchers else f'resource=~"{own}"'
    )
    out = {}
    for path, values in prom.grids_by(f"sum by (path) ({refused})", "path", window).items():
        seen = values[np.isfinite(values)]
        if path and len(seen):
            born = not np.isfinite(values[0])  # the first refusal made the series
            out[path] = float(seen[-1] - (0.0 if born else seen[0]))
    return {path: n for path, n in out.items() if n > 0}


def _endpoint_counts(prom: Prometheus, selector: str, window: Window) -> dict[str, np.ndarray]:
    """Cumulative requests per endpoint, by the counter's first label naming endpoints."""
    for label in ENDPOINT_LABELS:
        counters = prom.grids_by(f"sum by ({label}) ({selector})", label, window)
        named = {value: c for value, c in counters.items() if value}
        if len(named) >= 2 or (named and len(counters) == 1):  # one endpoint: it is that one
            return {value: np.nan_to_num(_cumulative(c), nan=0.0) for value, c in named.items()}
    return {}


def census_at(prom: Prometheus, matchers: str, at: float) -> Census:
    """What the app says is live at one time, by where it was made (empty: no probe)."""
    census = Census()
    for metric, by in (
        (LIVE_OBJECTS, "sum by (kind, origin, endpoint)"),
        (ALLOCATED_BYTES, "sum by (origin, endpoint)"),
        (WINDOW_END, "max"),
    ):
        for series in prom.instant(f"{by} ({with_matchers(metric, matchers)})", at):
            labels = {k: str(v) for k, v in series["metric"].items()}
            census.add_sample(metric, labels, float(series["value"][1]))
    return census
