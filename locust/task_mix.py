"""The Locust task mix, from the scenario registry: one weighted task per scenario.

Kept free of Locust, so a test can read the mix a locustfile would run.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

from leaklab.scenarios import SCENARIOS, Scenario


@dataclass(frozen=True)
class Task:
    """GET `path` with one parameter; pass when the JSON answer has `expects`."""

    name: str
    path: str
    weight: int
    param: str
    template: str
    n_max: int
    expects: str

    def params(self, rng: random.Random | None = None) -> dict[str, str]:
        n = (rng or random).randint(1, self.n_max)
        return {self.param: self.template.format(n=n)}


def task_mix(scenarios: Iterable[Scenario] = SCENARIOS) -> list[Task]:
    """Every scenario's task, in the registry's order."""
    return [
        Task(
            s.name,
            s.endpoint,
            s.weight,
            s.request.param,
            s.request.template,
            s.request.n_max,
            s.request.expects,
        )
        for s in scenarios
    ]
