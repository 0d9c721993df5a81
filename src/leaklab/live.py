"""The live leaky-vs-fixed view's data: chart series and the current verdicts, as JSON.

Locust's web UI serves it (locust/leaks_view.py), the speaker projects it. It is
kept free of Locust so it can be tested on its own. The verdicts come from the
same reader and statistics as `leaklab check`; only the window differs: the
current run, from Locust's start to now.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, TypeVar

from leaklab.scenarios import SCENARIOS, Chart
from leaklab.story import STACK_APPS, warm_after
from leaklab.verdict.check import AppVerdict, decide_app, read_origins
from leaklab.verdict.origins import Origin, origin_line
from leaklab.verdict.query import (
    REQUESTS,
    AppData,
    Prometheus,
    QueryError,
    Window,
    contract,
    read_app,
)
from leaklab.verdict.stats import Decision, Verdict

T = TypeVar("T")


def charts() -> list[Chart]:
    """The charts the page draws, from the registry as it is now."""
    return SCENARIOS.charts()


def told() -> dict[str, Any]:
    """What the stage layout shows per scenario (its charts and its verdict cards), and the
    default story's names: the page keeps the scenarios being told, the rest off stage."""
    rss = "rss"
    return {
        "story": [s.name for s in SCENARIOS.story()],
        "scenarios": {
            s.name: {
                "charts": [
                    *(c.key for c in s.leak_charts()),
                    *(c.key for c in s.charts),
                    *([rss] if rss in s.judged else []),
                ],
                "resources": list(s.resources),
            }
            for s in SCENARIOS
        },
    }


def titles() -> dict[str, str]:
    """Verdict cards' titles by resource, in the order the page shows them."""
    return {leak.resource: leak.title for leak in SCENARIOS.shown()}


MAX_CHART_POINTS = 400
MAX_WINDOW = 15 * 60.0  # a talk is minutes long; older data only slows the page
IDLE_WINDOW = 120.0  # before the first run: the last two minutes
LEAD_IN = 5.0  # seconds shown before the run started: the baseline


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _inline(work: Callable[[], T]) -> T:
    return work()


class LiveView:
    """Charts refreshed on every call; verdicts recomputed at most every `verdict_every` s."""

    def __init__(
        self,
        prometheus_url: str,
        step: float = 1.0,
        apps: dict[str, str] | None = None,
        verdict_every: float = 2.0,
        offload: Callable[[Callable[[], Any]], Any] = _inline,
        spawn: Callable[[Callable[[], None]], Any] = _inline,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.prometheus = Prometheus(prometheus_url)
        self.step = step
        self.apps = apps or dict(STACK_APPS)
        self.verdict_every = verdict_every
        self._offload = offload  # runs the CPU-bound statistics (a thread under gevent)
        self._spawn = spawn  # runs a whole decision in the background (a greenlet)
        self._clock = clock
        self.run_started: float | None = None
        self._verdicts: dict[str, Any] = {}
        self._verdicts_at = -math.inf
        self._deciding = False

    def run_started_now(self) -> None:
        """A new load run: the verdicts start over from here."""
        self.run_started = self._clock()
        self._verdicts, self._verdicts_at = {}, -math.inf

    def window(self) -> Window:
        end = float(int(self._clock()))
        if self.run_started is None:
            start = end - IDLE_WINDOW
        else:
            start = max(float(int(self.run_started - LEAD_IN)), end - MAX_WINDOW)
        return Window(start, end, self.step)

    def snapshot(self) -> dict[str, Any]:
        """Everything the page draws, as JSON-ready data."""
        window = self.window()
        body: dict[str, Any] = {
            "time": window.end,
            "window": {"start": window.start, "end": window.end},
            "run_started": self.run_started,
            "apps": list(self.apps),
            "error": None,
            "told": told(),
        }
        try:
            body["charts"] = self.charts(window)
        except QueryError as exc:
            body["error"] = str(exc)
            body["charts"] = []
        body["verdicts"] = self.verdicts(window)
        return body

    def charts(self, window: Window) -> list[dict[str, Any]]:
        span = window.end - window.start
        step = max(self.step, math.ceil(span / MAX_CHART_POINTS / self.step) * self.step)
        grid = Window(window.start, window.end, step)
        times = [float(t) for t in grid.times]
        index = {round(t, 3): i for i, t in enumerate(times)}
        drawn: list[dict[str, Any]] = []
        for chart in charts():
            series: dict[str, list[list[float | None]]] = {
                app: [[None] * len(times) for _ in chart.lines] for app in self.apps
            }
            for n, line in enumerate(chart.lines):
                for result in self.prometheus.range(line.expr, grid):
                    app = str(result["metric"].get("app", ""))
                    if app not in series:
                        continue
                    for ts, value in result["values"]:
                        i = index.get(round(float(ts), 3))
                        if i is not None:
                            series[app][n][i] = _finite(float(value))
            drawn.append(
                {
                    "key": chart.key,
                    "title": chart.title,
                    "unit": chart.unit,
                    "from_zero": chart.from_zero,
                    "lines": [{"label": ln.label, "dashed": ln.dashed} for ln in chart.lines],
                    "times": times,
                    "series": series,
                    "now": {
                        app: [_last(values) for values in lines] for app, lines in series.items()
                    },
                }
            )
        return drawn

    def verdicts(self, window: Window) -> dict[str, Any]:
        """Per resource and app: the verdict of `leaklab check` over this run so far.

        Returns at once with the last verdicts; when they are older than `verdict_every`,
        a fresh decision starts in the background (`spawn`), so no page waits for it.
        """
        stale = self._clock() - self._verdicts_at >= self.verdict_every
        if stale and not self._deciding and self.run_started is not None:
            self._deciding = True
            self._spawn(lambda: self._decide(window, self.run_started))
        return self._verdicts

    def _decide(self, window: Window, run: float | None) -> None:
        try:
            resources = contract()
            data = {
                app: read_app(self.prometheus, matchers, resources, REQUESTS, window)
                for app, matchers in self.apps.items()
            }
            decisions: dict[str, dict[str, Decision]] = self._offload(
                lambda: {app: decide_app(d, resources) for app, d in data.items()}
            )
            names = [r.name for r in resources]
            origins = {
                app: read_origins(self.prometheus, matchers, window, names)
                for app, matchers in self.apps.items()
            }
            if run == self.run_started:  # not a run that has since been replaced
                self._verdicts = _verdicts_json(data, decisions, origins)
                self._verdicts_at = self._clock()
        except QueryError:
            pass  # the charts report Prometheus's error; the last verdicts stay
        finally:
            self._deciding = False

    def table_rows(self) -> list[dict[str, str]]:
        """The same verdicts as rows for Locust's own "Leaks" tab (text cells only)."""
        rows = []
        for per_app in self._verdicts.values():  # already in the page's order
            row = {"resource": per_app["title"]}
            for app in self.apps:
                v = per_app.get(app)
                row[app] = _cell(v) if v else "-"
            rows.append(row)
        return rows


def _last(values: list[float | None]) -> float | None:
    return next((v for v in reversed(values) if v is not None), None)


def _verdicts_json(
    data: dict[str, AppData],
    decisions: dict[str, dict[str, Decision]],
    origins: dict[str, dict[str, list[Origin]]] | None = None,
) -> dict[str, Any]:
    """Resources in the page's order (`order` too: JSON objects lose it), each app's verdict
    and, when the app exports origins, the line where the most growing objects were made."""
    served = {app: AppVerdict(app, "", d).requests for app, d in data.items()}
    by_name = {r.name: r for r in contract()}
    out: dict[str, Any] = {}
    for order, (name, title) in enumerate(titles().items()):
        divisor, unit = by_name[name].scale
        per_app: dict[str, Any] = {"title": title, "order": order}
        warm = warm_after(by_name[name].warmup_requests)
        for app, by_resource in decisions.items():
            d = by_resource[name]
            per_app[app] = {
                "verdict": d.verdict.value,
                "reason": d.reason,
                "growth_per_1k_requests": d.fit.slope_per_1k / divisor if d.fit else None,
                "unit": unit,
                "requests": served[app],
                "saturated": d.saturated_at is not None,
                "requests_to_decide": d.requests_to_decide,
                "origin": _top(origins, app, name),
            }
            if served[app] < warm:  # as the talk: no verdict on stage before the warm-up
                per_app[app].update(
                    verdict=Verdict.UNDECIDED.value,
                    reason=f"warming up: {served[app]:.0f} of {warm:.0f} requests served",
                    growth_per_1k_requests=None,
                    saturated=False,
                    requests_to_decide=math.ceil(warm - served[app]),
                )
        out[name] = per_app
    return out


def _top(origins: dict[str, dict[str, list[Origin]]] | None, app: str, name: str) -> str | None:
    found = (origins or {}).get(app, {}).get(name)
    return origin_line(found[0]) if found else None


def _cell(v: dict[str, Any]) -> str:
    text = str(v["verdict"])
    if v["verdict"] == Verdict.LEAK.value and v["growth_per_1k_requests"] is not None:
        text += f" (+{v['growth_per_1k_requests']:.3g} {v['unit']} per 1,000 requests)"
    if v["saturated"]:
        text += ", saturated"
    if v["verdict"] == Verdict.LEAK.value and v.get("origin"):
        text += f"; {v['origin']}"
    return text
