"""`leaklab up | status | down | seed`: the native stack, and the database's schema."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from leaklab.cli.guards import clean_errors, console, fail
from leaklab.cli.output import print_status
from leaklab.exit_codes import ExitCode
from leaklab.settings import SettingsError, StackSettings, role_passwords

if TYPE_CHECKING:
    from leaklab.stack import NativeStack
    from leaklab.stack.state import RunState


def open_stack(ctx: click.Context) -> NativeStack:
    """The stack of the run directory (--run-dir, LEAKLAB_RUN_DIR or .run), up or not."""
    from leaklab.stack import NativeStack

    run_dir: Path | None = ctx.obj["run_dir"]
    settings = StackSettings.from_env(os.environ, run_dir)
    return NativeStack(settings, say=lambda line: console.print(f"  {line}", highlight=False))


def ensure_up(stack: NativeStack) -> RunState:
    """Start the stack unless it runs (saying so); its state either way."""
    if not stack.is_up():
        console.print(f"Starting the native stack in {stack.run_dir}")
    return stack.up()


@click.command()
@click.pass_context
@clean_errors
def up(ctx: click.Context) -> None:
    """Start PostgreSQL, Redis, both apps and Prometheus on 127.0.0.1."""
    stack = open_stack(ctx)
    console.print(f"Starting the native stack in {stack.run_dir}")
    stack.up()
    print_status(stack)


@click.command()
@click.pass_context
@clean_errors
def status(ctx: click.Context) -> None:
    """Show what runs where and whether it is healthy (exit 1 if anything is not)."""
    if not print_status(open_stack(ctx)):
        sys.exit(ExitCode.UNHEALTHY)


@click.command()
@click.option(
    "--wipe",
    is_flag=True,
    help="Also delete Prometheus's history (kept by default, so `check --since` still works "
    "after the next `up`).",
)
@click.pass_context
@clean_errors
def down(ctx: click.Context, wipe: bool) -> None:
    """Stop everything `up` started; keep the logs, the load reports and Prometheus's history.

    With a corrupt state.json it still stops what belongs to the run directory (found by
    the tag leaklab gives its servers), then exits 2 with one line: the state is gone, so
    what it does not know of (a server started before tagging, by hand) may still run.
    """
    from leaklab.stack.state import CorruptState, RunState

    stack = open_stack(ctx)
    try:
        RunState.load(stack.run_dir)
        corrupt = None
    except CorruptState as exc:
        corrupt = exc
    try:
        results = stack.down(wipe=wipe)
    except OSError as exc:
        if corrupt is None:
            raise
        fail(f"{corrupt.path} was corrupt: {corrupt.problem}; down could not finish: {exc}")
        sys.exit(ExitCode.USAGE)
    failed = [name for name, ok in results if not ok]
    if corrupt is not None:
        if failed:
            outcome = f"could not stop: {', '.join(failed)}"
        else:
            found = f"stopped {len(results)} process(es)" if results else "found nothing"
            gone = "removed it" if not corrupt.path.exists() else "it is still there"
            outcome = f"{found} running for {stack.run_dir} and {gone}; 'leaklab up' starts afresh"
        fail(f"{corrupt.path} was corrupt: {corrupt.problem}; {outcome}")
        sys.exit(ExitCode.USAGE)
    if failed:
        fail(f"could not stop: {', '.join(failed)}")
        sys.exit(ExitCode.USAGE)
    if not results:
        console.print(f"Nothing running from {stack.run_dir}.")
        return
    kept = "" if wipe else "; Prometheus's history stays ('leaklab down --wipe' deletes it)"
    console.print(f"Stopped. Logs are in {stack.run_dir / 'logs'}{kept}.")


@click.command()
@click.option(
    "--roles",
    is_flag=True,
    help="LEAKLAB_DATABASE_URL is a superuser's: first create each app's role with its "
    "connection budget and the exporter's pg_monitor role, with the passwords in "
    "LEAKLAB_LEAKY_DB_PASSWORD, LEAKLAB_FIXED_DB_PASSWORD and LEAKLAB_MONITOR_DB_PASSWORD "
    "(what docker compose runs).",
)
@clean_errors
def seed(roles: bool) -> None:
    """Create and seed the tables the apps query, at LEAKLAB_DATABASE_URL (idempotent)."""
    from leaklab.stack.postgres_server import app_role, connection_budgets, create_roles, prepare

    settings = StackSettings.from_env(os.environ)
    url = settings.database_url
    if not url:
        raise SettingsError("LEAKLAB_DATABASE_URL is not set (postgresql://user:pw@host:port/db)")
    if roles:
        budgets = connection_budgets(
            settings.pg_max_connections,
            settings.workers,
            settings.db_pool_max,
            settings.tenant_pool_max,
        )
        create_roles(url, budgets, role_passwords(os.environ))
        limits = ", ".join(f"{app_role(v)} {n}" for v, n in budgets.items())
        console.print(f"Roles ready (connection limits: {limits}).")
    else:
        prepare(url)
    console.print("Schema ready.")
