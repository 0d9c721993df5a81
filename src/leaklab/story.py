"""The demo's and the talk's story: the stack's two apps and the verdicts they must reach.

`leaklab.verdict` judges any apps by their label matchers; only `demo`, `talk`, the
default of `check --app` and the Leaks view know that the stack runs two, leaky and fixed,
and that leaky must leak where fixed does not: on the resources of the scenarios the load
drove (by default the original two, PostgreSQL and Redis connections).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

from leaklab.scenarios import SCENARIOS, Scenario
from leaklab.settings import VARIANTS
from leaklab.verdict.check import CheckResult
from leaklab.verdict.stats import Verdict

STACK_APPS = {variant: f'app="{variant}"' for variant in VARIANTS}  # the stack's two apps
STORY = (("leaky", Verdict.LEAK), ("fixed", Verdict.NO_LEAK))
# x a resource's warm-up in requests before the talk, or a Leaks view card, gives its verdict
# (memory: 750): the first look that decides would read the fixed app's last settling as LEAK
WARMED_UP = 2.5


def warm_after(warmup_requests: float) -> float:
    """Requests an app serves before a resource with this warm-up is given a verdict on stage."""
    return WARMED_UP * warmup_requests


def chosen(names: Iterable[str] = ()) -> list[Scenario]:
    """The scenarios named (--scenario), or the default story's."""
    names = list(names)
    return SCENARIOS.select(names) if names else SCENARIOS.story()


def story_resources(scenarios: Sequence[Scenario]) -> list[str]:
    """The resources the story's verdicts are read on: each scenario's, once, in order."""
    return list(dict.fromkeys(r for s in scenarios for r in s.resources))


def expected(scenarios: Sequence[Scenario]) -> str:
    """The promise in words: "leaky LEAK, fixed NO LEAK on db_connections, ..."."""
    return f"leaky LEAK, fixed NO LEAK on {', '.join(story_resources(scenarios))}"


def tells_the_story(result: CheckResult, scenarios: Sequence[Scenario] | None = None) -> bool:
    """The demo's and the talk's promise: on every resource of the scenarios told, the
    leaky app LEAK and the fixed app NO LEAK."""
    resources = story_resources(SCENARIOS.story() if scenarios is None else scenarios)
    verdicts = {app.name: app.decisions for app in result.apps}
    return all(
        app in verdicts and resource in verdicts[app] and verdicts[app][resource].verdict is want
        for app, want in STORY
        for resource in resources
    )


def told_only(result: CheckResult, scenarios: Sequence[Scenario]) -> CheckResult:
    """The result cut to the resources of the scenarios told (the talk's verdict table)."""
    told = story_resources(scenarios)
    apps = [
        dataclasses.replace(
            app, decisions={r: app.decisions[r] for r in told if r in app.decisions}
        )
        for app in result.apps
    ]
    resources = tuple(r for r in result.resources if r.name in told)
    return dataclasses.replace(result, apps=apps, resources=resources)


def for_scenarios(result: CheckResult, scenarios: Sequence[Scenario]) -> CheckResult:
    """The result with the scenarios the load drove, and where several of them grow one
    process-wide resource (memory, fds, threads), a reason that says which."""
    sharing: dict[str, list[str]] = {}
    for scenario in scenarios:
        for resource in scenario.judged:
            sharing.setdefault(resource, []).append(scenario.name)
    for app in result.apps:
        for resource, names in sharing.items():
            decision = app.decisions.get(resource)
            if decision is not None and len(names) > 1 and decision.verdict is Verdict.LEAK:
                reason = f"{decision.reason}; {' and '.join(names)} all grow it"
                app.decisions[resource] = dataclasses.replace(decision, reason=reason)
    return dataclasses.replace(result, scenarios=tuple(s.name for s in scenarios))
