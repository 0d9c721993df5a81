"""Decide Locust's exit code: did the run itself work?

A JSON 503 from a saturated app is failed in Locust's statistics (so the web UI
shows it), but with --saturation expected (the default) it is an expected result
of the demo and does not fail the run. Any other failure does; so does a run
that sent no request at all.
"""

from __future__ import annotations

import logging
from typing import Any

from locust import events
from locust.env import Environment
from locust.runners import WorkerRunner

SATURATED = "saturated:"
log = logging.getLogger("leaklab")


@events.quitting.add_listener
def _decide(environment: Environment, **_kwargs: Any) -> None:
    if isinstance(environment.runner, WorkerRunner) or environment.runner is None:
        return
    assert environment.parsed_options is not None  # Locust's command line made this run
    stats = environment.runner.stats
    saturation_expected = environment.parsed_options.saturation == "expected"
    unexpected = [
        error
        for error in stats.errors.values()
        if not (saturation_expected and SATURATED in str(error.error))
    ]
    if stats.total.num_requests == 0:
        log.error("leaklab: the run sent no request")
        environment.process_exit_code = 1
    elif unexpected:
        worst = max(unexpected, key=lambda e: e.occurrences)
        log.error(
            "leaklab: %d unexpected failures, e.g. %s %s: %s",
            sum(e.occurrences for e in unexpected),
            worst.method,
            worst.name,
            worst.error,
        )
        environment.process_exit_code = 1
    else:
        saturated = sum(e.occurrences for e in stats.errors.values())
        if saturated:
            log.info("leaklab: %d saturation answers (expected): the run worked", saturated)
        environment.process_exit_code = 0
