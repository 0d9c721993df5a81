"""`leaklab scenarios`: the leak scenarios the registry declares, as a table or JSON."""

from __future__ import annotations

import json

import click

from leaklab.cli.guards import clean_errors, console


@click.command()
@click.option("--json", "as_json", is_flag=True, help="A JSON list instead of the table.")
@clean_errors
def scenarios(as_json: bool) -> None:
    """List the leak scenarios: what leaks, where, and the resources `check` judges."""
    from rich.table import Table

    from leaklab.scenarios import SCENARIOS

    if as_json:
        click.echo(json.dumps([s.describe() for s in SCENARIOS], indent=2))
        return
    table = Table(title="leaklab scenarios")
    for column in ("scenario", "what leaks", "endpoint", "resources"):
        table.add_column(column, no_wrap=column != "what leaks")
    for s in SCENARIOS:
        table.add_row(s.name, s.title, s.endpoint, ", ".join(leak.resource for leak in s.leaks))
    console.print(table)
