"""The Grafana dashboard "leaklab: leaky vs fixed", built with grafana-foundation-sdk.

Rows, top to bottom: one per scenario leak (held by the app, seen by the server, held
against the pool's capacity, the scenario's other gauges), the worker processes (RSS, open
files, threads per worker), the load (Locust's users, requests and failures per second, p95)
and the leak signals (growth per 1,000 requests per leak, above the pool bound, 503s by
resource), then the firing alerts. Every panel reads the provisioned datasource by uid; every
legend starts with the app; leaky is red and fixed green everywhere.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as builders
from grafana_foundation_sdk.builders import prometheus, timeseries
from grafana_foundation_sdk.cog import builder as cog
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model

from leaklab.generate import COMMAND
from leaklab.generate.rules import (
    MEMORY_GROWTH,
    above_pool_record,
    alert_name,
    alert_rules,
    growth_record,
)
from leaklab.scenarios import EXHAUSTED, LOAD_USERS, RSS, Gauge, Leak, Registry, Scenario

UID = "leaklab-leaky-vs-fixed"  # provisioning and the README link to it
TITLE = "leaklab: leaky vs fixed"
DATASOURCE = model.DataSourceRef(type_val="prometheus", uid="leaklab-prometheus")
DATASOURCE_NAME = "Prometheus"  # monitoring/grafana/provisioning/datasources/prometheus.yml
COLOURS = {"leaky": "red", "fixed": "green"}
SCHEMA_VERSION = 39  # Grafana 10.4's: no migration when it loads the file
PANEL_HEIGHT = 9
GRID = 24

# Locust's figures, as the master serves them (locust/locust_exporter.py)
LOCUST_REQUESTS = "locust_requests_total"
LOCUST_FAILURES = "locust_failures_total"
LOCUST_P95 = 'locust_response_time_seconds{quantile="0.95"}'
LOCUST_RUNNING = "locust_running"

UNITS = {"bytes": "bytes", "MiB": "mbytes", "seconds": "s", "s": "s"}


def grafana_unit(unit: str) -> str:
    """Grafana's unit for a registry unit: counts of things are "short"."""
    return UNITS.get(unit, "short")


@dataclass(frozen=True)
class Target:
    expr: str
    legend: str = "{{app}}"


@dataclass(frozen=True)
class Spec:
    """One time-series panel, before the SDK builds it."""

    title: str
    targets: tuple[Target, ...]
    unit: str = "short"
    description: str = ""
    from_zero: bool = True  # counts start at 0; growth can go below it


def _one(title: str, expr: str, unit: str = "short", description: str = "", **kw: bool) -> Spec:
    return Spec(title, (Target(expr),), unit, description, **kw)


def _colour(colour: str) -> model.DynamicConfigValue:
    fixed = model.FieldColor(mode=model.FieldColorModeId.FIXED, fixed_color=colour)
    return model.DynamicConfigValue(id_val="color", value=fixed)


def timeseries_panel(spec: Spec, panel_id: int, width: int) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .id(panel_id)
        .title(spec.title)
        .description(spec.description)
        .datasource(DATASOURCE)
        .height(PANEL_HEIGHT)
        .span(width)
        .unit(spec.unit)
        .line_width(3)
        .fill_opacity(10)
        .show_points(common.VisibilityMode.NEVER)
        .legend(
            common_builders.VizLegendOptions()
            .display_mode(common.LegendDisplayMode.LIST)
            .placement(common.LegendPlacement.BOTTOM)
            .show_legend(True)
            .calcs(["lastNotNull"])
        )
        .tooltip(
            common_builders.VizTooltipOptions()
            .mode(common.TooltipDisplayMode.MULTI)
            .sort(common.SortOrder.DESCENDING)
        )
    )
    if spec.from_zero:
        panel = panel.min(0)
    for app, colour in COLOURS.items():
        panel = panel.override_by_regexp(f"{app}.*", [_colour(colour)])
    for ref, target in zip("ABCDEFGH", spec.targets, strict=False):
        query = (
            prometheus.Dataquery()
            .ref_id(ref)
            .datasource(DATASOURCE)
            .expr(target.expr)
            .legend_format(target.legend)
        )
        panel = panel.with_target(query)
    return panel


# What each part of the registry draws


def leak_row(scenario: Scenario, leak: Leak) -> list[Spec]:
    """Held by the app, seen by the server, held against the pool's capacity."""
    unit = grafana_unit(leak.unit)
    specs = [
        _one(
            "Held by the app",
            leak.open_record,
            unit,
            f"{leak.held.name} ({leak.held.help}), summed over the app's live workers",
        )
    ]
    if leak.server is not None:
        server = leak.server
        specs.append(
            _one(
                f"{server.label[:1].upper()}{server.label[1:]} ({server.source})",
                server.record(leak),
                unit,
                f'{server.series} by {server.name_label} "leaklab-<app>", from the exporter: '
                "the server's own count, not the app's",
            )
        )
    if leak.bound is not None:
        specs.append(
            Spec(
                "Held vs pool capacity",
                (
                    Target(leak.open_record, "{{app}} held"),
                    Target(leak.bound.by_app(), "{{app}} capacity (0: no pool)"),
                ),
                unit,
                f"{leak.bound.name}: {leak.bound.help}",
            )
        )
    return specs


def gauge_spec(gauge: Gauge) -> Spec:
    return _one(gauge.help, gauge.by_app(), description=f"{gauge.name}, summed over live workers")


def process_wide(registry: Registry) -> list[Leak]:
    """RSS, open files, threads: what every app is judged on beside its scenarios."""
    scenario_leaks = registry.leaks()
    return [leak for leak in registry.contract() if leak not in scenario_leaks]


def worker_row(registry: Registry) -> list[Spec]:
    return [
        Spec(
            f"{leak.title} per worker",
            (Target(leak.held.name, "{{app}} pid {{pid}}"),),
            grafana_unit(leak.unit),
            f"{leak.held.name}: {leak.held.help}",
        )
        for leak in process_wide(registry)
    ]


def load_row() -> list[Spec]:
    return [
        _one("Users", f"sum by (app) ({LOAD_USERS})"),
        _one("Requests per second", f"sum by (app) (rate({LOCUST_REQUESTS}[30s]))", "reqps"),
        _one("Failures per second", f"sum by (app) (rate({LOCUST_FAILURES}[30s]))", "reqps"),
        _one("p95 response time", f"max by (app) ({LOCUST_P95})", "s"),
    ]


def signals_row(registry: Registry) -> list[Spec]:
    growth = [
        _one(
            f"{leak.title} gained per 1,000 requests",
            growth_record(leak),
            grafana_unit(leak.unit),
            f"{alert_name(scenario, leak)} fires above {leak.threshold_per_1k:g} "
            "(the verdict's threshold) while the app holds more than its pools allow",
            from_zero=False,
        )
        for scenario in registry
        for leak in scenario.leaks
    ]
    memory = _one(
        f"{RSS.title} gained per 1,000 requests",
        MEMORY_GROWTH,
        grafana_unit(RSS.unit),
        "Over 5 minutes, summed over the app's workers",
        from_zero=False,
    )
    above = [
        _one(
            f"{leak.title} above the pool bound",
            above_pool_record(leak),
            grafana_unit(leak.unit),
            "Held beyond the pools' capacity; with no pool (capacity 0), everything held",
        )
        for leak in registry.leaks()
        if leak.bound is not None
    ]
    refused = Spec(
        "503s per second, by exhausted resource",
        (Target(f"sum by (app, resource) (rate({EXHAUSTED}_total[1m]))", "{{app}} {{resource}}"),),
        "reqps",
        f"{EXHAUSTED}_total: the app refused a request because a limit was reached",
    )
    return [*growth, memory, *above, refused]


def alert_list(registry: Registry, panel_id: int) -> builders.Panel:
    names = [str(item.value["alert"]) for item in alert_rules(registry)]
    prefix = names[0] if len(names) == 1 else _common_prefix(names)
    return (
        builders.Panel()
        .type("alertlist")
        .id(panel_id)
        .title("Firing alerts (the Prometheus rules)")
        .height(7)
        .span(GRID)
        .options(
            {
                "alertName": prefix,
                "showOptions": "current",
                "maxItems": 10,
                "sortOrder": 1,
                "stateFilter": {"firing": True, "pending": True},
                "groupMode": "default",
                "dashboardAlerts": False,
                "alertInstanceLabelFilter": "",
                "datasource": DATASOURCE_NAME,
            }
        )
    )


def _common_prefix(names: Sequence[str]) -> str:
    first, last = min(names), max(names)
    n = next((i for i, (a, b) in enumerate(zip(first, last, strict=False)) if a != b), len(first))
    return first[:n]


class _PrometheusAnnotation(model.AnnotationQuery):
    """A Prometheus annotation query with the fields the SDK's model leaves out."""

    def __init__(self, name: str, expr: str, step: str, text: str) -> None:
        super().__init__(name=name, datasource=DATASOURCE, enable=True, icon_color="blue")
        self.hide = None
        self.built_in = None
        self.expr = expr
        self.step = step
        self.text = text

    def to_json(self) -> dict[str, object]:
        payload = super().to_json()
        payload.update(
            step=self.step, titleFormat=self.name, textFormat=self.text, useValueForTime=False
        )
        return payload


class _Built(cog.Builder[model.AnnotationQuery]):
    def __init__(self, query: model.AnnotationQuery) -> None:
        self._query = query

    def build(self) -> model.AnnotationQuery:
        return self._query


def annotation_queries() -> list[cog.Builder[model.AnnotationQuery]]:
    grafana = model.DataSourceRef(type_val="grafana", uid="-- Grafana --")
    built_in = (
        builders.AnnotationQuery()
        .name("Annotations & Alerts")
        .datasource(grafana)
        .enable(True)
        .hide(True)
        .icon_color("rgba(0, 211, 255, 1)")
        .type("dashboard")
        .built_in(1)
    )
    locust = _PrometheusAnnotation(
        "Locust run", f"{LOCUST_RUNNING} == 1", "5s", "Locust is sending load"
    )
    return [built_in, _Built(locust)]


def rows(registry: Registry) -> list[tuple[str, list[Spec]]]:
    found = []
    for scenario in registry:
        for i, leak in enumerate(scenario.leaks):
            specs = leak_row(scenario, leak)
            if i == len(scenario.leaks) - 1:
                specs += [gauge_spec(g) for g in scenario.gauges]
            found.append((f"{leak.title}: {scenario.title}", specs))
    found.append(("Worker processes", worker_row(registry)))
    found.append(("Load: the same Locust users at both apps", load_row()))
    found.append(("Leak signals", signals_row(registry)))
    return found


def build(registry: Registry) -> model.Dashboard:
    board = (
        builders.Dashboard(TITLE)
        .uid(UID)
        .description(
            "The same code and load; one app leaks, one does not. Leaky red, fixed green. "
            f"GENERATED by `{COMMAND}` from src/leaklab/scenarios/: do not edit by hand."
        )
        .tags(["leaklab"])
        .timezone("browser")
        .editable()
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .refresh("5s")
        .time("now-15m", "now")
        .version(1)
        .annotations(annotation_queries())
    )
    panel_id = 0
    for title, specs in rows(registry):
        panel_id += 1
        board = board.with_row(builders.Row(title).id(panel_id))
        width = GRID // len(specs) if len(specs) <= 4 else GRID // 3
        for spec in specs:
            panel_id += 1
            board = board.with_panel(timeseries_panel(spec, panel_id, width))
    board = board.with_row(builders.Row("Alerts").id(panel_id + 1))
    board = board.with_panel(alert_list(registry, panel_id + 2))
    dashboard = board.build()
    dashboard.schema_version = SCHEMA_VERSION
    return dashboard


def dashboard_json(registry: Registry) -> str:
    return json.dumps(build(registry), cls=JSONEncoder, indent=2, ensure_ascii=False) + "\n"
