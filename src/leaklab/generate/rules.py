"""The Prometheus recording and alert rules, and their promtool tests, from the registry.

Per leak: what the app holds (`app:<held>:sum`), what the server sees (`ServerTruth`),
what lies above the pool bound, the growth per 1,000 API requests, and one alert (its
summary is `Leak.alert`) that fires when the app gains more than the leak's verdict
threshold per 1,000 requests while holding more than its pools allow. Process-wide: memory
growth and pool exhaustion. The promtool tests give each leak a rising shape that fires and
a flat one that does not, and each server-side rule its count per app.
"""

from __future__ import annotations

import re
from typing import Any

from leaklab.generate import COMMAND
from leaklab.generate.yamltext import Item, header, items
from leaklab.scenarios import (
    API_REQUESTS,
    EXHAUSTED,
    RSS,
    WORKER_RSS,
    Leak,
    MiB,
    Registry,
    Scenario,
    metric,
)

RULES_FILE = "leaklab.rules.yml"
REQUESTS_1M = f"app:{metric('api_requests')}:increase1m"
REQUESTS_METRIC = API_REQUESTS.split("{", 1)[0]
MEMORY_ALERT = "LeakLabWorkerMemoryGrowth"
EXHAUSTED_ALERT = "LeakLabPoolExhausted"
# 4 MiB per 1,000 requests: the leaky app gains about 12, the fixed one under 1 (measured).
MEMORY_ALERT_PER_1K = 4 * MiB
LEAK_FOR = "30s"
INTERVAL = "15s"


def _requests(window: str) -> str:
    return f"sum by (app) (increase({API_REQUESTS}[{window}]))"


def growth_record(leak: Leak) -> str:
    """The recording rule of a scenario leak's growth per 1,000 API requests."""
    return f"app:{metric(leak.resource)}:growth_per_1k_requests"


def above_pool_record(leak: Leak) -> str:
    """Held beyond the pools' capacity (a bound of 0 means no pool: all of it is above)."""
    return f"app:{metric(leak.resource)}_above_pool:sum"


MEMORY_GROWTH = f"app:{WORKER_RSS.name}:growth_per_1k_requests"


def _memory_growth(window: str) -> str:
    return (
        f"1000 * delta(app:{WORKER_RSS.name}:sum[{window}])\n"
        f"  / clamp_min({_requests(window)}, 1)\n"
    )


def alert_name(scenario: Scenario, leak: Leak) -> str:
    """LeakLab<Scenario><Unit>Leak: LeakLabDatabaseConnectionLeak for db_connections."""
    words = re.split(r"[^0-9A-Za-z]+", f"{scenario.name} {leak.unit.removesuffix('s')}")
    return "LeakLab" + "".join(w[:1].upper() + w[1:] for w in words if w) + "Leak"


def _description(leak: Leak) -> str:
    gains = "gains {{ $value | humanize }} more per 1,000 API requests."
    if leak.bound is None:
        return f"{{{{ $labels.app }}}} holds ever more {leak.title}: it {gains}"
    return f"{{{{ $labels.app }}}} holds more {leak.title} than its pools allow, and {gains}"


def _alerted(registry: Registry) -> list[tuple[Scenario, Leak]]:
    pairs = [(s, leak) for s in registry for leak in s.leaks]
    names = [alert_name(s, leak) for s, leak in pairs]
    if len(set(names)) != len(names):
        raise ValueError(f"two leaks would share an alert name: {names}")
    return pairs


def recording_rules(registry: Registry) -> list[Item]:
    leaks = registry.leaks()
    rules = [Item({"record": REQUESTS_1M, "expr": f"sum by (app) (increase({API_REQUESTS}[1m]))"})]
    comment = "What each app holds, summed over its live workers."
    for leak in leaks:
        rules.append(Item({"record": leak.open_record, "expr": leak.held.by_app()}, comment))
        comment = ""
    rules.append(Item({"record": RSS.open_record, "expr": RSS.held.by_app()}, comment))
    comment = "What the servers see, per app (0 when an app holds nothing)."
    for leak in leaks:
        if leak.server is not None:
            expr = leak.server.expr(leak) + "\n"
            rules.append(Item({"record": leak.server.record(leak), "expr": expr}, comment))
            comment = ""
    comment = "Held beyond the pools' capacity (a pool max of 0 means no bound at all)."
    for leak in leaks:
        if leak.bound is not None:
            expr = f"clamp_min({leak.open_record} - {leak.bound.by_app()}, 0)"
            rules.append(Item({"record": above_pool_record(leak), "expr": expr}, comment))
            comment = ""
    comment = "Growth per 1,000 API requests: a leak grows with traffic, whatever the traffic."
    for leak in leaks:
        expr = f"1000 * delta({leak.open_record}[1m])\n  / clamp_min({REQUESTS_1M}, 1)\n"
        rules.append(Item({"record": growth_record(leak), "expr": expr}, comment))
        comment = ""
    rules.append(Item({"record": MEMORY_GROWTH, "expr": _memory_growth("5m")}, comment))
    return rules


def leak_alert(scenario: Scenario, leak: Leak) -> dict[str, Any]:
    expr = f"{growth_record(leak)} > {leak.threshold_per_1k:g}\n"
    if leak.bound is not None:
        expr += f"and {above_pool_record(leak)} > 0\n"
    return {
        "alert": alert_name(scenario, leak),
        "expr": expr,
        "for": LEAK_FOR,
        "labels": {"severity": "warning"},
        "annotations": {"summary": leak.alert, "description": _description(leak)},
    }


def memory_alert() -> dict[str, Any]:
    threshold = f"{MEMORY_ALERT_PER_1K:.0f}"
    return {
        "alert": MEMORY_ALERT,
        "expr": (
            f"{MEMORY_GROWTH} > {threshold}\nand on (app)\n{_memory_growth('2m')}  > {threshold}\n"
        ),
        "for": "2m",
        "labels": {"severity": "warning"},
        "annotations": {
            "summary": "The app's workers grow with every request.",
            "description": "{{ $labels.app }}'s workers gain {{ $value | humanize1024 }}B of "
            "resident memory per 1,000 API requests.",
        },
    }


def exhausted_alert() -> dict[str, Any]:
    return {
        "alert": EXHAUSTED_ALERT,
        "expr": f"sum by (app, resource) (rate({EXHAUSTED}_total[1m])) > 0",
        "for": "15s",
        "labels": {"severity": "critical"},
        "annotations": {
            "summary": "Requests are refused because a connection limit is reached.",
            "description": "{{ $labels.app }} answers 503 because {{ $labels.resource }} is "
            "exhausted: {{ $value | humanize }} refusals per second.",
        },
    }


def alert_rules(registry: Registry) -> list[Item]:
    alerts = [
        Item(
            leak_alert(s, leak),
            f"{leak.title} ({s.name}): above {leak.threshold_per_1k:g} per 1,000 requests, "
            "the verdict's threshold.",
        )
        for s, leak in _alerted(registry)
    ]
    memory, exhausted = memory_alert(), exhausted_alert()
    alerts.append(
        Item(
            memory,
            "4 MiB per 1,000 requests: the leaky app gains about 12, the fixed one under 1 "
            "(measured).\nBoth the 5-minute and the last 2-minute growth: a warm-up step is "
            "not a leak.",
        )
    )
    alerts.append(Item(exhausted, "A 503 naming an exhausted resource, any app."))
    return alerts


def rules_yaml(registry: Registry) -> str:
    return (
        header(
            COMMAND,
            "Tested by `promtool test rules leaklab.rules.test.yml` (also generated).",
            'Apps are told apart by the `app` label Prometheus adds at scrape ("leaky" | "fixed");',
            "server-side series carry the app's name as application_name / client name",
            '"leaklab-<app>".',
        )
        + "groups:\n  - name: leaklab-recording\n    rules:\n"
        + items(recording_rules(registry), 6)
        + "\n  - name: leaklab-alerts\n    rules:\n"
        + items(alert_rules(registry), 6)
    )
