"""How much load Locust sends, what the metrics cost the app, and what a scrape costs.

Prints, measured in one run on this machine:
  1. requests/s one Locust worker process sends to the fixed app, the same with 2 workers,
     and the CPU Locust and the app used (in cores), so you know when to add workers;
  2. the fixed app's throughput and CPU per request with its metrics on vs off (ratio);
  3. the time of a /metrics scrape with 4 Gunicorn workers vs /health.
It starts its own native stack on free ports in a temporary directory and stops it after.
Run: .venv/bin/python bench/load_capacity.py [--seconds 15]
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import psutil
import requests

from leaklab.settings import AppSettings
from leaklab.stack import NativeStack, apps
from leaklab.stack.native import private_stack
from leaklab.stack.process import free_port, stop
from leaklab.stack.state import RunState


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def app_cpu(master_pid: int) -> float:
    total = 0.0
    for proc in psutil.Process(master_pid).children():
        times = proc.cpu_times()
        total += times.user + times.system
    return total


def locust_run(
    env: dict[str, str], url: str, seconds: int, workers: int, users: int, master_pid: int
) -> dict[str, float]:
    """Run `leaklab load` headless at url; return rps, requests, Locust and app CPU in cores."""
    cpu0, app0, start = children_cpu(), app_cpu(master_pid), time.monotonic()
    args = [
        sys.executable,
        "-m",
        "leaklab.cli",
        "load",
        "--headless",
        "--leaky-url",
        url,
        "--fixed-url",
        url,
        "--users",
        str(users),
        "--spawn-rate",
        str(users),
        "--pace",
        "0.01",
        "--run-time",
        f"{seconds}s",
        "--workers",
        str(workers),
    ]
    subprocess.run(
        args,
        env={**env, "LOCUST_MASTER_BIND_PORT": str(free_port())},
        capture_output=True,
        check=True,
    )
    wall = time.monotonic() - start
    out = max((Path(env["LEAKLAB_RUN_DIR"]) / "load").iterdir(), key=lambda p: p.stat().st_mtime)
    with open(out / "stats_stats.csv", newline="") as f:
        total = next(r for r in csv.DictReader(f) if r["Name"] == "Aggregated")
    return {
        "rps": float(total["Requests/s"]),
        "requests": float(total["Request Count"]),
        "locust_cores": (children_cpu() - cpu0) / wall,
        "app_cores": (app_cpu(master_pid) - app0) / wall,
        "app_cpu_ms_per_request": 1000
        * (app_cpu(master_pid) - app0)
        / max(1.0, float(total["Request Count"])),
    }


def extra_app(
    stack: NativeStack, state: RunState, name: str, workers: int, metrics: bool
) -> tuple[str, int]:
    settings = replace(stack.settings, workers=workers)
    extra = {AppSettings.variable("metrics"): "on" if metrics else "off"}
    return apps.start_fixed_copy(stack.run_dir, settings, state, name, extra)


def timed_get(url: str) -> float:
    start = time.perf_counter()
    requests.get(url, timeout=10).raise_for_status()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--users", type=int, default=40)
    args = parser.parse_args()
    with private_stack() as stack:
        settings, state = stack.settings, stack.state
        env = {**os.environ, "LEAKLAB_RUN_DIR": str(stack.run_dir)}
        started: list[int] = []
        try:
            print(
                f"machine: {os.cpu_count()} cores; fixed app: {settings.workers} sync workers; "
                f"{args.users} Locust users, pace 0.01 s, {args.seconds} s per run\n"
            )
            print("1. Locust capacity against the fixed app")
            fixed_master = state.services["fixed"].pid
            for workers in (1, 2):
                r = locust_run(
                    env, state.url("fixed"), args.seconds, workers, args.users, fixed_master
                )
                print(
                    f"   {workers} Locust worker(s): {r['rps']:7.1f} req/s   Locust CPU "
                    f"{r['locust_cores']:.2f} cores   app CPU {r['app_cores']:.2f} cores"
                )

            print("\n2. The fixed app with its metrics on vs off (same load, alternating runs)")
            on_url, on_pid = extra_app(stack, state, "fixed-metrics-on", settings.workers, True)
            off_url, off_pid = extra_app(stack, state, "fixed-metrics-off", settings.workers, False)
            started += [on_pid, off_pid]
            runs: dict[str, list[dict[str, float]]] = {"on": [], "off": []}
            for _ in range(3):
                for label, url, pid in (("on", on_url, on_pid), ("off", off_url, off_pid)):
                    runs[label].append(
                        locust_run(env, url, max(5, args.seconds // 2), 1, args.users, pid)
                    )
            med = {
                k: {m: statistics.median(r[m] for r in v) for m in v[0]} for k, v in runs.items()
            }
            for label in ("on", "off"):
                print(
                    f"   metrics {label:<3}: {med[label]['rps']:7.1f} req/s (median of 3)   "
                    f"app CPU {med[label]['app_cpu_ms_per_request']:.2f} ms/request"
                )
            print(
                f"   throughput ratio on/off: {med['on']['rps'] / med['off']['rps']:.3f} "
                "(target >= 0.95)"
            )
            print(
                "   CPU-per-request ratio off/on (capacity with metrics, load-independent): "
                f"{med['off']['app_cpu_ms_per_request'] / med['on']['app_cpu_ms_per_request']:.3f}"
            )

            print("\n3. A scrape with 4 Gunicorn workers")
            url4, pid4 = extra_app(stack, state, "fixed-4-workers", 4, True)
            started.append(pid4)
            for _ in range(200):
                requests.get(f"{url4}/api/database", timeout=5)
                requests.get(f"{url4}/api/redis", timeout=5)
            metrics_t = [timed_get(f"{url4}/metrics") for _ in range(100)]
            health_t = [timed_get(f"{url4}/health") for _ in range(100)]
            m, h = statistics.median(metrics_t), statistics.median(health_t)
            print(
                f"   /metrics {m * 1000:.2f} ms   /health {h * 1000:.2f} ms   "
                f"ratio {m / h:.1f}x (medians of 100)"
            )
        finally:
            for pid in started:
                stop(pid, psutil.Process(pid).create_time())


if __name__ == "__main__":
    main()
