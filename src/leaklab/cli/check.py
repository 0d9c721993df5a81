"""`leaklab check`: LEAK / NO LEAK per app and resource, after a load or from history."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from leaklab.cli import options
from leaklab.cli.guards import clean_errors, console, err
from leaklab.cli.output import locust_report, print_reasons, write, write_report
from leaklab.cli.stack import ensure_up, open_stack
from leaklab.cli.types import Duration, FiniteFloat, Lazy, OutputPath
from leaklab.exit_codes import ExitCode
from leaklab.stages import duration

if TYPE_CHECKING:
    from collections.abc import Sequence

    from leaklab.scenarios import Scenario
    from leaklab.stack import NativeStack
    from leaklab.stack.state import RunState
    from leaklab.verdict.check import CheckResult
    from leaklab.verdict.query import Resource

DEFAULT_RUN_TIME = 60  # seconds of load when neither --run-time nor --shape is given


def drive_and_decide(
    stack: NativeStack,
    state: RunState,
    seconds: int,
    users: int,
    spawn_rate: float,
    pace: float,
    shape: str | None = None,
    prometheus: str | None = None,
    apps: dict[str, str] | None = None,
    resources: tuple[Resource, ...] | None = None,
    requests_selector: str | None = None,
    scenarios: Sequence[Scenario] = (),
) -> tuple[CheckResult, Path]:
    """Empty both apps, run Locust headless with a live view (at the scenarios' endpoints;
    none given: all), then decide on that window."""
    from leaklab import durations
    from leaklab.burst import warm_up
    from leaklab.load import stack_plan
    from leaklab.run import MeasuredRun, new_out_dir
    from leaklab.scenarios import SCENARIOS
    from leaklab.story import STACK_APPS, for_scenarios
    from leaklab.verdict.display import LiveFigures
    from leaklab.verdict.query import REQUESTS

    out_dir = new_out_dir(stack.run_dir)
    plan = stack_plan(
        stack,
        out_dir,
        stack.state,
        users=users,
        spawn_rate=spawn_rate,
        run_time=None if shape else durations.text(seconds),
        headless=True,
        shape=shape,
        pace=pace,
        scenarios=tuple(s.name for s in scenarios),
    )
    warm = warm_up(scenarios or SCENARIOS)
    run = MeasuredRun(state, plan, stack.settings.step_seconds, warm_up=warm)
    run.reset()
    url = prometheus or state.url("prometheus")
    what = f"shape {shape!r}" if shape else f"{users} users, {seconds} s"
    told = ", ".join(s.name for s in scenarios) if scenarios else "every scenario"
    console.print(f"Locust at both apps: {what}, {told} (its log: {out_dir / 'locust.log'})")
    with run.load() as locust, LiveFigures(console, url, seconds, scenarios=scenarios or None):
        code = locust.wait()
    if code != 0:
        err.print(f"[yellow]leaklab:[/yellow] Locust exited with {code}: see {out_dir}")
    result = run.decide(url, apps or STACK_APPS, resources, requests_selector or REQUESTS)
    if apps is None or apps == STACK_APPS:
        locate_memory(result, state, [s.endpoint for s in scenarios or SCENARIOS])
    return for_scenarios(result, list(scenarios) or list(SCENARIOS)), out_dir


def locate_memory(result: CheckResult, state: RunState, paths: list[str]) -> None:
    """After a memory LEAK in our apps: a memory window in each, under a short burst, names
    where the memory was allocated (windows are off during the measured run)."""
    from leaklab import memory_sites

    todo = memory_sites.unlocated(result, paths)
    if not todo:
        return
    console.print(
        f"Memory LEAK in {', '.join(todo)}: {memory_sites.WINDOW_SECONDS:g} s memory windows "
        "under short bursts name where it was allocated"
    )
    urls = {name: state.url(name) for name in todo}
    memory_sites.locate(result, urls, state.admin_token, paths)


@click.command()
@options.run_time("Drive Locust at both apps this long, then decide (default 60s).")
@options.locust_options(spawn_rate_default=4.0, pace_default=0.25, when="With --run-time: ")
@options.scenarios("all")
@click.option(
    "--since",
    type=Duration(),
    default=None,
    help="Decide from what Prometheus already holds, this far back (e.g. 10m).",
)
@click.option(
    "--prometheus",
    default=None,
    help="Prometheus to read [the stack's, or LEAKLAB_PROMETHEUS_URL].",
)
@options.apps
@click.option(
    "--requests",
    "requests_selector",
    default=Lazy("leaklab.verdict.query", "REQUESTS"),
    show_default=True,
    help="The app's request counter.",
)
@options.resources
@click.option(
    "--step",
    type=FiniteFloat(min=0.1),
    default=None,
    help="With --since: seconds between points [the scrape interval].",
)
@click.option(
    "--json",
    "json_path",
    type=OutputPath(),
    default=None,
    help="Write the verdict as JSON (schema leaklab.check/v1).",
)
@click.option(
    "--report",
    "report_dir",
    type=OutputPath(directory=True),
    default=None,
    help="Write an HTML report with plots into this directory.",
)
@click.pass_context
@clean_errors
def check(
    ctx: click.Context,
    run_time: float | None,
    since: float | None,
    users: int,
    spawn_rate: float,
    pace: float,
    shape: str | None,
    scenario_names: tuple[str, ...],
    prometheus: str | None,
    apps: dict[str, str] | None,
    requests_selector: str,
    resources: tuple[Resource, ...] | None,
    step: float | None,
    json_path: Path | None,
    report_dir: Path | None,
) -> None:
    """Decide LEAK / NO LEAK per app and resource (exit 0 no leak, 1 leak, 2 error, 3 undecided)."""
    from leaklab.scenarios import SCENARIOS
    from leaklab.story import STACK_APPS
    from leaklab.verdict.check import run_check, window_since
    from leaklab.verdict.display import verdict_table

    if run_time and since:
        raise click.UsageError(
            "give --run-time (drive load, then decide) or --since (decide from history), not both"
        )
    if since and scenario_names:
        raise click.UsageError("--scenario chooses what the load drives: not with --since")
    stack = open_stack(ctx)
    chosen_apps = apps or dict(STACK_APPS)
    locust_html = None
    if since:
        url = prometheus or stack.prometheus_url()
        window = window_since(since, step or stack.settings.step_seconds)
        result = run_check(url, chosen_apps, window, resources, requests_selector)
    else:
        load_seconds = duration(shape) if shape else int(run_time or DEFAULT_RUN_TIME)
        state = ensure_up(stack)
        result, out_dir = drive_and_decide(
            stack,
            state,
            load_seconds,
            users,
            spawn_rate,
            pace,
            shape,
            prometheus,
            chosen_apps,
            resources,
            requests_selector,
            SCENARIOS.select(scenario_names),
        )
        locust_html = locust_report(out_dir)
    console.print(verdict_table(result))
    print_reasons(result)
    written = True
    if json_path:
        written &= write("JSON", json_path, lambda: result.write_json(json_path))
    if report_dir:
        link = Path(os.path.relpath(locust_html, report_dir)) if locust_html else None
        written &= write("Report", report_dir, lambda: write_report(result, report_dir, link))
    sys.exit(result.exit_code if written else ExitCode.USAGE)
