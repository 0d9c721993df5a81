"""The verdicts at the end of a run: the table, each LEAK's endpoint and origin, the JSON, the
report."""

from __future__ import annotations

import logging

from rich.console import Console

from leaklab.verdict.check import CheckResult
from leaklab.verdict.display import endpoint_lines, origin_lines, verdict_table
from leaklab.watch.options import LeakOptions

log = logging.getLogger("leaklab")


def show(result: CheckResult, options: LeakOptions | None) -> None:
    console = Console(width=120)
    console.print(verdict_table(result))
    for line in [*endpoint_lines(result), *origin_lines(result)]:
        console.print(line, highlight=False)
    if options is None:
        return
    if options.json is not None:
        result.write_json(options.json)
        log.info("leaklab: verdicts written to %s", options.json)
    if options.report is not None:
        from leaklab.verdict.report import write_report  # matplotlib: only when asked

        log.info("leaklab: report written to %s", write_report(result, options.report))
