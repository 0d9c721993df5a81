"""Load held: the fixed app under what one Locust process can send, for minutes, decided.

Drives only the fixed app (Locust's FixedUser class; the leaky app gets no request) for
--minutes at --users users with a pace of --pace s, then decides every resource with the
code behind `leaklab check` on that window. Prints, measured in one run on this machine:
requests sent and per second (and per minute), failures (must be 0), p95 latency, the CPU
Locust, the app, the servers and the rest of the machine used (in cores: was Locust the
limit, was the machine shared?), and per resource the verdict (must be NO LEAK), its growth
per 1,000 requests, its 95 % interval and the interval's top as a fraction of the LEAK
threshold (how close it came).
Exit 0 PASS; 1 a failure or a LEAK (or Locust itself failed); 3 UNDECIDED, no leak found.
It starts its own native stack on free ports in a temporary directory and stops it after;
on FAIL it keeps the logs, Locust's files and a verdict report in /tmp/leaklab-soak-*.
Run: .venv/bin/python bench/soak.py --minutes 10 [--users 40] [--pace 0.01]
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import shutil
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import psutil
from rich.console import Console
from rich.table import Table

from leaklab.load import stack_plan
from leaklab.run import MeasuredRun
from leaklab.stack.native import private_stack
from leaklab.verdict.check import CheckResult
from leaklab.verdict.display import STYLE, LiveFigures, reason_lines
from leaklab.verdict.report import write_report
from leaklab.verdict.stats import Verdict

FIXED = {"fixed": 'app="fixed"'}


def children_cpu() -> float:
    """CPU seconds of waited-for children: Locust's, once its run is over."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def app_cpu(master_pid: int) -> float:
    """CPU seconds of the app's Gunicorn workers (the master only supervises)."""
    total = 0.0
    for proc in psutil.Process(master_pid).children():
        times = proc.cpu_times()
        total += times.user + times.system
    return total


def tree_cpu(pids: list[int]) -> float:
    """CPU seconds of these processes and their children (PostgreSQL's backends)."""
    total = 0.0
    for pid in pids:
        try:
            root = psutil.Process(pid)
            for proc in [root, *root.children(recursive=True)]:
                times = proc.cpu_times()
                total += times.user + times.system
        except psutil.Error:
            continue  # an exporter or a backend gone between listing and reading
    return total


def machine_cpu() -> float:
    """Busy CPU seconds of the whole machine, every process, all cores."""
    times = psutil.cpu_times()
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


def locust_totals(out_dir: Path) -> dict[str, str]:
    """Locust's Aggregated row; refuses a run in which any request went to the leaky app."""
    with open(out_dir / "stats_stats.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    stray = [r["Name"] for r in rows if r["Name"].startswith("leaky")]
    if stray:
        sys.exit(f"soak: requests reached the leaky app ({', '.join(stray)}): not a fixed-only run")
    return next(r for r in rows if r["Name"] == "Aggregated")


def per_minute(out_dir: Path) -> list[tuple[float, int]]:
    """Requests/s and failures in each minute (the last may be short): a stall shows here."""
    with open(out_dir / "stats_stats_history.csv", newline="") as f:
        rows = [
            (int(r["Timestamp"]), int(r["Total Request Count"]), int(r["Total Failure Count"]))
            for r in csv.DictReader(f)
            if r["Name"] == "Aggregated"
        ]
    if not rows:
        return []
    start, last = rows[0][0], rows[0]
    minutes: list[tuple[float, int]] = []
    for row in rows:
        if row[0] >= start + 60 * (len(minutes) + 1) or row is rows[-1]:
            minutes.append(((row[1] - last[1]) / max(1, row[0] - last[0]), row[2] - last[2]))
            last = row
    return minutes


def top_failure(out_dir: Path) -> str:
    with open(out_dir / "stats_failures.csv", newline="") as f:
        rows = sorted(csv.DictReader(f), key=lambda r: -int(r["Occurrences"]))
    return f"{rows[0]['Occurrences']}x {rows[0]['Name']}: {rows[0]['Error']}" if rows else ""


def keep(run_dir: Path, out_dir: Path, result: CheckResult) -> Path:
    """A failed soak's evidence outlives the private stack's temporary directory."""
    kept = Path(tempfile.mkdtemp(prefix="leaklab-soak-"))
    shutil.copytree(run_dir / "logs", kept / "logs")
    shutil.copytree(out_dir, kept / "locust")
    write_report(result, kept / "report", Path("../locust/report.html"))
    return kept


def verdicts(result: CheckResult) -> Table:
    table = Table(title="fixed app: verdict per resource over the soak")
    for column in ("resource", "verdict", "growth/1k req", "95 % CI", "threshold", "CI top/thr"):
        table.add_column(column, no_wrap=True)
    units = {r.name: r for r in result.resources}
    for name, d in result.apps[0].decisions.items():
        divisor, unit = units[name].scale
        thr = units[name].threshold_per_1k
        fit = d.fit
        table.add_row(
            f"{name} {unit}" if divisor != 1 else name,
            f"[{STYLE[d.verdict]}]{d.verdict.value}[/]",
            f"{fit.slope_per_1k / divisor:.3g}" if fit else "-",
            f"{fit.ci_low_per_1k / divisor:.3g}..{fit.ci_high_per_1k / divisor:.3g}"
            if fit
            else "-",
            f"{thr / divisor:g}",
            f"{fit.ci_high_per_1k / thr:.2f}" if fit else "-",
        )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--pace", type=float, default=0.01)
    args = parser.parse_args()
    seconds = max(1, round(args.minutes * 60))
    console = Console()
    if not console.is_terminal:
        console.width = 120  # a log keeps whole columns
    # LoadPlan has no user-class option; Locust reads this variable (its children inherit it).
    os.environ["LOCUST_USER_CLASSES"] = "FixedUser"
    wall0 = time.monotonic()
    with private_stack() as stack:
        state, step = stack.state, stack.settings.step_seconds
        prometheus = state.url("prometheus")
        out_dir = stack.run_dir / "load" / "soak"
        plan = stack_plan(
            stack,
            out_dir,
            state,
            users=args.users,
            spawn_rate=args.users,
            run_time=f"{seconds}s",
            headless=True,
            pace=args.pace,
            saturation="failure",  # a JSON 503 from the fixed app is a failure too
        )
        run = MeasuredRun(state, plan, step)  # reset, settle, window, decide: as `check` does
        run.reset()
        console.print(
            f"soak: fixed app only, {args.users} users, pace {args.pace} s, {seconds} s, "
            f"1 Locust process; {os.cpu_count()} cores, load average "
            f"{os.getloadavg()[0]:.2f} before"
        )
        fixed_pid = state.services["fixed"].pid
        servers = [s.pid for s in state.services.values() if s.pid and s.name != "fixed"]
        with run.load() as locust:
            locust0, app0, servers0 = children_cpu(), app_cpu(fixed_pid), tree_cpu(servers)
            machine0, t0 = machine_cpu(), time.monotonic()
            with ExitStack() as shown:
                if console.is_terminal:  # a log or a pipe gets the figures at the end only
                    shown.enter_context(LiveFigures(console, prometheus, seconds))
                code = locust.wait()
            elapsed = time.monotonic() - t0
            cores = {
                "Locust": (children_cpu() - locust0) / elapsed,
                "fixed app": (app_cpu(fixed_pid) - app0) / elapsed,
                "servers (PostgreSQL, Redis, Prometheus...)": (tree_cpu(servers) - servers0)
                / elapsed,
            }
            busy = (machine_cpu() - machine0) / elapsed
            cores["the rest of the machine"] = busy - sum(cores.values())
        result = run.decide(prometheus, FIXED)
        totals = locust_totals(out_dir)
        failure, minutes = top_failure(out_dir), per_minute(out_dir)
        requests, failures = int(totals["Request Count"]), int(totals["Failure Count"])
        app = result.apps[0]
        passed = failures == 0 and code == 0 and app.verdict is Verdict.NO_LEAK
        kept = None if passed else keep(stack.run_dir, out_dir, result)
    wall = time.monotonic() - wall0

    rps = float(totals["Requests/s"])
    load = Table(title=f"soak: {seconds / 60:.1f} min at the fixed app")
    load.add_column("figure")
    load.add_column("value", justify="right")
    load.add_row("requests sent (Locust)", f"{requests}")
    load.add_row("requests counted by the app (Prometheus)", f"{app.requests:.0f}")
    load.add_row("requests/s", f"{rps:.1f}")
    load.add_row("failures", f"[{'bold red' if failures else 'bold green'}]{failures}[/]")
    load.add_row("median / p95 latency", f"{totals['50%']} / {totals['95%']} ms")
    for who, used in cores.items():
        load.add_row(f"CPU, {who}", f"{used:.2f} cores")
    load.add_row("Gunicorn worker restarts", f"{int(app.data.segments.max(initial=0))}")
    load.add_row("Locust exit code", f"{code}")
    load.add_row("wall time, stack up to down", f"{wall:.0f} s")
    console.print(load)
    console.print(verdicts(result))
    for line in reason_lines(result):
        console.print(line, highlight=False)
    if minutes:
        console.print(
            "  per minute: req/s "
            + " ".join(f"{rate:.0f}" for rate, _ in minutes)
            + "; failures "
            + " ".join(str(n) for _, n in minutes),
            highlight=False,
        )
    if failure:
        console.print(f"  most frequent failure: {failure}", highlight=False)
    if kept:
        console.print(f"  kept for a look: {kept} (logs, Locust's files, report/)")

    decided = app.decisions.items()
    leak = any(d.verdict is Verdict.LEAK for _, d in decided)
    listed = ", ".join(f"{name} {d.verdict.value}" for name, d in decided)
    console.print(
        f"soak: fixed app, {seconds / 60:.1f} min, {requests} requests ({rps:.1f} req/s), "
        f"{failures} failures, verdicts: {listed} -> {'PASS' if passed else 'FAIL'}",
        highlight=False,
    )
    sys.exit(0 if passed else 1 if failures or leak or code else 3)


if __name__ == "__main__":
    main()
