"""What the commands print and write: the stack's table, the holdings, the reasons, the report."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.table import Table

from leaklab.cli.guards import console, fail

if TYPE_CHECKING:
    from leaklab.measure import Holdings
    from leaklab.scenarios import Scenario
    from leaklab.stack import NativeStack
    from leaklab.verdict.check import CheckResult


def print_status(stack: NativeStack) -> bool:
    """The services and Prometheus's scrape targets; whether all of them are healthy."""
    from leaklab.stack.native import LOAD_JOBS

    rows = stack.status()
    table = Table(title=f"leaklab stack ({stack.run_dir})")
    for column in ("service", "address", "pid", "health"):
        table.add_column(column)
    for row in rows:
        colour = "green" if row.detail == "ok" else "yellow" if row.healthy else "red"
        health = f"[{colour}]{row.detail}[/{colour}]"
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


def print_holdings(
    held: dict[str, Holdings],
    workers: int,
    pool_db: int,
    pool_redis: int,
    scenarios: Sequence[Scenario] | None = None,
) -> None:
    """Per app: what each server sees of every leak it can see (of the scenarios told;
    None: all), what the app says, RSS."""
    from leaklab.scenarios import SCENARIOS

    told = SCENARIOS if scenarios is None else scenarios
    seen = [leak for s in told for leak in s.leaks if leak.server is not None]
    table = Table(title="What each app holds now (server-side)")
    table.add_column("app")
    for leak in seen:
        table.add_column(leak.heading, justify="right")
    table.add_column("app reports", justify="right")
    table.add_column("RSS per worker", justify="right")
    for variant, h in held.items():
        colour = "red" if variant == "leaky" else "green"
        rss = " ".join(f"{v / 2**20:.0f} MiB" for v in h.worker_rss.values())
        table.add_row(
            f"[{colour}]{variant}[/{colour}]",
            *(str(h.server.get(leak.resource, 0)) for leak in seen),
            " / ".join(f"{h.held(leak.resource):.0f}" for leak in seen),
            rss,
        )
    console.print(table)
    console.print(
        f"Bound for a pooled app: {workers} workers x pool max "
        f"({pool_db} PostgreSQL, {pool_redis} Redis)."
    )


def print_reasons(result: CheckResult) -> None:
    from leaklab.verdict.display import endpoint_lines, reason_lines

    for line in [*reason_lines(result, origins=True), *endpoint_lines(result)]:
        console.print(line, highlight=False)


def write_report(result: CheckResult, directory: Path, locust_report: Path | None = None) -> Path:
    """leaklab.verdict.report's, imported when a report is written: matplotlib costs every
    other command (status, down, a mistyped option) most of a second at start."""
    from leaklab.verdict.report import write_report as write

    return write(result, directory, locust_report)


def locust_report(out_dir: Path) -> Path | None:
    """Locust's own HTML report of the run in out_dir, if it wrote one."""
    report = out_dir / "report.html"
    return report if report.exists() else None


def write(label: str, path: Path, writer: Callable[[], object]) -> bool:
    """Write one output; a failure (checked early, but a disk fills) is one line, not a trace."""
    try:
        written = writer()
    except OSError as exc:
        fail(f"could not write {path}: {exc.strerror or exc}")
        return False
    console.print(f"{label}: {written or path}")
    return True
