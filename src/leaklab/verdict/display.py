"""The verdict in the terminal: a live view while the load runs, then the table."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from types import TracebackType

import numpy as np
import requests
from rich.console import Console
from rich.live import Live
from rich.table import Table

from leaklab.scenarios import API_REQUESTS, SCENARIOS, WORKER_RSS, MiB, Scenario
from leaklab.verdict.check import CheckResult
from leaklab.verdict.origins import origin_line, sentence
from leaklab.verdict.stats import Verdict

STYLE = {Verdict.LEAK: "bold red", Verdict.NO_LEAK: "bold green", Verdict.UNDECIDED: "bold yellow"}


def live_queries(scenarios: Iterable[Scenario] | None = None) -> dict[str, str]:
    """The live table's columns: requests, each leak's count, memory (from the registry;
    scenarios: only theirs)."""
    columns = {"requests": f"sum by (app) ({API_REQUESTS})"}
    for scenario in SCENARIOS if scenarios is None else scenarios:
        for leak in scenario.leaks:
            columns[leak.heading] = leak.held.by_app()
    columns["RSS MiB"] = f"{WORKER_RSS.by_app()} / {MiB:.0f}"
    return columns


class LiveFigures:
    """Poll Prometheus every second and show the figures climbing (or not) per app."""

    def __init__(
        self,
        console: Console,
        prometheus: str,
        seconds: int | None,
        started: float | None = None,  # time.monotonic() the load started, if not now
        caption: str | None = None,  # under the table: e.g. what Enter does next
        scenarios: Iterable[Scenario] | None = None,  # their leaks' columns (None: all)
    ) -> None:
        self._caption = caption
        self._queries = live_queries(scenarios)
        self._console, self._url, self._seconds = console, prometheus, seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._start = time.monotonic() if started is None else started

    def __enter__(self) -> LiveFigures:
        self._thread.start()
        return self

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        if not self._console.is_terminal:
            self._console.line()  # rich leaves the last frame without its newline there

    def _table(self) -> Table:
        elapsed = time.monotonic() - self._start
        of = f" of {self._seconds} s" if self._seconds else ""
        table = Table(title=f"load running: {elapsed:4.0f} s{of}", caption=self._caption)
        table.add_column("app")
        figures: dict[str, dict[str, float]] = {}
        queries = self._queries
        for label, query in queries.items():
            table.add_column(label, justify="right")
            try:
                result = requests.get(
                    f"{self._url}/api/v1/query", params={"query": query}, timeout=2
                ).json()["data"]["result"]
            except (requests.RequestException, KeyError, ValueError):
                result = []
            for r in result:
                figures.setdefault(r["metric"].get("app", "?"), {})[label] = float(r["value"][1])
        for app in sorted(figures):
            colour = "red" if app == "leaky" else "green" if app == "fixed" else "white"
            table.add_row(
                f"[{colour}]{app}[/{colour}]",
                *(f"{figures[app].get(label, 0):.0f}" for label in queries),
            )
        return table

    def _run(self) -> None:
        with Live(
            self._table(), console=self._console, refresh_per_second=2, transient=False
        ) as live:
            while not self._stop.wait(1.0):
                live.update(self._table())


def reason_lines(
    result: CheckResult, only: Verdict | None = None, origins: bool = False
) -> list[str]:
    """One line per app and resource saying why (only those with the verdict `only`); with
    origins, under each LEAK the line where its objects were made (when the app says)."""
    lines = []
    for app in result.apps:
        for name, decision in app.decisions.items():
            if only is not None and decision.verdict is not only:
                continue
            said = "" if only is None else f"{only.value}, "
            lines.append(f"  {app.name} {name}: {said}{decision.reason}")
            top = app.origins.get(name)
            if origins and top and decision.verdict is Verdict.LEAK:
                lines.append(f"    {origin_line(top[0])}")
    return lines


def origin_sentences(result: CheckResult) -> list[str]:
    """Per LEAK whose app exports origins, the talk's sentence: "leaky PostgreSQL connections:
    LEAK, 93 open, 93 made at services/webapp/leaky.py:22 in ConnectionPerRequest.acquire,
    via GET /api/database"."""
    titles = {leak.resource: leak.title for leak in SCENARIOS.contract()}
    units = {r.name: r.unit for r in result.resources}
    lines = []
    for app in result.apps:
        for name, decision in app.decisions.items():
            found = app.origins.get(name)
            if decision.verdict is not Verdict.LEAK or not found:
                continue
            values = np.asarray(app.data.resources[name].values, dtype=float)
            seen = values[np.isfinite(values)]
            held = float(seen[-1]) if len(seen) else None
            title = titles.get(name, name)
            said = sentence(title, decision.verdict.value, held, units[name], found[0])
            lines.append(f"  {app.name} {said}")
    return lines


def origin_lines(result: CheckResult) -> list[str]:
    """Per LEAK whose app exports origins, where its objects were made: "  target fds: LEAK,
    made at app.py:12 in export, via /export (40 open)"."""
    return [
        f"  {app.name} {name}: LEAK, {origin_line(app.origins[name][0])}"
        for app in result.apps
        for name, decision in app.decisions.items()
        if decision.verdict is Verdict.LEAK and app.origins.get(name)
    ]


def verdict_table(result: CheckResult) -> Table:
    units = {r.name: r for r in result.resources}
    table = Table(title="leaklab check: LEAK / NO LEAK per app and resource")
    for column in ("app", "resource", "verdict", "growth/1k req", "95 % CI", "requests"):
        table.add_column(column, no_wrap=True, min_width=9 if column == "verdict" else None)
    for app in result.apps:
        for name, d in app.decisions.items():
            divisor, unit = units[name].scale
            fit = d.fit
            table.add_row(
                app.name,
                f"{name} {unit}" if divisor != 1 else name,
                f"[{STYLE[d.verdict]}]{d.verdict.value}[/]",
                f"{fit.slope_per_1k / divisor:.3g}" if fit else "-",
                f"{fit.ci_low_per_1k / divisor:.3g}..{fit.ci_high_per_1k / divisor:.3g}"
                if fit
                else "-",
                f"{d.requests:.0f}",
            )
    return table


def endpoint_lines(result: CheckResult) -> list[str]:
    """Per resource that leaks: the endpoints behind it and their cost per request."""
    units = {r.name: r for r in result.resources}
    lines = []
    for app in result.apps:
        for name, decision in app.decisions.items():
            if decision.verdict is not Verdict.LEAK:
                continue
            divisor, unit = units[name].scale
            for e in app.endpoints.get(name, []):
                if e.verdict is Verdict.LEAK and e.basis == "refusals":
                    lines.append(
                        f"  {app.name} {name}: LEAK from {e.name}, about "
                        f"{e.growth_per_request / divisor:.3g} {unit} per request before it "
                        "ran out (only its requests were refused at the limit)"
                    )
                elif e.verdict is Verdict.LEAK:
                    lines.append(
                        f"  {app.name} {name}: LEAK from {e.name}, "
                        f"{e.growth_per_request / divisor:.3g} {unit} per request "
                        f"(95 % CI {e.ci95[0] / divisor:.3g} to {e.ci95[1] / divisor:.3g})"
                    )
            if not any(e.verdict is Verdict.LEAK for e in app.endpoints.get(name, [])):
                lines.append(f"  {app.name} {name}: no endpoint can be named from this run")
    return lines
