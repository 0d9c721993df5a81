"""The `leaklab` command: up, status, down, seed, load, check, demo, talk, scenarios.

One thin module per command or group of commands; shared options in `options`, parameter
types in `types`, the one-line errors and the pipe guard in `guards`. A command imports what
it works with (the stack, Locust, the verdict, matplotlib) when it runs, so `leaklab --help`
and `leaklab status` stay quick.
"""

from __future__ import annotations

from pathlib import Path

import click

from leaklab.cli import options
from leaklab.cli.check import check
from leaklab.cli.demo import demo
from leaklab.cli.guards import LeaklabGroup
from leaklab.cli.load import load
from leaklab.cli.scenarios import scenarios
from leaklab.cli.stack import down, seed, status, up
from leaklab.cli.talk import talk

__all__ = ["main"]


@click.group(cls=LeaklabGroup)
@options.run_dir
@click.version_option(package_name="leaklab")
@click.pass_context
def main(ctx: click.Context, run_dir: Path | None) -> None:
    """Show, measure and decide resource leaks in Python web apps."""
    ctx.obj = {"run_dir": run_dir}


for command in (up, status, down, demo, load, check, seed, talk, scenarios):
    main.add_command(command)
