"""`leaklab demo`: the whole story, from `up` to the verdict and a report."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from leaklab.cli import options
from leaklab.cli.check import drive_and_decide
from leaklab.cli.guards import clean_errors, console, err
from leaklab.cli.output import locust_report, print_holdings, print_reasons, write_report
from leaklab.cli.stack import open_stack
from leaklab.exit_codes import ExitCode
from leaklab.stages import duration

DEMO_SHAPE = "ci"  # warm-up, ramp, steady in 60 s


@click.command()
@options.run_time(
    "A plain ramp to 20 users for this long (e.g. 45s) instead of the staged `ci` shape "
    "(warm-up, ramp, steady: 60 s)."
)
@options.scenarios("database and redis, the original two")
@click.pass_context
@clean_errors
def demo(ctx: click.Context, run_time: float | None, scenario_names: tuple[str, ...]) -> None:
    """The whole story: stack up, load at both apps, what leaked, the verdict and a report."""
    from leaklab.measure import holdings
    from leaklab.settings import VARIANTS
    from leaklab.story import chosen, expected, tells_the_story
    from leaklab.verdict.display import verdict_table

    scenarios = chosen(scenario_names)
    shape = None if run_time else DEMO_SHAPE
    load_seconds = int(run_time) if run_time else duration(DEMO_SHAPE)
    stack = open_stack(ctx)
    console.print(f"Starting the native stack in {stack.run_dir}")
    state = stack.up()
    result, out_dir = drive_and_decide(
        stack,
        state,
        load_seconds,
        users=20,
        spawn_rate=4,
        pace=0.25,
        shape=shape,
        scenarios=scenarios,
    )
    held = {variant: holdings(state, variant) for variant in VARIANTS}
    print_holdings(
        held,
        stack.settings.workers,
        stack.settings.db_pool_max,
        stack.settings.redis_pool_max,
        scenarios,
    )
    console.print(verdict_table(result))
    print_reasons(result)
    out_dir.mkdir(parents=True, exist_ok=True)  # leaklab's own directory, under the run dir
    locust_html = locust_report(out_dir)
    report_dir = out_dir / "report"
    link = Path(os.path.relpath(locust_html, report_dir)) if locust_html else None
    report = write_report(result, report_dir, link)
    result.write_json(out_dir / "check.json")
    console.print(f"Report: {report}\nJSON:   {out_dir / 'check.json'}")
    console.print(
        "\nThe stack is still running: [bold]leaklab status[/bold], Prometheus at "
        f"{state.url('prometheus')}, stop with [bold]leaklab down[/bold] (make down)."
    )
    told = tells_the_story(result, scenarios)
    if not told:
        err.print(
            f"[red]leaklab:[/red] the verdicts are not the expected ones ({expected(scenarios)})"
        )
    sys.exit(ExitCode.OK if told else ExitCode.NOT_AS_EXPECTED)
