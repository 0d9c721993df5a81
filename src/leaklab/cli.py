"""The `leaklab` command: up, status, down, load, demo, seed."""

from __future__ import annotations

import os
import sys
import time
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
from leaklab.load import LoadPlan, check_ready, reports, valid_run_time
from leaklab.load import run as run_load
from leaklab.measure import Holdings, holdings, reset
from leaklab.settings import VARIANTS, SettingsError, StackSettings
from leaklab.stack import NativeStack, StackError
from leaklab.stack.native import LOAD_JOBS
from leaklab.stack.postgres_server import prepare
from leaklab.stages import shape_names

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


@main.command()
@click.option(
    "-u",
    "--users",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Users in all, split evenly between the two apps.",
)
@click.option(
    "-r",
    "--spawn-rate",
    type=click.FloatRange(min=0, min_open=True),
    default=5.0,
    show_default=True,
    help="Users started per second.",
)
@click.option("-t", "--run-time", default=None, help="Stop after this long: 90s, 5m, 1h30m.")
@click.option("--headless", is_flag=True, help="No web UI: run, stop by itself, write reports.")
@click.option(
    "--workers",
    type=click.IntRange(min=0, max=64),
    default=0,
    show_default=True,
    help="Locust worker processes (distributed mode); 0 runs one process.",
)
@click.option(
    "--shape",
    type=click.Choice(shape_names()),
    default=None,
    help="A named stage table (warm-up, ramp, steady) instead of --users.",
)
@click.option(
    "--pace",
    type=click.FloatRange(min=0.01),
    default=0.5,
    show_default=True,
    help="Seconds between one user's requests.",
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
    run_time: str | None,
    headless: bool,
    workers: int,
    shape: str | None,
    pace: float,
    saturation: str,
    web_port: int | None,
    master_bind_host: str,
    leaky_url: str | None,
    fixed_url: str | None,
) -> None:
    """Drive the same Locust load at both apps (web UI on 127.0.0.1:8089 by default)."""
    if run_time is not None and not valid_run_time(run_time):
        raise click.BadParameter(
            f"{run_time!r} is not a duration such as 90s, 5m or 1h30m", param_hint="--run-time"
        )
    if headless and not (run_time or shape):
        raise click.UsageError("--headless needs --run-time or --shape, or it never stops")
    stack = _stack(ctx)
    settings = stack.settings
    metrics_port = settings.locust_metrics_port
    if not (leaky_url and fixed_url):
        if not stack.is_up():
            console.print(f"Starting the native stack in {stack.run_dir}")
        state = stack.up()
        leaky_url = leaky_url or state.url("leaky")
        fixed_url = fixed_url or state.url("fixed")
        metrics_port = state.locust_metrics_port or metrics_port
    out_dir = stack.run_dir / "load" / time.strftime("%Y%m%d-%H%M%S")
    plan = LoadPlan(
        leaky_url=leaky_url,
        fixed_url=fixed_url,
        out_dir=out_dir,
        users=users,
        spawn_rate=spawn_rate,
        run_time=run_time,
        headless=headless,
        workers=workers,
        shape=shape,
        pace=pace,
        saturation=saturation,
        host=settings.host,
        web_port=web_port or settings.locust_web_port,
        metrics_port=metrics_port,
        master_port=settings.locust_master_port,
        master_bind_host=master_bind_host,
    )
    check_ready(plan)
    what = f"shape {shape!r}" if shape else f"{users} users at {spawn_rate:g}/s"
    mode = f"{workers} workers" if workers else "one process"
    console.print(f"Locust: {what}, {mode}, leaky {leaky_url}, fixed {fixed_url}")
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
    sys.exit(EXIT_OK if code == 0 else EXIT_LEAK)


@main.command()
@clean_errors
def seed() -> None:
    """Create and seed the tables the apps query, at LEAKLAB_DATABASE_URL (idempotent)."""
    url = StackSettings.from_env(os.environ).database_url
    if not url:
        raise SettingsError("LEAKLAB_DATABASE_URL is not set (postgresql://user:pw@host:port/db)")
    prepare(url)
    console.print("Schema ready.")


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
            if t["health"] == "up":
                health = "[green]up[/green]"
            elif t["job"] in LOAD_JOBS:
                health = "[dim]idle: scraped while leaklab load runs[/dim]"
            else:
                health = f"[red]{t['health']} {t['error']}[/red]"
            scrape.add_row(t["job"], t["app"], t["url"], health)
        console.print(scrape)
    faults = [t for t in targets if t["health"] != "up" and t["job"] not in LOAD_JOBS]
    return all(row.healthy for row in rows) and not faults


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
