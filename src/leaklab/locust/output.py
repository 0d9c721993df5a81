"""The verdicts at the end of a run: the table and each LEAK's endpoint, the JSON, the report."""

from __future__ import annotations

import logging

from rich.console import Console

from leaklab.locust.options import LeakOptions
from leaklab.verdict.check import CheckResult
from leaklab.verdict.display import verdict_table
from leaklab.verdict.stats import Verdict

log = logging.getLogger("leaklab")


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
                if e.verdict is Verdict.LEAK:
                    lines.append(
                        f"  {name}: LEAK from {e.name}, {e.growth_per_request / divisor:.3g} "
                        f"{unit} per request (95 % CI {e.ci95[0] / divisor:.3g} to "
                        f"{e.ci95[1] / divisor:.3g})"
                    )
            if not any(e.verdict is Verdict.LEAK for e in app.endpoints.get(name, [])):
                lines.append(f"  {name}: no single endpoint can be named from this run")
    return lines


def show(result: CheckResult, options: LeakOptions | None) -> None:
    console = Console(width=120)
    console.print(verdict_table(result))
    for line in endpoint_lines(result):
        console.print(line, highlight=False)
    if options is None:
        return
    if options.json is not None:
        result.write_json(options.json)
        log.info("leaklab: verdicts written to %s", options.json)
    if options.report is not None:
        from leaklab.verdict.report import write_report  # matplotlib: only when asked

        log.info("leaklab: report written to %s", write_report(result, options.report))
