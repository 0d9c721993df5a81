"""What the Leaks view costs the Locust process that serves it, measured in one run.

Two runs of `leaklab load --autostart` at both apps, the same users and pace: one with
nobody looking, one with a page's poller on /leaks/data every 1.5 s (as the browser does).
Prints the requests per second Locust sent in each (the ratio: does the view slow the
load?), the Locust process's CPU in each, and how long /leaks/data takes to answer (the
verdicts are recomputed at most every 2 s; in between the answer is charts only).
It starts its own native stack on free ports in a temporary directory and stops it after.
Run: .venv/bin/python bench/live_view_cost.py [--seconds 30]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import threading
import time

import psutil
import requests

from leaklab.measure import reset
from leaklab.stack import NativeStack
from leaklab.stack.native import private_stack
from leaklab.stack.process import free_port, wait_until_ready


def run(stack: NativeStack, seconds: int, poll: bool) -> tuple[float, float, list[float]]:
    """One autostarted run: (requests/s sent, Locust CPU in cores, /leaks/data latencies)."""
    for variant in ("leaky", "fixed"):
        reset(stack.state, variant)
    port = free_port()
    env = {
        **os.environ,
        "LEAKLAB_RUN_DIR": str(stack.run_dir),
        "LOCUST_WEB_PORT": str(port),
        "LOCUST_MASTER_BIND_PORT": str(free_port()),
    }
    log_path = stack.run_dir / f"live-view-cost-{port}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "leaklab.cli", "load", "--autostart", "--users", "20"]
            + ["--spawn-rate", "20", "--pace", "0.25"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    wait_until_ready(
        "leaklab load --autostart",
        proc,
        lambda: requests.get(f"{url}/leaks", timeout=2).ok,
        log_path,
    )
    locust = next(
        p for p in psutil.Process(proc.pid).children(recursive=True) if "locust" in p.cmdline()
    )
    latencies: list[float] = []
    stop = threading.Event()

    def poller() -> None:
        while not stop.wait(1.5):
            start = time.perf_counter()
            requests.get(f"{url}/leaks/data", timeout=30).raise_for_status()
            latencies.append(time.perf_counter() - start)

    thread = threading.Thread(target=poller, daemon=True)
    time.sleep(3)  # all users spawned
    cpu0 = sum(locust.cpu_times()[:2])
    count0 = _requests(url)
    start = time.monotonic()
    if poll:
        thread.start()
    time.sleep(seconds)
    elapsed = time.monotonic() - start
    sent = _requests(url) - count0
    cpu = (sum(locust.cpu_times()[:2]) - cpu0) / elapsed
    stop.set()
    if poll:
        thread.join(5)
    proc.send_signal(signal.SIGINT)
    proc.wait(30)
    return sent / elapsed, cpu, latencies


def _requests(url: str) -> int:
    stats = requests.get(f"{url}/stats/requests", timeout=10).json()["stats"]
    return int(next(s["num_requests"] for s in stats if s["name"] == "Aggregated"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=30)
    args = parser.parse_args()
    with private_stack() as stack:
        idle = run(stack, args.seconds, poll=False)
        watched = run(stack, args.seconds, poll=True)
    print(f"Leaks view cost, {args.seconds} s runs, 20 users at both apps:")
    print(
        f"  requests/s  nobody looking {idle[0]:7.1f}   /leaks open {watched[0]:7.1f}"
        f"   ratio {watched[0] / idle[0]:.3f}"
    )
    print(f"  Locust CPU  nobody looking {idle[1]:7.2f}   /leaks open {watched[1]:7.2f} cores")
    lat = sorted(watched[2])
    if lat:
        print(
            f"  /leaks/data {len(lat)} answers: median {1000 * statistics.median(lat):.0f} ms,"
            f" max {1000 * lat[-1]:.0f} ms"
        )


if __name__ == "__main__":
    main()
