"""What leaklab.probe (origins and memory windows) costs the fixed app, measured in one run.

Three copies of the fixed app on one private stack, the same Locust load at each in turn,
alternating (so the machine's drift falls on all alike):
  off       LEAKLAB_PROBE=off
  on        the probe with its defaults (a 0.5 s tracemalloc window every 20 s, per worker)
  windows   the probe with a window every other second (1 s of 2): what a window costs
Each copy's pools are smaller than the app's default (3 PostgreSQL, 1 SQLAlchemy per
worker): the three share the fixed app's PostgreSQL role and its connection limit.
Prints each one's throughput, p95 and app CPU per request (medians of the rounds), the
ratios on/off (the target: >= 0.95) and what the default windows add, extrapolated from
the `windows` copy. It starts its own native stack on free ports and stops it after.
Run: .venv/bin/python bench/origins_cost.py [--seconds 15] [--rounds 3]
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import psutil

from leaklab.settings import ProbeSettings
from leaklab.stack import NativeStack, apps
from leaklab.stack.native import private_stack
from leaklab.stack.process import free_port, stop

COPIES = {
    "off": {"LEAKLAB_PROBE": "off"},
    "on": {},
    "windows": {"LEAKLAB_PROBE_MEMORY_WINDOW": "1s", "LEAKLAB_PROBE_MEMORY_EVERY": "2s"},
}


def app_cpu(master_pid: int) -> float:
    return sum(sum(p.cpu_times()[:2]) for p in psutil.Process(master_pid).children())


def start(stack: NativeStack, name: str, extra: dict[str, str]) -> tuple[str, int]:
    # the three copies share the fixed app's PostgreSQL role: smaller pools, so all fit in
    # its CONNECTION LIMIT (a copy refused connections would be measured failing, not slow)
    settings = replace(stack.settings, db_pool_max=3, tenant_pool_max=1)
    extra = {"LEAKLAB_APP_NAME": f"leaklab-{name}", **extra}
    return apps.start_fixed_copy(stack.run_dir, settings, stack.state, name, extra)


def load(run_dir: Path, url: str, seconds: int, users: int, master: int) -> dict[str, float]:
    """`leaklab load` headless at url (both variants' users at it): rps, p95, CPU/request."""
    cpu0, started = app_cpu(master), time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "leaklab.cli", "load", "--headless", "--leaky-url", url]
        + ["--fixed-url", url, "--users", str(users), "--spawn-rate", str(users)]
        + ["--pace", "0.01", "--run-time", f"{seconds}s"],
        env={
            **os.environ,
            "LEAKLAB_RUN_DIR": str(run_dir),
            "LOCUST_MASTER_BIND_PORT": str(free_port()),
        },
        capture_output=True,
    )
    if done.returncode not in (0, 1):  # 1: some requests failed (counted below)
        raise RuntimeError(done.stdout.decode()[-2000:] + done.stderr.decode()[-2000:])
    cpu = app_cpu(master) - cpu0
    out = max((run_dir / "load").iterdir(), key=lambda p: p.stat().st_mtime)
    with open(out / "stats_stats.csv", newline="") as f:
        total = next(r for r in csv.DictReader(f) if r["Name"] == "Aggregated")
    count = max(1.0, float(total["Request Count"]))
    return {
        "rps": float(total["Requests/s"]),
        "p95_ms": float(total["95%"]),
        "failed": float(total["Failure Count"]) / count,
        "cpu_ms": 1000 * cpu / count,
        "wall": time.monotonic() - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--users", type=int, default=40)
    args = parser.parse_args()
    defaults = ProbeSettings()
    with private_stack() as stack:
        copies = {name: start(stack, f"fixed-probe-{name}", env) for name, env in COPIES.items()}
        try:
            print(
                f"machine: {os.cpu_count()} cores; fixed app: {stack.settings.workers} workers; "
                f"{args.users} Locust users at pace 0.01 s; {args.rounds} rounds of "
                f"{args.seconds} s at each copy, alternating\n"
            )
            runs: dict[str, list[dict[str, float]]] = {name: [] for name in copies}
            for round_ in range(args.rounds):
                order = list(copies) if round_ % 2 == 0 else list(reversed(copies))
                for name in order:  # each copy first as often as last: no order effect
                    url, pid = copies[name]
                    runs[name].append(load(stack.run_dir, url, args.seconds, args.users, pid))
                ratio = runs["on"][-1]["rps"] / runs["off"][-1]["rps"]
                print(f"  round {round_ + 1}: throughput on/off {ratio:.3f}", flush=True)
            med = {
                name: {k: statistics.median(r[k] for r in rs) for k in rs[0]}
                for name, rs in runs.items()
            }
            for name, m in med.items():
                print(
                    f"  {name:<8} {m['rps']:7.1f} req/s   p95 {m['p95_ms']:6.0f} ms   "
                    f"app CPU {m['cpu_ms']:.2f} ms/request   failed {m['failed']:.1%}"
                )
            on, off, win = med["on"], med["off"], med["windows"]
            pairs = zip(runs["on"], runs["off"], strict=True)
            rounds = sorted(a["rps"] / b["rps"] for a, b in pairs)
            print(
                f"\n  throughput on/off: {on['rps'] / off['rps']:.3f} (target >= 0.95); "
                f"round by round {rounds[0]:.3f} to {rounds[-1]:.3f}: the machine's noise"
            )
            print(f"  p95 on/off: {on['p95_ms'] / off['p95_ms']:.3f}")
            print(
                f"  CPU per request off/on (load-independent): {off['cpu_ms'] / on['cpu_ms']:.3f}"
            )
            duty = defaults.memory_window / defaults.memory_every
            window_cost = max(0.0, 1 - win["rps"] / on["rps"]) / 0.5  # during a window
            print(
                f"  a window costs {window_cost:.0%} of throughput while it runs (from the "
                f"copy windowing half the time); the default {defaults.memory_window:g} s "
                f"every {defaults.memory_every:g} s: {window_cost * duty:.1%} on average"
            )
        finally:
            for _url, pid in copies.values():
                stop(pid, psutil.Process(pid).create_time())


if __name__ == "__main__":
    main()
