"""Make the endpoints' rates vary apart, so the one that leaks can be named (--leak-mix vary).

With a steady mix every endpoint's count grows in proportion to the total, and a resource
grows against all of them alike. Here each of a user's tasks in turn runs at BOOST times its
weight for one phase (wall-clock phases, so the workers agree); over whole cycles every
task is boosted once, so the mix stays proportional to the user's own weights. Only a
User's own task list is varied (Locust's DefaultTaskSet); nested TaskSets pick as they do.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from locust.user.task import DefaultTaskSet

BOOST = 4.0
_original: Callable[[Any], Any] = DefaultTaskSet.get_next_task
_phase_seconds = 0.0


def _distinct(tasks: list[Any]) -> list[Any]:
    seen: list[Any] = []
    for task in tasks:
        if not any(task is s for s in seen):
            seen.append(task)
    return seen


def phase_of(now: float, phase_seconds: float, count: int) -> int:
    """Which task is boosted at this moment."""
    return int(now // phase_seconds) % count


def _varied_next_task(self: DefaultTaskSet) -> Any:
    tasks = self.user.tasks
    distinct = _distinct(tasks) if _phase_seconds > 0 and tasks else []
    if len(distinct) < 2:
        return _original(self)
    boosted = distinct[phase_of(time.time(), _phase_seconds, len(distinct))]
    weights = [BOOST if task is boosted else 1.0 for task in tasks]
    return random.choices(tasks, weights)[0]


def vary(phase_seconds: float) -> None:
    """Vary the mix from now on, one phase per phase_seconds."""
    global _phase_seconds
    _phase_seconds = phase_seconds
    DefaultTaskSet.get_next_task = _varied_next_task  # type: ignore[method-assign]


def steady() -> None:
    """Leave the user's mix alone."""
    global _phase_seconds
    _phase_seconds = 0.0
    DefaultTaskSet.get_next_task = _original  # type: ignore[method-assign]
