"""The promtool tests of the generated rules: rising (leaky) shapes fire, flat (fixed) do not.

Each scenario leak gets a rising shape (one more held per request, no pool) that fires its
alert, and a pool filling to its bound then flat that does not; each server-side rule gets
its count per app, 0 for an app that holds nothing. Memory growth and pool exhaustion, the
process-wide alerts, keep their own cases.
"""

from __future__ import annotations

import re
from typing import Any

from leaklab.generate import COMMAND
from leaklab.generate.rules import (
    EXHAUSTED_ALERT,
    INTERVAL,
    REQUESTS_METRIC,
    RULES_FILE,
    alert_name,
    exhausted_alert,
    leak_alert,
    memory_alert,
)
from leaklab.generate.yamltext import Item, dump, header, items
from leaklab.scenarios import EXHAUSTED, WORKER_RSS, Leak, Registry, Scenario, ServerTruth

TEST_FILE = RULES_FILE.replace(".rules.yml", ".rules.test.yml")
STEPS = 40  # 10 minutes of 15 s samples
RISING = f"0+10x{STEPS}"  # ten requests, and ten more held, per sample


def _series(name: str, /, **labels: str) -> str:
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def _requests(app: str, scenario: Scenario) -> dict[str, str]:
    return {
        "series": _series(REQUESTS_METRIC, app=app, path=scenario.endpoint, status="200"),
        "values": RISING,
    }


def _fires(alert: dict[str, Any], at: str, value: str, **labels: str) -> dict[str, Any]:
    """The alert firing at `at` for `labels`, its templates rendered as promtool renders them."""

    def rendered(template: str) -> str:
        text = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m[1]], template)
        return re.sub(r"\{\{ \$value \| \w+ \}\}", value, text)

    expected = {
        "exp_labels": {**alert["labels"], **labels},
        "exp_annotations": {k: rendered(v) for k, v in alert["annotations"].items()},
    }
    return {"eval_time": at, "alertname": alert["alert"], "exp_alerts": [expected]}


def rising(scenario: Scenario, leak: Leak) -> Item:
    alert = leak_alert(scenario, leak)
    series = [
        _requests("leaky", scenario),
        {"series": _series(leak.held.name, app="leaky", instance="a"), "values": RISING},
    ]
    if leak.bound is not None:
        no_pool = f"0x{STEPS}"
        series.append(
            {"series": _series(leak.bound.name, app="leaky", instance="a"), "values": no_pool}
        )
    test = {
        "name": f"{scenario.name}: one more of the {leak.title} held per request fires",
        "interval": INTERVAL,
        "input_series": series,
        "alert_rule_test": [_fires(alert, "5m", "1k", app="leaky")],  # humanize(1000)
    }
    return Item(test, f"{alert['alert']}: leaky gains 1,000 per 1,000 requests, and has no pool.")


def flat(scenario: Scenario, leak: Leak) -> Item:
    name = alert_name(scenario, leak)
    held = {"series": _series(leak.held.name, app="fixed", instance="a")}
    series = [_requests("fixed", scenario), held]
    if leak.bound is None:  # settles at 10 and stays
        held["values"] = f"0 5 10x{STEPS - 2}"
        evals = ["5m"]
    else:  # two workers' pools of 10 fill up during the first minute, then stay
        held["values"] = f"0 5 10 15 20 20x{STEPS - 4}"
        series.append(
            {"series": _series(leak.bound.name, app="fixed", instance="a"), "values": f"20x{STEPS}"}
        )
        evals = ["1m", "5m"]
    test = {
        "name": f"{scenario.name}: the {leak.title} filling a pool, then flat, do not fire",
        "interval": INTERVAL,
        "input_series": series,
        "alert_rule_test": [{"eval_time": t, "alertname": name, "exp_alerts": []} for t in evals],
    }
    return Item(test, f"{name}: fixed fills its pool and stays there.")


def _selector(series: str) -> tuple[str, dict[str, str]]:
    """A ServerTruth's series as its name and equality matchers."""
    name, _, matchers = series.partition("{")
    labels = dict(re.findall(r'(\w+)\s*=\s*"([^"]*)"', matchers))
    if matchers and len(labels) != matchers.count("="):
        raise ValueError(f"only equality matchers can be generated into a test: {series}")
    return name, labels


def server_side(scenario: Scenario, leak: Leak, server: ServerTruth) -> Item:
    name, fixed_labels = _selector(server.series)
    counts = {"sum": 95, "count": 2}
    if server.how not in counts:
        raise ValueError(f"no test shape for a server-side rule counted by {server.how!r}")

    def client(app: str, n: int, value: int) -> dict[str, str]:
        # by client name; or (no name label) per worker of an app, as Prometheus labels them
        named = {server.name_label: app} if server.name_label else {"app": app.split("-")[1]}
        labels = {**fixed_labels, **named, "series": str(n)}
        return {"series": _series(name, **labels), "values": f"{value}x4"}

    record = server.record(leak)
    others = (
        [client("unnamed", 3, 2)]  # not one of leaklab's apps: not counted
        if server.name_label
        else []
    )
    if server.name_label and server.client:  # another scenario's clients of the same app
        others.append(client("leaklab-leaky", 4, 7))
    test = {
        "name": f"{scenario.name}: what {server.source} sees per app, 0 for an app holding none",
        "interval": INTERVAL,
        "input_series": [
            client(f"leaklab-leaky{server.client}", 1, 40),
            client(f"leaklab-leaky{server.client}", 2, 55),
            *others,
            {"series": _series(leak.held.name, app="leaky", instance="a"), "values": "95x4"},
            {"series": _series(leak.held.name, app="fixed", instance="b"), "values": "0x4"},
        ],
        "promql_expr_test": [
            {
                "expr": record,
                "eval_time": "30s",
                "exp_samples": [
                    {"labels": _series(record, app="leaky"), "value": counts[server.how]},
                    {"labels": _series(record, app="fixed"), "value": 0},
                ],
            }
        ],
    }
    return Item(test, f"{record}: {server.how} of {name} by {server.name_label}.")


def memory() -> Item:
    api = "/api/memory"
    steps = 60
    test = {
        "name": "memory growing with every request fires; a warm-up step then flat does not",
        "interval": INTERVAL,
        "input_series": [
            {
                "series": _series(REQUESTS_METRIC, app=app, path=api, status="200"),
                "values": f"0+10x{steps}",
            }
            for app in ("leaky", "fixed")
        ]
        + [
            {
                "series": _series(WORKER_RSS.name, app="leaky", pid="1"),
                "values": f"41943040+1024000x{steps}",
            },
            {
                "series": _series(WORKER_RSS.name, app="fixed", pid="2"),
                "values": f"41943040 44040192 46137344 48234496 50331648x{steps - 4}",
            },
        ],
        "alert_rule_test": [_fires(memory_alert(), "10m", "97.66Mi", app="leaky")],
    }
    return Item(test, "leaky: +100 KiB per request; fixed: +8 MiB of warm-up in the first minute.")


def exhausted(registry: Registry) -> Item:
    resource = registry.exhaustible()[0]
    counter = f"{EXHAUSTED}_total"
    test = {
        "name": f"a saturated app answering 503s fires {EXHAUSTED_ALERT}; none does not",
        "interval": INTERVAL,
        "input_series": [
            {
                "series": _series(counter, app="leaky", resource=resource, instance="a"),
                "values": "0 0 0 0 5+5x20",
            },
            {
                "series": _series(counter, app="fixed", resource=resource, instance="a"),
                "values": "0x24",
            },
        ],
        "alert_rule_test": [
            _fires(exhausted_alert(), "3m", "333.3m", app="leaky", resource=resource)
        ],
    }
    return Item(test, "Five more 503s every 15 s: 0.333 per second.")


def tests_yaml(registry: Registry) -> str:
    cases: list[Item] = []
    for scenario in registry:
        for leak in scenario.leaks:
            cases += [rising(scenario, leak), flat(scenario, leak)]
            if leak.server is not None:
                cases.append(server_side(scenario, leak, leak.server))
    cases += [memory(), exhausted(registry)]
    head: dict[str, Any] = {"rule_files": [RULES_FILE], "evaluation_interval": INTERVAL}
    return (
        header(
            COMMAND,
            f"promtool test rules {TEST_FILE}: rising (leaky) shapes fire, flat (fixed) do not.",
        )
        + dump(head)
        + "\ntests:\n"
        + items(cases, 2)
    )
