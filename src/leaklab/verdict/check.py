"""Turn a window of Prometheus data into verdicts per app and resource, and their JSON."""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from leaklab.exit_codes import ExitCode
from leaklab.verdict.endpoints import EndpointGrowth, attribute, by_refusals
from leaklab.verdict.origins import Census, Origin, origins_of
from leaklab.verdict.query import (
    REQUESTS,
    AppData,
    Prometheus,
    QueryError,
    Resource,
    Window,
    census_at,
    contract,
    read_app,
    refusals_by_path,
)
from leaklab.verdict.stats import Decision, Rules, Verdict, decide

SCHEMA = "leaklab.check/v1"


@dataclass
class AppVerdict:
    name: str
    matchers: str
    data: AppData
    decisions: dict[str, Decision] = field(default_factory=dict)
    # per resource, each endpoint's growth per request (when per-endpoint counts are known)
    endpoints: dict[str, list[EndpointGrowth]] = field(default_factory=dict)
    # per resource, where its live objects were made (only when the app exports origins)
    origins: dict[str, list[Origin]] = field(default_factory=dict)

    @property
    def verdict(self) -> Verdict:
        verdicts = {d.verdict for d in self.decisions.values()}
        if Verdict.LEAK in verdicts:
            return Verdict.LEAK
        return Verdict.NO_LEAK if verdicts == {Verdict.NO_LEAK} else Verdict.UNDECIDED

    @property
    def requests(self) -> float:
        served = self.data.requests
        return float(max((x for x in served if x == x), default=0.0))


@dataclass
class CheckResult:
    prometheus: str
    window: Window
    resources: tuple[Resource, ...]
    apps: list[AppVerdict]
    scenarios: tuple[str, ...] = ()  # the scenarios the load drove (ours only; () unknown)

    @property
    def exit_code(self) -> ExitCode:
        verdicts = {app.verdict for app in self.apps}
        if Verdict.LEAK in verdicts:
            return ExitCode.LEAK
        if verdicts == {Verdict.NO_LEAK}:
            return ExitCode.OK
        return ExitCode.UNDECIDED

    def to_json(self) -> dict[str, Any]:
        units = {r.name: r for r in self.resources}
        return {
            "schema": SCHEMA,
            "prometheus": self.prometheus,
            "window": {
                "start": self.window.start,
                "end": self.window.end,
                "step_seconds": self.window.step,
            },
            "exit_code": int(self.exit_code),
            **({"scenarios": list(self.scenarios)} if self.scenarios else {}),
            "apps": {
                app.name: {
                    "selector": app.matchers,
                    "verdict": app.verdict.value,
                    "requests": app.requests,
                    "resources": {
                        name: {
                            **_decision_json(d, units[name], app.data.bounds.get(name)),
                            **(
                                {"endpoints": [e.to_json() for e in app.endpoints[name]]}
                                if name in app.endpoints
                                else {}
                            ),
                            **(
                                {"origins": [o.to_json() for o in app.origins[name]]}
                                if name in app.origins
                                else {}
                            ),
                        }
                        for name, d in app.decisions.items()
                    },
                }
                for app in self.apps
            },
        }

    def write_json(self, path: Path) -> None:
        """Write the file only: its directory must exist (a typo should not grow a tree)."""
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")


def _decision_json(d: Decision, resource: Resource, bound: float | None) -> dict[str, Any]:
    fit = d.fit
    return {
        "verdict": d.verdict.value,
        "reason": d.reason,
        "unit": resource.unit,
        "threshold_per_1k_requests": d.threshold_per_1k or resource.threshold_per_1k,
        "growth_per_1k_requests": fit.slope_per_1k if fit else None,
        "ci95_per_1k_requests": [fit.ci_low_per_1k, fit.ci_high_per_1k] if fit else None,
        "late_half_growth_per_1k_requests": fit.late_slope_per_1k if fit else None,
        "requests_analysed": d.requests,
        "warmup_until_requests": fit.warmup_until if fit else None,
        "saturated_at_requests": d.saturated_at,
        "requests_to_decide": d.requests_to_decide,
        "legal_bound": bound,
        "method": d.method,
    }


def window_since(seconds: float, step: float) -> Window:
    end = float(int(time.time()))
    return Window(end - seconds, end, step)


def run_check(
    prometheus_url: str,
    apps: dict[str, str],
    window: Window,
    resources: tuple[Resource, ...] | None = None,
    requests_selector: str = REQUESTS,
) -> CheckResult:
    """Read every app's series for the window and decide each resource (default: contract)."""
    resources = resources or contract()
    prom = Prometheus(prometheus_url)
    verdicts = []
    for name, matchers in apps.items():
        data = read_app(prom, matchers, resources, requests_selector, window)
        decisions = decide_app(data, resources)
        for resource in resources:  # a LEAK that ran out is named by where it was refused
            decision = decisions[resource.name]
            if decision.verdict is Verdict.LEAK and decision.saturated_at is not None:
                data.refusals[resource.name] = refusals_by_path(prom, matchers, resource, window)
        endpoints = endpoints_of(data, decisions, resources)
        origins = read_origins(prom, matchers, window, [r.name for r in resources])
        verdicts.append(AppVerdict(name, matchers, data, decisions, endpoints, origins))
    return CheckResult(prometheus_url, window, resources, verdicts)


def read_origins(
    prom: Prometheus, matchers: str, window: Window, names: list[str]
) -> dict[str, list[Origin]]:
    """Per resource, where the app's live objects were made: the census at the window's end
    against the one at its start ({} when the app exports none, or they cannot be read: the
    verdict stands without them)."""
    try:
        end = census_at(prom, matchers, window.end)
        start = census_at(prom, matchers, window.start) if end.exported else Census()
    except QueryError:
        return {}
    return origins_of(names, end, start)


def endpoints_of(
    data: AppData, decisions: dict[str, Decision], resources: tuple[Resource, ...]
) -> dict[str, list[EndpointGrowth]]:
    """Per resource, the endpoints its growth comes from (none known: an empty dict)."""
    if not data.endpoints:
        return {}
    out = {}
    for resource in resources:
        decision = decisions[resource.name]
        series = data.resources[resource.name]
        if len(data.endpoints) == 1:  # one endpoint: the resource's own verdict is its
            ((name, counts),) = data.endpoints.items()
            fit = decision.fit
            scale = 1000.0
            out[resource.name] = [
                EndpointGrowth(
                    name,
                    fit.slope_per_1k / scale if fit else math.nan,
                    (fit.ci_low_per_1k / scale, fit.ci_high_per_1k / scale)
                    if fit
                    else (math.nan, math.nan),
                    float(np.nanmax(counts, initial=0.0)),
                    decision.verdict,
                )
            ]
            continue
        # as the verdict does: only the climb before the app saturated (then it is flat)
        keep = np.ones(len(series.values), dtype=bool)
        if decision.saturated_at is not None:
            keep = np.nan_to_num(np.asarray(series.requests, dtype=float), nan=0.0) < (
                decision.saturated_at
            )
        segments = None if series.segments is None else np.asarray(series.segments, dtype=float)
        before = {name: counts[keep] for name, counts in data.endpoints.items()}
        values = np.asarray(series.values, dtype=float)[keep]
        found = attribute(
            before,
            values,
            resource.threshold_per_1k,
            decision.verdict,
            None if segments is None else segments[keep],
        )
        named = any(e.verdict is Verdict.LEAK for e in found)
        if decision.verdict is Verdict.LEAK and decision.saturated_at is not None and not named:
            refused = by_refusals(before, values, data.refusals.get(resource.name, {}))
            found = [refused] if refused else found
        out[resource.name] = found
    return out


def decide_app(data: AppData, resources: tuple[Resource, ...] | None = None) -> dict[str, Decision]:
    """Each resource's decision for one app's data (CPU only: the live view runs it off-loop)."""
    decisions = {}
    for resource in resources or contract():
        decisions[resource.name] = decide(data.resources[resource.name], rules_of(data, resource))
    return decisions


def in_flight_why(start: float, users: float, others: float) -> str:
    """The reason's words for the bound physics gives a resource held per request."""
    return f"{start:.0f} at the start + {users:.0f} users' requests in flight + {others:.0f}"


IN_FLIGHT_OTHERS = 2  # requests in flight besides Locust's users: health checks, scrapes


def rules_of(data: AppData, resource: Resource) -> Rules:
    """The resource's rules with its bound: the one the app declares, or, for a resource
    held one per request in flight, the one physics gives: a pool that grows on demand holds
    at most its start plus one per request in flight, and Locust runs one request per user
    at a time, and a few more for health checks and scrapes (so more than that, with no
    bound declared, only a leak explains)."""
    declared = data.bounds.get(resource.name)
    if declared is not None and declared > 0:
        return resource.rules(declared)
    users = None if data.users is None else data.users[np.isfinite(data.users)]
    values = np.asarray(data.resources[resource.name].values, dtype=float)
    values = values[np.isfinite(values)]
    if resource.in_flight and users is not None and len(users) and users.max() > 0 and len(values):
        start, most = float(values[0]), float(users.max())
        others = max(IN_FLIGHT_OTHERS, np.ceil(0.1 * most))
        served = np.nanmax(data.requests, initial=0.0) - np.nanmin(data.requests, initial=0.0)
        if served > most + others:  # no load, no requests in flight to reason about
            return resource.rules(start + most + others, in_flight_why(start, most, others))
    return resource.rules(declared)
