"""`leaklab load`: the same Locust load at both apps, with its web UI or headless."""

from __future__ import annotations

import sys

import click

from leaklab import durations
from leaklab.cli import options
from leaklab.cli.guards import clean_errors, console, err
from leaklab.cli.stack import ensure_up, open_stack
from leaklab.exit_codes import ExitCode


@click.command()
@options.locust_options(spawn_rate_default=5.0, pace_default=0.5)
@options.run_time("Stop after this long: 90s, 5m, 1h30m.", short=True)
@click.option("--headless", is_flag=True, help="No web UI: run, stop by itself, write reports.")
@click.option(
    "--autostart",
    is_flag=True,
    help="Web UI, and the run starts at once (no Start button); /leaks shows it live.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=0, max=64),
    default=0,
    show_default=True,
    help="Locust worker processes (distributed mode); 0 runs one process.",
)
@click.option(
    "--saturation",
    type=click.Choice(["expected", "failure"]),
    default="expected",
    show_default=True,
    help="Whether the saturated leaky app's JSON 503s are expected (exit 0) or fail.",
)
@click.option(
    "--web-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Locust web UI port [env LOCUST_WEB_PORT; 8089].",
)
@click.option(
    "--master-bind-host",
    default="127.0.0.1",
    show_default=True,
    help="Where the master listens for workers; another address lets workers on "
    "other machines join.",
)
@click.option("--leaky-url", default=None, help="Load this leaky app instead of the stack's.")
@click.option("--fixed-url", default=None, help="Load this fixed app instead of the stack's.")
@click.pass_context
@clean_errors
def load(
    ctx: click.Context,
    users: int,
    spawn_rate: float,
    pace: float,
    shape: str | None,
    run_time: float | None,
    headless: bool,
    autostart: bool,
    workers: int,
    saturation: str,
    web_port: int | None,
    master_bind_host: str,
    leaky_url: str | None,
    fixed_url: str | None,
) -> None:
    """Drive the same Locust load at both apps (web UI on 127.0.0.1:8089 by default)."""
    from leaklab.load import check_ready, reports, stack_plan
    from leaklab.load import run as run_load
    from leaklab.run import new_out_dir

    if headless and autostart:
        raise click.UsageError("--autostart starts the web UI's run: leave out --headless")
    if headless and not (run_time or shape):
        raise click.UsageError("--headless needs --run-time or --shape, or it never stops")
    stack = open_stack(ctx)
    state = None if leaky_url and fixed_url else ensure_up(stack)
    out_dir = new_out_dir(stack.run_dir)
    plan = stack_plan(
        stack,
        out_dir,
        state,
        leaky_url=leaky_url,
        fixed_url=fixed_url,
        users=users,
        spawn_rate=spawn_rate,
        run_time=durations.text(run_time) if run_time else None,
        headless=headless,
        autostart=autostart,
        workers=workers,
        shape=shape,
        pace=pace,
        saturation=saturation,
        web_port=web_port,
        master_bind_host=master_bind_host,
        quiet=False,
    )
    check_ready(plan)
    what = f"shape {shape!r}" if shape else f"{users} users at {spawn_rate:g}/s"
    mode = f"{workers} workers" if workers else "one process"
    console.print(f"Locust: {what}, {mode}, leaky {plan.leaky_url}, fixed {plan.fixed_url}")
    code = run_load(plan, say=console.print)
    for path in reports(out_dir):
        console.print(f"  report: {path}")
    if code == 0:
        console.print(
            "[green]The run worked[/green] (saturation answers are "
            f"{'expected' if saturation == 'expected' else 'failures'})."
        )
    else:
        err.print(f"[red]leaklab:[/red] Locust exited with {code}: see its output above")
    sys.exit(ExitCode.OK if code == 0 else ExitCode.LOAD_FAILED)
