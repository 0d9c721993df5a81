"""The `leaklab` command: up, status, down, demo."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
import psycopg2
import redis
import requests
from rich.console import Console
from rich.table import Table

from leaklab.burst import burst
from leaklab.measure import Holdings, holdings, reset
from leaklab.settings import VARIANTS, SettingsError, StackSettings
from leaklab.stack import NativeStack, StackError

EXIT_OK, EXIT_LEAK, EXIT_USAGE = 0, 1, 2
console = Console()
err = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])


def clean_errors(func: F) -> F:
    """Expected failures end in one line and exit 2, never a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (StackError, SettingsError) as exc:
            err.print(f"[red]leaklab:[/red] {exc}", highlight=False)
            sys.exit(EXIT_USAGE)
        except (psycopg2.Error, redis.RedisError, requests.RequestException) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            err.print(f"[red]leaklab:[/red] a server did not answer: {first}", highlight=False)
            sys.exit(EXIT_USAGE)

    return wrapper  # type: ignore[return-value]


def _stack(ctx: click.Context) -> NativeStack:
    run_dir: Path | None = ctx.obj["run_dir"]
    settings = StackSettings.from_env(os.environ, run_dir)
    return NativeStack(settings, say=lambda line: console.print(f"  {line}", highlight=False))


@click.group()
@click.option(
    "--run-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the native stack keeps its state and logs [env LEAKLAB_RUN_DIR; .run].",
)
@click.version_option(package_name="leaklab")
@click.pass_context
def main(ctx: click.Context, run_dir: Path | None) -> None:
    """Show, measure and decide resource leaks in Python web apps."""
    ctx.obj = {"run_dir": run_dir}


@main.command()
@click.pass_context
@clean_errors
def up(ctx: click.Context) -> None:
    """Start PostgreSQL, Redis, both apps and Prometheus on 127.0.0.1."""
    stack = _stack(ctx)
    console.print(f"Starting the native stack in {stack.run_dir}")
    stack.up()
    _print_status(stack)


@main.command()
@click.pass_context
@clean_errors
def status(ctx: click.Context) -> None:
    """Show what runs where and whether it is healthy (exit 1 if anything is not)."""
    stack = _stack(ctx)
    if not _print_status(stack):
        sys.exit(EXIT_LEAK)


@main.command()
@click.pass_context
@clean_errors
def down(ctx: click.Context) -> None:
    """Stop everything `up` started; keep only the logs."""
    stack = _stack(ctx)
    results = stack.down()
    if not results:
        console.print(f"Nothing running from {stack.run_dir}.")
        return
    failed = [name for name, ok in results if not ok]
    if failed:
        err.print(f"[red]leaklab:[/red] could not stop: {', '.join(failed)}")
        sys.exit(EXIT_USAGE)
    console.print(f"Stopped. Logs are in {stack.run_dir / 'logs'}.")


@main.command()
@click.option(
    "--requests",
    "count",
    type=click.IntRange(min=1, max=100_000),
    default=50,
    show_default=True,
    help="Requests per endpoint sent to each app.",
)
@click.pass_context
@clean_errors
def demo(ctx: click.Context, count: int) -> None:
    """Start the stack, send a burst to both apps, show what each one holds."""
    stack = _stack(ctx)
    console.print(f"Starting the native stack in {stack.run_dir}")
    state = stack.up()
    for variant in VARIANTS:
        reset(state, variant)  # start from nothing, even on a stack left running
    console.print(
        f"\nSending {count} requests to /api/database and {count} to /api/redis of each app..."
    )
    codes = {variant: burst(state.url(variant), count) for variant in VARIANTS}
    held = {variant: holdings(state, variant) for variant in VARIANTS}
    _print_holdings(
        held,
        codes,
        count,
        stack.settings.workers,
        stack.settings.db_pool_max,
        stack.settings.redis_pool_max,
    )
    console.print(
        "\nThe stack is still running: [bold]leaklab status[/bold], "
        "Prometheus at " + state.url("prometheus") + ", stop with "
        "[bold]leaklab down[/bold] (or make down)."
    )
    leaky, fixed = held["leaky"], held["fixed"]
    bound_db = stack.settings.workers * stack.settings.db_pool_max
    bound_redis = stack.settings.workers * stack.settings.redis_pool_max
    expected = (
        leaky.db_server > bound_db
        and leaky.redis_server > bound_redis
        and fixed.db_server <= bound_db
        and fixed.redis_server <= bound_redis
    )
    sys.exit(EXIT_OK if expected else EXIT_LEAK)


def _print_status(stack: NativeStack) -> bool:
    rows = stack.status()
    table = Table(title=f"leaklab stack ({stack.run_dir})")
    for column in ("service", "address", "pid", "health"):
        table.add_column(column)
    for row in rows:
        health = "[green]ok[/green]" if row.healthy else f"[red]{row.detail}[/red]"
        table.add_row(row.name, row.url, str(row.pid or "external"), health)
    console.print(table)
    targets = stack.prometheus_targets()
    if targets:
        scrape = Table(title="Prometheus scrape targets")
        for column in ("job", "app", "target", "health"):
            scrape.add_column(column)
        for t in targets:
            health = (
                "[green]up[/green]"
                if t["health"] == "up"
                else f"[red]{t['health']} {t['error']}[/red]"
            )
            scrape.add_row(t["job"], t["app"], t["url"], health)
        console.print(scrape)
    return all(row.healthy for row in rows) and all(t["health"] == "up" for t in targets)


def _print_holdings(
    held: dict[str, Holdings],
    codes: dict[str, Any],
    count: int,
    workers: int,
    pool_db: int,
    pool_redis: int,
) -> None:
    table = Table(title=f"What each app holds after {count} requests per endpoint (server-side)")
    for column in (
        "app",
        "answers",
        "PostgreSQL connections",
        "Redis clients",
        "app reports (db / redis)",
        "RSS per worker",
    ):
        table.add_column(column, justify="right" if column != "app" else "left")
    for variant, h in held.items():
        answers = ", ".join(
            f"{n}x {code or 'no answer'}" for code, n in sorted(codes[variant].items())
        )
        colour = "red" if variant == "leaky" else "green"
        rss = " ".join(f"{v / 2**20:.0f} MiB" for v in h.worker_rss.values())
        table.add_row(
            f"[{colour}]{variant}[/{colour}]",
            answers,
            str(h.db_server),
            str(h.redis_server),
            f"{h.app_metrics.get('leaklab_db_connections_open', 0):.0f} / "
            f"{h.app_metrics.get('leaklab_redis_connections_open', 0):.0f}",
            rss,
        )
    console.print(table)
    console.print(
        f"Bound for a pooled app: {workers} workers x pool max "
        f"({pool_db} PostgreSQL, {pool_redis} Redis)."
    )


if __name__ == "__main__":
    main()
