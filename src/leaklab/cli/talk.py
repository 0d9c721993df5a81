"""`leaklab talk`: the story on stage, one stage per Enter (the stages: leaklab.talk)."""

from __future__ import annotations

import sys

import click

from leaklab.cli import options
from leaklab.cli.guards import clean_errors, console, err
from leaklab.cli.stack import ensure_up, open_stack
from leaklab.cli.types import FiniteFloat
from leaklab.exit_codes import ExitCode


@click.command()
@click.option(
    "--auto",
    is_flag=True,
    help="Run the stages on timers instead of waiting for Enter (a rehearsal, CI).",
)
@click.option(
    "--pause",
    type=FiniteFloat(min=0),
    default=3.0,
    show_default=True,
    help="With --auto: seconds between stages.",
)
@click.option(
    "--climb",
    type=FiniteFloat(min=1),
    default=15.0,
    show_default=True,
    help="With --auto: seconds the live figures show the climb (stage 3).",
)
@click.option(
    "--saturation-timeout",
    type=FiniteFloat(min=1),
    default=120.0,
    show_default=True,
    help="Seconds stage 4 waits for the leaky app to reach max_connections.",
)
@click.option(
    "--browser/--no-browser",
    default=True,
    show_default=True,
    help="Open the Leaks view in a graphical browser when there is one.",
)
@options.locust_options(spawn_rate_default=2.0, pace_default=1.0)
@options.scenarios("database and redis, the original two")
@click.pass_context
@clean_errors
def talk(
    ctx: click.Context,
    auto: bool,
    pause: float,
    climb: float,
    saturation_timeout: float,
    browser: bool,
    users: int,
    spawn_rate: float,
    pace: float,
    shape: str | None,
    scenario_names: tuple[str, ...],
) -> None:
    """The talk in six stages, each on Enter: code, load, climb, 503s, verdict, reset."""
    from leaklab.run import new_out_dir
    from leaklab.talk import Talk, TalkPlan

    stack = open_stack(ctx)
    state = ensure_up(stack)
    plan = TalkPlan(
        auto=auto,
        pause=pause,
        climb=climb,
        saturation_timeout=saturation_timeout,
        browser=browser,
        users=users,
        spawn_rate=spawn_rate,
        pace=pace,
        shape=shape,
        scenarios=scenario_names,
    )
    out_dir = new_out_dir(stack.run_dir, "-talk")
    told = Talk(console, stack, state, plan, out_dir)
    try:
        code = told.run()
    except (KeyboardInterrupt, EOFError):
        err.print("\n[yellow]leaklab:[/yellow] talk stopped; emptying both apps…")
        try:
            told.recover()
        except KeyboardInterrupt:
            pass  # a second Ctrl-C: the next talk empties them anyway
        err.print(
            "[yellow]leaklab:[/yellow] the stack is still up and both apps are empty: "
            "'leaklab talk' starts again clean."
        )
        code = ExitCode.INTERRUPTED
    sys.exit(code)
